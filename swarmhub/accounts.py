"""Per-user accounts of the local target: one identity per student.

`python pipeline.py users add alice bob` (or `--from roster.csv`) makes a
random password for each new name, prints it once, and stores only its scrypt
hash in `<state_dir>/hub/accounts.json`, the file the hub reads as
/srv/jupyterhub/accounts.json (swarmhub.hub.auth.AccountsAuthenticator, which
re-reads it when it changes). Nothing here needs Docker or the hub running.

Hashes: stdlib hashlib.scrypt (docs/decisions/0020-per-user-accounts.md).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from swarmhub.config.hub import USERNAME, USERNAME_RULE
from swarmhub.errors import SwarmhubError

FILE_NAME = "accounts.json"
# scrypt cost: N=2^15, r=8, p=3 is one of OWASP's equal-strength choices and
# needs 32 MiB per hash, so a class signing in at once cannot exhaust the hub's
# memory; the parameters are stored with each hash and can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
_MAXMEM = 64 * 1024**2
# Passwords handed to students: 12 characters of an alphabet without look-alikes
# (no 0/o, 1/l/i), ~59 bits: far beyond guessing through a login form.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def accounts_file(cfg) -> Path:
    from swarmhub.local.paths import paths

    return paths(cfg).hub_state / FILE_NAME


def new_password() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    n, r, p = SCRYPT_N, SCRYPT_R, SCRYPT_P
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a stored hash; False if malformed."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches, checked for unknown names so that a wrong name
    takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def read(path: Path) -> dict[str, dict]:
    """name -> {"hash": ..., "created": ...}; an absent file is no accounts."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SwarmhubError(f"{path}: cannot read the accounts: {exc}") from None
    users = data.get("users", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in users.items() if isinstance(v, dict) and "hash" in v}


def _write(path: Path, users: dict[str, dict]) -> None:
    # Written whole and renamed into place: the hub never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"version": 1, "users": users}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def check_names(names: Iterable[str]) -> list[str]:
    """Lower-cased, each a valid user name (it names a home directory); in order, once."""
    out: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not USERNAME.match(name):
            raise SwarmhubError(f"`{raw}` is not a user name ({USERNAME_RULE})")
        if name not in out:
            out.append(name)
    return out


def add(
    path: Path, names: Iterable[str], *, reset: bool = False
) -> tuple[dict[str, str], list[str]]:
    """Make accounts; return ({name: its new password}, [names kept as they were]).
    An existing account keeps its password unless `reset`."""
    names = check_names(names)
    made: dict[str, str] = {}
    kept: list[str] = []
    with _locked(path):
        users = read(path)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for name in names:
            if name in users and not reset:
                kept.append(name)
                continue
            password = new_password()
            users[name] = {"hash": hash_password(password), "created": now}
            made[name] = password
        if made:
            _write(path, users)
    return made, kept


def remove(path: Path, names: Iterable[str]) -> list[str]:
    """Delete accounts; return the names that had none."""
    names = check_names(names)
    with _locked(path):
        users = read(path)
        missing = [n for n in names if n not in users]
        for name in names:
            users.pop(name, None)
        _write(path, users)
    return missing


def roster(path: Path) -> list[str]:
    """User names from a roster CSV: the column `username` (or `user`, `login`, `name`)
    if there is a header, else the first column; blank lines and # comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SwarmhubError(f"{path}: no such roster file") from None
    except UnicodeDecodeError:
        raise SwarmhubError(f"{path}: is not UTF-8; save the roster as UTF-8 CSV") from None
    except OSError as exc:
        raise SwarmhubError(f"{path}: cannot read: {exc.strerror}") from None
    rows = [
        r for r in csv.reader(text.splitlines()) if r and r[0].strip() and not r[0].startswith("#")
    ]
    if not rows:
        raise SwarmhubError(f"{path}: the roster names nobody")
    header = [c.strip().lower() for c in rows[0]]
    column = next(
        (header.index(k) for k in ("username", "user", "login", "name") if k in header), None
    )
    if column is not None:
        rows = rows[1:]
    else:
        column = 0
    names = []
    for row in rows:
        if column >= len(row) or not row[column].strip():
            raise SwarmhubError(f"{path}: the row {','.join(row)!r} has no user name")
        names.append(row[column])
    try:
        return check_names(names)
    except SwarmhubError as exc:
        raise SwarmhubError(f"{path}: {exc}") from None


def ensure_admins(path: Path, admin_users: Iterable[str]) -> dict[str, str]:
    """Accounts for the configured admins that have none yet: {name: new password}.
    For `deploy` to print once (see `login_lines`)."""
    return add(path, admin_users)[0]


def after_deploy(cfg) -> list[str]:
    """For local `deploy`, once the hub answers: make the admins' missing accounts and
    return the lines to print after "The hub is up: ..." (new passwords, once)."""
    made = {}
    if cfg.hub.auth.kind == "accounts":
        made = ensure_admins(accounts_file(cfg), cfg.hub.auth.admin_users)
    return login_lines(cfg, made)


def shared_password_warning(cfg) -> str | None:
    """The warning `validate` and `deploy` print for the workshop mode; None otherwise."""
    if cfg.hub.auth.kind != "shared-password":
        return None
    return (
        "hub.auth.kind is shared-password: anyone with the class password can sign in "
        "under any name, and read and change that user's work. Use it only for a "
        "workshop; for a class, remove `kind` (per-user accounts are the default) "
        "and run `python pipeline.py users add --from roster.csv`"
    )


def login_lines(cfg, new_admin_passwords: dict[str, str] | None = None) -> list[str]:
    """How to sign in, for `deploy` to print after "The hub is up: ..."."""
    from swarmhub.local.paths import paths

    p = paths(cfg)
    auth = cfg.hub.auth
    if auth.kind == "github":
        return ["  sign in with GitHub"]
    if auth.kind == "shared-password":
        admins = ", ".join(auth.admin_users)
        return [
            f"  admin users ({admins}): password in {p.secrets}/swarmhub-admin-password",
            f"  students (any user name): class password in {p.secrets}/swarmhub-user-password",
            f"  warning: {shared_password_warning(cfg)}",
        ]
    lines = []
    for name, password in (new_admin_passwords or {}).items():
        lines.append(f"  admin {name}: password {password}  (shown once; it is stored only hashed)")
    users = read(p.hub_state / FILE_NAME)
    students = [n for n in users if n not in auth.admin_users]
    lines.append(
        f"  {len(students)} student account(s); add more: python pipeline.py users add NAME... "
        "or --from roster.csv (each password is shown once)"
    )
    return lines


# --- the `users` commands -------------------------------------------------------------


def _cli(func):
    import functools
    import sys

    import click

    @functools.wraps(func)
    def wrapper(config_path: str, *args):
        from swarmhub.config import load_config

        try:
            cfg = load_config(config_path, missing_ok=config_path == "swarmhub.yaml")
            if cfg.hub.auth.kind != "accounts":
                click.echo(
                    f"warning: hub.auth.kind is {cfg.hub.auth.kind}: the hub does not use these "
                    "accounts until it is `accounts` (the default)",
                    err=True,
                )
            return func(cfg, *args)
        except SwarmhubError as exc:
            for line in str(exc).splitlines():
                click.echo(f"error: {line}", err=True)
            sys.exit(1)
        except PermissionError as exc:
            click.echo(f"error: {exc.filename}: permission denied; run as root", err=True)
            sys.exit(1)

    return wrapper


@_cli
def cli_add(cfg, names, roster_path, reset) -> None:
    import click

    wanted = list(names) + (roster(Path(roster_path)) if roster_path else [])
    if not wanted:
        raise SwarmhubError("name at least one user, or give --from roster.csv")
    path = accounts_file(cfg)
    made, kept = add(path, wanted, reset=reset)
    if kept:
        click.echo(
            f"kept {len(kept)} existing account(s) as they were ({', '.join(kept)}); "
            "--reset gives them new passwords",
            err=True,
        )
    if made:
        click.echo(
            f"{len(made)} new password(s), shown this once (only their hashes are kept in "
            f"{path}); hand each to its student:",
            err=True,
        )
        click.echo("username,password")
        for name, password in made.items():
            click.echo(f"{name},{password}")


@_cli
def cli_remove(cfg, names) -> None:
    import click

    missing = remove(accounts_file(cfg), names)
    if missing:
        click.echo(f"no account for: {', '.join(missing)}", err=True)
    click.echo(f"removed {len(set(check_names(names))) - len(missing)} account(s)", err=True)


@_cli
def cli_list(cfg) -> None:
    import click

    users = read(accounts_file(cfg))
    admins = set(cfg.hub.auth.admin_users)
    for name in sorted(users):
        role = "admin" if name in admins else "user"
        click.echo(f"{name}\t{role}\t{users[name].get('created', '')}")
    click.echo(f"{len(users)} account(s) in {accounts_file(cfg)}", err=True)
