"""Put a kernel in a box before it runs: `python -m adoptkit.grading.sandbox SPEC -- KERNEL-COMMAND`.

The grading process (as root where possible) prepares a *slot* (its own uid, private folder and
cgroups) and starts the kernel through this launcher, which, in the kernel's process before exec:
joins the slot's cgroups (memory and process count for the whole kernel, even for root), moves into
new mount and network namespaces (course folders and gradebook hidden, only a private loopback),
sets rlimits (CPU time, file size, process count, address space when no cgroup limits memory),
drops to the slot's uid, and records what it could enforce in a status file the grader reports.

Each measure is best effort: what the OS refuses is recorded, never silently skipped. This module
imports nothing heavy because it runs once per kernel start.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x40000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
PR_SET_DUMPABLE = 4
# what a kernel needs of the host, read-only (the interpreter's own folders are added to it)
SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys"]
DEVICES = ["null", "zero", "full", "random", "urandom", "tty"]
CGROUP_V1 = Path("/sys/fs/cgroup")
KERNEL_USER = "adoptkit-kernel"


@dataclass
class Spec:
    """What the launcher must do; built by the grader, passed as JSON on the command line."""

    home: str
    status_file: str
    uid: int | None = None
    memory_bytes: int = 0
    memory_by_cgroup: bool = False
    cpu_seconds: int = 0
    max_processes: int = 0
    max_file_bytes: int = 0
    isolate_network: bool = True
    hide_paths: list[str] = field(default_factory=list)
    cgroup_procs: list[str] = field(default_factory=list)
    # the private root: `new_root` (an empty folder) becomes "/", holding only the system folders, the
    # interpreter, `binds` ({host path: path inside}, read-only) and the slot folder (`slot_dir`, writable)
    new_root: str | None = None
    slot_dir: str | None = None
    binds: dict[str, str] = field(default_factory=dict)
    forbid: list[str] = field(default_factory=list)  # folders never bound in whole (the course root)
    parent_pid: int | None = None  # the process that starts the kernel: the kernel dies with it


# ---------------------------------------------------------------- in the kernel's process (launcher)

_libc = None


def _libc_call(name: str, *args) -> None:
    global _libc
    _libc = _libc or ctypes.CDLL(None, use_errno=True)
    fn = getattr(_libc, name, None)
    if fn is None:
        raise OSError(errno.ENOSYS, f"{name}: not available on this system")
    if fn(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _loopback_up() -> None:
    # A fresh network namespace has only `lo`, and it is down; up, it serves the kernel's own
    # 127.0.0.1 (which is not the host's).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifreq))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def _hide(path: str) -> None:
    if os.path.isdir(path):
        _libc_call("mount", b"none", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   b"size=4k,mode=000")
    elif os.path.exists(path):
        _libc_call("mount", b"/dev/null", path.encode(), None, MS_BIND, None)


def _enterable(folder: str, uid: int) -> bool:
    st = os.stat(folder)
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == uid:  # each slot's gid equals its uid, with no other groups
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def _blocked_ancestor(path: str, uid: int) -> tuple[str, str] | None:
    """The first folder on `path` that `uid` cannot enter, and the name needed inside it."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    here = "/"
    for name in parts:
        if not _enterable(here, uid):
            return here, name
        here = os.path.join(here, name)
    return None


def _expose(paths: list[str], uid: int) -> list[str]:
    """Make `paths` reachable for an unprivileged uid inside our mount namespace.

    Where a folder on the way is private (the interpreter under root's 0700 home, say), it is covered
    by an empty, enterable tmpfs into which only the needed entries are bind-mounted back; the rest
    of that folder stays out of sight.
    """
    exposed = []
    for _ in range(8):  # a few levels of private folders at most
        blocked: dict[str, set[str]] = {}
        for p in paths:
            hit = os.path.exists(p) and _blocked_ancestor(p, uid)
            if hit:
                blocked.setdefault(hit[0], set()).add(hit[1])
        if not blocked:
            return exposed
        for folder, names in blocked.items():
            fds = {n: os.open(os.path.join(folder, n), os.O_PATH | os.O_CLOEXEC) for n in names}
            _libc_call("mount", b"none", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=755")
            for n, fd in fds.items():
                target = os.path.join(folder, n)
                if os.path.isdir(f"/proc/self/fd/{fd}"):
                    os.mkdir(target)
                else:
                    open(target, "w").close()
                _libc_call("mount", f"/proc/self/fd/{fd}".encode(), target.encode(), None, MS_BIND | MS_REC, None)
                os.close(fd)
                exposed.append(target)
    return exposed


def _mount(source, target, fstype=None, flags=0, data=None) -> None:
    enc = (lambda v: v.encode() if isinstance(v, str) else v)
    _libc_call("mount", enc(source), enc(target), enc(fstype), flags, enc(data))


def _bind(source: str, target: str, writable: bool = False, recursive: bool = True) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if not writable:  # a bind mount takes the read-only flag only on a remount
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _outermost(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in paths if p}, key=len):
        if not any(p == o or p.startswith(o.rstrip("/") + "/") for o in out):
            out.append(p)
    return out


def private_root(spec: Spec) -> None:
    """Make `spec.new_root` the kernel's "/" and drop the host's: only the system folders (read-only),
    the interpreter, the named binds and the slot folder are there. Nothing else of the host (the course
    root, its .git, the gradebook, other slots) exists inside, and the old root is unmounted, so no path,
    mount-table line or /proc entry leads back to it."""
    root = spec.new_root
    cwd = os.getcwd()  # the kernel's working folder: inside the slot, so at the same path in the new root
    _mount("adoptkit-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    system = [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    for d in system:
        if os.path.islink(d):  # merged /usr: /bin -> usr/bin
            os.symlink(os.readlink(d), root + d)
    host = _outermost([d for d in system if not os.path.islink(d)] + _interpreter_paths(spec.forbid))
    for path in host:
        if os.path.exists(path):
            _bind(path, root + path)
    for source, target in spec.binds.items():
        if os.path.exists(source):
            _bind(source, root + target)
    # the slot: home, working folder, Jupyter's sockets; also the kernel's /tmp, /var/tmp and /dev/shm, so
    # whatever it writes anywhere counts against the slot's one disk limit and goes with the slot
    tmp = os.path.join(spec.slot_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o1777)
    os.makedirs(root + "/dev", exist_ok=True)
    _mount("adoptkit-dev", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _bind("/dev/" + name, root + "/dev/" + name, writable=True, recursive=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for place in ("/tmp", "/var/tmp", "/dev/shm"):
        _bind(tmp, root + place, writable=True, recursive=False)
    # after /tmp: the slot lives under the host's /tmp, at the same path inside (Jupyter's sockets are there)
    _bind(spec.slot_dir, root + spec.slot_dir, writable=True, recursive=False)
    os.makedirs(root + "/proc", exist_ok=True)
    # hidepid: the kernel sees only its own processes, not the grader's command lines
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    old = root + "/.old-root"
    os.makedirs(old, exist_ok=True)
    if SYS_PIVOT_ROOT is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown system call number on {os.uname().machine}")
    _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.syscall(SYS_PIVOT_ROOT, root.encode(), old.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pivot_root: {os.strerror(err)}")
    os.chdir("/")
    _libc_call("umount2", b"/.old-root", 2)  # MNT_DETACH
    os.rmdir("/.old-root")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(cwd if os.path.isdir(cwd) else spec.slot_dir)


def _interpreter_paths(forbid: list[str] = ()) -> list[str]:
    """The interpreter's folders; never "/" or a folder holding one of `forbid` (the course root)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             *(p for p in sys.path if p and os.path.exists(p))}
    out = []
    for p in found:
        p = os.path.abspath(p)
        if p == "/" or any(f == p or f.startswith(p.rstrip("/") + "/") for f in forbid):
            continue
        out.append(p)
    return sorted(out)


def _set_limit(kind: int, value: int, slack: int = 0) -> None:
    resource.setrlimit(kind, (value, value + slack))


def confine(spec: Spec) -> dict:
    """Apply every measure we can to this process; return what was enforced and what was not."""
    status: dict = {"enforced": [], "not_enforced": {}}

    def attempt(name: str, fn) -> None:
        try:
            fn()
            status["enforced"].append(name)
        except (OSError, ValueError) as err:
            status["not_enforced"][name] = str(err)

    def join_cgroups():
        for procs in spec.cgroup_procs:
            Path(procs).write_text(str(os.getpid()))

    if spec.cgroup_procs:
        attempt("cgroup", join_cgroups)
    flags = CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if spec.isolate_network else 0)
    try:
        _libc_call("unshare", flags)
    except OSError as err:
        for name in ("private_root", "hide_paths", "ipc", "network"):
            status["not_enforced"][name] = f"could not create a namespace: {err}"
    else:
        status["enforced"].append("ipc")  # SysV shared memory, semaphores and queues of its own
        _libc_call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
        if spec.new_root:
            attempt("private_root", lambda: private_root(spec))
        if "private_root" not in status["enforced"]:
            # the fallback: cover the known places one by one
            def hide_all():
                for path in spec.hide_paths:
                    _hide(path)
            attempt("hide_paths", hide_all)
            if spec.uid is not None:
                attempt("interpreter_reachable",
                        lambda: status.__setitem__("exposed", _expose(_interpreter_paths(), spec.uid)))
        if spec.isolate_network:
            attempt("network", _loopback_up)
    if spec.memory_bytes > 0 and not spec.memory_by_cgroup:
        attempt("memory_rlimit_as", lambda: _set_limit(resource.RLIMIT_AS, spec.memory_bytes))
    if spec.cpu_seconds > 0:
        attempt("cpu_seconds", lambda: _set_limit(resource.RLIMIT_CPU, spec.cpu_seconds, 5))
    if spec.max_file_bytes > 0:
        attempt("file_size", lambda: _set_limit(resource.RLIMIT_FSIZE, spec.max_file_bytes))
    attempt("no_core_dumps", lambda: _set_limit(resource.RLIMIT_CORE, 0))
    if spec.uid is not None:
        if spec.max_processes > 0:  # counts processes per real uid, so only binds once we switch
            attempt("process_rlimit", lambda: _set_limit(resource.RLIMIT_NPROC, spec.max_processes))

        def drop():
            os.setgroups([])
            os.setresgid(spec.uid, spec.uid, spec.uid)
            os.setresuid(spec.uid, spec.uid, spec.uid)
        attempt("user", drop)
    # no other process of the kernel's uid (a child it starts, say) may read or write its memory
    attempt("not_dumpable", lambda: _libc_call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0))
    return status


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a killed grader leaves no kernels).

    `parent` is the pid that started this process. A parent that died before the request was made sends
    no signal (this process was already handed to another parent), so then it ends at once, as the signal
    would have ended it.
    """
    try:
        _libc_call("prctl", 1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def enter(spec: Spec) -> dict:
    """Confine this process and set its environment; the kernel is started right after."""
    status = confine(spec)
    die_with_parent(spec.parent_pid)  # after the uid change, which clears it
    env = os.environ
    tmp = "/tmp" if "private_root" in status["enforced"] else os.path.join(spec.home, "tmp")
    env.update(HOME=spec.home, USER=KERNEL_USER, LOGNAME=KERNEL_USER, TMPDIR=tmp,
               IPYTHONDIR=os.path.join(spec.home, ".ipython"),
               MPLCONFIGDIR=os.path.join(spec.home, ".config", "matplotlib"))
    os.makedirs(env["TMPDIR"], exist_ok=True)
    status["uid"], status["pid"] = os.getuid(), os.getpid()
    install_audit_hook()
    tmp = spec.status_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, spec.status_file)
    return status


GUARDED_MODULES = ("IPython.", "ipykernel.", "jupyter_client.", "zmq.", "comm.", "adoptkit.grading", "builtins",
                   "nbformat.", "traitlets.")


_ARMED: list[bool] = []


def arm() -> None:
    """Switch the audit hook on (the grader does, once the kernel has started; it cannot be switched off)."""
    if not _ARMED:
        _ARMED.append(True)


def install_audit_hook() -> None:
    """An audit hook (it cannot be removed once added) that refuses, whoever asks: writing or reading a
    process's memory through /proc, walking the garbage collector's object graph, tracing, and replacing a
    method of the kernel's, IPython's or the grader's classes. The static check (reach.py) keeps learner
    code from naming these; this is the second line, for what a static reading cannot see."""
    import re

    mem = re.compile(r"^/proc/[^/]+/(task/[^/]+/)?mem$")

    def hook(event, args):
        if not _ARMED:  # the kernel's own start-up (debugpy, IPython) is not refused anything
            return
        if event == "open" and args and isinstance(args[0], str) and mem.match(args[0]):
            raise PermissionError("grading: a process's memory cannot be opened")
        if event in ("gc.get_referrers", "gc.get_referents", "gc.get_objects", "sys.settrace", "sys.setprofile",
                     "sys._current_frames"):
            raise PermissionError(f"grading: {event} is not available while grading")
        if event in ("object.__setattr__", "object.__delattr__") and len(args) >= 2 and isinstance(args[0], type):
            cls, name = args[0], args[1]
            module = getattr(cls, "__module__", "") or ""
            if module.startswith(GUARDED_MODULES) and callable(cls.__dict__.get(name)):
                raise PermissionError(f"grading: {cls.__name__}.{name} cannot be replaced")

    sys.addaudithook(hook)


def launch(spec: Spec, cmd: list[str]) -> None:
    enter(spec)
    if cmd[1:3] == ["-m", "ipykernel_launcher"] and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable):
        # start the kernel in this process, so the audit hook installed by enter() stays with it
        sys.argv = ["ipykernel_launcher", *cmd[3:]]
        sys.path[0] = os.getcwd()
        from ipykernel.kernelapp import launch_new_instance

        launch_new_instance()
        return
    os.execvp(cmd[0], cmd)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m adoptkit.grading.sandbox SPEC-JSON -- KERNEL-COMMAND...")
    launch(Spec(**json.loads(argv[0])), argv[2:])


# ---------------------------------------------------------------- in the grader's process (slots)


def kill_user(uid: int, rounds: int = 20) -> int:
    """SIGKILL every process of `uid` (what a fork storm leaves behind); return how many were seen."""
    seen = 0
    for _ in range(rounds):
        pids = [p for p in _pids_of(uid)]
        if not pids:
            return seen
        seen = max(seen, len(pids))
        child = os.fork()
        if child == 0:  # kill(-1) as that uid reaches exactly its processes, including ones we cannot list yet
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        time.sleep(0.02)
    return seen


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def _remove_owned(uid: int, folders: list[str]) -> None:
    """Delete what a slot's uid left in the shared temporary folders (it shares the host's /tmp)."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


class Cgroups:
    """Memory and pids cgroups for one slot, on cgroup v1 or v2, when the host lets us write them."""

    def __init__(self, name: str):
        self.dirs: dict[str, Path] = {}
        v2 = CGROUP_V1 / "cgroup.controllers"
        if os.geteuid() != 0:
            return
        if v2.exists():  # unified hierarchy: one folder, controllers enabled top-down
            parent = CGROUP_V1 / "adoptkit"
            try:
                parent.mkdir(exist_ok=True)
                for where in (CGROUP_V1, parent):
                    (where / "cgroup.subtree_control").write_text("+memory +pids")
                (parent / name).mkdir(exist_ok=True)
                self.dirs = {"memory": parent / name, "pids": parent / name}
            except OSError:
                self.dirs = {}
        else:
            for ctl in ("memory", "pids"):
                d = CGROUP_V1 / ctl / "adoptkit" / name
                try:
                    d.mkdir(parents=True, exist_ok=True)
                    self.dirs[ctl] = d
                except OSError:
                    pass

    @property
    def v2(self) -> bool:
        return any((d / "memory.max").exists() for d in self.dirs.values())

    def limit(self, memory_bytes: int, max_processes: int) -> set[str]:
        """Set the limits; return which ones hold."""
        done = set()
        mem, pids = self.dirs.get("memory"), self.dirs.get("pids")
        try:
            if mem and memory_bytes > 0:
                if self.v2:
                    (mem / "memory.max").write_text(str(memory_bytes))
                    if (mem / "memory.swap.max").exists():
                        (mem / "memory.swap.max").write_text("0")
                else:
                    (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    if (mem / "memory.memsw.limit_in_bytes").exists():
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                done.add("memory")
        except OSError:
            pass
        try:
            if pids and max_processes > 0:
                (pids / "pids.max").write_text(str(max_processes))
                done.add("pids")
        except OSError:
            pass
        return done

    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def oom_kills(self) -> int:
        """How many processes the OOM killer has killed in this cgroup so far (a running count)."""
        mem = self.dirs.get("memory")
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in ((mem / name).read_text().splitlines() if mem else []):
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                pass
        return 0

    def empty(self) -> None:
        """Kill every process inside (the folders stay, for the slot's next kernel)."""
        for d in set(self.dirs.values()):
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.02)


class Slot:
    """One kernel's place on this machine: a lock, a uid, a private folder, cgroups.

    Slots are claimed with `flock` on a machine-wide lock per uid, so concurrent graders (the cohort
    runner's workers, a plain `nbgrader autograde` next to it) never share a uid or a cgroup, and a
    crashed grader's slot frees itself. Claiming a slot first clears whatever a previous owner left.
    """

    def __init__(self, root: str, index: int, uid: int | None, lock_fd: int):
        self.root, self.index, self.uid, self._lock_fd = Path(root), index, uid, lock_fd
        self.name = f"uid-{uid}" if uid is not None else f"user-{os.geteuid()}-{index}"
        self.dir = self.root / self.name
        self.home = self.dir / "home"
        self.work = self.dir / "work"
        # the grader's own record of the kernel's exit, outside the slot: a kernel that fills its disk
        # must not stop it being written
        self.exit_file = self.root / ".exits" / f"{self.name}.exit"
        self.cgroups: Cgroups | None = None

    @staticmethod
    def _lock(root: str, uid_base: int | None, i: int) -> int | None:
        """The slot's lock, held, or None when another grader holds it."""
        locks = "/tmp/adoptkit-slots" if uid_base is not None else f"/tmp/adoptkit-slots-{os.geteuid()}"
        os.makedirs(locks, mode=0o755, exist_ok=True)
        key = f"uid-{uid_base + i}" if uid_base is not None else f"slot-{i}-{Path(root).name}"
        fd = os.open(os.path.join(locks, f"{key}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise

    @classmethod
    def claim(cls, root: str, uid_base: int | None, max_slots: int) -> Slot:
        os.makedirs(root, mode=0o755, exist_ok=True)
        os.chmod(root, 0o755)  # slot uids must traverse it; each slot folder is private
        for i in range(max_slots):
            fd = cls._lock(root, uid_base, i)
            if fd is not None:
                slot = cls(root, i, None if uid_base is None else uid_base + i, fd)
                slot._clear()
                return slot
        raise RuntimeError(f"all {max_slots} kernel slots are busy; raise c.Hardening.max_slots "
                           "or run fewer graders at once")

    @classmethod
    def sweep(cls, root: str, uid_base: int | None, max_slots: int) -> int:
        """Clear every free slot that a killed grader left behind (processes, mount, folder)."""
        cleared = 0
        for i in range(max_slots):
            slot_dir = Path(root) / (f"uid-{uid_base + i}" if uid_base is not None else f"user-{os.geteuid()}-{i}")
            if not slot_dir.exists():
                continue
            fd = cls._lock(root, uid_base, i)
            if fd is not None:
                cls(root, i, None if uid_base is None else uid_base + i, fd).release()
                cleared += 1
        return cleared

    def _clear(self) -> None:
        if self.uid is not None:
            kill_user(self.uid)
            _remove_owned(self.uid, ["/tmp", "/var/tmp", "/dev/shm"])
        (self.cgroups or Cgroups(self.name)).empty()
        if os.path.ismount(self.dir):
            try:
                _libc_call("umount2", str(self.dir).encode(), 2)  # MNT_DETACH: drops every file at once
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def prepare(self, memory_bytes: int, max_processes: int, disk_bytes: int = 0) -> set[str]:
        """Make the private folders and cgroups; return the limits that hold (cgroups, disk).

        As root the slot's folder is a tmpfs of `disk_bytes`: the kernel cannot fill the grader's
        disk, and clearing the slot is one unmount instead of deleting every file it wrote.
        """
        done = set()
        self.dir.mkdir(mode=0o700, exist_ok=True)
        if self.uid is not None and disk_bytes > 0:
            try:
                _libc_call("mount", b"adoptkit-slot", str(self.dir).encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                           f"size={disk_bytes},mode=700,uid={self.uid},gid={self.uid}".encode())
                done.add("disk")
            except OSError:
                pass
        for d in (self.dir, self.home, self.work):
            d.mkdir(mode=0o700, exist_ok=True)
            if self.uid is not None:
                os.chown(d, self.uid, self.uid)
        (self.dir / "root").mkdir(mode=0o755, exist_ok=True)  # where the kernel's private root is built
        self.exit_file.parent.mkdir(mode=0o700, exist_ok=True)
        self.exit_file.unlink(missing_ok=True)
        self.cgroups = self.cgroups or Cgroups(self.name)
        self.oom_baseline = self.cgroups.oom_kills()
        return done | self.cgroups.limit(memory_bytes, max_processes)

    def oom_killed(self) -> bool:
        return self.cgroups is not None and self.cgroups.oom_kills() > getattr(self, "oom_baseline", 0)

    def give(self, path: Path) -> None:
        """Hand a file or folder tree under the slot to the slot's uid."""
        if self.uid is None:
            return
        for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.lchown(p, self.uid, self.uid)

    def release(self) -> None:
        if self._lock_fd is None:
            return
        try:
            self._clear()
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    def spec(self, h, hide_paths: list[str], cgroup_limits: set[str]) -> Spec:
        return Spec(
            home=str(self.home), status_file=str(self.dir / "sandbox-status.json"), uid=self.uid,
            memory_bytes=h.memory_bytes, memory_by_cgroup="memory" in cgroup_limits,
            cpu_seconds=h.cpu_seconds, max_processes=h.max_processes, max_file_bytes=h.max_file_bytes,
            isolate_network=h.isolate_network, hide_paths=hide_paths,
            cgroup_procs=self.cgroups.procs_files() if self.cgroups and cgroup_limits - {"disk"} else [],
            parent_pid=os.getpid(),  # the grading worker starts the launcher (the zygote puts its own pid)
        )


def spec_json(spec: Spec) -> str:
    return json.dumps(asdict(spec))


if __name__ == "__main__":
    main(sys.argv[1:])
