"""Whether a directory may be one of swarmhub's own (homes, state): pure checks.

`destroy --purge` removes such directories whole, and the notebook's uid owns
every home in them, so they must be dedicated: never `/`, a system directory,
an existing user's home, or one nested in the other the wrong way round.
"""

from __future__ import annotations

import os
import pwd
from pathlib import PurePosixPath

SYSTEM = frozenset(
    {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media",
        "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr",
        "/usr/local", "/var", "/var/lib", "/var/log", "/var/tmp",
    }
)  # fmt: skip


def check_dedicated(path: str, role: str) -> str | None:
    """Why `path` cannot be swarmhub's `role` directory, or None if it can."""
    p = PurePosixPath(os.path.normpath(path))
    if not p.is_absolute():
        return f"{role} '{path}' must be an absolute path"
    if str(p) in SYSTEM:
        return (
            f"{role} '{path}' is a system directory: "
            "use a directory of its own, e.g. /var/lib/swarmhub"
        )
    homes = {PurePosixPath(u.pw_dir) for u in pwd.getpwall() if u.pw_dir not in ("", "/")}
    for home in homes:
        if p == home or home.is_relative_to(p):
            return (
                f"{role} '{path}' holds the home of an existing user ({home}): "
                "use a directory of its own"
            )
    if os.path.exists(p) and not os.path.isdir(p):
        return f"{role} '{path}' exists and is not a directory"
    return None
