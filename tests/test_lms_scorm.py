"""SCORM packages: `adoptkit package scorm` on a small course built with Jupyter Book 1; the manifests
validated against ADL's published XSDs (read offline from a pinned npm package); every page's scripts
and styles inside the zip; and in chromium a real SCORM run-time (scorm-again, pinned) plays the LMS for
three learners in SCORM 1.2 and 2004: one who finishes, one who stops half way (and resumes), one who fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from browser import launch, needs_chromium
from lms_harness import (REPO, SCORM_AGAIN, SCORM_AGAIN_SHA256, SCORM_XSDS, SCORM_XSDS_SHA256, LMSStandIn,
                         npm_package)

from adoptkit.lms import scorm
from adoptkit.site import install_vendor
from adoptkit.lms.paths import PathError, read_quiz, role_paths

FIXTURE = REPO / "tests" / "fixtures" / "lms"
ADOPTKIT = Path(sys.executable).parent / "adoptkit"


# -- the role paths, from the course's own files ---------------------------------------------------------

def test_every_role_path_of_the_book_has_its_pages_and_quiz_key():
    paths = role_paths(REPO)
    assert set(paths) == {"sales", "marketing", "hr", "engineering", "support", "leaders"}
    for role, path in paths.items():
        assert path.pages[0].docname == f"book/roles/{role}/index"
        assert len(path.pages) >= 2 and path.questions, role  # the index and at least one chapter
        for q in path.questions:
            assert q.answer in q.options  # the key was found in the hidden tests
        assert f"{role}-quiz" in path.assignments and f"{role}-assessment-pre" not in path.assignments


def test_a_quiz_without_its_key_is_refused(tmp_path):
    shutil.copytree(FIXTURE / "course", tmp_path / "c")
    nb = tmp_path / "c" / "exercises" / "sales-quiz" / "sales-quiz.ipynb"
    nb.write_text(nb.read_text().replace("assert quiz.answers[1] ==", "assert quiz.answers[1] !="))
    with pytest.raises(PathError, match="question 2 has no key"):
        read_quiz(tmp_path / "c", "sales")


# -- packages --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture course, built once with Jupyter Book 1 (the site a package is made from)."""
    root = tmp_path_factory.mktemp("lms") / "course"
    shutil.copytree(FIXTURE / "course", root)
    install_vendor(root, REPO / ".cache")  # as `adoptkit build` does: MathJax and the widget scripts offline
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(root), "-W", "--keep-going"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


def package(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")}
    return subprocess.run([str(ADOPTKIT), "package", "scorm", *args], cwd=course, env=env, capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def packages(course):
    out = {}
    for version in scorm.VERSIONS:
        proc = package(course, "--version", version, "--out", str(course / "pkgs"))
        assert proc.returncode == 0, proc.stderr
        assert "score: the path quiz" in proc.stdout
        out[version] = course / "pkgs" / f"adoptkit-sales-scorm{version.replace('.', '')}.zip"
    return out


def _schema(version: str, folder: Path):
    """ADL's schemas for the version, joined by a driver schema that imports each namespace from its file."""
    from lxml import etree

    xsd = npm_package(SCORM_XSDS, SCORM_XSDS_SHA256)
    if version == "1.2":
        # IMS's ims_xml.xsd binds the xml namespace as the default namespace, which XML Namespaces forbids:
        # libxml2 refuses to read it. It only declares the xml: attributes (xml:lang), as the W3C's own
        # xml.xsd does, which the SCORM 2004 set carries: the 1.2 schemas are read with that one instead.
        base = folder / "scorm12edition"
        shutil.copytree(xsd / "scorm12edition", base)
        shutil.copy(xsd / "scorm20044thedition" / "xml.xsd", base / "ims_xml.xsd")
        # imsmd_rootv1p2p1.xsd (LOM metadata) has content models libxml2 finds ambiguous; the packages use
        # no LOM element, so that schema is not loaded (an imsmd element would then fail the check).
        imports = {
            "http://www.imsproject.org/xsd/imscp_rootv1p1p2": "imscp_rootv1p1p2.xsd",
            "http://www.adlnet.org/xsd/adlcp_rootv1p2": "adlcp_rootv1p2.xsd"}
    else:
        base, imports = xsd / "scorm20044thedition", {
            "http://www.imsglobal.org/xsd/imscp_v1p1": "imscp_v1p1.xsd",
            "http://www.adlnet.org/xsd/adlcp_v1p3": "adlcp_v1p3.xsd",
            "http://www.adlnet.org/xsd/adlseq_v1p3": "adlseq_v1p3.xsd",
            "http://www.adlnet.org/xsd/adlnav_v1p3": "adlnav_v1p3.xsd",
            "http://www.imsglobal.org/xsd/imsss": "imsss_v1p0.xsd"}
    driver = folder / f"driver-{version}.xsd"
    driver.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(base / f).as_uri()}"/>' for ns, f in imports.items())
        + "</xs:schema>")
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(driver), parser))


@pytest.mark.slow
@pytest.mark.parametrize("version", scorm.VERSIONS)
def test_the_manifest_is_valid_against_adls_schemas(packages, version, tmp_path):
    from lxml import etree

    schema = _schema(version, tmp_path)
    with zipfile.ZipFile(packages[version]) as z:
        doc = etree.fromstring(z.read("imsmanifest.xml"))
    schema.assertValid(doc)
    text = etree.tostring(doc).decode()
    assert ("2004 4th Edition" in text) == (version == "2004") and ("<schemaversion>1.2<" in text) == (version == "1.2")
    # Manifests broken on purpose are refused, in the packaging and in SCORM's own extensions.
    broken = etree.fromstring(etree.tostring(doc))
    broken.find(".//{*}item").set("identifier", "1 not an ID")
    assert not schema.validate(broken)
    broken = etree.fromstring(etree.tostring(doc))
    if version == "1.2":  # the 1.2 schema types little (its mastery score is a string): the SCO type, then
        broken.find(".//{*}resource").set("{http://www.adlnet.org/xsd/adlcp_rootv1p2}scormtype", "lesson")
    else:
        broken.find(".//{*}minNormalizedMeasure").text = "high"
    assert not schema.validate(broken)


@pytest.mark.slow
def test_the_package_holds_every_script_and_style_its_pages_load(packages):
    for zip_path in packages.values():
        assert scorm.check_package(zip_path) == []
        with zipfile.ZipFile(zip_path) as z:
            names = set(z.namelist())
            assert {"imsmanifest.xml", "index.html", "adoptkit-sco/sco.js", "site/book/roles/sales/index.html",
                    "site/book/roles/sales/notes-to-crm.html", "site/_images/bars.png"} <= names, sorted(names)[:40]
            assert not any(n.startswith("site/book/intro") for n in names)  # not in the path
            index = z.read("site/book/roles/sales/index.html").decode()
            assert 'data-adoptkit-outside="book/intro.html" aria-disabled="true"' in index  # out of the path: disabled
            assert any(n.endswith((".woff2", ".woff")) for n in names)  # the theme's fonts, from its CSS
            config = json.loads(z.read("index.html").decode().split('type="application/json">')[1].split("</script>")[0])
            assert config["score_source"] == "quiz" and len(config["quiz"]) == 3 and config["mastery"] == 0.8


@pytest.mark.slow
def test_links_out_of_the_path_go_to_the_published_book_and_a_hub_scored_package_says_so(course, tmp_path):
    proc = package(course, "sales", "--out", str(tmp_path), "--hub-url", "https://learn.example.com",
                   "--book-url", "https://book.example.com/course")
    assert proc.returncode == 0, proc.stderr
    assert "graded work in the hub at https://learn.example.com" in proc.stdout
    assert "lms.scorm_origins" in proc.stderr  # the admin is told the hub will not answer any LMS yet
    with zipfile.ZipFile(tmp_path / "adoptkit-sales-scorm2004.zip") as z:
        index = z.read("site/book/roles/sales/index.html").decode()
        config = json.loads(z.read("index.html").decode().split('type="application/json">')[1].split("</script>")[0])
    assert 'href="https://book.example.com/course/book/intro.html" target="_blank"' in index
    assert config["score_source"] == "hub" and config["quiz"] == []  # the key is not shipped when unused
    assert config["score_url"] == "https://learn.example.com/services/lms/scorm/score?path=sales"


def test_bad_requests_say_what_to_do(course, tmp_path):
    proc = package(course, "finance")
    assert proc.returncode == 1 and "no role path finance" in proc.stderr and "sales" in proc.stderr
    proc = package(course, "--site", str(tmp_path / "nothing"))
    assert proc.returncode == 1 and "build it first" in proc.stderr
    proc = package(course, "--score", "hub")
    assert proc.returncode == 1 and "--hub-url" in proc.stderr


def test_check_package_finds_a_page_that_loads_from_another_host(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("imsmanifest.xml", '<manifest><file href="index.html"/></manifest>')
        z.writestr("index.html", '<script src="https://cdn.example.com/x.js"></script><img src="missing.png">')
    problems = scorm.check_package(bad)
    assert "index.html loads a script from another host" in problems
    assert "index.html needs missing.png, not in the zip" in problems


# -- in a real SCORM run-time ------------------------------------------------------------------------------

LEARNERS = {  # answers to the fixture's three questions
    "finishes": ["Agreement with labelled records", "Recency, frequency, monetary value", "The invoices"],
    "fails": ["Valid JSON", "Recency, frequency, monetary value", "The summary"],
}


def _play(page, lms: LMSStandIn, version: str, run: str, learner: dict, actions) -> list:
    page.goto(f"{lms.url}/lms.html?version={version}&run={run}&pkg=scorm{version.replace('.', '')}"
              f"&learner={quote(json.dumps(learner))}")
    sco = page.frame_locator("#sco")
    sco.locator("#pages a").first.wait_for()
    actions(sco)
    sco.locator("#finish").click()
    sco.locator("#lms", has_text="Saved.").wait_for()
    deadline = time.monotonic() + 30
    while not any(c["terminate"] for c in lms.commits.get(run, [])) and time.monotonic() < deadline:
        time.sleep(0.1)
    return page.evaluate("window.calls")


def _read_all_and_answer(answers):
    def actions(sco):
        # Page 2 of 2 through the page's own link (the list follows), then the quiz from the list.
        sco.frame_locator("#page").locator("article a", has_text="Customer notes to CRM fields").first.click()
        sco.locator("#pages li.read").nth(1).wait_for()
        sco.locator("#pages a", has_text="Quiz").click()
        for i, answer in enumerate(answers):
            sco.locator(f"fieldset[data-question='{i}'] label", has_text=answer).locator("input").check()
        sco.locator("#submit-quiz").click()
        sco.locator("#result", has_text="of 3 right").wait_for()
    return actions


def _values(calls, setter):
    out = {}
    for name, element, value in calls:
        if name == setter:
            out[element] = value
    return out


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("version", scorm.VERSIONS)
def test_a_real_scorm_runtime_receives_completion_and_score(packages, version, tmp_path):
    from playwright.sync_api import sync_playwright

    runtime = npm_package(SCORM_AGAIN, SCORM_AGAIN_SHA256)
    site = tmp_path / "lms"
    (site / "scorm-again").mkdir(parents=True)
    shutil.copy(runtime / "scorm-again.js", site / "scorm-again" / "scorm-again.js")
    shutil.copy(FIXTURE / "lms.html", site / "lms.html")
    name = f"scorm{version.replace('.', '')}"
    with zipfile.ZipFile(packages[version]) as z:
        z.extractall(site / "pkg" / name)  # as an LMS unpacks an uploaded package
    v12 = version == "1.2"
    init, setter, commit, finish = (("LMSInitialize", "LMSSetValue", "LMSCommit", "LMSFinish") if v12 else
                                    ("Initialize", "SetValue", "Commit", "Terminate"))
    who = {"cmi": {"core": {"student_id": "e-1001", "student_name": "Seller, Sam"}}} if v12 else \
          {"cmi": {"learner_id": "e-1001", "learner_name": "Seller, Sam"}}
    outside = []
    with LMSStandIn(site) as lms, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.on("request", lambda r: r.url.startswith(lms.url) or outside.append(r.url))

            # 1. Finishes: reads both pages, answers every question right.
            calls = _play(page, lms, version, "finishes", who, _read_all_and_answer(LEARNERS["finishes"]))
            names = [c[0] for c in calls]
            assert names[0] == init and names[-1] == finish and commit in names, names
            got = _values(calls, setter)
            if v12:
                assert got["cmi.core.lesson_status"] == "passed" and got["cmi.core.score.raw"] == "100.00"
                assert (got["cmi.core.score.min"], got["cmi.core.score.max"], got["cmi.core.exit"]) == ("0", "100", "")
            else:
                assert (got["cmi.completion_status"], got["cmi.success_status"]) == ("completed", "passed")
                assert (got["cmi.score.scaled"], got["cmi.score.raw"], got["cmi.score.max"]) == ("1.0000", "3", "3")
                assert got["cmi.exit"] == "normal" and got["cmi.progress_measure"] == "1.0000"
            final = lms.commits["finishes"][-1]
            assert final["terminate"], lms.commits["finishes"]
            core = final["data"]["cmi"]["core"] if v12 else final["data"]["cmi"]
            if v12:
                assert (core["lesson_status"], core["score"]["raw"]) == ("passed", "100.00")
            else:
                assert (core["completion_status"], core["success_status"], core["score"]["scaled"]) == \
                       ("completed", "passed", "1.0000")

            # 2. Stops half way: reads the first page only and leaves; then comes back where they left.
            calls = _play(page, lms, version, "halfway", who, lambda sco: None)
            got = _values(calls, setter)
            status = "cmi.core.lesson_status" if v12 else "cmi.completion_status"
            assert got[status] == "incomplete"
            assert not any("score" in k for k in got), got  # no score for a learner who took no quiz
            assert got["cmi.core.exit" if v12 else "cmi.exit"] == "suspend"
            if not v12:
                assert got["cmi.progress_measure"] == "0.3333"  # 1 of 2 pages and the quiz
            saved = lms.commits["halfway"][-1]["data"]
            resume = {"cmi": {**who["cmi"], "suspend_data": saved["cmi"]["suspend_data"]}}
            if v12:
                resume["cmi"]["core"] = {**who["cmi"]["core"], "lesson_location": saved["cmi"]["core"]["lesson_location"],
                                         "lesson_status": "incomplete", "entry": "resume"}
            else:
                resume["cmi"].update(location=saved["cmi"]["location"], completion_status="incomplete", entry="resume")
            page.goto(f"{lms.url}/lms.html?version={version}&run=resumed&pkg={name}&learner={quote(json.dumps(resume))}")
            sco = page.frame_locator("#sco")
            sco.locator("#pages li.read").first.wait_for()
            assert sco.locator("#pages li.read").count() == 1  # the page read before is remembered

            # 3. Fails: reads both pages, one answer of three right.
            calls = _play(page, lms, version, "fails", who, _read_all_and_answer(LEARNERS["fails"]))
            got = _values(calls, setter)
            if v12:
                assert got["cmi.core.lesson_status"] == "failed" and got["cmi.core.score.raw"] == "33.33"
            else:
                assert (got["cmi.completion_status"], got["cmi.success_status"]) == ("completed", "failed")
                assert (got["cmi.score.scaled"], got["cmi.score.raw"]) == ("0.3333", "1")
        finally:
            browser.close()
    assert outside == [], f"the package asked for something outside the LMS: {outside[:5]}"
