"""What a course means to the hub: its staff role, the profiles its members see,
the folders mounted into their servers and the exam guarantee.

Pure functions of (config, the user's group names, now), so the hub decides
at each spawn and the tests ask the same questions with their own clock. A
course past its end date counts for nothing here, whatever groups a user still
carries from an earlier sign-in.

Privacy between students rests on mounts, not on file modes: every server runs
as the same uid (1000, `jovyan`), so a student's container is given only what
that student may see (docs/courses.md).
"""

from __future__ import annotations

from datetime import datetime

from swarmhub.config.courses import Course
from swarmhub.courses.membership import (  # noqa: F401 - the hub's names for the one rule
    Membership,
    claimed_profiles,
    course_for,
    exam_now,
    membership,
    offered,
)

# Where a course's folders appear in a server.
SHARED_IN_HOME = "shared"  # ~/shared/<course>
EXCHANGE_ROOT = "/srv/nbgrader/exchange"  # nbgrader's default Exchange.root


def staff_scopes(course: Course) -> list[str]:
    """What a course's staff may do: the admin page, and read, start, stop and open
    the servers of the course's students; nothing about anyone else, never admin."""
    g = f"group={course.group}"
    return [
        "admin-ui",
        f"list:users!{g}",
        f"read:users!{g}",
        f"read:users:activity!{g}",
        f"read:servers!{g}",
        f"admin:servers!{g}",
        f"access:servers!{g}",
        f"read:groups!{g}",
    ]


def roles(courses: list[Course], now: datetime) -> list[dict]:
    """JupyterHub roles, one per course not yet ended, held by its staff group.

    A course that starts later gets its role now: the hub may run on past the
    start date, and the role is inert until its staff group has members, which
    the authenticator gives only from the start date (swarmhub.hub.auth)."""
    return [
        {
            "name": c.role,
            "description": f"Staff of {c.name}: its students' servers only",
            "scopes": staff_scopes(c),
            "groups": [c.staff_group],
        }
        for c in courses
        if c.today(now) <= c.end
    ]


# --- folders -------------------------------------------------------------------


def area(root: str, course: Course) -> str:
    """A course's own directory under the courses root (homes' storage)."""
    return f"{root}/{course.name}"


def mounts(root: str, home: str, user: str, m: Membership) -> dict[str, dict]:
    """The course folders of one server, as dockerspawner's volume_binds:
    {host path: {"bind": container path, "mode": "ro" | "rw"}}.

    `root` is the courses directory as the nodes see it, `home` the server's home
    inside the container. Students get shared/ read-only and, with nbgrader, the
    released assignments read-only and only their own submission folder; staff
    get shared/ and the exchange read-write, but its inbound (every student's
    submission folder) read-only and pinned by a mount of its own.
    """
    out: dict[str, dict] = {}
    staff = {c.name for c in m.staff}
    for c in m.courses:
        base = area(root, c)
        is_staff = c.name in staff
        mode = "rw" if is_staff else "ro"
        if c.shared_folder:
            out[f"{base}/shared"] = {"bind": f"{home}/{SHARED_IN_HOME}/{c.name}", "mode": mode}
        if c.nbgrader:
            inside = f"{EXCHANGE_ROOT}/{c.name}"
            if is_staff:
                out[f"{base}/exchange"] = {"bind": inside, "mode": "rw"}
                # Mounts of their own: a mount point cannot be renamed or replaced
                # from inside the container (EBUSY), so staff cannot swap a student's
                # mount source, or a parent of it, for a link between the hub's
                # check and the engine's mount (swarmhub.hub.mountpaths). They
                # read submissions (nbgrader collect), never write them.
                out[f"{base}/exchange/outbound"] = {"bind": f"{inside}/outbound", "mode": "rw"}
                out[f"{base}/exchange/inbound"] = {"bind": f"{inside}/inbound", "mode": "ro"}
            else:
                out[f"{base}/exchange/outbound"] = {"bind": f"{inside}/outbound", "mode": "ro"}
                out[f"{base}/exchange/inbound/{user}"] = {
                    "bind": f"{inside}/inbound",
                    "mode": "rw",
                }
    return out


def directories(root: str, user: str, m: Membership) -> list[str]:
    """Every host directory `mounts` names, parents first: made before the spawn
    (a bind mount of a missing path fails, or is made root-owned)."""
    out = []
    for c in m.courses:
        base = area(root, c)
        out.append(base)
        if c.shared_folder:
            out.append(f"{base}/shared")
        if c.nbgrader:
            out += [f"{base}/exchange", f"{base}/exchange/outbound", f"{base}/exchange/inbound"]
            if c not in m.staff:
                out.append(f"{base}/exchange/inbound/{user}")
    return list(dict.fromkeys(out))
