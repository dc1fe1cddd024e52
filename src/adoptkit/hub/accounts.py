"""Learners' own operating-system accounts on the pilot machine, when the hub runs as root.

Each learner's server runs under an account named after their hub user, created at their first start
(`useradd`: a locked password, so nobody logs in but through the hub) with a private home under the
hub's data folder. A learner's files, processes and nbgrader submissions are then theirs: other learners
cannot read or stop them, and nbgrader's collect sees the submitter's own account as the owner.

An account is the course's only if the course made it (its comment says so). A hub user named like an
account the machine already has (root, postgres, an employee's own login) is refused, never mapped.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

MARK = "adoptkit course learner"
# Portable account names (useradd accepts them everywhere); hub user names are lower case already.
NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_PASSWD_LOCKED = 10  # useradd's exit status when another process holds /etc/passwd


class AccountError(RuntimeError):
    """A learner's account cannot be made or used; the message says why and what to do."""


def is_course_account(pw: pwd.struct_passwd) -> bool:
    return pw.pw_gecos.startswith(MARK) and pw.pw_uid != 0 and pw.pw_gid != 0


def ensure(name: str, home: Path) -> pwd.struct_passwd:
    """The learner's account (made on first use) with its private home; raises AccountError."""
    if not NAME.fullmatch(name):
        raise AccountError(
            f"the hub user {name!r} cannot have an account of its own on this machine: account names are "
            "up to 32 lower-case letters, digits, '_' and '-', starting with a letter or '_'. Give the "
            "learner such a user name (with single sign-on: map a claim such as preferred_username).")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        _useradd(name, home)
        pw = pwd.getpwnam(name)
    if not is_course_account(pw):
        raise AccountError(
            f"the hub user {name!r} has the name of an account this machine already has (uid {pw.pw_uid}, "
            f"not made by the course), so the hub will not run a learner's server as it. Rename the hub user.")
    make_home(home, pw)
    return pw


def _useradd(name: str, home: Path) -> None:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--comment", f"{MARK} ({name})", "--home-dir", str(home), "--no-create-home",
           "--shell", "/bin/bash", "--user-group", name]
    for attempt in range(20):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            return
        if proc.returncode != _PASSWD_LOCKED:
            break
        time.sleep(0.1 * (attempt + 1))  # another learner's first start is writing /etc/passwd
    raise AccountError(f"could not create the account {name!r} (`{' '.join(cmd)}` exited {proc.returncode}: "
                       f"{proc.stderr.strip()}). The hub must run as root, on a machine with useradd.")


def make_home(home: Path, pw: pwd.struct_passwd) -> None:
    """`home` owned by the account and private to it (0700); its parent only traversable (0711).
    A home left by an earlier pilot, where every server ran under the hub's account, is handed over."""
    home.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(home.parent, 0o711)
    try:
        os.mkdir(home, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(home)
    if not os.path.isdir(home) or os.path.islink(home):
        raise AccountError(f"{home} should be {pw.pw_name}'s home folder but is not a folder; move it away.")
    if st.st_uid != pw.pw_uid:
        for folder, dirs, files in os.walk(home):  # never follows links: lchown changes the link itself
            for entry in (folder, *(os.path.join(folder, n) for n in dirs + files)):
                os.lchown(entry, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o700)


def remove(name: str) -> bool:
    """Delete a course account (not its home: the learner's files stay until an admin removes them).
    Returns False when there is no such account; refuses one the course did not make."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return False
    if not is_course_account(pw):
        raise AccountError(f"{name!r} is not an account the course made; not removing it.")
    userdel = shutil.which("userdel") or "/usr/sbin/userdel"
    for attempt in range(20):
        proc = subprocess.run([userdel, name], capture_output=True, text=True)
        if proc.returncode == 0:
            return True
        if proc.returncode != _PASSWD_LOCKED:
            break
        time.sleep(0.1 * (attempt + 1))
    raise AccountError(f"`userdel {name}` exited {proc.returncode}: {proc.stderr.strip()}")
