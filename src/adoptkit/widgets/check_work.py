"""Check the model's work: a draft with planted faults; the learner flags each faulty sentence and says why.

    from adoptkit.widgets import CheckWork
    CheckWork.from_content("tasks.yml", "check-summary")

The draft is fixed content written by the course's authors, and the widget always says so: it is a
constructed example, never a transcript of a model. The evidence to check it against (a real record, or a
text) is shown above it. Marks are saved as they are clicked in `quiz-answers/<part id>.json`; the planted
faults are only in the hidden tests, which score precision and recall (adoptkit.widgets.grading).
"""

from __future__ import annotations

import html
import os

from . import content, store
from .content import ContentError

CONSTRUCTED = ("Constructed example: the course's authors wrote this draft, with deliberate faults for you to "
               "find. It is not the output of any model.")
NO_REASON = "(pick why)"


class CheckWork:
    def __init__(self, spec: dict, folder: str | os.PathLike = "."):
        where = f"check task {spec.get('id')!r}"
        content.require(spec, where, "id", "sentences", "reasons")
        sents = spec["sentences"]
        if not isinstance(sents, list) or not all(isinstance(s, dict) and {"id", "text"} <= set(s) for s in sents):
            raise ContentError(f"{where}: 'sentences' must be a list of {{id, text}}")
        ids = [str(s["id"]) for s in sents]
        if len(set(ids)) != len(ids):
            raise ContentError(f"{where}: two sentences share an id")
        if not isinstance(spec["reasons"], list) or len(spec["reasons"]) < 2:
            raise ContentError(f"{where}: 'reasons' must list at least two reasons")
        self.spec, self.name, self.folder = spec, store.check_name(spec["id"]), folder
        self.ids, self.reasons = ids, [str(r) for r in spec["reasons"]]
        saved, self.note = store.load(self.name, folder)
        marks = saved.get("marks") if saved else None
        self.marks: dict[str, str | None] = {}
        if isinstance(marks, dict):  # keep only marks that still fit this draft
            self.marks = {k: (v if v in self.reasons else None) for k, v in marks.items() if k in self.ids}
        self._rows = {}

    @classmethod
    def from_content(cls, path: str | os.PathLike, part_id: str, **kwargs) -> "CheckWork":
        return cls(content.part(path, part_id, "check"), **kwargs)

    def flag(self, sentence_id: str, reason: str | None = None) -> None:
        """Mark a sentence as faulty, with the reason (what ticking and picking do)."""
        if sentence_id not in self.ids:
            raise ValueError(f"{sentence_id!r} is not a sentence of this draft: {self.ids}")
        if reason is not None and reason not in self.reasons:
            raise ValueError(f"{reason!r} is not one of the reasons: {self.reasons}")
        self.marks[sentence_id] = reason
        self._save()

    def unflag(self, sentence_id: str) -> None:
        self.marks.pop(sentence_id, None)
        self._save()

    def _save(self) -> None:
        self.save_note = store.save(self.name, {"kind": "check", "part": self.name, "marks": self.marks}, self.folder)

    def evidence_html(self) -> str:
        ev = self.spec.get("evidence") or {}
        if "text" in ev:
            return f"<div class='adoptkit-evidence'>{html.escape(str(ev['text'])).replace(chr(10), '<br>')}</div>"
        if "dataset" not in ev:
            return ""
        try:
            recs, citation = content.records({**ev, "ids": [ev["id"]]}, f"check task {self.name!r} evidence")
        except (ContentError, KeyError) as err:
            return f"<b style='color:#b00020'>The evidence could not be loaded: {html.escape(str(err))}</b>"
        from .. import data

        df = data.load(ev["dataset"])
        row = df[df[ev["id_column"]].astype(str) == str(ev["id"])].iloc[0]
        cells = "".join(f"<tr><th style='text-align:left'>{html.escape(str(f))}</th><td>{html.escape(str(row[f]))}</td></tr>"
                        for f in ev.get("fields", []) if f in df.columns)
        return (f"<table class='adoptkit-evidence'>{cells}</table><p>{html.escape(recs[0].text)}</p>"
                f"<p><i>{html.escape(citation)}</i></p>")

    def widget(self):
        import ipywidgets as w

        rows = []
        for s in self.spec["sentences"]:
            sid = str(s["id"])
            box = w.Checkbox(value=sid in self.marks, description="faulty", indent=False,
                             layout=w.Layout(width="6em"))
            box.add_class(f"adoptkit-flag-{sid}")
            why = w.Dropdown(options=[NO_REASON, *self.reasons], value=self.marks.get(sid) or NO_REASON,
                             disabled=sid not in self.marks, layout=w.Layout(width="22em"))  # the longest reason fits
            why.add_class(f"adoptkit-why-{sid}")

            def ticked(change, sid=sid, why=why):
                why.disabled = not change["new"]
                if change["new"]:
                    self.flag(sid, None if why.value == NO_REASON else why.value)
                else:
                    self.unflag(sid)

            def picked(change, sid=sid, box=box):
                if box.value:
                    self.flag(sid, None if change["new"] == NO_REASON else change["new"])

            box.observe(ticked, names="value")
            why.observe(picked, names="value")
            self._rows[sid] = (box, why)
            rows.append(w.HBox([box, why, w.HTML(f"<span>{html.escape(str(s['text']))}</span>",
                                                 layout=w.Layout(flex="1"))]))
        parts = [w.HTML(f"<h4>{html.escape(self.spec.get('evidence_title', 'The facts to check against'))}</h4>"
                        + self.evidence_html()),
                 w.HTML(f"<h4>{html.escape(self.spec.get('draft_title', 'The draft'))}</h4>"
                        f"<p style='background:#fff8e1;padding:4px'><b>{CONSTRUCTED}</b></p>"),
                 *rows,
                 w.HTML(f"<i>Tick each faulty sentence and pick why. Flag only what is wrong: every sentence you "
                        f"flag that is fine costs points. Saved as you click in {store.path_for(self.name, self.folder)}.</i>")]
        if self.note:
            parts.insert(0, w.HTML(f"<b style='color:#b00020'>Note: {html.escape(self.note)}; you start unmarked.</b>"))
        ui = w.VBox(parts)
        ui.add_class(f"adoptkit-part-{self.name}")
        return ui

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return f"CheckWork({self.name!r}: {len(self.marks)} flagged)"
