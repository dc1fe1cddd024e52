"""Decide: scenario items (privacy triage, when not to use AI, what a person must review), one choice each.

    from adoptkit.widgets import Decide
    Decide.from_content("tasks.yml", "privacy-triage")

Each learner sees the options in an order of their own (fixed per learner, from a hash of their user name and
the item), so a neighbour's "the second one" means nothing; answers are saved by option id, so the grading key
never depends on the order. Saved as clicked in `quiz-answers/<part id>.json`. The key and each option's
one-line explanation are only in the hidden tests (adoptkit.widgets.grading prints them in the feedback).
"""

from __future__ import annotations

import getpass
import hashlib
import html
import os
import random

from . import content, store
from .content import ContentError


def learner_id() -> str:
    """Who is working: the hub's user name, else the operating-system user."""
    return os.environ.get("JUPYTERHUB_USER") or os.environ.get("NB_USER") or getpass.getuser()


def display_order(option_ids: list[str], learner: str, item: str) -> list[str]:
    seed = int.from_bytes(hashlib.sha256(f"{learner}\0{item}".encode()).digest()[:8], "big")
    order = list(option_ids)
    random.Random(seed).shuffle(order)
    return order


class Decide:
    def __init__(self, spec: dict, folder: str | os.PathLike = ".", learner: str | None = None):
        where = f"decide part {spec.get('id')!r}"
        content.require(spec, where, "id", "items")
        items = spec["items"]
        if not isinstance(items, list) or not items:
            raise ContentError(f"{where}: 'items' must be a non-empty list")
        for it in items:
            content.require(it if isinstance(it, dict) else {}, f"{where}, an item", "id", "prompt", "options")
            opts = it["options"]
            if not isinstance(opts, list) or len(opts) < 2 or not all(isinstance(o, dict) and {"id", "text"} <= set(o)
                                                                      for o in opts):
                raise ContentError(f"{where}, item {it['id']!r}: 'options' must list at least two {{id, text}}")
            if len({str(o["id"]) for o in opts}) != len(opts):
                raise ContentError(f"{where}, item {it['id']!r}: two options share an id")
        self.spec, self.name, self.folder = spec, store.check_name(spec["id"]), folder
        self.items = {str(it["id"]): it for it in items}
        self.learner = learner or learner_id()
        saved, self.note = store.load(self.name, folder)
        got = saved.get("answers") if saved else None
        self.answers: dict[str, str] = {}
        if isinstance(got, dict):
            for item_id, option in got.items():
                if item_id in self.items and option in self.option_ids(item_id):
                    self.answers[item_id] = option
        self._radios = {}

    @classmethod
    def from_content(cls, path: str | os.PathLike, part_id: str, **kwargs) -> "Decide":
        return cls(content.part(path, part_id, "decide"), **kwargs)

    def option_ids(self, item_id: str) -> list[str]:
        return [str(o["id"]) for o in self.items[item_id]["options"]]

    def order(self, item_id: str) -> list[str]:
        """The option ids in the order this learner sees them."""
        return display_order(self.option_ids(item_id), self.learner, f"{self.name}/{item_id}")

    def choose(self, item_id: str, option_id: str) -> None:
        if item_id not in self.items:
            raise ValueError(f"{item_id!r} is not an item of {self.name!r}: {list(self.items)}")
        if option_id not in self.option_ids(item_id):
            raise ValueError(f"{option_id!r} is not an option of item {item_id!r}: {self.option_ids(item_id)}")
        self.answers[item_id] = option_id
        self.save_note = store.save(self.name, {"kind": "decide", "part": self.name, "answers": self.answers},
                                    self.folder)

    def widget(self):
        import ipywidgets as w

        rows = []
        for n, (item_id, item) in enumerate(self.items.items(), 1):
            text = {str(o["id"]): str(o["text"]) for o in item["options"]}
            order = self.order(item_id)
            radio = w.RadioButtons(options=[(text[o], o) for o in order], value=self.answers.get(item_id),
                                   layout=w.Layout(width="auto"))
            radio.add_class(f"adoptkit-item-{item_id}")
            radio.observe(lambda ch, i=item_id: ch["new"] is not None and self.choose(i, ch["new"]), names="value")
            self._radios[item_id] = radio
            rows.append(w.VBox([w.HTML(f"<b>{n}. {html.escape(str(item['prompt']))}</b>"), radio]))
        if self.note:
            rows.insert(0, w.HTML(f"<b style='color:#b00020'>Note: {html.escape(self.note)}; you start unanswered.</b>"))
        rows.append(w.HTML(f"<i>Saved as you click in {store.path_for(self.name, self.folder)}; you can change an "
                           f"answer until you submit.</i>"))
        ui = w.VBox(rows)
        ui.add_class(f"adoptkit-part-{self.name}")
        return ui

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return f"Decide({self.name!r}: {len(self.answers)}/{len(self.items)} answered)"
