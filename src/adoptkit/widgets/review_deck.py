"""The daily review deck: a five-minute spaced-repetition session in a notebook.

    from adoptkit.widgets import ReviewDeck
    ReviewDeck()          # the learner is JUPYTERHUB_USER (or the OS user); cards come from the exercises

Shows a question, "Show answer", then Again / Hard / Good / Easy; every answer is saved at once (the
kit's records, per learner), so closing the notebook loses nothing. The session ends when the due cards
are done or the minutes (engage.microlearning.minutes) are up.
"""

from __future__ import annotations

import getpass
import html
import os
import time
from pathlib import Path

import ipywidgets as w

from ..engage import cards as cards_mod
from ..settings import Settings, current


class ReviewDeck:
    def __init__(self, learner: str | None = None, deck: list | str | Path | None = None,
                 settings: Settings | None = None, db: str | Path | None = None,
                 levels: dict[str, float] | None = None, clock=time.monotonic):
        self.settings = settings or current()
        self.learner = learner or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        if deck is None:
            deck = cards_mod.deck(settings=self.settings)
        elif not isinstance(deck, list):
            deck = cards_mod.load_deck(deck)
        self.schedule = cards_mod.Schedule(self.learner, self.settings, db)
        self.queue = self.schedule.due(deck, levels=levels)
        self.total, self.done = len(self.queue), 0
        self._clock, self._start = clock, clock()
        self.limit = self.settings.engage.microlearning.minutes * 60
        self.revealed = False
        self._front, self._back, self._status = w.HTML(), w.HTML(), w.HTML()
        self._show = w.Button(description="Show answer", button_style="info")
        self._show.on_click(lambda _: self.flip())
        self._rate = [w.Button(description=name.capitalize()) for name in cards_mod.RATINGS]
        for b, name in zip(self._rate, cards_mod.RATINGS):
            b.on_click(lambda _, name=name: self.rate(name))
        self._refresh()

    @property
    def current(self):
        return self.queue[0] if self.queue and not self.finished else None

    @property
    def finished(self) -> bool:
        return not self.queue or self._clock() - self._start >= self.limit

    def flip(self) -> None:
        self.revealed = True
        self._refresh()

    def rate(self, rating: str) -> None:
        if self.current is None:
            return
        if not self.revealed:
            raise cards_mod.CardError("show the answer before rating the card")
        self.schedule.review(self.queue.pop(0), rating)
        self.done += 1
        self.revealed = False
        self._refresh()

    def _refresh(self) -> None:
        card = self.current
        left = max(0, int(self.limit - (self._clock() - self._start)))
        if card is None:
            why = "time is up for today" if self.queue else "no more cards due"
            self._front.value = f"<b>Done: {self.done} card(s) reviewed, {why}.</b> See you tomorrow."
            self._back.value, self._status.value = "", ""
            return
        self._status.value = (f"<i>Card {self.done + 1} of {self.total} · {left // 60}:{left % 60:02d} left · "
                              f"{html.escape(card.competency)}</i>")
        self._front.value = f"<p style='font-size:1.15em'>{html.escape(card.front)}</p>"
        self._back.value = f"<p style='color:#2e7d32'>{html.escape(card.back)}</p>" if self.revealed else ""

    def widget(self) -> w.VBox:
        controls = w.HBox(self._rate) if self.revealed else self._show
        box = w.VBox([self._status, self._front, self._back, controls])

        def sync(*_):  # swap the buttons when the card is flipped or rated
            box.children = [self._status, self._front, self._back,
                            w.HBox(self._rate) if self.revealed and self.current else
                            (self._show if self.current else w.HTML(""))]

        self._show.on_click(sync)
        for b in self._rate:
            b.on_click(sync)
        return box

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return f"ReviewDeck({self.learner!r}: {self.done} reviewed, {len(self.queue)} left)"
