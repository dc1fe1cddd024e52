"""The course's tools (`adoptkit`, `nbgrader`, `jupyter`, the course's Python) on the PATH of a terminal.

A terminal in JupyterLab is a login shell, and a login shell's /etc/profile resets PATH to the system's
folders: the course environment's `bin/`, which the hub put first on the server's PATH, is gone. So
each server, as it starts (as its user), makes sure the user's login profile puts it back: one marked
block appended to `~/.profile` (and to `~/.bash_profile` or `~/.bash_login` if the user has one, since
bash then skips `~/.profile`). The block reads ADOPTKIT_BIN, which the hub sets, so it never goes
stale when the course moves, and does nothing where the variable is unset (the cluster's image has
the tools in /usr/local/bin already).
"""

from __future__ import annotations

import os
from pathlib import Path

MARK = "# adoptkit: the course environment's tools first on PATH (written by the course's hub)"
BLOCK = f"""
{MARK}
if [ -n "$ADOPTKIT_BIN" ]; then
    case ":$PATH:" in *":$ADOPTKIT_BIN:"*) ;; *) PATH="$ADOPTKIT_BIN:$PATH"; export PATH ;; esac
fi
"""


def login_profiles(home: Path) -> list[Path]:
    """The files a login shell reads from `home`: ~/.profile (sh, and bash without its own files) and
    the first of bash's own, if any."""
    found = [home / ".profile"]
    for name in (".bash_profile", ".bash_login"):
        if (home / name).exists():
            found.append(home / name)
            break
    return found


def ensure_login_path(home: str | os.PathLike | None) -> list[str]:
    """Append the block where it is missing; returns what could not be written (never raises: a
    server must start even when a profile is read-only)."""
    if not home:
        return ["no HOME"]
    problems = []
    for profile in login_profiles(Path(home)):
        try:
            text = profile.read_text(encoding="utf-8") if profile.exists() else ""
            if MARK not in text:
                with open(profile, "a", encoding="utf-8") as f:
                    f.write(BLOCK)
        except OSError as err:
            problems.append(f"{profile}: {err}")
    return problems
