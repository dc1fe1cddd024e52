"""A warm kernel factory: `python -m adoptkit.grading.zygote`, one per cohort-runner worker.

Starting a Python kernel costs about half a second of CPU, nearly all of it importing ipykernel,
IPython and debugpy. The zygote imports them once (plus `Hardening.preload_modules`, say pandas),
then forks a kernel per request. Each child confines itself exactly as the launcher does
(`sandbox.enter`: cgroups, namespaces, rlimits, its own uid) before it runs any learner code.

Protocol, one JSON object per line: the worker writes {"spec", "argv", "cwd", "env", "log",
"exit_file"} to stdin and reads {"pid"} or {"error"} from stdout. The zygote reaps its children and
writes each exit status to its `exit_file`, which is how the worker learns why a kernel died. It
exits, killing its kernels, when stdin closes or its worker dies.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
import traceback

KERNEL_MODULES = [
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "ipykernel.comm",
    "ipykernel.iostream", "ipykernel.heartbeat", "ipykernel.parentpoller", "IPython.core.completer",
    "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
    "IPython.extensions.storemagic", "tornado.platform.asyncio", "sqlite3", "pdb", "cProfile", "faulthandler",
]


def _write_exit(path: str, status: int) -> None:
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(str(os.waitstatus_to_exitcode(status)))
        os.replace(tmp, path)
    except OSError as err:  # the zygote serves other kernels: never let one exit status stop it
        print(f"adoptkit zygote: could not record an exit status in {path}: {err}", file=sys.stderr)


def _child(req: dict) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        sys.stdout, sys.stderr = os.fdopen(1, "w", buffering=1), os.fdopen(2, "w", buffering=1)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        from .sandbox import Spec, enter

        enter(Spec(**req["spec"]))
        sys.path[0] = req["cwd"]  # as `python -m ipykernel_launcher` started there would have it
        sys.argv = ["ipykernel_launcher", *req["argv"]]
        from ipykernel.kernelapp import launch_new_instance

        launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - the log is the only place left to say it
        traceback.print_exc()
    finally:
        os._exit(code)


def serve(preload: list[str]) -> None:
    from .sandbox import die_with_parent

    die_with_parent()
    failed = []
    for name in KERNEL_MODULES + preload:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - a missing extra is reported, not fatal
            failed.append(f"{name}: {err}")
    out = sys.stdout
    out.write(json.dumps({"ready": True, "preload_failed": failed}) + "\n")
    out.flush()
    children: dict[int, str] = {}
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)  # a child's exit wakes select() at once, so its status is written at once
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stdin = sys.stdin.buffer
    try:
        while True:
            readable, _, _ = select.select([stdin, wake_r], [], [], 1.0)
            if wake_r in readable:
                os.read(wake_r, 512)
                readable.remove(wake_r)
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                exit_file = children.pop(pid, None)
                if exit_file:
                    _write_exit(exit_file, status)
            if not readable:
                continue
            line = stdin.readline()
            if not line:
                return
            try:
                req = json.loads(line)
                req["spec"]["parent_pid"] = os.getpid()  # the kernel dies with this zygote
                pid = os.fork()
            except Exception as err:  # noqa: BLE001 - one bad request must not end the zygote
                out.write(json.dumps({"error": str(err)}) + "\n")
                out.flush()
                continue
            if pid == 0:
                _child(req)
            children[pid] = req["exit_file"]
            out.write(json.dumps({"pid": pid}) + "\n")
            out.flush()
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    serve(sys.argv[1:])
