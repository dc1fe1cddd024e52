"""The pilot hub end to end, on loopback, run as root: `adoptkit hub start` with the shared-password
authenticator, an instructor and two learners made through the REST API (each learner's server under an
OS account of their own), an assignment released, fetched, answered through the contents API, a cell
calling the sandbox gateway (a hub service) through the kernel, a learner's kernel refused what is not
theirs, submitted, collected (each submission owned by its learner); in chromium the instructor opens the
Formgrader panel in JupyterLab, grades in a terminal with `adoptkit grade`, generates and releases
feedback, and another site cannot frame the panel; learners see their feedback; the book's launch
button followed into the hub; the hub stopped, started again right away, stopped. Every process the
hub started is gone at the end, and every account is removed."""

from __future__ import annotations

import html
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlencode

import psutil
import pytest
import requests
from browser import needs_chromium, serve
from hub_harness import CHP, REPO, PilotHub, UserClient, free_ports, listening, hub_keys
from nbgrader.api import Gradebook

from adoptkit.hub import wiring
from adoptkit.llm import offline

pytestmark = [pytest.mark.slow, pytest.mark.browser, needs_chromium]

FIXTURE = REPO / "tests" / "fixtures" / "delivery" / "course"
ASSIGNMENT = "hub-hello"
COURSE_ID = "adoptkit"
PASSWORD = "pilot-password-for-tests"
UPSTREAM_SECRET = "sk-upstream-must-never-reach-a-learner"
# Run as root, the hub makes each learner an OS account named after them: names of this run only, so
# that two runs on one machine never share an account, and every account is removed at the end.
_RUN = os.urandom(2).hex()
TEACHER, L1, L2 = f"ines{_RUN}", f"ann{_RUN}", f"bob{_RUN}"


def _course(tmp_path: Path, ports: dict[str, int], admin_token: str, git_url: str) -> Path:
    """The fixture course as a git repository, with its _config.yml, and a bare copy served by git's own
    daemon at git_url (a learner clones it through the launch button: they cannot read the test's folders)."""
    course = tmp_path / "git" / "org" / "course"
    shutil.copytree(FIXTURE, course)
    hub_url = f"http://127.0.0.1:{ports['port']}"
    (course / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (course / "_config.yml").write_text(f"""\
title: Delivery test course
only_build_toc_files: true
execute:
  execute_notebooks: "off"
repository:
  url: {git_url}/org/course
  branch: main
launch_buttons:
  jupyterhub_url: {hub_url}
  notebook_interface: jupyterlab
sphinx:
  recursive_update: true
  config:
    html_theme_options:
      repository_provider: gitlab
adoptkit:
  sandbox:
    port: {ports['sandbox']}
  hub:
{hub_keys(ports, tmp_path)}
    idle_timeout: 600
""")
    # The test's own admin: a hub service with a known token (what an L&D lead's script would use).
    (tmp_path / "extra_config.py").write_text(f"""\
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"], "scopes": [
    "admin:users", "admin:servers", "admin:server_state", "admin:groups", "tokens", "access:servers"]}})
""")
    git = ["git", "-C", str(course), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "course"], check=True)
    bare = tmp_path / "git" / "org" / "course.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(course), str(bare)], check=True)
    return course


def _launch_link(course: Path, hub_url: str) -> str:
    """Build the one-page book with Jupyter Book 1 and take the JupyterHub launch button's link."""
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(course), "-W", "--keep-going"], check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (course / "_build" / "html" / "book" / "intro.html").read_text()
    links = re.findall(r'href="([^"]*/hub/user-redirect/git-pull\?[^"]*)"', page)
    assert links, "the page has no JupyterHub launch button"
    link = html.unescape(links[0])
    assert link.startswith(hub_url + "/hub/user-redirect/git-pull?")
    return link


def _follow_launch_button(hub: PilotHub, name: str, link: str) -> tuple[str, requests.Response]:
    """What a learner's browser does: log in, open the link, run nbgitpuller's sync, land on the notebook."""
    browser = requests.Session()
    login = browser.get(f"{hub.url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text).group(1)
    r = browser.post(f"{hub.url}/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": xsrf},
                     timeout=30)
    assert r.ok and f"/user/{name}" in r.url, f"login failed: {r.status_code} {r.url}"
    page = browser.get(link, timeout=60)  # user-redirect -> the learner's server -> OAuth -> nbgitpuller
    assert page.ok and f"/user/{name}/git-pull" in page.url, (page.status_code, page.url)
    data = {k: unquote(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', page.text)}
    params = {"_xsrf": data["xsrf"], "repo": data["repo"], "targetpath": data["targetpath"],
              "branch": data["branch"]}
    phases = []
    with browser.get(f"{hub.url}{data['base-url']}git-pull/api?{urlencode(params)}", stream=True,
                     timeout=120) as sync:
        for line in sync.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                phases.append(json.loads(line[6:]))
                if phases[-1]["phase"] in ("finished", "error"):
                    break
    assert phases and phases[-1]["phase"] == "finished", phases[-3:]
    landing = browser.get(f"{hub.url}{data['base-url']}{data['path']}", timeout=30)
    return data["path"], landing


def _lab_disabled_extensions(client: UserClient) -> list[str]:
    """The JupyterLab plugins the server tells the page to leave out (its page config)."""
    page = client.http.get(f"{client.base}/lab", timeout=30).text
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    return config.get("disabledExtensions", [])


def _answer(client: UserClient, solution: str) -> None:
    """Fill the answer cell through the contents API, as the notebook editor saves it."""
    path = f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    model = client.call("GET", path)
    cells = model["content"]["cells"]
    answer = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("solution"))
    assert "NotImplementedError" in "".join(answer["source"]), "the release should hold no solution"
    answer["source"] = f"def total(amounts):\n    {solution}\n"
    client.call("PUT", path, json={"type": "notebook", "format": "json", "content": model["content"]})


GATEWAY_CELL = f"""
import json, os, urllib.request
from adoptkit import llm
reply = llm.client().chat.completions.create(model=llm.default_model(), messages=[
    {{"role": "user", "content": "Label this lead as one of: hot, warm, cold. Lead: asked for a quote twice."}}])
me = json.load(urllib.request.urlopen(urllib.request.Request(
    os.environ["JUPYTERHUB_API_URL"] + "/user",
    headers={{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}})))
print(json.dumps({{"endpoint": llm.endpoint(), "model": reply.model, "answer": reply.choices[0].message.content,
                  "hub_user": me["name"], "groups": me.get("groups"), "token_scopes": me.get("scopes", []),
                  "upstream_key_seen": any({UPSTREAM_SECRET!r} in v for v in os.environ.values())}}))
"""


# A chapter's usual work, so the kernel's memory is a fair figure for sizing: real data from the course's
# catalog (through the mirror the hub passes on) and a chart.
CHAPTER_CELL = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from adoptkit import data
df = data.load("online_shoppers")
df.select_dtypes("number").iloc[:, 0].plot(kind="hist")
plt.close("all")
print(len(df), "|", df.attrs["citation"])
"""


# What a curious learner might try from their kernel: read what is not theirs, stop another's server.
PROBE_CELL = """
import json, os, signal
seen = {{}}
for path in {paths!r}:
    try:
        open(path, "rb").read(1) if os.path.isfile(path) or not os.path.isdir(path) else os.listdir(path)
        seen[path] = "read"
    except OSError as err:
        seen[path] = type(err).__name__
try:
    os.kill({pid}, 0)
    seen["signal"] = "sent"
except OSError as err:
    seen["signal"] = type(err).__name__
print(json.dumps(seen))
"""


def _rss_mb(pid: int) -> dict[str, float]:
    info = psutil.Process(pid).memory_full_info()
    return {"rss": info.rss / 2**20, "pss": info.pss / 2**20}


@pytest.fixture
def pilot(tmp_path):
    from adoptkit.hub.pilot import install_proxy

    assert install_proxy(REPO) == CHP  # the README's test command needs no other set-up: npm, once
    port, hub_port, proxy_api_port, sandbox = free_ports(4)
    ports = {"port": port, "hub_port": hub_port, "proxy_api_port": proxy_api_port, "sandbox": sandbox}
    admin_token = os.urandom(16).hex()
    (tmp_path / "git").mkdir()
    git_port = free_ports(1)[0]
    git_server = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={tmp_path / 'git'}",
                                   "--listen=127.0.0.1", f"--port={git_port}", str(tmp_path / "git")])
    course = _course(tmp_path, ports, admin_token, f"git://127.0.0.1:{git_port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ADOPTKIT_LLM"))}
    env.update(ADOPTKIT_CONFIG=str(course / "_config.yml"), ADOPTKIT_HUB_PASSWORD=PASSWORD,
               OPENAI_API_KEY=UPSTREAM_SECRET)
    from adoptkit import data

    data.fetch("online_shoppers", pilot_settings(course))  # `adoptkit data fetch`, a step of the pilot's set-up
    hub = PilotHub(course, env, f"http://127.0.0.1:{port}", admin_token, tmp_path / "hub.log", ports)
    try:
        yield hub
    finally:
        hub.stop()
        from adoptkit.hub import accounts

        for name in (TEACHER, L1, L2):
            accounts.remove(name)
        git_server.terminate()
        git_server.wait(timeout=10)


def test_pilot_hub_from_release_to_feedback(pilot: PilotHub, capsys):
    t0 = time.monotonic()
    hub, course = pilot, pilot.course
    launch = _launch_link(course, hub.url)
    hub.start()
    t_ready = time.monotonic() - t0

    # An instructor and two learners, made through the REST API as an admin's script would.
    hub.api("POST", "/users", json={"usernames": [TEACHER, L1, L2]})
    hub.api("POST", "/groups/instructors/users", json={"users": [TEACHER]})
    hub.api("POST", "/groups/learners/users", json={"users": [L1, L2]})
    cohort = wiring.cohort_group(pilot_settings(course), "pilot")
    hub.api("POST", f"/groups/{cohort}", json={"users": [L1]})
    hub.start_servers([TEACHER, L1, L2])
    teacher, learner1, learner2 = (hub.user(n) for n in (TEACHER, L1, L2))
    idle_server = _rss_mb(hub.server_pid(L2))

    # Learners do not get the instructor's tools (server side or in JupyterLab's menus); the instructor does.
    assert learner1.status("/formgrader/api/status") == 404
    assert teacher.status("/formgrader/api/status") == 200
    for user, hidden in ((learner1, True), (teacher, False)):
        assert ("@jupyter/nbgrader:formgrader" in _lab_disabled_extensions(user)) is hidden

    # Release through the formgrader's API (what its Release button calls).
    for step in ("assign", "release"):
        result = teacher.call("POST", f"/formgrader/api/assignment/{ASSIGNMENT}/{step}")
        assert result["success"], result

    # Each learner fetches through their own server (the Assignments tab), answers and submits.
    for learner, solution in ((learner1, "return sum(amounts)"), (learner2, "return 0")):
        listed = learner.call("POST", "/assignments/fetch", data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
        assert any(a["assignment_id"] == ASSIGNMENT and a["status"] == "fetched" for a in listed["value"]), listed
        _answer(learner, solution)

    # learner1 runs their answer and a cell that calls the sandbox gateway, in their kernel.
    kernel = learner1.start_kernel(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    learner1.run(kernel, "def total(amounts):\n    return sum(amounts)\nassert total([1, 2, 3]) == 6")
    seen = json.loads(learner1.run(kernel, GATEWAY_CELL).strip().splitlines()[-1])
    assert seen["endpoint"] == f"{wiring.gateway_url(pilot_settings(course))}/v1"
    assert seen["model"] == offline.MODEL_ID and seen["answer"].strip()
    assert seen["hub_user"] == L1 and cohort in seen["groups"]  # who, and which cohort: what the gateway asks
    assert f"access:services!service={wiring.GATEWAY_SERVICE}" in seen["token_scopes"]  # the token exchange's premise
    assert seen["upstream_key_seen"] is False
    # The call was made with learner1's own key (exchanged for their hub token) and counted in their cohort.
    import sqlalchemy as sa
    from adoptkit.gateway.db import resolve_url

    gw = pilot_settings(course)
    # The gateway commits usage rows a few times a second, off the request: wait for the row (bounded).
    engine = sa.create_engine(resolve_url(gw.gateway.db_url, gw.root))
    for _ in range(60):
        with engine.connect() as conn:
            logged = conn.execute(sa.text("SELECT learner, cohort, status FROM usage "
                                          "WHERE endpoint LIKE '%chat%'")).all()
        if logged:
            break
        time.sleep(0.5)
    engine.dispose()
    assert [tuple(r) for r in logged] == [(L1, "pilot", 200)], logged
    # Each learner's server runs under their own account (the instructor's under the hub's); a learner
    # cannot read another's home, the exercises' sources, the gradebook or the hub's state, nor signal
    # another learner's server.
    hub_settings = pilot_settings(course)
    assert psutil.Process(hub.server_pid(L1)).uids().real == pwd.getpwnam(L1).pw_uid
    assert psutil.Process(hub.server_pid(L2)).uids().real == pwd.getpwnam(L2).pw_uid
    assert psutil.Process(hub.server_pid(TEACHER)).uids().real == os.geteuid()
    data_dir = hub_settings.path(hub_settings.hub.data_dir)
    private = [data_dir / "home" / L2, course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
               course / "_nbgrader" / "gradebook.db", data_dir / "jupyterhub.sqlite", data_dir / "jupyterhub_cookie_secret"]
    denied = json.loads(learner1.run(kernel, PROBE_CELL.format(paths=[str(p) for p in private],
                                                               pid=hub.server_pid(L2))).strip().splitlines()[-1])
    assert denied == {str(p): "PermissionError" for p in private} | {"signal": "PermissionError"}, denied
    rows, citation = learner1.run(kernel, CHAPTER_CELL, timeout=180).strip().splitlines()[-1].split(" | ", 1)
    assert int(rows) > 0 and citation.startswith("Data: ")
    hub.remember()
    server_pid = hub.server_pid(L1)
    kernel_pids = [p.pid for p in psutil.Process(server_pid).children(recursive=True)]
    busy_server, kernel_mem = _rss_mb(server_pid), [_rss_mb(p) for p in kernel_pids]
    running = {pid: " ".join(psutil.Process(pid).cmdline()) for pid in hub.seen if psutil.pid_exists(pid)}
    fixed = {what: _rss_mb(pid)["rss"] for pid, cmd in running.items()
             for what, mark in (("hub", "jupyterhub -f"), ("proxy", "configurable-http-proxy"),
                                ("gateway", "sandbox serve")) if mark in cmd}
    assert set(fixed) == {"hub", "proxy", "gateway"}, running

    for learner in (learner1, learner2):
        result = learner.call("POST", "/assignments/submit", data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
        assert any(a["status"] == "submitted" for a in result["value"]), result

    # Each submission is owned by its learner's own account, so nbgrader's collect has nothing to warn about.
    collected = teacher.call("POST", f"/formgrader/api/assignment/{ASSIGNMENT}/collect")
    assert collected["success"] and "cheating attempt" not in collected["log"], collected["log"]
    inbound = Path(pilot_settings(course).path(pilot_settings(course).hub.exchange_dir)) / COURSE_ID / "inbound"
    owners = {e.name.split("+")[0]: pwd.getpwuid(e.stat().st_uid).pw_name for e in inbound.iterdir()}
    assert owners == {L1: L1, L2: L2}, owners

    # The instructor, in a browser: the Formgrader panel inside JupyterLab, the cohort grader in a
    # terminal (the command book/deploy.md gives), feedback generated and released from the panel.
    _instructor_grades_in_the_browser(hub, course, TEACHER)

    with Gradebook(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}", COURSE_ID) as gb:
        scores = {s: gb.find_submission(ASSIGNMENT, s).score for s in (L1, L2)}
    assert scores == {L1: 1.0, L2: 0.0}

    # Each learner fetches their feedback and finds their own score in it.
    for learner, score in ((learner1, "1.0"), (learner2, "0.0")):
        listed = learner.call("POST", "/assignments/fetch_feedback", data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
        mine = [s for a in listed["value"] if a["status"] == "submitted" for s in a["submissions"]]
        assert mine and {s["student_id"] for s in mine} == {learner.name}, listed  # their own, nobody else's
        assert mine[-1]["has_local_feedback"], listed
        stamps = learner.call("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
        page = learner.call("GET", f"/api/contents/{stamps[0]['path']}/{ASSIGNMENT}.html")["content"]
        assert re.search(rf"Score: {re.escape(score)} / 1\.0", page), page[:2000]

    # The book's launch button: log in with the pilot's password, land on the chapter as a notebook.
    path, landing = _follow_launch_button(hub, L1, launch)
    assert path == "lab/tree/course/book/intro.md" and landing.status_code == 200
    chapter = learner1.call("GET", "/api/contents/course/book/intro.md")  # cloned into their home
    assert chapter["type"] == "notebook"  # jupytext serves the MyST chapter as a notebook
    assert any("hello from the hub" in "".join(c["source"]) for c in chapter["content"]["cells"])
    viewers = learner1.call("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    assert viewers["schema"]["properties"]["defaultViewers"]["default"]["markdown"] == "Jupytext Notebook"

    # Stop the hub as an administrator would: everything it started goes with it.
    hub.remember()
    ports = set(hub.ports) | set(hub.configured_ports.values())
    t_stop = time.monotonic()
    leftovers = hub.stop()
    t_stop = time.monotonic() - t_stop
    assert leftovers == [], f"processes outlived the hub: {leftovers}"
    assert [p for p in sorted(ports) if listening(p)] == []

    # Started again right away (what an admin does after changing _config.yml), it comes up.
    t_restart = time.monotonic()
    hub.log = hub.log.with_name("hub-restart.log")
    hub.start()
    t_restart = time.monotonic() - t_restart
    assert hub.api("GET", f"/users/{L1}")["name"] == L1  # the same hub state
    assert hub.stop() == []
    with capsys.disabled():
        kernels = ", ".join(f"{k['rss']:.0f} MiB RSS / {k['pss']:.0f} MiB PSS" for k in kernel_mem)
        print(f"\n[pilot hub] ready in {t_ready:.1f} s (incl. book build), whole run {time.monotonic() - t0:.1f} s, "
              f"stopped in {t_stop:.1f} s, restarted in {t_restart:.1f} s; learner server idle {idle_server['rss']:.0f} MiB RSS / "
              f"{idle_server['pss']:.0f} MiB PSS, after a session {busy_server['rss']:.0f} MiB RSS / "
              f"{busy_server['pss']:.0f} MiB PSS, its kernel {kernels}; shared: "
              + ", ".join(f"{k} {v:.0f} MiB RSS" for k, v in sorted(fixed.items())))


def _instructor_grades_in_the_browser(hub: PilotHub, course: Path, name: str) -> None:
    from browser import launch, serve
    from playwright.sync_api import sync_playwright

    log = course / "terminal.log"
    typed = (f"{{ shopt -q login_shell && echo LOGIN-SHELL; echo CWD=$PWD; command -v adoptkit nbgrader; "
             f"{' '.join(wiring.grade_command(ASSIGNMENT))}; echo EXIT=$?; }} > {log} 2>&1")
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{name}/lab**", timeout=60_000)
            page.locator(".jp-LauncherCard").first.wait_for(timeout=60_000)

            # A terminal (a login shell) runs the cohort grader.
            page.locator(".jp-LauncherCard[title*='terminal' i]").first.click()
            screen = page.locator(".jp-Terminal .xterm-screen").first
            screen.wait_for(timeout=60_000)
            for _ in range(4):  # keys typed before the terminal's websocket is up are lost: type again
                screen.click()
                page.keyboard.type(typed)
                page.keyboard.press("Enter")
                deadline = time.monotonic() + 15
                while not log.exists() and time.monotonic() < deadline:
                    time.sleep(0.3)
                if log.exists():
                    break
            else:
                raise AssertionError("the terminal ran nothing that was typed")
            deadline = time.monotonic() + 300
            while "EXIT=" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
                time.sleep(0.5)
            out = log.read_text() if log.exists() else "(the terminal wrote nothing)"
            assert "LOGIN-SHELL" in out and f"CWD={course}" in out and "EXIT=0" in out, out[-3000:]
            found = [line for line in out.splitlines() if line.endswith(("/adoptkit", "/nbgrader"))]
            assert [Path(f).name for f in found] == ["adoptkit", "nbgrader"], out[:2000]

            # The Formgrader panel (Nbgrader menu): its frame shows the course's assignments.
            page.locator("#jp-MainMenu").get_by_text("Nbgrader", exact=True).click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Formgrader", exact=True).click()
            panel = page.frame_locator("iframe[src*='formgrader']")
            panel.get_by_text("Manage Assignments").first.wait_for(timeout=60_000)
            panel.locator("tr", has_text=ASSIGNMENT).first.wait_for(timeout=30_000)

            # From the panel: generate the feedback, then release it.
            row = panel.locator("tr", has_text=ASSIGNMENT).first
            for cell, done in (("generate-feedback", "generated feedback"), ("release-feedback", "released feedback")):
                row.locator(f".{cell} a").click()
                modal = panel.locator("#success-modal")
                modal.get_by_text(done, exact=False).wait_for(timeout=120_000)
                modal.locator("button").last.click()
                modal.wait_for(state="detached", timeout=30_000)
            assert panel.locator("#error-modal").count() == 0

            # The panel may be framed by the hub's own pages only: a page of another origin gets nothing.
            with serve(_framing_page(course.parent, f"{hub.url}/user/{name}/formgrader")) as other:
                page.goto(other + "frame.html")  # 127.0.0.1 on another port: another origin
                page.wait_for_load_state("load")
                time.sleep(1)
                framed = [f for f in page.frames if f != page.main_frame]
                assert framed and all("Manage Assignments" not in _frame_text(f) for f in framed)
        except Exception:
            page.screenshot(path=str(REPO / ".cache" / "test-instructor.png"))  # kept for a look after a failure
            raise
        finally:
            browser.close()


def _framing_page(folder: Path, url: str) -> Path:
    folder = folder / "elsewhere"
    folder.mkdir(exist_ok=True)
    (folder / "frame.html").write_text(f'<!doctype html><iframe src="{url}" width="800" height="600"></iframe>')
    return folder


def _frame_text(frame) -> str:
    try:
        return frame.content()
    except Exception:  # a frame the browser refused to fill is an error page, or none at all
        return ""


def pilot_settings(course: Path):
    from adoptkit import settings

    return settings.load(course / "_config.yml")
