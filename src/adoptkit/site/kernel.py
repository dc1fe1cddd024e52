"""The kernel the book's chapters run in when the site is built: ipykernel, minus one notice that does not apply.

ipykernel 7 logs "Kernel is running over TCP without encryption ..." at every start, so a build log
carried one per chapter (23). It is a warning for kernels reachable from other machines. Here it never
is, and this module checks that rather than assumes it: the notice is dropped only when the kernel's
sockets are bound to a loopback address (jupyter_client's default for a local kernel), where no other
machine can connect, reading the traffic needs root on this machine, and every message is signed with
the key in the connection file (readable by its owner only). A kernel bound to any other address
still logs it. Everything else the kernel logs is kept.

`adoptkit build` points Jupyter at this module through a kernelspec named `python3` (the chapters'
kernel) in `site/jupyter/kernels/`, put first on JUPYTER_PATH for the build only (`environ`). jupyter_client
replaces the spec's `python` with the interpreter that runs the build, as for ipykernel's own spec.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

NOTICE = "Kernel is running over TCP without encryption"
SPECS = Path(__file__).with_name("jupyter")  # holds kernels/python3/kernel.json


class LoopbackOnly(logging.Filter):
    """Drop ipykernel's unencrypted-TCP notice when the kernel listens on loopback only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if NOTICE not in record.getMessage():
            return True
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        try:
            return not (app.transport == "tcp" and ipaddress.ip_address(app.ip).is_loopback)
        except ValueError:  # a host name, not an address: keep the notice
            return True


def environ(base: Mapping[str, str]) -> dict[str, str]:
    """`base` with this kernel's spec first on JUPYTER_PATH."""
    path = [str(SPECS), *filter(None, base.get("JUPYTER_PATH", "").split(os.pathsep))]
    return {**base, "JUPYTER_PATH": os.pathsep.join(path)}


def main() -> None:
    # As ipykernel_launcher does: keep the current folder off sys.path while ipykernel loads (the shell
    # puts it back), so a chapter's folder cannot shadow a module the kernel imports.
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]
    from ipykernel import kernelapp

    logging.getLogger(kernelapp.IPKernelApp.__name__).addFilter(LoopbackOnly())
    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
