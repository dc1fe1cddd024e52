"""nbgrader's Execute, hardened: sandboxed kernel, output caps, time limits, a guard, kernel death.

- Output is capped in bytes per cell and per notebook while it arrives (a 50 MB line never reaches
  the graded notebook or the feedback); where it is cut, a visible note says so and how much went.
  Errors are always kept (shortened), because they carry the grade.
- Each cell has nbgrader's `Execute.timeout`; the whole notebook has `Hardening.notebook_timeout`.
  A kernel that ignores the interrupt is killed.
- Before each grade cell the guard (guard.py) undoes tampering with the test machinery.
- When the kernel dies (os._exit, segfault, out of memory, CPU limit), the cells that ran keep
  their results, every later cell gets an error output saying why it did not run (so a grade cell
  scores 0 instead of passing empty), and the notebook is flagged.
"""

from __future__ import annotations

import math
import os
import signal
import time
from queue import Empty

from jupyter_core.utils import ensure_async, run_sync
from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_hook
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute

from . import files, guard, reach
from .config import Hardening
from .kernel import SandboxKernelManager, current_pool
from .record import cell_name, flag, note, section

GUARD_TIMEOUT = 15
ERROR_TEXT_MAX = 2000  # characters per error value or traceback line
ERROR_LINES_MAX = 60


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _size(out: NotebookNode) -> int:
    kind = out.get("output_type")
    if kind == "stream":
        return len(out.get("text", "").encode("utf-8", "replace"))
    if kind in ("display_data", "execute_result"):
        return sum(len(v) if isinstance(v, str) else len(str(v)) for v in out.get("data", {}).values())
    if kind == "error":
        return len(out.get("evalue", "")) + sum(len(line) for line in out.get("traceback", []))
    return 0


def _shorten_error(out: NotebookNode) -> None:
    if len(out.get("evalue", "")) > ERROR_TEXT_MAX:
        out["evalue"] = out["evalue"][:ERROR_TEXT_MAX] + f" ... [adoptkit: cut, {len(out['evalue']):,} characters]"
    tb = [line if len(line) <= ERROR_TEXT_MAX else line[:ERROR_TEXT_MAX] + " ... [adoptkit: line cut]"
          for line in out.get("traceback", [])]
    if len(tb) > ERROR_LINES_MAX:
        tb = tb[: ERROR_LINES_MAX // 2] + ["... [adoptkit: traceback cut] ..."] + tb[-ERROR_LINES_MAX // 2:]
    out["traceback"] = tb


def death_reason(km: SandboxKernelManager, memory_bytes: int) -> str:
    code = km.record_exit()
    if km.oom_killed():
        return f"the kernel ran out of memory (limit {memory_bytes / 2**20:,.0f} MiB) and was killed"
    if code is None:
        return "the kernel stopped responding"
    if code >= 0:
        return f"the kernel exited with status {code} (the code ended the process, e.g. os._exit or a crash)"
    sig = -code
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
    why = {signal.SIGSEGV: "crashed (segmentation fault)", signal.SIGXCPU: "used up its CPU-time limit",
           signal.SIGKILL: "was killed (CPU-time or memory limit, or it would not stop)",
           signal.SIGABRT: "aborted", signal.SIGBUS: "crashed (bus error)"}.get(sig, "was stopped by a signal")
    return f"the kernel {why} ({name})"


class HardenedExecute(Execute):
    """Execute with the limits of `c.Hardening`, a sandboxed kernel and a tamper guard."""

    def preprocess(self, nb, resources=None, km=None):
        h = Hardening(config=self.config)
        self._hardening = h
        kernel_name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        args = list(self.extra_arguments)
        if not any(a.startswith("--HistoryManager.hist_file") for a in args):
            args.append("--HistoryManager.hist_file=:memory:")
        pool = current_pool() if km is None else None
        if km is None:
            if pool is not None:
                km = pool.take(kernel_name, args)
            else:
                km = SandboxKernelManager(kernel_name=kernel_name, config=self.config)
                run_sync(km.start_kernel)(extra_arguments=args)
        folder = (resources or {}).get("metadata", {}).get("path")
        refused = files.read_refusals(folder) if folder else []
        unvetted = self._python_reaching_machinery(folder, resources or {})
        refused += unvetted + km.stage(folder, skip={r.path for r in unvetted})
        if refused:
            flag(nb, "refused_file", "files handed in were not given to the kernel nor copied on: "
                 + files.describe(refused))

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._nb_bytes, self._cell_bytes, self._cut = 0, 0, None
        self._cell_limit: float | None = None
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                section(self.nb)["sandbox"] = km.sandbox_status()
                self._run_cells(km, h)
            written = km.collect_outputs(folder)
            if written:
                flag(self.nb, "refused_file", "files the notebook wrote were not copied beside the graded "
                     "notebook: " + files.describe(written))
        finally:
            try:
                if self.kc is not None:
                    self.kc.stop_channels()
            finally:
                self.kc = None
                if pool is not None:
                    pool.retire(km)
                else:
                    run_sync(km.shutdown_kernel)(now=True)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _python_reaching_machinery(self, folder: str | None, resources: dict) -> list[files.Refusal]:
        """Python files handed in (not the instructor's own) that reach for the grading machinery: the
        kernel would import them unread otherwise."""
        if not folder or not os.path.isdir(folder):
            return []
        from .report import coursedir_of

        info = resources.get("nbgrader", {})
        cd = coursedir_of(self)
        source = cd.format_path(cd.source_directory, ".", info.get("assignment", "")) if info else None
        out = []
        for dirpath, _, names in os.walk(folder):
            for name in names:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, folder)
                try:
                    text = open(path, encoding="utf-8", errors="replace").read()
                    theirs = open(os.path.join(source, rel), encoding="utf-8", errors="replace").read() \
                        if source else None
                except OSError:
                    theirs = None
                if text == theirs:
                    continue  # the instructor's file (nbgrader copies the master version over)
                found = reach.problems(text, python=True)
                if found:
                    out.append(files.Refusal(rel, "Python that reaches into the grading machinery ("
                                             + "; ".join(found[:3]) + ")"))
        return out

    async def async_start_new_kernel_client(self):
        """Connect and wait until the kernel answers on shell and iopub, without jupyter_client's fixed
        0.2 s of iopub silence per kernel (it adds up over a cohort)."""
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        deadline = time.monotonic() + self.startup_timeout
        while True:
            msg_id = self.kc.kernel_info()
            try:
                reply = await self.kc._async_recv_reply(msg_id, timeout=1)
            except TimeoutError:
                reply = None
            if reply is not None and await self._iopub_idle(msg_id, 1.0):
                break
            if not await ensure_async(self.km.is_alive()):
                raise RuntimeError(f"the kernel died while starting: {self.km.sandbox_status()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kernel did not answer within {self.startup_timeout} s")
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    # nbclient binds its sync wrapper to its own coroutine when its class is defined: without this line
    # nbclient's version (with its fixed 0.2 s of iopub silence) runs instead of the one above
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _iopub_idle(self, msg_id: str, timeout: float) -> bool:
        """True once iopub shows the kernel went idle after `msg_id` (so iopub is subscribed)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=left))
            except Empty:
                return False
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"].get("execution_state") == "idle"):
                return True
        return False

    # -- the cell loop

    def _run_cells(self, km: SandboxKernelManager, h: Hardening) -> None:
        deadline = time.monotonic() + h.notebook_timeout if h.notebook_timeout > 0 else None
        stop: str | None = None
        self._guard = guard.new_name()
        if not self._guard_install():
            flag(self.nb, "guard", "the grading guard could not be installed; test machinery is unprotected")
        instructor = section(self.nb).get("instructor", {})
        self._keep = list(instructor.get("solution_binds", []))
        locked_sources = [c.source for c in self.nb.cells if c.cell_type == "code" and utils.is_locked(c)]
        modules = reach.imported_modules(locked_sources)
        protected = {n for src in locked_sources for n in guard.bound_names(src)} - set(self._keep)
        known = km.importable()
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            name = cell_name(cell, index)
            if not utils.is_locked(cell):
                found = reach.problems(cell.source, modules, protected, known=known)
                if found:  # never run: what it would have changed is not there to undo
                    cell.outputs = [_error("NotRun", "this cell was not run for grading: it reaches into the "
                                           "grading machinery (" + "; ".join(found[:5]) + ")")]
                    cell.execution_count = None
                    flag(self.nb, "machinery", f"{name} reaches into the grading machinery and was not run: "
                         + "; ".join(found[:5]), name)
                    continue
            if stop is None and deadline is not None and time.monotonic() >= deadline:
                stop = f"the notebook used up its time limit of {h.notebook_timeout} s"
                flag(self.nb, "notebook_timeout", stop, name)
            if stop is not None:
                cell.outputs = [_error("NotRun", f"this cell was not run because {stop}")]
                cell.execution_count = None
                continue
            try:
                if utils.is_grade(cell):
                    stop = self._guard_check(name, [], test_cell=True)
                    if stop is not None:
                        cell.outputs = [_error("NotRun", f"this cell was not run because {stop}")]
                        continue
                remaining = None if deadline is None else max(1.0, deadline - time.monotonic())
                self._cell_limit = min(self.timeout if self.timeout and self.timeout > 0 else math.inf,
                                       remaining if remaining is not None else math.inf)
                limited_by_notebook = remaining is not None and remaining < (self.timeout or math.inf)
                self.error_on_timeout = {
                    "ename": "CellTimeoutError", "evalue": "",
                    "traceback": [("CellTimeoutError: the notebook's time limit ran out in this cell"
                                   if limited_by_notebook else
                                   f"CellTimeoutError: this cell ran longer than its {self.timeout} s limit")],
                }
                self._cell_bytes, self._cut = 0, None
                self.execute_cell(cell, index, store_history=True)
                if self._cut is not None:
                    note(self.nb, "output_cut", self._cut["text"], name)
                if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                    note(self.nb, "cell_timeout", f"{name} was stopped at its time limit", name)
                if utils.is_grade(cell):
                    self._ask(guard.restore_expression(self._guard, guard.new_challenge()))
                elif utils.is_locked(cell):
                    stop = self._guard_check(name, [n for n in guard.bound_names(cell.source) if n not in self._keep])
            except DeadKernelError:
                stop = death_reason(km, h.memory_bytes)
                cell.outputs.append(_error("KernelDied", f"{stop}, while running this cell"))
                flag(self.nb, "kernel_died", f"{stop} while running {name}; the cells after it were not run", name)
            except CellTimeoutError:
                run_sync(km.shutdown_kernel)(now=True)
                stop = f"{name} ran past its time limit and ignored the interrupt, so the kernel was stopped"
                cell.outputs.append(_error("CellTimeoutError", stop))
                flag(self.nb, "kernel_stopped", stop, name)
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    _shorten_error(out)

    def _get_timeout(self, cell):
        if cell is None:
            return GUARD_TIMEOUT
        return None if self._cell_limit in (None, math.inf) else max(1, math.ceil(self._cell_limit))

    # -- guard

    def _ask(self, expression: str) -> dict | None:
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"guard": expression})
        return self.wait_for_reply(msg_id)

    def _guard_install(self) -> bool:
        challenge = guard.new_challenge()
        self._ask(f"exec({guard.install_code(self._guard)!r})")
        return guard.parse_reply(self._ask(guard.check_expression(self._guard, challenge, [])), challenge) is not None

    def _guard_check(self, name: str, protect: list[str], test_cell: bool = False) -> str | None:
        """Run the guard; flag what it undid. Return a stop reason if the guard no longer answers, or
        if it found something it could not undo (the later test cells then score 0: never an inflated
        score standing beside a flag)."""
        challenge = guard.new_challenge()
        expression = guard.check_expression(self._guard, challenge, protect, test_cell, self._keep)
        problems = guard.parse_reply(self._ask(expression), challenge)
        if problems is None:
            # Reinstalling would take the tampered state as the new normal: stop trusting this kernel.
            reason = "the submission removed or broke the grading guard, so its test cells could not be trusted"
            flag(self.nb, "guard", f"before {name}: {reason}; the remaining test cells scored 0", name)
            return reason
        stuck = [p for p in problems if p.startswith("could not undo")]
        for problem in problems:
            if not problem.startswith("could not undo"):
                flag(self.nb, "tamper_runtime", f"before {name}: {problem}; "
                     + ("it could not all be undone" if stuck else "undone for grading"), name)
        if stuck:
            reason = "the submission changed the test machinery in a way the grader could not undo"
            flag(self.nb, "guard", f"before {name}: {reason} ({'; '.join(stuck)}); the remaining test cells "
                 "scored 0", name)
            return reason
        return None

    # -- output caps

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        h = self._hardening
        size = _size(out)
        if out.get("output_type") == "error":
            _shorten_error(out)
            size = _size(out)
        cell_room = h.max_output_bytes_per_cell - self._cell_bytes if h.max_output_bytes_per_cell > 0 else math.inf
        nb_room = h.max_output_bytes_per_notebook - self._nb_bytes if h.max_output_bytes_per_notebook > 0 else math.inf
        room = min(cell_room, nb_room)
        if size <= room or out.get("output_type") == "error":
            self._cell_bytes += size
            self._nb_bytes += size
            return out
        outs.pop()
        kept = 0
        if out.get("output_type") == "stream" and room > 0:
            raw = out["text"].encode("utf-8", "replace")[: int(room)]
            out["text"] = raw.decode("utf-8", "ignore")
            kept = len(raw)
            outs.append(out)
        self._cell_bytes += kept
        self._nb_bytes += kept
        self._note_cut(outs, size - kept, "cell" if cell_room <= nb_room else "notebook")
        return out

    def _note_cut(self, outs, dropped: int, which: str) -> None:
        h = self._hardening
        limit = h.max_output_bytes_per_cell if which == "cell" else h.max_output_bytes_per_notebook
        if self._cut is None:
            self._cut = {"dropped": 0, "out": NotebookNode(output_type="stream", name="stdout", text="")}
            outs.append(self._cut["out"])
        self._cut["dropped"] += dropped
        self._cut["text"] = (f"[adoptkit: output cut here: the {which} output limit is {limit:,} bytes; "
                             f"{self._cut['dropped']:,} more bytes were dropped]")
        self._cut["out"]["text"] = "\n" + self._cut["text"] + "\n"
