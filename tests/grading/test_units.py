"""Fast checks of the grading pieces, no nbgrader run: reading, config, guard helpers, sandbox, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import nbformat
import pytest
from gradinglib import FIXTURES, needs_root
from traitlets.config import Config

from adoptkit.grading import harden
from adoptkit.grading.guard import bound_names
from adoptkit.grading.pipeline import AUTOGRADE, EXPORTER
from adoptkit.grading.sandbox import Slot, Spec, kill_user, spec_json
from adoptkit.grading.tamper import SubmissionError, failing_line, gradebook_lock, hidden_lines, read_submission


def write(tmp_path, content: bytes, name="hw.ipynb"):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b'{"cells": [', "not valid JSON (line 1"),
    (b"\xff\xfe\x00", "is not text"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (b'{"cells": []}', "no nbformat version"),
    (b'{"cells": [], "metadata": {}, "nbformat": 5, "nbformat_minor": 0}', "nbformat 5"),
    (b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}',
     "does not follow the notebook format at cells/0: 'metadata' is a required property"),
    ((b'{"cells": [{"cell_type": "code", "metadata": {}, "source": "1", "outputs": "none", "execution_count": null}],'
      b' "metadata": {}, "nbformat": 4, "nbformat_minor": 4}'), "does not follow the notebook format at cells/0/outputs"),
])
def test_unreadable_submissions_get_a_clear_reason(tmp_path, content, message):
    with pytest.raises(SubmissionError) as err:
        read_submission(write(tmp_path, content))
    assert message in str(err.value)


def test_a_readable_or_repairable_notebook_is_read(tmp_path):
    nb = nbformat.read(FIXTURES / "fixture-hw" / "fixture-hw.ipynb", as_version=4)
    assert len(read_submission(write(tmp_path, nbformat.writes(nb).encode())).cells) == len(nb.cells)
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("1")])])
    converted = read_submission(write(tmp_path, nbformat.writes(old, version=3).encode(), "old.ipynb"))
    assert converted.nbformat == 4 and converted.cells[0].source == "1"


def test_harden_installs_the_pipeline_and_refuses_unknown_settings():
    c = harden(Config(), cell_timeout=7, memory_bytes=123)
    assert c.Autograde.autograde_preprocessors == AUTOGRADE and c.Autograde.exporter_class is EXPORTER
    assert c.Execute.timeout == 7 and c.Hardening.memory_bytes == 123
    with pytest.raises(TypeError, match="memory_byte.*known: .*memory_bytes"):
        harden(Config(), memory_byte=1)


def test_helpers_find_names_hidden_regions_and_failing_lines():
    source = "import math as m, os\nfrom x import y\n\ndef check(a):\n    pass\nclass K: pass\nLIMIT = 3\n"
    assert bound_names(source) == ["m", "os", "y", "check", "K", "LIMIT"]
    assert bound_names("def broken(:") == []
    test = "check(1)\n### BEGIN HIDDEN TESTS\ncheck(2)\ncheck(3)\n### END HIDDEN TESTS\n"
    assert hidden_lines(test) == {3, 4}
    error = {"traceback": ["\x1b[0;31mAssertionError\x1b[0m", "Cell \x1b[0;32mIn[7], line 3\x1b[0m", "Cell In[2], line 9"]}
    assert failing_line(error) == 3
    assert failing_line({"traceback": ["KernelDied: no frames"]}) is None


def test_gradebook_lock_is_reentrant_and_excludes_other_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    probe = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('free')\n"
             "except OSError:\n    print('held')\n")
    lock_file = str(tmp_path / "gradebook.db.adoptkit-lock")

    def other_process_sees():
        return subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True, text=True,
                              check=True).stdout.strip()

    with gradebook_lock(url):
        with gradebook_lock(url):  # a step inside a step of the same grader
            assert other_process_sees() == "held"
        assert other_process_sees() == "held"
    assert other_process_sees() == "free"
    with gradebook_lock("postgresql+psycopg2://grader@db/course"):
        pass  # a server database serialises itself


@needs_root
def test_launcher_confines_a_process(tmp_path):
    slot = Slot.claim("/tmp/adoptkit-sandbox-test", 63900, 4)
    try:
        limits = slot.prepare(256 * 2**20, 20)
        hidden = tmp_path / "secret"
        hidden.mkdir()
        (hidden / "answers.txt").write_text("42")
        spec = Spec(home=str(slot.home), status_file=str(slot.dir / "status.json"), uid=slot.uid,
                    memory_bytes=256 * 2**20, memory_by_cgroup="memory" in limits, cpu_seconds=5,
                    max_processes=20, max_file_bytes=2**20, isolate_network=True, hide_paths=[str(hidden)],
                    cgroup_procs=slot.cgroups.procs_files() if limits else [])
        probe = (
            "import os, resource, socket, json\n"
            "out = {'uid': os.getuid(), 'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],\n"
            "       'fsize': resource.getrlimit(resource.RLIMIT_FSIZE)[0],\n"
            "       'ifaces': sorted(n for _, n in socket.if_nameindex())}\n"
            "server = socket.create_server(('127.0.0.1', 0))  # its own loopback works (offline model, say)\n"
            "out['loopback'] = socket.create_connection(server.getsockname(), timeout=2).getpeername()[0]\n"
            "try:\n    out['secret'] = open(%r).read()\nexcept OSError as e:\n    out['secret'] = type(e).__name__\n"
            "print(json.dumps(out))\n").replace("%r", repr(str(hidden / "answers.txt")))
        proc = subprocess.run([sys.executable, "-m", "adoptkit.grading.sandbox", spec_json(spec), "--",
                               sys.executable, "-c", probe], capture_output=True, text=True, cwd=slot.work, timeout=60,
                              check=True)
        seen = json.loads(proc.stdout)
        status = json.loads((slot.dir / "status.json").read_text())
        assert seen["uid"] == slot.uid and seen["nproc"] == 20 and seen["fsize"] == 2**20
        assert seen["ifaces"] == ["lo"] and seen["loopback"] == "127.0.0.1" and seen["secret"] != "42"
        assert {"user", "network", "hide_paths", "process_rlimit"} <= set(status["enforced"])
    finally:
        slot.release()


@needs_root
def test_slots_are_exclusive_and_clear_what_a_previous_owner_left(tmp_path):
    a = Slot.claim("/tmp/adoptkit-sandbox-test", 63900, 4)
    b = Slot.claim("/tmp/adoptkit-sandbox-test", 63900, 4)
    try:
        assert a.uid != b.uid
        a.prepare(0, 0)
        # a leftover process of a's uid (what a crashed grader's fork storm would leave)
        leftover = subprocess.Popen([sys.executable, "-c", f"import os, time; os.setuid({a.uid}); time.sleep(60)"])
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                os.stat(f"/proc/{leftover.pid}").st_uid == a.uid for _ in [0]):
            time.sleep(0.05)
        assert kill_user(a.uid) >= 1
        assert leftover.wait(timeout=10) == -9
    finally:
        a.release()
        b.release()
    c = Slot.claim("/tmp/adoptkit-sandbox-test", 63900, 4)
    try:
        assert c.uid == a.uid  # released slots are reused
    finally:
        c.release()


def test_the_kubernetes_example_in_the_docs_is_well_formed():
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[2] / "docs" / "grading.md").read_text()
    manifests = [m for block in re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL) for m in yaml.safe_load_all(block)]
    kinds = {m["kind"]: m for m in manifests}
    assert set(kinds) == {"Deployment", "Service", "NetworkPolicy"}
    assert all(m["apiVersion"] and m["metadata"]["name"] for m in manifests)
    workers = next(m for m in manifests if m["metadata"]["name"] == "dask-grader")
    command = workers["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--nthreads") + 1] == "1"  # nbgrader converters are one learner per process
    service = next(m for m in manifests if m["kind"] == "Service")
    assert "tcp://dask-scheduler:8786" in command and service["spec"]["ports"][0]["port"] == 8786


@needs_root
def test_sweep_clears_a_slot_a_killed_grader_left():
    slot = Slot.claim("/tmp/adoptkit-sandbox-test", 63900, 4)
    slot.prepare(0, 0, disk_bytes=1 << 20)
    assert os.path.ismount(slot.dir)
    os.close(slot._lock_fd)  # the grader dies: its lock goes, its mount and folder stay
    slot._lock_fd = None
    assert Slot.sweep("/tmp/adoptkit-sandbox-test", 63900, 4) == 1
    assert not slot.dir.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_whose_parent_died_before_it_asked_to_die_with_it_ends():
    """The race a kill -9 of the grader can hit: the zygote dies between forking a kernel and the kernel's
    prctl. Linux then never sends the signal, so die_with_parent(parent) must end the orphan itself."""
    from adoptkit.grading.sandbox import die_with_parent

    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    result_r, result_w = os.pipe()
    middle = os.fork()
    if middle == 0:  # the "zygote": starts a "kernel", waits until it knows its parent, then dies
        if os.fork() == 0:
            try:
                parent = os.getppid()
                os.write(ready_w, b"r")
                os.read(go_r, 1)  # the test says go once the parent is gone
                try:
                    die_with_parent(parent)
                    os.write(result_w, b"alive")
                except BaseException as err:  # noqa: BLE001 - any way of not being killed is a failure
                    os.write(result_w, repr(err).encode())
            finally:
                os._exit(0)
        os.read(ready_r, 1)
        os._exit(0)
    os.waitpid(middle, 0)
    for fd in (ready_r, ready_w, result_w, go_r):
        os.close(fd)
    os.write(go_w, b"g")
    os.close(go_w)
    got = b""
    deadline = time.time() + 10
    while time.time() < deadline:  # EOF once the orphan has ended (every write end of the pipe closed)
        chunk = os.read(result_r, 16)
        if not chunk:
            break
        got += chunk
    os.close(result_r)
    assert got == b"", "the orphan outlived its parent"


def test_llm_client_answers_offline_while_grading(monkeypatch):
    """In a graded kernel (NBGRADER_EXECUTION set) llm.client() needs no server, network or database."""
    from adoptkit import llm
    from adoptkit.llm import offline

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.delenv("ADOPTKIT_LLM_URL", raising=False)
    monkeypatch.setattr(llm, "_local_url", lambda *a: pytest.fail("grading started the local server"))
    client = llm.client()
    reply = client.chat.completions.create(model="course-default", messages=[
        {"role": "user", "content": "Classify into exactly one of: bug, question. Text: the app crashes"}])
    assert reply.model == offline.MODEL_ID
    assert reply.choices[0].message.content.strip() in ("bug", "question")


def test_the_machinery_reading_passes_every_answer_and_lesson_in_the_course():
    """No false flag from the static reading: every cell a learner writes or keeps (solutions, unlocked
    cells, teach-back lessons) in every exercise reads as ordinary code."""
    import nbformat
    from nbgrader import utils

    from adoptkit.grading import reach

    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "exercises"
    found = {}
    for path in sorted(root.glob("*/*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and not utils.is_locked(cell):  # what a learner writes or keeps
                problems = reach.problems(cell.source)
                if problems:
                    found[f"{path.parent.name}/{path.name} cell {i + 1}"] = problems
    assert not found, found


@pytest.mark.parametrize("code", [
    "get_ipython().kernel.do_execute = None",
    "import builtins\nbuiltins.__import__ = None",
    "import sys\nsys.modules['math'] = None",
    "x = print.__self__",
    "getattr(print, '__se' + 'lf__')",
    "import numpy as np\nnp.isclose = lambda *a, **k: True",
    "def f():\n    global isinstance\n    isinstance = None",
    "import os\nos.sys.modules",
    "!cat /etc/passwd",
    "%run other.py",
    "exec('1')",
    "import gc\ngc.get_objects()",
    "import inspect",
    "print(In[3])",
    "import pandas as pd\npd.read_pickle('x')",
])
def test_the_machinery_reading_refuses_each_route(code):
    from adoptkit.grading import reach

    assert reach.problems(code), code


def test_safe_copy_refuses_links_special_files_and_shadowing_modules(tmp_path):
    import os

    from adoptkit.grading import files

    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "data").mkdir(parents=True)
    (src / "data" / "ok.csv").write_text("a,b\n")
    (src / "notes.txt").write_text("mine")
    os.symlink("/etc/passwd", src / "link.txt")
    os.symlink(tmp_path, src / "data" / "dirlink")
    os.mkfifo(src / "pipe")
    (tmp_path / "outside.txt").write_text("secret")
    os.link(tmp_path / "outside.txt", src / "hard.txt")
    (src / "json.py").write_text("x = 1")
    (src / "helper.py").write_text("x = 1")
    (src / "mod.pyc").write_bytes(b"\0")
    refused = files.safe_copy(src, dest, importable={"json", "numpy"})
    why = {r.path: r.why for r in refused}
    assert sorted(os.path.relpath(p, dest) for p in map(str, dest.rglob("*")) if not p.endswith(files.REFUSED)) == [
        "data", "data/ok.csv", "helper.py", "notes.txt"]
    assert "symbolic link" in why["link.txt"] and "symbolic link" in why["data/dirlink"]
    assert "FIFO" in why["pipe"] and "hard link" in why["hard.txt"] and "module 'json'" in why["json.py"]
    assert "compiled" in why["mod.pyc"]
    assert {r.path for r in files.read_refusals(dest)} == set(why)


def test_the_executor_connects_with_its_own_handshake(monkeypatch):
    """nbclient's sync `setup_kernel` calls `start_new_kernel_client`, which nbclient binds to its own
    coroutine when its class is defined. HardenedExecute rebinds it: otherwise jupyter_client's
    `wait_for_ready` (a fixed 0.2 s of iopub silence per kernel) runs instead of the executor's handshake."""
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    from adoptkit.grading.execute import HardenedExecute

    def fixed_wait(self, timeout=None):
        raise AssertionError("jupyter_client's wait_for_ready ran")

    for client in (AsyncKernelClient, BlockingKernelClient):
        monkeypatch.setattr(client, "wait_for_ready", fixed_wait)
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        ex = HardenedExecute(config=Config())
        NotebookClient.__init__(ex, nbformat.v4.new_notebook(), km)  # as HardenedExecute.preprocess does
        kc = ex.start_new_kernel_client()
        try:
            reply = kc.execute_interactive("40 + 2", timeout=30)
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
