"""The hardening knobs: one traitlets section, `c.Hardening`, read by every grading piece.

It lives in nbgrader's own config (autograders/nbgrader_config.py), so plain `nbgrader autograde`
and `adoptkit grade` enforce the same limits. The per-cell timeout stays nbgrader's own
`c.Execute.timeout`.
"""

from __future__ import annotations

import os

from traitlets import Bool, Integer, List, Unicode
from traitlets.config import Configurable

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


class Hardening(Configurable):
    """Limits and isolation for autograding untrusted notebooks."""

    notebook_timeout = Integer(600, help="wall-clock seconds for a whole notebook (<= 0: none)").tag(config=True)
    max_output_bytes_per_cell = Integer(64 * KiB, help="output bytes kept per cell; the rest is cut").tag(config=True)
    max_output_bytes_per_notebook = Integer(1 * MiB, help="output bytes kept per notebook").tag(config=True)

    memory_bytes = Integer(
        2 * GiB,
        help="memory for the kernel and its children: a cgroup limit (resident memory, all processes) "
        "where the host allows it, else RLIMIT_AS per process (virtual memory); <= 0: none",
    ).tag(config=True)
    cpu_seconds = Integer(600, help="RLIMIT_CPU per kernel process (<= 0: none)").tag(config=True)
    max_processes = Integer(
        64, help="processes the kernel may run: RLIMIT_NPROC for its own user, plus a pids cgroup where allowed"
    ).tag(config=True)
    max_file_bytes = Integer(256 * MiB, help="RLIMIT_FSIZE: largest file the kernel may write").tag(config=True)
    disk_bytes = Integer(
        512 * MiB, help="size of the kernel's private working folder (a tmpfs, when grading as root); "
        "what it writes there counts against its memory too"
    ).tag(config=True)

    isolate_network = Bool(
        True, help="run the kernel in its own network namespace (only a private loopback) where the OS allows"
    ).tag(config=True)
    sandbox_user = Bool(True, help="when grading as root, run each kernel as its own unprivileged uid").tag(config=True)
    uid_base = Integer(62000, help="first uid of the kernel slots (uid_base .. uid_base+max_slots-1)").tag(config=True)
    max_slots = Integer(64, help="kernels that may run at once on one machine").tag(config=True)
    scratch_root = Unicode(
        "", help="where kernels get their private working folders (default: /tmp/adoptkit-sandbox-<uid>)"
    ).tag(config=True)
    hide_paths = List(
        Unicode(),
        help="extra paths the kernel must not see (the course's nbgrader folders and gradebook are always hidden)",
    ).tag(config=True)
    preload_modules = List(
        Unicode(), help="modules the cohort runner's warm kernel factory imports once for all kernels "
        "(e.g. pandas, if every notebook imports it); each kernel still runs sandboxed"
    ).tag(config=True)
    reports_directory = Unicode(
        "", help="where per-student grading reports go, relative to the course root "
        "(default: a `reports` folder beside the autograded folder)"
    ).tag(config=True)

    def scratch(self) -> str:
        return self.scratch_root or f"/tmp/adoptkit-sandbox-{os.geteuid()}"
