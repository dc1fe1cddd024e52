"""The no-code widgets in a real JupyterLab, driven through Debian's chromium as a learner would use them.

A real Jupyter server (JupyterLab 4, token auth, loopback, started and stopped by pid) serves a copy of the
released `hr-nocode` notebook; its kernel reaches the course's model through a real sandbox gateway (offline
model, `adoptkit.llm.client()` pointed at it by ADOPTKIT_LLM_URL). The learner clicks Run All, types prompts and
clicks Run, reads the replies and the failed checks, ticks sentences and picks reasons, chooses options; the
answer files in `quiz-answers/` hold exactly that, reopening the notebook (page reloaded, kernel restarted) shows
it again, real nbgrader gives the browser-made submission full marks, and with the gateway down the learner's text
stays and the widget says why.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import launch, needs_chromium
from nbgrader_harness import course_copy, grades, nbgrader, release
from nocode_harness import spec
from test_nocode_hr import GOOD, VAGUE

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]
NAME = "hr-nocode"
PARTS = {p["id"]: p for p in spec(NAME)["parts"]}
GRADE_CELLS = 24  # hr-nocode's grade cells: 5 + 8 + 4 + 7
WAIT = 300_000  # ms; generous for a loaded 2-core machine (a bound, never asserted as a duration)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start_gateway(folder: Path) -> tuple[subprocess.Popen, str]:
    """The course's sandbox gateway (open mode, loopback, a free port); its URL from its first line."""
    proc = subprocess.Popen([sys.executable, "-m", "adoptkit.cli", "sandbox", "serve", "--open", "--port", "0"],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if " on http://127.0.0.1:" not in line:
        _stop(proc)
        pytest.fail(f"the sandbox gateway did not start: {line!r}")
    return proc, line.split(" on ")[1].split()[0]


def start_lab(work: Path, state: Path, llm_url: str) -> tuple[subprocess.Popen, str, str]:
    """JupyterLab on a free loopback port with a fresh token and its own config, data and runtime folders."""
    token = secrets.token_hex(16)
    settings = state / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {**os.environ, "ADOPTKIT_LLM_URL": llm_url, "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_DATA_DIR": str(state / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces")}
    env.pop("JUPYTERHUB_USER", None)
    log = open(state / "lab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                             "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={work}",
                             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    runtime = state / "runtime" / f"jpserver-{proc.pid}.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return proc, json.loads(runtime.read_text())["url"].rstrip("/"), token
        except (OSError, ValueError, KeyError):
            time.sleep(0.3)
    _stop(proc)
    pytest.fail(f"JupyterLab did not start: {(state / 'lab.log').read_text()[-2000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A released copy of hr-nocode, served by JupyterLab, its kernel pointed at a running gateway."""
    course = course_copy(tmp_path_factory.mktemp("course"))
    released = release(course, NAME)
    work = tmp_path_factory.mktemp("learner") / NAME
    shutil.copytree(released, work)
    state = tmp_path_factory.mktemp("jupyter")
    gateway, url = start_gateway(state)
    try:
        server, base, token = start_lab(work, state, url)
    except BaseException:
        _stop(gateway)
        raise
    try:
        yield {"course": course, "work": work, "base": base, "token": token, "gateway": gateway}
    finally:
        _stop(server)
        _stop(gateway)


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT)
            yield page
        finally:
            browser.close()


# --- what a learner does, in the browser ---------------------------------------------------------------------

def open_notebook(page, lab) -> None:
    page.goto(f"{lab['base']}/lab/tree/{NAME}.ipynb?token={lab['token']}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    # The status bar says Idle once the kernel is connected: a Run All clicked before runs nothing (or asks
    # which kernel to start), as it would for a person.
    page.locator("#jp-main-statusbar", has_text="Python 3 (ipykernel) | Idle").wait_for()


def menu(page, top: str, command: str) -> None:
    page.locator(f"#jp-MainMenu >> role=menuitem[name='{top}']").click()
    page.locator(f"li[data-command='{command}']").click()


def checked_cells(page, text: str):
    """Grade cells whose output says `text` (each part's visible check prints one line)."""
    return page.locator(".jp-Cell .jp-OutputArea-output", has_text=text)


def run_all(page, expect_text: str) -> None:
    from playwright.sync_api import expect

    menu(page, "Run", "runmenu:run-all")
    expect(checked_cells(page, expect_text), f"after Run All, every part's check should say: {expect_text}").to_have_count(GRADE_CELLS, timeout=WAIT)


def restart_and_run_all(page, expect_text: str) -> None:
    from playwright.sync_api import expect

    menu(page, "Kernel", "runmenu:restart-and-run-all")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(checked_cells(page, expect_text), f"after a restart and Run All, every part's check should say: "
                                             f"{expect_text}").to_have_count(GRADE_CELLS, timeout=WAIT)


def part(page, part_id: str):
    return page.locator(f".adoptkit-part-{part_id}")


def show_widgets(page) -> None:
    """Restart the kernel and run every cell; wait for the prompt boxes (whatever the parts' state)."""
    from playwright.sync_api import expect

    menu(page, "Kernel", "runmenu:restart-and-run-all")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(page.locator(".adoptkit-prompt textarea"), "both prompt boxes should show").to_have_count(2, timeout=WAIT)


def eventually(read, expected, what: str):
    """Poll `read()` until it equals `expected` (widget clicks reach the kernel, and the file, a moment later)."""
    deadline = time.monotonic() + WAIT / 1000
    while True:
        try:
            got = read()
        except (OSError, ValueError, KeyError):
            got = None
        if got == expected or time.monotonic() > deadline:
            assert got == expected, what
            return
        time.sleep(0.2)


def write_and_run(page, part_id: str, text: str, runs: int) -> None:
    """Type a prompt, click Run on the sample, wait for the run's result."""
    task = part(page, part_id)
    box = task.locator(".adoptkit-prompt textarea")
    box.click()
    box.fill(text)
    task.locator(".adoptkit-run").click()  # leaving the box sends the text; the click runs it
    task.get_by_text(f"Run {runs} done").wait_for()


def test_a_learner_does_the_assignment_in_jupyterlab_and_finds_it_again(page, lab):
    from playwright.sync_api import expect

    work = lab["work"]
    open_notebook(page, lab)
    run_all(page, "Not answered yet")  # every part's widget shows; each unanswered part says so in one line
    assert page.locator(".adoptkit-prompt textarea").count() == 2, "both prompt tasks should show a text box"
    assert page.get_by_text("Traceback").count() == 0, "an unanswered part should say so without a traceback"

    # Part 1: a vague prompt first: the replies come back with their failed checks; then a good one.
    write_and_run(page, "code-jobs", VAGUE, 1)
    table = part(page, "code-jobs").locator("table.adoptkit-prompt-results")
    expect(table.locator("tr"), "the replies should show, one row a record").to_have_count(7)  # a header, six records
    expect(part(page, "code-jobs"), "a vague prompt's replies are not labels").to_contain_text("0 of 6 replies are usable")
    expect(table, "the failed check should show beside each reply").to_contain_text("✗ is one of the allowed answers")
    write_and_run(page, "code-jobs", GOOD["code-jobs"], 2)
    expect(part(page, "code-jobs"), "the good prompt's replies are all usable").to_contain_text("6 of 6 replies are usable")
    expect(table, "the model's replies should show").to_contain_text("Human Resources Specialists")

    # Part 2: a screening prompt whose replies quote the résumés word for word.
    write_and_run(page, "screen-resumes", VAGUE, 1)
    write_and_run(page, "screen-resumes", GOOD["screen-resumes"], 2)
    expect(part(page, "screen-resumes"), "the screening replies are all usable").to_contain_text("6 of 6 replies are usable")
    expect(part(page, "screen-resumes"), "the quote check should show as passed").to_contain_text(
        "✓ 'evidence' is quoted word for word from the record")

    # Part 3: tick the planted faults and pick why; the draft says who wrote it.
    check = part(page, "check-shortlist")
    expect(check, "the draft should say who wrote it").to_contain_text(
        "Constructed example: the course's authors wrote this draft")
    faults = {s["id"]: s["fault"] for s in PARTS["check-shortlist"]["sentences"] if s.get("fault")}
    for sid, reason in faults.items():
        check.locator(f".adoptkit-flag-{sid} input[type=checkbox]").check()
        check.locator(f".adoptkit-why-{sid} select").select_option(label=reason)
    # Part 4: click each right option, wherever this learner's order puts it.
    for item in PARTS["hr-decisions"]["items"]:
        right = next(o["text"] for o in item["options"] if o["id"] == item["answer"])
        part(page, "hr-decisions").locator(f".adoptkit-item-{item['id']} label", has_text=right).click()

    # What the clicks saved, beside the notebook (the folder the learner submits).
    def saved(name):
        return json.loads((work / "quiz-answers" / f"{name}.json").read_text())

    for pid in ("code-jobs", "screen-resumes"):
        assert saved(pid)["prompt"] == GOOD[pid], f"{pid}: the saved prompt should be what the learner typed"
        assert [a["prompt"] for a in saved(pid)["attempts"]] == [VAGUE, GOOD[pid]], f"{pid}: both runs are kept"
    eventually(lambda: saved("check-shortlist")["marks"], faults,
               "the ticked sentences and the reasons picked should be saved")
    eventually(lambda: saved("hr-decisions")["answers"], {it["id"]: it["answer"] for it in PARTS["hr-decisions"]["items"]},
               "each clicked option should be saved by its id")

    # Next day: the notebook is opened again and the kernel restarted; every answer is shown again.
    open_notebook(page, lab)
    restart_and_run_all(page, "answered; it is graded when you submit")
    for pid in ("code-jobs", "screen-resumes"):
        expect(part(page, pid).locator(".adoptkit-prompt textarea"), f"{pid}: the prompt should be back in its box").to_have_value(GOOD[pid])
        expect(part(page, pid), f"{pid}: the earlier runs should be counted").to_contain_text("2 earlier run(s) saved")
    for sid, reason in faults.items():
        expect(check.locator(f".adoptkit-flag-{sid} input[type=checkbox]"), f"{sid} should still be ticked").to_be_checked()
        expect(check.locator(f".adoptkit-why-{sid} select"), f"{sid}: the reason should still be picked").to_have_value(reason)
    for item in PARTS["hr-decisions"]["items"]:
        right = next(o["text"] for o in item["options"] if o["id"] == item["answer"])
        label = part(page, "hr-decisions").locator(f".adoptkit-item-{item['id']} label", has_text=right)
        expect(label.locator("input"), f"{item['id']}: the option chosen should still be chosen").to_be_checked()

    # What the browser made is a submission real nbgrader grades in full.
    folder = lab["course"] / "_nbgrader" / "submitted" / "browser" / NAME
    shutil.copytree(work, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    proc = nbgrader(lab["course"], "autograde", NAME)
    assert proc.returncode == 0, f"nbgrader could not grade the browser-made submission: {proc.stderr[-3000:]}"
    got = grades(lab["course"], NAME, ["browser"])["browser"]
    assert got.code_score == got.max_code_score == 25, f"the browser-made submission should get full marks: {got.auto}"


def test_when_the_model_cannot_be_reached_the_learners_text_stays_and_the_widget_says_so(page, lab):
    from playwright.sync_api import expect

    work = lab["work"]
    open_notebook(page, lab)
    show_widgets(page)
    before = json.loads((work / "quiz-answers" / "code-jobs.json").read_text()) \
        if (work / "quiz-answers" / "code-jobs.json").exists() else {"attempts": []}
    _stop(lab["gateway"])  # the course endpoint goes down
    revised = GOOD["code-jobs"] + " Never explain your answer."
    task = part(page, "code-jobs")
    box = task.locator(".adoptkit-prompt textarea")
    box.click()
    box.fill(revised)
    task.locator(".adoptkit-run").click()
    expect(task, "the widget should say the model cannot be reached").to_contain_text(
        "Could not reach the course's model", timeout=WAIT)
    expect(task, "the widget should say the text is kept").to_contain_text("Your prompt is kept and saved")
    expect(box, "the learner's text should stay in the box").to_have_value(revised)
    after = json.loads((work / "quiz-answers" / "code-jobs.json").read_text())
    assert after["prompt"] == revised, "the learner's text should be saved even though the run failed"
    assert len(after["attempts"]) == len(before["attempts"]), "a run that never reached the model is not an attempt"
