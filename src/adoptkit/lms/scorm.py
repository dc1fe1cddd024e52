"""SCORM 1.2 and SCORM 2004 (4th edition) packages: one zip per role path.

A package holds one SCO (`index.html`, the kit's player in `adoptkit-sco/`) and the path's pages as
the book build made them (`site/...`), with every script, style, font and image those pages load, so
nothing is fetched from outside the package. Links to book pages that are not in the path go to the
published book (`--book-url`) or are disabled.

What the SCO reports (sco.js):
- progress: pages read (bookmark and resume through cmi location and suspend_data);
- the score, from one of two sources, named on the package's first screen and in `adoptkit-sco/config`:
  - "quiz": the path's quiz, played in the package (the key is in the package: an LMS-side score is
    only as trustworthy as the learner's browser, as with any SCORM content);
  - "hub": the learner's graded work in the course's gradebook. The SCO opens the hub's
    `/services/lms/scorm/score` page in a window of its own (the learner signs in to the hub there, so
    nothing the LMS or another site holds can ask for it); the hub sends the learner's own score back to
    this LMS origin only (lms.scorm_origins) with postMessage.
- completion: every page read and a score recorded; success: scaled score >= the mastery score.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import shutil
import tempfile
import zipfile
from dataclasses import asdict
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from xml.sax.saxutils import escape, quoteattr

from .paths import RolePath

VERSIONS = ("1.2", "2004")
SITE = "site"  # the pages' folder inside a package
# Folders whose scripts load further files at run time (require.js modules, MathJax's fonts and
# extensions): taken whole when a page uses anything in them, since no file names them all.
DYNAMIC = ("_static/adoptkit-vendor/",)
_URL_IN_CSS = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


class PackageError(RuntimeError):
    """A package cannot be made; the message says what is missing and how to get it."""


def _ident(text: str) -> str:
    """An xsd:ID (an NCName) made from text."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return ("ak-" + slug) if not slug[:1].isalpha() else slug


def _local(ref: str) -> bool:
    parts = urlsplit(ref)
    return not (parts.scheme or parts.netloc or ref.startswith(("#", "//", "data:", "mailto:", "javascript:")))


def _resolve(base: str, ref: str) -> str | None:
    """A site-relative path for `ref` found in the site file `base`, or None when it leaves the site."""
    path = unquote(urlsplit(ref).path)
    if not path:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base), path))
    return None if joined.startswith("../") or joined == ".." else joined


class _Site:
    """The built book site, and the closure of files a set of pages needs."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: set[str] = set()

    def add(self, rel: str) -> None:
        if rel in self.files:
            return
        src = self.folder / rel
        if not src.is_file():
            return  # a missing asset is the build's own defect; the page shows it the same way on the site
        self.files.add(rel)
        for prefix in DYNAMIC:
            if rel.startswith(prefix):
                top = prefix + rel[len(prefix):].split("/", 1)[0]
                for f in (self.folder / top).rglob("*"):
                    if f.is_file():
                        self.files.add(f.relative_to(self.folder).as_posix())
        if rel.endswith(".css"):
            for m in _URL_IN_CSS.finditer(src.read_text(encoding="utf-8", errors="replace")):
                ref = m.group(2) or m.group(4)
                if _local(ref) and (target := _resolve(rel, ref)):
                    self.add(target)


def _page_assets(text: str) -> list[str]:
    """Every local file a page loads: scripts, styles, icons, images, media (not the links it offers)."""
    refs = []
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("source", "src"),
                      ("video", "src"), ("audio", "src"), ("video", "poster"), ("object", "data")):
        for m in re.finditer(rf"<{tag}\b[^>]*?\s{attr}\s*=\s*(['\"])(.*?)\1", text, re.I | re.S):
            if tag == "link" and re.search(r"rel\s*=\s*['\"][^'\"]*(canonical|next|prev|search|index)", m.group(0), re.I):
                continue
            refs.append(html.unescape(m.group(2)))
    for m in re.finditer(r"\ssrcset\s*=\s*(['\"])(.*?)\1", text, re.I | re.S):
        refs += [c.strip().split()[0] for c in html.unescape(m.group(2)).split(",") if c.strip()]
    for m in re.finditer(r"<style\b[^>]*>(.*?)</style>", text, re.I | re.S):
        refs += [mm.group(2) or mm.group(4) for mm in _URL_IN_CSS.finditer(m.group(1))]
    refs += [m.group(2) for m in re.finditer(r"\sstyle\s*=\s*(['\"])[^'\"]*url\(\s*['\"]?([^'\")]+)", text, re.I)]
    return [r for r in refs if _local(r)]


def _rewrite_links(text: str, page: str, inside: set[str], book_url: str | None) -> str:
    """Links and forms to pages outside the package: to the published book, or disabled."""
    def fix(m: re.Match) -> str:
        attr, quote, ref = m.group(1), m.group(2), html.unescape(m.group(3))
        if not _local(ref) or not urlsplit(ref).path:
            return m.group(0)
        target = _resolve(page, ref)
        if target in inside:
            return m.group(0)
        if book_url and target:
            frag = urlsplit(ref).fragment
            url = urljoin(book_url.rstrip("/") + "/", target) + (f"#{frag}" if frag else "")
            return f'{attr}={quote}{html.escape(url, quote=True)}{quote} target="_blank" rel="noopener"'
        return (f'data-adoptkit-outside={quote}{html.escape(target or ref, quote=True)}{quote} aria-disabled="true" '
                'title="Not part of this package" style="pointer-events:none;color:inherit;text-decoration:none"')

    return re.sub(r"\b(href|action)\s*=\s*(['\"])(.*?)\2",
                  lambda m: fix(m) if _anchor_or_form(text, m.start()) else m.group(0), text, flags=re.I | re.S)


def _anchor_or_form(text: str, pos: int) -> bool:
    start = text.rfind("<", 0, pos)
    return bool(re.match(r"<(a|form)\b", text[start:start + 6], re.I))


def manifest(path: RolePath, version: str, resources: list[str], mastery: float) -> str:
    """imsmanifest.xml for one SCO covering the path."""
    ident = _ident(f"adoptkit-{path.role}")
    title = escape(path.title)
    file_list = "\n".join(f'      <file href={quoteattr(f)}/>' for f in resources)
    if version == "1.2":
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="{ident}" version="1.0"
          xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd http://www.imsglobal.org/xsd/imsmd_rootv1p2p1 imsmd_rootv1p2p1.xsd http://www.adlnet.org/xsd/adlcp_rootv1p2 adlcp_rootv1p2.xsd">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="{ident}-org">
    <organization identifier="{ident}-org">
      <title>{title}</title>
      <item identifier="{ident}-item" identifierref="{ident}-sco" isvisible="true">
        <title>{title}</title>
        <adlcp:masteryscore>{round(mastery * 100)}</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="{ident}-sco" type="webcontent" adlcp:scormtype="sco" href="index.html">
{file_list}
    </resource>
  </resources>
</manifest>
"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="{ident}" version="1"
          xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
          xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
          xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
          xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 imscp_v1p1.xsd http://www.adlnet.org/xsd/adlcp_v1p3 adlcp_v1p3.xsd http://www.adlnet.org/xsd/adlseq_v1p3 adlseq_v1p3.xsd http://www.adlnet.org/xsd/adlnav_v1p3 adlnav_v1p3.xsd http://www.imsglobal.org/xsd/imsss imsss_v1p0.xsd">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>2004 4th Edition</schemaversion>
  </metadata>
  <organizations default="{ident}-org">
    <organization identifier="{ident}-org">
      <title>{title}</title>
      <item identifier="{ident}-item" identifierref="{ident}-sco" isvisible="true">
        <title>{title}</title>
        <imsss:sequencing>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="{ident}-mastery" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>{mastery:.2f}</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="{ident}-sco" type="webcontent" adlcp:scormType="sco" href="index.html">
{file_list}
    </resource>
  </resources>
</manifest>
"""


def config(path: RolePath, version: str, hub_url: str | None, score_source: str, mastery: float) -> dict:
    """What the SCO's script reads (written into index.html)."""
    return {
        "version": version, "role": path.role, "title": path.title, "mastery": mastery,
        "score_source": score_source,
        "pages": [{"title": p.title, "href": f"{SITE}/{p.html}"} for p in path.pages],
        "quiz": [asdict(q) for q in path.questions] if score_source == "quiz" else [],
        "hub_url": hub_url.rstrip("/") if hub_url else None,
        "score_url": (f"{hub_url.rstrip('/')}/services/lms/scorm/score?path={path.role}"
                      if hub_url and score_source == "hub" else None),
    }


def build(path: RolePath, site: Path, out_dir: Path, version: str = "2004", hub_url: str | None = None,
          score_source: str | None = None, book_url: str | None = None, mastery: float = 0.8) -> Path:
    """Write `<out_dir>/adoptkit-<role>-scorm<version>.zip`; return its path."""
    if version not in VERSIONS:
        raise PackageError(f"SCORM version {version!r}: choose one of {', '.join(VERSIONS)}")
    score_source = score_source or ("hub" if hub_url else "quiz")
    if score_source == "hub" and not hub_url:
        raise PackageError("a package scored from the gradebook needs the hub's address: give --hub-url "
                           "(or lms.hub_url in _config.yml)")
    if score_source == "quiz" and not path.questions:
        raise PackageError(f"the {path.role} path has no quiz (exercises/{path.role}-quiz/) to score it: give "
                           "--hub-url to score it from the gradebook instead")
    site = Path(site)
    missing = [p.html for p in path.pages if not (site / p.html).is_file()]
    if missing:
        raise PackageError(f"the book site at {site} lacks {', '.join(missing)}: build it first "
                           "(`adoptkit build`), or point --site at the built site (_build/html)")
    closure = _Site(site)
    pages = {p.html for p in path.pages}
    texts = {}
    for rel in sorted(pages):
        texts[rel] = (site / rel).read_text(encoding="utf-8")
        for ref in _page_assets(texts[rel]):
            if (target := _resolve(rel, ref)) and target not in pages:
                closure.add(target)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    zip_path = out_dir / f"adoptkit-{path.role}-scorm{version.replace('.', '')}.zip"
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        root = Path(tmp)
        for rel in sorted(closure.files):
            (root / SITE / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / rel, root / SITE / rel)
        for rel, text in texts.items():
            (root / SITE / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / SITE / rel).write_text(_rewrite_links(text, rel, pages, book_url), encoding="utf-8")
        player = files("adoptkit.lms").joinpath("sco")
        (root / "adoptkit-sco").mkdir()
        for name in ("sco.js", "sco.css"):
            (root / "adoptkit-sco" / name).write_text(player.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
        cfg = config(path, version, hub_url, score_source, mastery)
        index = player.joinpath("index.html").read_text(encoding="utf-8")
        # JSON inside <script>: "</" never appears, so no page text can close the script early.
        index = (index.replace("{{title}}", html.escape(path.title))
                 .replace("{{config}}", json.dumps(cfg, ensure_ascii=True).replace("</", "<\\/")))
        (root / "index.html").write_text(index, encoding="utf-8")
        names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        (root / "imsmanifest.xml").write_text(manifest(path, version, names, mastery), encoding="utf-8")
        tmp_zip = zip_path.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(root / "imsmanifest.xml", "imsmanifest.xml")  # first, where every LMS looks
            for name in names:
                z.write(root / name, name)
        if problems := check_package(tmp_zip):
            tmp_zip.unlink()
            raise PackageError("the package would not work offline:\n  " + "\n  ".join(problems[:10]) + "\nBuild "
                               "the site with the kit's offline settings (`adoptkit build`; adoptkit.site.vendor)")
        tmp_zip.replace(zip_path)
    return zip_path


def check_package(zip_path: Path) -> list[str]:
    """What is wrong with a package's files (empty: every file the manifest lists is in the zip, every
    page's local script, style and image is in it, and none is loaded from another host)."""
    problems = []
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        listed = set(re.findall(r'<file href="([^"]+)"', z.read("imsmanifest.xml").decode()))
        problems += [f"manifest lists {n}, not in the zip" for n in sorted(listed - names)]
        problems += [f"{n} is in the zip but not in the manifest" for n in sorted(names - listed - {"imsmanifest.xml"})]
        for name in sorted(n for n in names if n.endswith(".html")):
            text = z.read(name).decode("utf-8", errors="replace")
            for m in re.finditer(r"<(script|link|img)\b[^>]*?\s(src|href)\s*=\s*(['\"])(https?:)?//", text, re.I):
                if m.group(1).lower() != "link" or re.search(r"stylesheet|preload|icon", m.group(0), re.I):
                    problems.append(f"{name} loads a {m.group(1)} from another host")
            for ref in _page_assets(text):
                target = _resolve(name, ref)
                if target and target not in names:
                    problems.append(f"{name} needs {target}, not in the zip")
    return problems

