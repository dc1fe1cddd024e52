"""Kernels for grading: sandboxed, and (in the cohort runner) forked warm and started ahead of need.

`SandboxKernelManager` is the kernel manager nbgrader's Execute uses once `harden(c)` is in the
config. It claims a slot, talks to the kernel over Unix sockets (IPC transport: they cross the
network namespace the kernel lives in), scrubs the environment, and cleans the slot afterwards
(every process of the slot's uid, its cgroups, its folder). Under plain `nbgrader autograde` the
kernel starts through the `sandbox.py` launcher.

`KernelPool` is what each cohort-runner worker installs: kernels are forked from a warm `zygote`
and the next one is already starting while the current notebook runs, so nobody waits on a start.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync
from nbgrader.coursedir import CourseDirectory
from traitlets import List, Unicode

from .config import Hardening
from . import files
from .sandbox import Slot, spec_json


def course_paths(config) -> list[str]:
    """The course's folders and gradebook a kernel must not see (hidden tests, other learners, grades)."""
    cd = CourseDirectory(config=config)
    paths = [os.path.join(cd.root, cd.source_directory)]
    for step in ("release", "submitted", "autograded", "feedback", "solution"):
        paths.append(cd.format_path(getattr(cd, f"{step}_directory"), ".", "."))
    paths.append(reports_root(cd, Hardening(config=config)))
    paths += database_paths(cd.db_url)
    paths.append(config.get("Exchange", {}).get("root", "/srv/nbgrader/exchange"))
    return [os.path.normpath(os.path.abspath(p)) for p in paths]


def database_paths(db_url: str) -> list[str]:
    """Files through which a kernel could reach the gradebook: the SQLite file, or a local server's
    Unix-socket folder (a TCP server is out of reach of the kernel's network namespace)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return [url.database] if url.database else []
    host = url.query.get("host") or url.host or ""
    host = host[0] if isinstance(host, tuple) else host
    if host.startswith("/"):
        return [host]
    return ["/run/postgresql", "/var/run/postgresql", "/run/mysqld", "/var/run/mysqld"] if not host else []


def reports_root(cd, hardening: Hardening) -> str:
    if hardening.reports_directory:
        return os.path.join(cd.root, hardening.reports_directory)
    autograded = os.path.normpath(os.path.join(cd.root, cd.autograded_directory.split("{")[0]))
    return os.path.join(os.path.dirname(autograded), "reports")


def _hideable(paths: list[str], keep: list[str]) -> list[str]:
    """Existing paths, none inside another, none holding what the kernel needs to run."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not os.path.exists(p) or any(p == o or p.startswith(o + os.sep) for o in out):
            continue
        if any(k == p or k.startswith(p + os.sep) for k in keep):
            continue
        out.append(p)
    return out


class Zygote:
    """The worker's handle on its zygote process (see zygote.py)."""

    def __init__(self, preload: list[str]):
        env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "adoptkit.grading.zygote", *preload],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/", text=True,
                                     bufsize=1, env=env)
        hello = json.loads(self.proc.stdout.readline() or "{}")
        if not hello.get("ready"):
            raise RuntimeError("the kernel zygote did not start; see the messages above")
        self.preload_failed = hello.get("preload_failed", [])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, request: dict) -> int:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"error": "the zygote exited"}')
        if "pid" not in reply:
            raise RuntimeError(f"the kernel zygote could not start a kernel: {reply.get('error')}")
        return reply["pid"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ZygoteProvisioner(LocalProvisioner):
    """A provisioner whose kernel is forked by the zygote; exit codes come back through a file."""

    exit_code: int | None = None
    _done = False

    @property
    def has_process(self) -> bool:
        return self.pid is not None and not self._done

    def _read_exit(self) -> int | None:
        if self.exit_code is None:
            try:
                self.exit_code = int(Path(self.parent.slot.exit_file).read_text())
            except (OSError, ValueError, AttributeError):
                pass
        return self.exit_code

    async def launch_kernel(self, cmd, **kwargs):
        km = self.parent
        if cmd[1:3] != ["-m", "ipykernel_launcher"]:
            raise RuntimeError(f"the zygote starts ipykernel kernels only, not {cmd[:3]}")
        self.pid = km.zygote.fork({
            "spec": json.loads(km._spec), "argv": cmd[3:], "cwd": kwargs["cwd"], "env": kwargs["env"],
            "log": str(km.slot.dir / "kernel.log"), "exit_file": str(km.slot.exit_file),
        })
        self.pgid, self.cwd = self.pid, kwargs["cwd"]
        return self.connection_info

    async def poll(self):
        return self._read_exit()

    async def wait(self):
        while self._read_exit() is None:
            await asyncio.sleep(0.02)
        self._done = True
        return self.exit_code

    async def send_signal(self, signum: int) -> None:
        if self.pid is not None and self._read_exit() is None:
            try:
                os.killpg(self.pgid, signum)
            except ProcessLookupError:
                pass

    async def kill(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)


_swept = False


class SandboxKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs boxed in its own slot."""

    env_keep = List(
        Unicode(),
        ["PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "PYTHONPATH", "PYTHONHASHSEED", "ADOPTKIT_CONFIG",
         "ADOPTKIT_DATA_*", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"],
        help="environment variables the kernel inherits (glob patterns); everything else, "
        "including secrets such as database URLs and API keys, is dropped",
    ).tag(config=True)

    def __init__(self, zygote: Zygote | None = None, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.hardening = Hardening(config=self.config)
        self.zygote = zygote
        self.slot: Slot | None = None
        self.enforced: dict = {}
        self.exit_status: int | None = None
        self._spec = ""

    # -- start

    async def _async_pre_start_kernel(self, **kw):
        global _swept
        h = self.hardening
        root = h.scratch()
        uid_base = h.uid_base if (os.geteuid() == 0 and h.sandbox_user) else None
        if not _swept:  # once per grading process: what a killed grader left in free slots
            Slot.sweep(root, uid_base, h.max_slots)
            _swept = True
        self.slot = Slot.claim(root, uid_base, h.max_slots)
        cgroup_limits = self.slot.prepare(h.memory_bytes, h.max_processes, h.disk_bytes)
        keep = [sys.prefix, os.path.realpath(sys.executable), os.path.realpath(root)]
        course = course_paths(self.config)
        hide = _hideable(course + list(h.hide_paths), keep)
        course_root = os.path.realpath(CourseDirectory(config=self.config).root)
        spec = self.slot.spec(h, hide, cgroup_limits)
        if os.geteuid() == 0:  # a private root needs the mount privileges
            binds, inside_env = kernel_binds(course_root, self.slot.dir)
            spec.new_root, spec.slot_dir = str(self.slot.dir / "root"), str(self.slot.dir)
            spec.binds, spec.forbid = binds, [course_root, *course]
        self._spec = spec_json(spec)
        self.enforced = {"cgroup_limits": sorted(cgroup_limits - {"disk"}), "private_tmpfs": "disk" in cgroup_limits,
                         "hidden": hide,
                         "kernel_start": "zygote" if self.zygote else "launcher"}
        self.connection_file = str(self.slot.dir / "kernel.json")
        self.ip = str(self.slot.dir / "ipc")
        if self.zygote is not None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                 parent=self)
        kw["cwd"] = str(self.slot.work)
        kw["env"] = {k: v for k, v in os.environ.items() if any(fnmatch.fnmatch(k, p) for p in self.env_keep)}
        kw["env"]["NBGRADER_EXECUTION"] = "autograde"
        # the kernel runs outside the course folder: the kit's settings and data reach it at neutral
        # paths inside its private root (no path there names the course), or where they are otherwise
        if spec.new_root:
            for name in ("ADOPTKIT_CONFIG", "ADOPTKIT_DATA_CACHE", "ADOPTKIT_DATA_MIRROR"):
                kw["env"].pop(name, None)  # host paths: the kernel gets its own, below
            kw["env"].update(inside_env)
            if (self.slot.dir / "data-cache").is_dir():
                self.slot.give(self.slot.dir / "data-cache")  # its own copy: it may add a dataset to it
        else:
            course_settings = Path(course_root) / "_config.yml"
            if "ADOPTKIT_CONFIG" not in kw["env"] and course_settings.is_file():
                kw["env"]["ADOPTKIT_CONFIG"] = str(course_settings)
        kw["env"]["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's frozen-modules warning, once per kernel
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        self.slot.give(Path(self.connection_file))
        return cmd, kw

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.zygote is not None:
            return cmd
        return [sys.executable, "-m", "adoptkit.grading.sandbox", self._spec, "--", *cmd]

    # -- what happened

    def sandbox_status(self) -> dict:
        """What the launcher enforced (read once the kernel is up)."""
        status = dict(self.enforced)
        try:
            status.update(json.loads((self.slot.dir / "sandbox-status.json").read_text()))
        except (OSError, ValueError, AttributeError):
            status["launcher"] = "no status written (the launcher failed before the kernel started)"
        return status

    def record_exit(self) -> int | None:
        prov = self.provisioner
        if isinstance(prov, ZygoteProvisioner):
            code = prov._read_exit()
        else:
            proc = getattr(prov, "process", None)
            code = proc.poll() if proc is not None else None
        if code is not None:
            self.exit_status = code
        return self.exit_status

    def oom_killed(self) -> bool:
        return bool(self.slot and self.slot.oom_killed())

    def stage(self, source_dir: str | None, skip: set[str] = frozenset()) -> list[files.Refusal]:
        """Copy an assignment's other files (data, helpers, what the learner handed in) into the kernel's
        working folder: regular files only, never a link, a device or a file that shadows a module."""
        self._staged = {}
        if not source_dir or not os.path.isdir(source_dir) or self.slot is None:
            return []

        def exclude(rel: str) -> bool:
            top = rel.split(os.sep)[0]
            path = os.path.join(source_dir, top)
            return (rel in skip or top.startswith(".")
                    or (top.endswith(".ipynb") and not _plain_notebook(path)))

        refused = files.safe_copy(source_dir, self.slot.work, importable=installed_modules(), exclude=exclude,
                                  record=False)
        self._staged = _fingerprint(self.slot.work)
        self.slot.give(self.slot.work)
        return refused

    def importable(self) -> set[str]:
        """Top-level modules the kernel can import: installed ones and the Python files staged beside it."""
        names = set(installed_modules())
        if self.slot is not None and self.slot.work.is_dir():
            for entry in os.scandir(self.slot.work):
                if entry.name.endswith(".py"):
                    names.add(entry.name[:-3])
                elif entry.is_dir(follow_symlinks=False) and (Path(entry.path) / "__init__.py").exists():
                    names.add(entry.name)
        return names

    def collect_outputs(self, dest_dir: str | None) -> list[files.Refusal]:
        """Copy back what the notebook wrote in its working folder (as stock nbgrader leaves it beside the
        graded notebook), by the same rules as any submitted file; notebooks are never overwritten."""
        if not dest_dir or self.slot is None or not self.slot.work.is_dir():
            return []
        staged = getattr(self, "_staged", {})
        now = _fingerprint(self.slot.work)
        changed = {rel for rel, sig in now.items() if staged.get(rel) != sig}
        return files.safe_copy(self.slot.work, dest_dir, record=False, exclude=lambda rel: (
            rel.endswith(".ipynb") or rel.split(os.sep)[0] in ("__pycache__", ".ipynb_checkpoints")
            or (rel not in changed and not any(c.startswith(rel + os.sep) for c in changed))))

    # -- stop

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        self.record_exit()
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if self.slot is not None and not restart:
                self.slot.release()
                self.slot = None


class KernelPool:
    """Kernels started ahead of need from a warm zygote: one pool per grading worker process."""

    def __init__(self, config, ahead: int = 1):
        self.config, self.ahead = config, ahead
        self.zygote: Zygote | None = None
        self._ready: dict[str, list[SandboxKernelManager]] = {}
        self._retired: list[SandboxKernelManager] = []

    def retire(self, km: SandboxKernelManager) -> None:
        """Kill a used kernel now; clean its slot later, when its exit has been reaped (no waiting here)."""
        try:
            os.killpg(km.provisioner.pgid, signal.SIGKILL)
        except (OSError, AttributeError, TypeError):
            pass
        self._retired.append(km)

    def _reap(self) -> None:
        while self._retired:
            run_sync(self._retired.pop().shutdown_kernel)(now=True)

    def warm(self) -> None:
        """Start the zygote now (it imports ipykernel once), rather than when the first notebook waits."""
        if self.zygote is None or not self.zygote.alive():
            self.zygote = Zygote(list(Hardening(config=self.config).preload_modules))

    def _start(self, kernel_name: str, extra_arguments: list[str]) -> SandboxKernelManager:
        self.warm()
        km = SandboxKernelManager(kernel_name=kernel_name, config=self.config, zygote=self.zygote)
        if km.kernel_spec.argv[1:3] != ["-m", "ipykernel_launcher"]:
            km.zygote = None  # not a Python kernel: started through the launcher instead
        run_sync(km.start_kernel)(extra_arguments=extra_arguments)
        return km

    def take(self, kernel_name: str, extra_arguments: list[str]) -> SandboxKernelManager:
        """A started kernel (usually warm already); starts its successor before returning."""
        self._reap()
        queue = self._ready.setdefault(kernel_name, [])
        km = queue.pop(0) if queue else None
        if km is not None and not run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
            km = None
        km = km or self._start(kernel_name, extra_arguments)
        while len(queue) < self.ahead:
            queue.append(self._start(kernel_name, extra_arguments))
        return km

    def close(self) -> None:
        self._reap()
        for queue in self._ready.values():
            for km in queue:
                try:
                    run_sync(km.shutdown_kernel)(now=True)
                except Exception:  # noqa: BLE001, S110 - best effort at exit; the slot is cleared when next claimed
                    pass
        self._ready.clear()
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None


_POOL: KernelPool | None = None


def install_pool(pool: KernelPool | None) -> None:
    global _POOL
    _POOL = pool


def current_pool() -> KernelPool | None:
    return _POOL


def _plain_notebook(path: str) -> bool:
    """A notebook with no nbgrader cells (a teach-back lesson a checks notebook reads) may go beside the
    kernel; a graded one may not, since its graded copy holds the instructor's hidden tests."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(cells, list) and not any(isinstance(c, dict) and "nbgrader" in (c.get("metadata") or {})
                                               for c in cells)


_INSTALLED: set[str] | None = None


def installed_modules() -> set[str]:
    """What the kernel's interpreter can import (this interpreter's: kernels run on it), once per process."""
    global _INSTALLED
    if _INSTALLED is None:
        from .reach import importable_names

        _INSTALLED = importable_names()
    return _INSTALLED


def _fingerprint(folder: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


@functools.lru_cache(maxsize=4)
def _settings(path: str, mtime_ns: int):
    """The course's settings, read once per file version (not once per kernel)."""
    from .. import settings as kit_settings

    try:
        return kit_settings.load(path)
    except Exception:  # noqa: BLE001 - a broken settings file is the notebook's error to show, not ours
        return None


INSIDE = "/srv/adoptkit"  # where the kit's settings and data appear inside a kernel's private root


def kernel_binds(course_root: str, slot_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({host path: path inside the kernel}, the environment pointing the kit there) for the course's
    settings and data. A bind mount's source path shows in the kernel's mount table, so nothing inside
    the course root is bound: the settings file and a data cache kept there are copied into the slot
    (read-only for the kernel); folders elsewhere (a shared data mirror or cache) are bound read-only
    under neutral names."""
    from ..data.cache import cache_dir

    binds: dict[str, str] = {}
    env: dict[str, str] = {}
    inside_course = (lambda p: os.path.realpath(p) == course_root
                     or os.path.realpath(p).startswith(course_root + os.sep))
    config = os.environ.get("ADOPTKIT_CONFIG") or os.path.join(course_root, "_config.yml")
    s = None
    if os.path.isfile(config):
        s = _settings(config, os.stat(config).st_mtime_ns)
        copy = slot_dir / "adoptkit-config.yml"
        shutil.copyfile(config, copy)
        os.chmod(copy, 0o444)
        env["ADOPTKIT_CONFIG"] = str(copy)
    try:
        cache = os.environ.get("ADOPTKIT_DATA_CACHE") or (str(cache_dir(s)) if s else "")
    except Exception:  # noqa: BLE001
        cache = ""
    if cache and os.path.isdir(cache):
        if inside_course(cache):
            shutil.copytree(cache, slot_dir / "data-cache", symlinks=False,
                            ignore=shutil.ignore_patterns("*.tmp", ".*"))
            env["ADOPTKIT_DATA_CACHE"] = str(slot_dir / "data-cache")
        else:
            binds[os.path.realpath(cache)] = f"{INSIDE}/data-cache"
            env["ADOPTKIT_DATA_CACHE"] = f"{INSIDE}/data-cache"
    mirror = os.environ.get("ADOPTKIT_DATA_MIRROR") or (s.data.mirror if s and s.data.mirror else "")
    if mirror and s is not None and not os.path.isabs(mirror):
        mirror = str(s.path(mirror))
    if mirror and os.path.isdir(mirror) and not inside_course(mirror):
        binds[os.path.realpath(mirror)] = f"{INSIDE}/data-mirror"
        env["ADOPTKIT_DATA_MIRROR"] = f"{INSIDE}/data-mirror"
    return binds, env
