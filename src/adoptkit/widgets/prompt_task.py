"""The prompt task: write a prompt for a real task of the role, run it on a small sample, compare, revise.

    from adoptkit.widgets import PromptTask
    PromptTask.from_content("tasks.yml", "label-complaints")      # shows the widget (last line of a cell)

The learner's text is saved as they type (on leaving the box) and every run is kept as an attempt, in
`quiz-answers/<part id>.json`: the final prompt and the history are both graded (adoptkit.widgets.grading).
A run goes through the course endpoint (`adoptkit.llm.client()`); if it cannot be reached, the widget says so
and the text stays, saved. docs/no-code.md describes the content fields.
"""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone

from . import content, store
from .content import ContentError, Record

STATUS_STYLE = "padding:4px 0"
# Plain ticks in colour, not emoji: a browser without an emoji font (Debian's chromium, many lab machines) shows
# emoji as empty boxes.
OK = "<span style='color:#1b5e20;font-weight:bold'>✓</span> "
FAILED = "<span style='color:#b00020;font-weight:bold'>✗</span> "


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class PromptTask:
    def __init__(self, spec: dict, folder: str | os.PathLike = ".", client=None, model: str | None = None):
        where = f"prompt task {spec.get('id')!r}"
        content.require(spec, where, "id", "output", "sample")
        if spec["output"].get("kind", "text") not in ("label", "json", "text"):
            raise ContentError(f"{where}: output kind must be label, json or text")
        self.spec, self.name, self.folder = spec, store.check_name(spec["id"]), folder
        self._client, self._model = client, model
        saved, note = store.load(self.name, folder)
        self.note = note
        self.prompt: str = str(spec.get("starter", ""))
        self.attempts: list[dict] = []
        if saved:
            if isinstance(saved.get("prompt"), str):
                self.prompt = saved["prompt"][: content.MAX_PROMPT_CHARS * 2]
            if isinstance(saved.get("attempts"), list):
                self.attempts = [a for a in saved["attempts"] if isinstance(a, dict)][-200:]
        self.results: list[dict] = []
        self._ui = None

    @classmethod
    def from_content(cls, path: str | os.PathLike, part_id: str, **kwargs) -> "PromptTask":
        return cls(content.part(path, part_id, "prompt"), **kwargs)

    # --- what the buttons do (also the API the tests drive) ------------------------------------------

    def write(self, text: str) -> None:
        """Keep the learner's text (what typing in the box does); saved at once."""
        self.prompt = str(text)
        self._save()

    def sample(self) -> tuple[list[Record], str]:
        return content.records(self.spec["sample"], f"prompt task {self.name!r}")

    def run(self) -> list[dict]:
        """Send the prompt with each sample record to the course model; check and keep each reply."""
        prompt = self.prompt
        if not prompt.strip():
            raise ValueError("Write your prompt in the box first, then click Run.")
        if len(prompt) > content.MAX_PROMPT_CHARS:
            raise ValueError(f"Your prompt has {len(prompt):,} characters; keep it under "
                             f"{content.MAX_PROMPT_CHARS:,} (a prompt this long usually holds pasted data).")
        records, _ = self.sample()
        client, model = self._connect()
        results = []
        for rec in records:
            try:
                reply = client.chat.completions.create(model=model, messages=content.messages(prompt, rec.text),
                                                       temperature=0)
                text = reply.choices[0].message.content or ""
            except Exception as err:  # the endpoint is down, refuses the key, times out: say so, keep the text
                raise ConnectionError(self._unreachable(err)) from None
            checks = content.check_output(self.spec["output"], text, rec.expected, rec.text)
            results.append({"record": rec, "reply": text, "checks": checks})
        self.results = results
        self.attempts.append({"prompt": prompt, "at": _now(), "of": len(results),
                              "usable": sum(content.usable(r["checks"]) for r in results),
                              "matched": sum(all(c.ok for c in r["checks"]) for r in results)})
        self._save()
        return results

    def _connect(self):
        if self._client is not None:
            from .. import llm

            return self._client, self._model or llm.default_model()
        try:
            from .. import llm

            return llm.client(), self._model or llm.default_model()
        except Exception as err:
            raise ConnectionError(self._unreachable(err)) from None

    @staticmethod
    def _unreachable(err: Exception) -> str:
        reason = str(err).splitlines()[0][:200] if str(err) else err.__class__.__name__
        return (f"Could not reach the course's model ({reason}). Your prompt is kept and saved. Try Run again "
                f"in a minute; if it keeps failing, tell your instructor that the course endpoint is not answering.")

    def _save(self) -> None:
        problem = store.save(self.name, {"kind": "prompt", "part": self.name, "prompt": self.prompt,
                                         "attempts": self.attempts}, self.folder)
        if problem:
            self._status(problem, error=True)

    # --- the widget ----------------------------------------------------------------------------------

    def _material(self) -> str:
        out = self.spec["output"]
        bits = []
        if out.get("kind") == "label":
            labels = ", ".join(f"<code>{html.escape(str(x))}</code>" for x in out.get("labels", []))
            bits.append(f"<b>Allowed answers:</b> {labels}")
            if out.get("unsure"):
                bits.append(f"<b>When the model is not sure:</b> <code>{html.escape(out['unsure'])}</code>")
        elif out.get("kind") == "json":
            keys = ", ".join(f"<code>{html.escape(str(k))}</code>" for k in out.get("keys", []))
            bits.append(f"<b>Fields:</b> {keys}")
            for key, values in (out.get("allowed") or {}).items():
                bits.append(f"<b>{html.escape(key)}</b> is one of: "
                            + ", ".join(f"<code>{html.escape(str(v))}</code>" for v in values))
            for key in out.get("quotes") or []:
                bits.append(f"<b>{html.escape(key)}</b> is copied word for word from the record, or null")
        return "<br>".join(bits)

    def _table(self) -> str:
        if not self.results:
            return ""
        rows = []
        for r in self.results:
            rec: Record = r["record"]
            short = html.escape(rec.text[:300]) + ("…" if len(rec.text) > 300 else "")
            marks = "<br>".join((OK if c.ok else FAILED) + html.escape(c.name + (f": {c.detail}" if c.detail else ""))
                                for c in r["checks"])
            expected = "" if rec.expected is None else html.escape(str(rec.expected))
            rows.append(f"<tr><td style='max-width:28em'>{short}</td><td><code>{html.escape(r['reply'][:600])}</code></td>"
                        f"<td>{expected}</td><td>{marks}</td></tr>")
        usable = sum(content.usable(r["checks"]) for r in self.results)
        head = ("<tr><th>record</th><th>the model's reply</th><th>expected</th><th>checks</th></tr>")
        return (f"<p><b>{usable} of {len(self.results)} replies are usable as they are.</b> Read the failed checks, "
                f"revise your prompt and run it again: each run is kept.</p>"
                f"<table class='adoptkit-prompt-results'>{head}{''.join(rows)}</table>")

    def _status(self, text: str, error: bool = False) -> None:
        if self._ui:
            colour = "#b00020" if error else "#1b5e20"
            self._ui["status"].value = f"<div style='{STATUS_STYLE};color:{colour}'>{html.escape(text)}</div>"

    def widget(self):
        import ipywidgets as w

        box = w.Textarea(value=self.prompt, placeholder="Write your prompt here.",
                         layout=w.Layout(width="100%", height="12em"), continuous_update=False)
        box.add_class("adoptkit-prompt")
        button = w.Button(description="Run on the sample", button_style="primary", icon="play",
                          layout=w.Layout(width="auto"))  # the default width cuts the label off
        button.add_class("adoptkit-run")
        status = w.HTML()
        results = w.HTML()
        self._ui = {"box": box, "status": status, "results": results}

        def typed(change):
            self.write(change["new"])

        def clicked(_):
            self.write(box.value)
            self._status("Running your prompt on the sample…")
            try:
                self.run()
            except (ValueError, ConnectionError, ContentError) as err:
                self._status(str(err), error=True)
                return
            results.value = self._table()
            self._status(f"Run {len(self.attempts)} done; your prompt and this run are saved in "
                         f"{store.path_for(self.name, self.folder)}.")

        box.observe(typed, names="value")
        button.on_click(clicked)
        try:
            records, citation = self.sample()
            info = f"<i>Runs on {len(records)} records. {html.escape(citation)}</i>" if citation else ""
        except ContentError as err:
            info = f"<b style='color:#b00020'>{html.escape(str(err))}</b>"
        if self.note:
            self._status(f"Note: {self.note}; you start from a blank prompt.", error=True)
        runs = f"<i>{len(self.attempts)} earlier run(s) saved.</i>" if self.attempts else ""
        ui = w.VBox([w.HTML(self._material()), w.HTML(info), box, w.HBox([button, w.HTML(runs)]), status, results])
        ui.add_class(f"adoptkit-part-{self.name}")  # one handle per part, for styling and for the browser test
        return ui

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return f"PromptTask({self.name!r}: {len(self.attempts)} run(s))"
