"""Browser assets the book site would otherwise load from CDNs, vendored from pinned npm tarballs.

Out of the box a Jupyter Book 1 site loads require.js and `@jupyter-widgets/html-manager` from
cdnjs/jsdelivr on every page with a widget, and MathJax from jsdelivr on every page with math. A course
site behind a firewall (or one that must not tell a CDN who reads it) has to serve them itself.

How the files get into the build:
  1. `install_vendor(book_root, cache_dir)` fetches the pinned tarballs with `npm pack` (once; the
     tarballs and the extracted folder are cached and re-verified on every call), and copies the
     files the site needs into `<book_root>/_vendor/_static/adoptkit-vendor/...` (git-ignored).
  2. `_config.yml` lists `_vendor` in `html_extra_path`, so Sphinx copies its contents into the site
     root: the files end up in `_build/html/_static/adoptkit-vendor/...`. (`html_extra_path`, not
     `html_static_path`: Jupyter Book 1 adds every .js/.css under a static path to *every* page.)
  3. `mathjax_path` and `nb_ipywidgets_js` point at those files (SPHINX_CONFIG below). Sphinx resolves
     a relative script path against `_static/`, so the values read `adoptkit-vendor/...`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

VENDOR_DIR = "_vendor"  # at the book root, git-ignored, listed in html_extra_path
SITE_SUBDIR = "_static/adoptkit-vendor"  # in the built site; not `_static/vendor/`: the theme owns that


@dataclass(frozen=True)
class NpmPin:
    name: str
    version: str
    integrity: str  # npm's dist.integrity ("sha512-" + base64), checked against the tarball's bytes
    dest: str  # folder under SITE_SUBDIR
    strip: str  # leading path (inside package/) removed when extracting
    include: tuple[str, ...]  # fnmatch patterns inside package/ ("*" also matches "/")

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        # npm pack's own naming: "@scope/name" -> "scope-name-VERSION.tgz"
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


PINS: tuple[NpmPin, ...] = (
    # The version myst-nb 1.4 loads from cdnjs (its nb_ipywidgets_js default). The npm package has no
    # require.min.js (that is a cdnjs build); the unminified require.js is the same library (85 kB).
    NpmPin(
        "requirejs",
        "2.3.4",
        "sha512-qPD5gRrj6kGQ0ZySAJgqbArkaDqPMbQIT0zSZDkIv1mfA17w/tR2Faq5l2qqRf2CdQx6FWln9nUrgd2UDzb19A==",
        dest="requirejs",
        strip="",
        include=("require.js", "package.json"),
    ),
    # html-manager 1.x is the ipywidgets 8 line (widget state with controls/base module version 2.0.0);
    # 0.20.x is ipywidgets 7. myst-nb's default is 1.0.6. Both 1.0.6 and 1.0.15 rendered ipywidgets
    # 8.1.9 state (IntSlider, Dropdown, Button with icon, HTML, IntProgress in a VBox) in headless
    # Chromium; 1.0.15 is pinned: the newest 1.0.x, built on controls ^5.0.13 (ipywidgets 8.1.9 ships
    # controls 5.0.x), smaller, and it also bundles the ipywidgets 7 models (base7/controls7).
    NpmPin(
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        dest="html-manager",
        strip="dist/",
        # embed-amd.js bundles the base/controls/output widgets and their CSS; the CSS's Font Awesome
        # fonts (hashed names) are fetched from this folder thanks to module-paths.js (see
        # _MODULE_PATHS_JS). woff2/woff cover every current browser; eot/ttf/svg (2.4 MB) are left out.
        include=("dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.LICENSE.txt", "package.json"),
    ),
    # Sphinx 7.4's mathjax_path default is mathjax@3/es5/tex-mml-chtml.js; 3.2.2 is the last 3.x.
    # The combined file loads the rest on demand from its own folder: CHTML fonts, TeX extensions
    # (autoload/\require), and the accessibility menu's explorer/speech (a11y, sre). Without them those
    # features 404 rather than reach a CDN, but they should work, so they are kept (about 8 MB).
    NpmPin(
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        dest="mathjax",
        strip="es5/",
        include=(
            "es5/tex-mml-chtml.js",
            "es5/output/chtml/*",
            "es5/input/tex/*",
            "es5/input/mml/*",
            "es5/ui/*",
            "es5/a11y/*",
            "es5/sre/*",
            "LICENSE",
            "package.json",
        ),
    ),
)

# The keys `_config.yml` must carry under `sphinx: config:` (config_problems() checks them).
SPHINX_CONFIG: dict = {
    "html_extra_path": [VENDOR_DIR],
    "mathjax_path": "adoptkit-vendor/mathjax/tex-mml-chtml.js",
    # Replaces myst-nb's CDN defaults (the whole dict: keys are script paths, values are attributes).
    "nb_ipywidgets_js": {
        "adoptkit-vendor/requirejs/require.js": {},
        "adoptkit-vendor/html-manager/module-paths.js": {},  # ours, see _MODULE_PATHS_JS
        "adoptkit-vendor/html-manager/embed-amd.js": {
            # A widget library that embed-amd.js does not bundle (say ipyleaflet) is looked for next
            # to the page, then under this prefix; the default prefix is jsdelivr. Our own host turns
            # that into a visible 404 instead of a silent third-party request. Vendor such a library
            # under it (`<prefix><name>@<version>/dist/index.js`) if a chapter needs one.
            "data-jupyter-widgets-cdn": "/_static/adoptkit-vendor/npm/",
        },
    },
}

# Written next to embed-amd.js and loaded between require.js and it. embed-amd.js holds six named AMD
# modules, and each one's webpack runtime takes its asset folder from require.js's `module.uri`, which by
# default is "<page folder>/@jupyter-widgets/...": the Font Awesome fonts of the widget CSS then 404.
# Mapping those module names to this folder makes their `module.uri` (never fetched: the modules are
# defined inline) point here, where the fonts are.
_MODULE_PATHS_JS = """\
// Generated by adoptkit.site.vendor: see _MODULE_PATHS_JS there for why.
(function () {
  var here = new URL(".", document.currentScript.src).href;
  var paths = {"@jupyter-widgets/html-manager/dist": here.slice(0, -1)};
  ["base", "controls", "base7", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = here + name;
  });
  require.config({paths: paths});
})();
"""

_STAMP = ".pins.json"  # dotfile: Sphinx never copies dotfiles into the site


class VendorError(RuntimeError):
    """The vendored site assets could not be fetched or verified; the message says what to do."""


def ensure_vendor(cache_dir: str | Path) -> Path:
    """Return `<cache_dir>/site_vendor`, holding `_static/adoptkit-vendor/<pkg>/...` for every pin.

    Fetches each tarball with `npm pack` only if it is not cached with the pinned integrity; re-extracts
    only if the folder's stamp (pins + sha256 of every file) does not match.
    """
    cache = Path(cache_dir)
    out = cache / "site_vendor"
    if _stamp_ok(out):
        return out
    tarballs = [_fetch(pin, cache / "npm") for pin in PINS]
    tmp = cache / "site_vendor.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for pin, tgz in zip(PINS, tarballs):
        _extract(pin, tgz, tmp / SITE_SUBDIR / pin.dest)
    (tmp / SITE_SUBDIR / "html-manager" / "module-paths.js").write_text(_MODULE_PATHS_JS)
    (tmp / _STAMP).write_text(_stamp_for(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # a half-extracted folder never looks finished
    return out


def install_vendor(book_root: str | Path, cache_dir: str | Path) -> Path:
    """Make `<book_root>/_vendor` an exact copy of the verified vendor folder; return its path."""
    src = ensure_vendor(cache_dir)
    dst = Path(book_root) / VENDOR_DIR
    if _stamp_ok(dst) and (dst / _STAMP).read_text() == (src / _STAMP).read_text():
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)  # a copy, not a symlink: the cache may live on another machine/volume
    return dst


def config_problems(config: Mapping) -> list[str]:
    """What is missing or different in a parsed `_config.yml` for an offline site (empty: all good)."""
    given = (config.get("sphinx") or {}).get("config") or {}
    problems = []
    for key, want in SPHINX_CONFIG.items():
        if key == "html_extra_path":
            ok = VENDOR_DIR in (given.get(key) or [])
        else:
            ok = given.get(key) == want
        if not ok:
            problems.append(
                f"_config.yml sphinx.config.{key} is {given.get(key)!r}; the offline site needs {want!r} "
                "(see adoptkit.site.vendor.SPHINX_CONFIG)"
            )
    return problems


# -- internals ---------------------------------------------------------------------------------------


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _fetch(pin: NpmPin, npm_dir: Path) -> Path:
    tgz = npm_dir / pin.tarball
    if tgz.is_file():
        if _integrity(tgz) == pin.integrity:
            return tgz
        tgz.unlink()  # partial or foreign bytes: fetch again, and check again below
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            f"npm is not installed, and {pin.spec} is not in the cache ({tgz}). The book site needs it so "
            "that pages load no script from a CDN. Install Node.js/npm (Debian: apt-get install npm), or "
            f"copy the tarball from `npm pack {pin.spec}` on another machine to {tgz}."
        )
    npm_dir.mkdir(parents=True, exist_ok=True)
    # --ignore-scripts: a registry tarball runs no lifecycle scripts anyway; this keeps it that way.
    cmd = [npm, "pack", pin.spec, "--ignore-scripts", "--pack-destination", str(npm_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # errors reported below
    if proc.returncode != 0 or not tgz.is_file():
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise VendorError(
            f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}):\n{tail}\n"
            "Check that the npm registry is reachable (`npm config get registry`; a mirror works), "
            f"or place the tarball at {tgz}."
        )
    got = _integrity(tgz)
    if got != pin.integrity:
        tgz.unlink()  # never leave unverified bytes where the next run would look
        raise VendorError(
            f"{pin.spec}: the registry served a tarball whose integrity is\n  {got}\nbut the pin is\n"
            f"  {pin.integrity}\nIf your registry or mirror is a proxy, it may be serving other bytes: "
            "check `npm config get registry`, then `npm cache clean --force` and retry. If you changed "
            f"the version in adoptkit/site/vendor.py on purpose, review it and pin the value of "
            f"`npm view {pin.spec} dist.integrity`."
        )
    return tgz


def _extract(pin: NpmPin, tgz: Path, dest: Path) -> None:
    found = set()
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if not member.isfile() or rel == member.name:
                continue
            pattern = next((p for p in pin.include if fnmatch(rel, p)), None)
            if pattern is None:
                continue
            found.add(pattern)
            out = PurePosixPath(rel.removeprefix(pin.strip))
            if out.is_absolute() or ".." in out.parts:
                raise VendorError(f"{pin.spec}: unsafe path {member.name!r} in {tgz}")
            target = dest / out
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())  # bytes only: no modes, links, owners
    if missing := [p for p in pin.include if p not in found]:
        raise VendorError(f"{pin.spec}: {tgz} has no file matching {missing}; the pin's file list is stale")


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != _STAMP
    }


def _stamp_for(root: Path) -> str:
    return json.dumps({"pins": _pins_record(), "files": _file_hashes(root)}, indent=1, sort_keys=True)


def _pins_record() -> list:
    # The pins as JSON gives them back (tuples become lists), plus our generated file, so that a change
    # to either re-extracts.
    return json.loads(json.dumps([asdict(p) for p in PINS] + [_MODULE_PATHS_JS]))


def _stamp_ok(root: Path) -> bool:
    stamp = root / _STAMP
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except ValueError:
        return False
    # Same pins, and every file present with the bytes it was extracted with (about 0.2 s for 12 MB).
    return recorded.get("pins") == _pins_record() and recorded.get("files") == _file_hashes(root)
