"""`archive --course NAME` and `restore USER`: a semester's homes to a store and back.

    python pipeline.py archive --course intro --users ada,bob [--to DIR|s3://bucket/prefix]
    python pipeline.py restore ada [--course intro] [--from DIR|s3://...] [--overwrite]

A tar per user (swarmhub.archive.homes), checked before anything is removed;
locally into `<local.state_dir>-archive` (beside the state, where
`destroy --purge` does not reach) unless --to says otherwise; on AWS
into S3 (--to s3://...), with a lifecycle rule on the prefix. A home is only
emptied when the homes directory is one swarmhub made (its .swarmhub-owned
mark, swarmhub.local.paths) and the home is a real directory right inside it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from swarmhub.errors import SwarmhubError


def course_users(cfg, course: str, users: str | None, roster: str | None) -> list[str]:
    """Who is in `course`: `--users a,b,c`, a roster file, or else the course's
    own roster in swarmhub.yaml (its user names; a GitHub team cannot be read
    from here, so a course of teams needs --users or --roster).
    """
    if users:
        names = [u.strip() for u in users.split(",") if u.strip()]
    elif roster:
        names = _roster(Path(roster))
    else:
        known = {c.name: c for c in getattr(cfg, "courses", [])}
        if course not in known:
            raise SwarmhubError(
                f"archive --course {course}: no course of that name in swarmhub.yaml "
                f"(courses: {', '.join(known) or 'none'}); or say who with --users a,b,c "
                "or --roster FILE"
            )
        names = known[course].users()
        if known[course].teams():
            raise SwarmhubError(
                f"archive --course {course}: its roster names GitHub teams "
                f"({', '.join(known[course].teams())}), which cannot be read from here; "
                "say who with --users a,b,c or --roster FILE"
            )
    bad = [n for n in names if not n or "/" in n or n in (".", "..") or n.startswith(".")]
    if bad:
        raise SwarmhubError(f"not a user name: {bad[0]!r}")
    return list(dict.fromkeys(names))


def _roster(path: Path) -> list[str]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except OSError as exc:
        raise SwarmhubError(f"{path}: cannot read: {exc.strerror}") from None
    names = [r[0].strip() for r in rows if r and r[0].strip() and not r[0].startswith("#")]
    if names and names[0].lower() in ("username", "user", "name", "login"):
        names = names[1:]
    return names


def homes_root(cfg, target: str, homes: str | None) -> Path:
    if homes:
        return Path(homes)
    if target == "aws":
        raise SwarmhubError(
            "archive on the aws target runs where the homes are mounted (the manager): "
            "pass --homes DIR (docs/archive.md)"
        )
    return Path(cfg.local.homes_dir)


def default_store(cfg, target: str, given: str | None) -> str:
    if given:
        return given
    if target == "aws":
        raise SwarmhubError("archive on the aws target: pass --to s3://bucket/prefix")
    from swarmhub.local.paths import paths

    return str(paths(cfg).archives)  # out of destroy --purge's reach


def why_not_removable(root: Path, home: Path) -> str:
    """ "" when `home` may be emptied, else why not."""
    from swarmhub.local.paths import MARK

    if not (root / MARK).is_file():
        return f"{root} was not made by swarmhub (no {MARK}): homes are kept"
    if home.is_symlink() or not home.is_dir():
        return f"{home} is not a directory of its own"
    if home.resolve().parent != root.resolve():
        return f"{home} is not right inside {root}"
    return ""


def archive(
    cfg,
    target: str,
    *,
    course: str,
    users: str | None = None,
    roster: str | None = None,
    to: str | None = None,
    homes: str | None = None,
    keep_homes: bool = False,
    expire_days: int = 400,
    store=None,
) -> list:
    from swarmhub.archive.homes import NOTE, archive_home
    from swarmhub.archive.store import S3Store, store_for

    names = course_users(cfg, course, users, roster)
    root = homes_root(cfg, target, homes)
    store = store or store_for(default_store(cfg, target, to))
    if isinstance(store, S3Store):
        rule = store.ensure_lifecycle(30, expire_days)
        print(f"s3://{store.bucket}: lifecycle rule {rule['ID']} on {rule['Filter']['Prefix']!r}")
    done, problems = [], []
    for user in names:
        home = root / user
        if not home.is_dir():
            print(f"{user}: no home at {home}, skipped")
            continue
        if [p.name for p in home.iterdir()] in ([], [NOTE]):
            print(f"{user}: nothing to archive (already archived, or empty)")
            continue
        try:
            a = archive_home(
                user, home, store, course,
                remove=not keep_homes, removable=why_not_removable(root, home),
            )  # fmt: skip
        except (SwarmhubError, OSError) as exc:
            problems.append(f"{user}: {exc}")
            print(f"{user}: NOT archived, home kept: {exc}")
            continue
        kept = f"; home kept: {a.kept_because}" if a.kept_because else f"; {a.removed} removed"
        print(f"{user}: {a.files} files, {a.bytes / 1024**2:.1f} MiB -> {a.where}{kept}")
        done.append(a)
    if problems:
        raise SwarmhubError(f"{len(problems)} of {len(names)} homes not archived")
    return done


def restore(
    cfg,
    target: str,
    *,
    user: str,
    course: str | None = None,
    source: str | None = None,
    homes: str | None = None,
    overwrite: bool = False,
    store=None,
):
    from swarmhub.archive.restoring import newest, restore_home
    from swarmhub.archive.store import store_for

    course_users(cfg, course or "", user, None)  # the same check of the name
    root = homes_root(cfg, target, homes)
    store = store or store_for(default_store(cfg, target, source))
    key = newest(store, user, course)
    home = root / user
    if home.is_symlink():
        raise SwarmhubError(f"{home} is a symlink: refused")
    r = restore_home(user, home, store, key, overwrite=overwrite)
    print(
        f"{user}: restored {r.files} files from {store.where(key)} "
        f"({r.skipped_same} already there, identical); checksums match"
    )
    return r
