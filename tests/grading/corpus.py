"""Hostile and broken submissions of the fixture assignment, each with the outcome it must get.

The fixture (tests/fixtures/grading/fixture-hw) has a locked helper cell (`check_number`) and three
questions: Q1 `add` (2 points, visible tests), Q2 `mean` (3 points, visible and hidden tests), Q3
`shout` (1 point, a hidden test only): 6 points in all.

Every hostile case is bounded in the code itself (a few hundred processes, 1.5 GiB of memory, one
connection attempt to 127.0.0.1), so a sandbox that failed would still not hurt the machine.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

CORRECT = {
    "add": "def add(a, b):\n    return a + b",
    "mean": "def mean(xs):\n    return sum(xs) / len(xs)",
    "shout": "def shout(s):\n    return s.upper() + \"!\"",
}


@dataclass
class Case:
    name: str
    build: Callable[[nbformat.NotebookNode, dict], bytes]
    status: str  # graded, flagged or failed
    score: float = 0.0
    flags: list[str] = field(default_factory=list)  # flag kinds that must be present
    reason: str = ""  # must appear in the failure reason or a flag detail
    outputs_contain: list[str] = field(default_factory=list)
    outputs_lack: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hidden_failures: list[str] = field(default_factory=list)
    extras: Callable[[Path, dict], None] | None = None  # puts files beside the submitted notebook
    graded_files: list[str] = field(default_factory=list)  # must be in autograded/ beside the notebook


def _cells(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


def answered(release, **answers) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release)
    cells = _cells(nb)
    for name, source in {**CORRECT, **answers}.items():
        cells[name].source = source
    return nb


def dump(nb) -> bytes:
    return nbformat.writes(nb).encode()


def with_answers(**answers):
    return lambda release, ctx: dump(answered(release, **answers))


def _drop(name):
    def build(release, ctx):
        nb = answered(release)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != name]
        return dump(nb)
    return build


def _duplicate_test_add(release, ctx):
    nb = answered(release)
    i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add")
    nb.cells.insert(2, copy.deepcopy(nb.cells[i]))  # a copy above the answer it tests
    return dump(nb)


def _retype_test_shout(release, ctx):
    nb = answered(release)
    cell = _cells(nb)["test_shout"]
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]
    return dump(nb)


def _edit_locked(release, ctx):
    nb = answered(release, add="def add(a, b):\n    return a - b", mean="def mean(xs):\n    return 0")
    cells = _cells(nb)
    cells["test_add"].source = "pass  # tests removed"
    cells["helpers"].source = "def check_number(*args, **kwargs):\n    pass"
    return dump(nb)


def _strip_metadata(release, ctx):
    nb = answered(release)
    for c in nb.cells:
        c.metadata.pop("nbgrader", None)
    return dump(nb)


def _wrong_nbformat(release, ctx):
    data = json.loads(dump(answered(release)))
    data["nbformat"] = 5
    return json.dumps(data).encode()


def _other_assignment(release, ctx):
    return ctx["other_release"]


def _network(release, ctx):
    probe = (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        f"code = s.connect_ex(('127.0.0.1', {ctx['port']}))\n"
        "print('NETWORK OPEN' if code == 0 else f'NO NETWORK (error {code})')\n"
    )
    return dump(answered(release, shout=probe + CORRECT["shout"]))


def _read_hidden(release, ctx):
    probe = (
        "import glob, os\n"
        f"root = {ctx['course']!r}\n"
        "found = []\n"
        "for path in glob.glob(root + '/**/*', recursive=True) + [root + '/exercises/fixture-hw/fixture-hw.ipynb']:\n"
        "    try:\n"
        "        with open(path, 'rb') as f:\n"
        "            if b'HIDDEN TESTS' in f.read():\n"
        "                found.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('LEAKED: ' + ' '.join(found) if found else 'NO LEAK')\n"
    )
    return dump(answered(release, shout=probe + CORRECT["shout"]))


def _write_gradebook(release, ctx):
    probe = (
        "import sqlite3\n"
        f"db = {ctx['gradebook']!r}\n"
        "try:\n"
        "    con = sqlite3.connect(db)\n"
        "    con.execute('UPDATE grade SET manual_score = 1000')\n"
        "    con.commit()\n"
        "    print('GRADEBOOK WRITTEN')\n"
        "except Exception as err:\n"
        "    print('GRADEBOOK SAFE:', type(err).__name__)\n"
        "try:\n"
        "    open(db, 'wb').write(b'not a database any more')\n"
        "except OSError as err:\n"
        "    print('GRADEBOOK FILE SAFE:', type(err).__name__)\n"
    )
    return dump(answered(release, shout=probe + CORRECT["shout"]))


FORK_STORM = (
    "import os, time\n"
    "children = 0\n"
    "try:\n"
    "    for _ in range(300):  # bounded: never more than 300 processes\n"
    "        pid = os.fork()\n"
    "        if pid == 0:\n"
    "            time.sleep(20)\n"
    "            os._exit(0)\n"
    "        children += 1\n"
    "    print('fork allowed', children)\n"
    "except OSError as err:\n"
    "    print('fork refused after', children, 'children:', err.strerror)\n"
)

MEMORY_GRAB = (
    "try:\n"
    "    hog = bytearray(1536 * 2**20)  # bounded: 1.5 GiB\n"
    "    for i in range(0, len(hog), 4096):\n"
    "        hog[i] = 1\n"
    "    print('memory allowed')\n"
    "except MemoryError:\n"
    "    print('memory refused')\n"
)

BYPASS = (
    "ip = get_ipython()\n"
    "ip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
    "ip.set_custom_exc((Exception,), lambda *args, **kwargs: None)\n"
    "_real = ip.run_cell_async\n"
    "async def _no_tests(raw_cell, *args, **kwargs):\n"
    "    return await _real('pass', *args, **kwargs)\n"
    "ip.run_cell_async = _no_tests\n"
    "def add(a, b):\n"
    "    return a - b\n"
)

MONKEYPATCH = (
    "import math\n"
    "math.isclose = lambda *args, **kwargs: True\n"
    "check_number = lambda *args, **kwargs: None\n"
    "def mean(xs):\n"
    "    return 0\n"
)

REDEFINE = (
    "check_number = lambda *args, **kwargs: None\n"
    "def mean(xs):\n"
    "    return 0\n"
)

EQ_TRICK = (
    "class Anything(float):\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "def add(a, b):\n"
    "    return Anything(0)\n"
)

STUBBORN = (
    "import signal\n"
    "def shout(s):\n"
    "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "    while True:\n"
    "        pass\n"
)

CASES = [
    Case("correct", with_answers(), "graded", 6),
    Case("correct-too", with_answers(), "graded", 6),
    Case("wrong", with_answers(mean="def mean(xs):\n    return 2", shout="def shout(s):\n    return s.upper()"),
         "graded", 2, hidden_failures=["test_mean", "test_shout"]),
    Case("infinite-loop", with_answers(add="def add(a, b):\n    while True:\n        pass"), "graded", 4,
         notes=["cell_timeout"]),
    Case("stubborn-loop", with_answers(shout=STUBBORN), "flagged", 5, flags=["kernel_stopped"],
         reason="ignored the interrupt"),
    Case("fork-storm", with_answers(shout=FORK_STORM + CORRECT["shout"]), "graded", 6,
         outputs_contain=["fork refused"]),
    Case("memory-grab", with_answers(mean=MEMORY_GRAB + CORRECT["mean"]), "flagged", 2, flags=["kernel_died"],
         reason="out of memory"),
    Case("huge-output", with_answers(add='print("x" * 20_000_000)\n' + CORRECT["add"]), "graded", 6,
         notes=["output_cut"], outputs_contain=["output cut here"]),
    Case("exit-halfway", with_answers(mean="import os\nos._exit(0)\n" + CORRECT["mean"]), "flagged", 2,
         flags=["kernel_died"], reason="exited with status 0"),
    Case("segfault", with_answers(mean="import os\nos.kill(os.getpid(), 11)\n" + CORRECT["mean"]), "flagged", 2,
         flags=["kernel_died"], reason="segmentation fault"),
    Case("deleted-test", _drop("test_mean"), "flagged", 6, flags=["deleted"]),
    Case("deleted-helpers", _drop("helpers"), "flagged", 6, flags=["deleted"]),
    Case("duplicated-grade", _duplicate_test_add, "flagged", 6, flags=["duplicated"]),
    Case("retyped", _retype_test_shout, "flagged", 6, flags=["retyped"]),
    Case("edited-locked", _edit_locked, "flagged", 1, flags=["edited_locked"]),
    Case("monkeypatch", with_answers(mean=MONKEYPATCH), "flagged", 3, flags=["machinery"],
         reason="math.isclose"),
    Case("redefine-helper", with_answers(mean=REDEFINE), "flagged", 3, flags=["tamper_runtime"],
         reason="check_number"),
    Case("assert-bypass", with_answers(add=BYPASS, mean="def mean(xs):\n    return 0",
                                       shout="def shout(s):\n    return s"), "flagged", 0,
         flags=["machinery"], reason="get_ipython"),
    Case("eq-trick", with_answers(add=EQ_TRICK), "graded", 4),
    Case("read-hidden", _read_hidden, "graded", 6, outputs_contain=["NO LEAK"], outputs_lack=["LEAKED"]),
    Case("write-gradebook", _write_gradebook, "graded", 6, outputs_contain=["GRADEBOOK SAFE"],
         outputs_lack=["GRADEBOOK WRITTEN"]),
    Case("network", _network, "graded", 6, outputs_contain=["NO NETWORK"], outputs_lack=["NETWORK OPEN"]),
    Case("sleepy", with_answers(**{k: "import time\ntime.sleep(3.5)\n" + v for k, v in CORRECT.items()}),
         "flagged", 5, flags=["notebook_timeout"]),
    Case("invalid-json", lambda release, ctx: dump(answered(release))[:-200], "failed", reason="not valid JSON"),
    Case("empty-file", lambda release, ctx: b"", "failed", reason="is empty"),
    Case("wrong-nbformat", _wrong_nbformat, "failed", reason="nbformat 5"),
    Case("no-metadata", _strip_metadata, "failed", reason="no nbgrader cells"),
    Case("other-assignment", _other_assignment, "failed", reason="other-hw/other-hw.ipynb"),
]


# ---------------------------------------------------------------- issue 12's classes: leaks, bypasses, XSS

WRONG = {"add": "def add(a, b):\n    return 0", "mean": "def mean(xs):\n    return 0",
         "shout": "def shout(s):\n    return s"}
SECRET = "TOP-SECRET-INSTRUCTOR-CONTENT"  # what the files a link points to hold (tests/grading/test_corpus.py)

PEEK = (
    "import os\n"
    "for name in sorted(os.listdir('.')):\n"
    "    try:\n"
    "        with open(name, 'rb') as f:\n"
    "            print('READ', name, f.read(200))\n"
    "    except OSError as err:\n"
    "        print('NOT READ', name, err.strerror)\n"
)


def _beside(make):
    """extras: `make(folder, ctx)` adds files beside the notebook (run as root, as nbgrader collect is)."""
    return make


def _link(target_of):
    def make(folder, ctx):
        os.symlink(target_of(ctx), folder / "data.csv")
    return make


def _special(folder, ctx):
    import socket
    import stat

    os.mkfifo(folder / "pipe")
    os.mknod(folder / "null-device", 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(folder / "socket"))
    s.close()


def _hard_link(folder, ctx):
    os.link(ctx["secret"], folder / "notes.txt")  # the secret's other name, inside the submission


def _foreign(folder, ctx):
    (folder / "notes.txt").write_text(SECRET)
    os.chown(folder / "notes.txt", 61234, 61234)  # another learner's file


def _shadow_math(folder, ctx):
    # a module the helper cell imports: a fake math.isclose would pass every check_number
    (folder / "math.py").write_text("def isclose(*args, **kwargs):\n    return True\n")
    (folder / "numpy.py").write_text("raise SystemExit('shadowed numpy imported')\n")


def _helper_module(folder, ctx):
    # a module handed in beside the notebook, imported by it: read like a cell before the kernel may import it
    (folder / "helperx.py").write_text("import builtins\nbuiltins.isinstance = lambda *a: True\n")


def _notebook_link(release, ctx):
    return None  # the notebook itself is made a link by the extras


def _notebook_is_link(folder, ctx):
    nb = folder / "fixture-hw.ipynb"
    nb.unlink(missing_ok=True)
    os.symlink(ctx["source"], nb)


def _deep_json(release, ctx):
    return b"[" * 100_000 + b"]" * 100_000


BYPASSES = {
    "wrap-execute": (
        "k = get_ipython().kernel\n"
        "_orig = k.do_execute\n"
        "async def _ok(*args, **kwargs):\n"
        "    reply = await _orig(*args, **kwargs)\n"
        "    reply['status'] = 'ok'\n"
        "    return reply\n"
        "k.do_execute = _ok\n"),
    "patch-compiler": (
        "ip = get_ipython()\n"
        "_parse = ip.compile.ast_parse\n"
        "ip.compile.ast_parse = lambda source, *a, **k: _parse('pass', *a, **k)\n"),
    "replace-import": (
        "import builtins\n"
        "_real = builtins.__import__\n"
        "builtins.__import__ = lambda name, *a, **k: _real(name, *a, **k)\n"),
    "sys-modules": (
        "import sys, types\n"
        "fake = types.ModuleType('math')\n"
        "fake.isclose = lambda *a, **k: True\n"
        "sys.modules['math'] = fake\n"),
    "event-callback": (
        "def _cb(*args):\n"
        "    pass\n"
        "_cb.__module__ = 'IPython.core.events'\n"
        "get_ipython().events.register('pre_run_cell', _cb)\n"),
    "fake-guard": (
        "import json\n"
        "for _n in list(globals()):\n"
        "    if _n.startswith('_adk_'):\n"
        "        globals()[_n] = lambda ch, *a, **k: json.dumps({'challenge': ch, 'problems': []})\n"),
    "obfuscated-reach": (
        "_b = getattr(print, '__se' + 'lf__')\n"
        "_g = vars(_b)['get_' + 'ipython']\n"),
    "frame-walk": (
        "def add(a, b):\n"
        "    import inspect\n"
        "    inspect.currentframe().f_back.f_globals['check_number'] = lambda *x, **y: None\n"
        "    return 0\n"),
    "global-rebind": (
        "def add(a, b):\n"
        "    global check_number\n"
        "    check_number = lambda *x, **y: None\n"
        "    return 0\n"),
    "history-read": "print(In)\nprint(_ih[-1])\n",
}

SHADOW_BUILTIN = "type = lambda x: int\n"  # check_number asks type(actual): the learner's type must not answer

XSS = (
    "from IPython.display import HTML, SVG, display\n"
    "display(HTML('<script>window.PWNED=1</script><img src=x onerror=\"window.PWNED=2\">'\n"
    "             '<a href=\"javascript:window.PWNED=3\">x</a>'))\n"
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.PWNED=4\"></svg>'))\n"
)


def _xss(release, ctx):
    nb = answered(release, add=XSS + CORRECT["add"])
    cell = nbformat.v4.new_markdown_cell('<script>window.PWNED=5</script><img src=x onerror="x()">')
    cell.pop("id", None)  # the release is nbformat 4.4
    nb.cells.insert(1, cell)
    return dump(nb)


def _writes(release, ctx):
    code = ("with open('results.csv', 'w') as f:\n    f.write('a,b\\n1,2\\n')\n"
            "import os\nos.symlink('/etc/shadow', 'leak.txt')\n")
    return dump(answered(release, add=code + CORRECT["add"]))


def _isolation(release, ctx):
    code = ("import os\n"
            "print('IPC', os.readlink('/proc/self/ns/ipc'))\n"
            "print('ROOT', sorted(os.listdir('/')))\n"
            "print('CONFIG', os.environ.get('ADOPTKIT_CONFIG'))\n"
            "print('PROCS', len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
            "print('MOUNTS', open('/proc/self/mountinfo').read())\n"
            "with open('/tmp/big', 'wb') as f:\n"
            "    try:\n"
            "        for _ in range(40):\n"
            "            f.write(b'x' * 2**20)\n"
            "        print('TMP WROTE 40 MiB')\n"
            "    except OSError as err:\n"
            "        print('TMP FULL', err.strerror)\n")
    return dump(answered(release, shout=code + CORRECT["shout"]))


CASES += [
    # links and special files beside the notebook: refused at every copy, flagged, never read or returned
    Case("link-shadow", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="symbolic link", extras=_link(lambda ctx: "/etc/shadow"), outputs_lack=["READ data.csv"]),
    Case("link-gradebook", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="symbolic link", extras=_link(lambda ctx: ctx["gradebook"]), outputs_lack=["READ data.csv"]),
    Case("link-source", with_answers(**WRONG), "flagged", 0, flags=["refused_file"], reason="symbolic link",
         extras=_link(lambda ctx: ctx["source"])),
    Case("link-other-learner", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="symbolic link", extras=_link(lambda ctx: ctx["other_learner"]), outputs_lack=["READ data.csv"]),
    Case("hard-link", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="hard link", extras=_hard_link, outputs_lack=["READ notes.txt", SECRET]),
    Case("special-files", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="FIFO", extras=_special, outputs_lack=["READ pipe", "READ null-device", "READ socket"]),
    Case("foreign-owner", with_answers(add=PEEK + CORRECT["add"]), "flagged", 6, flags=["refused_file"],
         reason="owned by another user", extras=_foreign, outputs_lack=[SECRET]),
    Case("shadow-module", with_answers(mean="import numpy\n" + WRONG["mean"]), "flagged", 3,
         flags=["refused_file"], reason="in place of the module 'math'", extras=_shadow_math),
    Case("helper-module-reach", with_answers(add="import helperx\n" + WRONG["add"], mean=WRONG["mean"],
                                             shout=WRONG["shout"]), "flagged", 0,
         flags=["refused_file", "machinery"], reason="helperx.py: Python that reaches into the grading machinery",
         extras=_helper_module),
    Case("notebook-link", _notebook_link, "failed", reason="symbolic link", extras=_notebook_is_link),
    Case("deep-json", _deep_json, "failed", reason="nested"),
    # code that reaches into the grading machinery: never run, flagged, its wrong answers score 0
    *[Case(f"bypass-{name}", with_answers(add=code + WRONG["add"], mean=WRONG["mean"], shout=WRONG["shout"]),
           "flagged", 0, flags=["machinery"]) for name, code in BYPASSES.items()],
    Case("shadow-builtin", with_answers(add=SHADOW_BUILTIN + WRONG["add"], mean=WRONG["mean"], shout=WRONG["shout"]),
         "graded", 0),
    Case("honest-shadow", with_answers(add="sum = 0\nlist = [1, 2]\n" + CORRECT["add"]), "graded", 6),
    Case("xss", _xss, "graded", 6, outputs_lack=["<script", "onerror", "javascript:", "onload"]),
    Case("writes-files", _writes, "flagged", 6, flags=["refused_file"], reason="leak.txt",
         graded_files=["results.csv"]),
    Case("isolation", _isolation, "graded", 6, outputs_contain=["TMP FULL", "adoptkit-config.yml"],
         outputs_lack=["TMP WROTE", "_nbgrader", "exercises"]),
]
