"""The pilot hub's spawner: each learner's server under their own account where the hub runs as root.

- Learners, when the hub is root: their own OS account (`accounts.ensure`, made at their first start)
  with a private home; the server drops to that account before it starts.
- Instructors, and everyone when the hub is not root: the hub's own account, home under the hub's data
  folder. Instructors keep the hub's account on purpose: they work in the course folder and its
  gradebook, and `adoptkit grade` needs root to run each learner's code under a throw-away uid.

The role comes from the pre-spawn hook of the rendered config (ADOPTKIT_HUB_ROLE); without it, the
server is treated as a learner's.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import sys

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import List, Unicode

from ..grading import sandbox
from . import accounts


def own_accounts() -> bool:
    """Whether learners get their own accounts here (only root can make and become them)."""
    return os.geteuid() == 0


class CourseSpawner(LocalProcessSpawner):
    home_dir_template = Unicode("/tmp/{username}", config=True,
                                help="each user's home folder; {username} is the hub user's name")
    reachable = List(Unicode(), config=True,
                     help="paths a learner's server must reach (the course's Jupyter config and settings, the "
                          "exchange, the data); with the interpreter, exposed to it where a folder on the way "
                          "is closed to other accounts (the course under /root, say)")
    _account = None  # the learner's passwd entry while they have an account of their own

    def _home(self) -> Path:
        return Path(self.home_dir_template.format(username=self.user.name))

    def _own_account(self) -> bool:
        return own_accounts() and self.environment.get("ADOPTKIT_HUB_ROLE", "learner") != "instructor"

    async def start(self):
        home = self._home()
        if self._own_account():
            self._account = await asyncio.to_thread(accounts.ensure, self.user.name, home)
        else:
            self._account = None
            home.mkdir(parents=True, exist_ok=True)
        return await super().start()

    def make_preexec_fn(self, name):
        home, pw = str(self._home()), self._account
        if pw is None:  # an instructor's terminal opens in the course folder they work in
            start_in = self.format_string(self.notebook_dir) if self.notebook_dir else home
            return lambda: os.chdir(start_in)
        gids = os.getgrouplist(pw.pw_name, pw.pw_gid)
        needed = [p for p in [*self.reachable, home, *sandbox._interpreter_paths(), sys.executable]
                  if p and os.path.exists(p)]

        def preexec():  # after fork, before exec: become the learner for good
            # The grader's way to reach the interpreter when it lies under a closed folder: in a mount
            # namespace of the server's own, that folder is covered by a tmpfs holding only what is needed.
            try:
                sandbox._libc_call("unshare", sandbox.CLONE_NEWNS)
            except OSError:
                pass  # no namespaces here (an unprivileged container): the paths must be open already
            else:
                sandbox._libc_call("mount", b"none", b"/", None, sandbox.MS_REC | sandbox.MS_PRIVATE, None)
                sandbox._expose(needed, pw.pw_uid)
            os.setgid(pw.pw_gid)
            os.setgroups(gids)
            os.setuid(pw.pw_uid)
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env.update(USER=self.user.name, LOGNAME=self.user.name, HOME=str(self._home()), SHELL="/bin/bash")
        return env

    async def move_certs(self, paths):
        return paths  # internal TLS is not used on the pilot (one machine, loopback)
