"""A removed account or a reset password ends that user's sessions at once.

`python pipeline.py users remove` / `users add --reset` rewrite the accounts
file. The hub notices (AccountsAuthenticator looks every few seconds, and at
every start) and, for each user whose account is gone or whose password hash
is not the one the hub last saw:

- rotates the user's cookie id, which JupyterHub's sign-in cookie names: every
  browser signed in as them is signed out;
- deletes every token of theirs (API tokens, and the OAuth tokens a browser
  holds for their server);
- stops their server (removes its route first), so nothing keeps a cached
  token's access.

What the hub last saw is kept in a file beside its database
(`sessions-applied.json`, hash fingerprints only), so a reset made while the
hub was down, or before it restarted, still ends the old sessions.

`decide` is pure; `end_sessions` and `stop_servers` are the edge.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

APPLIED_FILE = "sessions-applied.json"


def fingerprint(stored_hash: str) -> str:
    """A short stand-in for a password hash: changes when the password is reset."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:24]


def decide(
    accounts: dict[str, str], applied: dict[str, str] | None, known: set[str]
) -> tuple[set[str], dict[str, str]]:
    """(users whose sessions end now, what to remember as applied).

    accounts: name -> fingerprint of the current hash; applied: what the hub
    last saw (None: it never wrote it down, the first start with this code);
    known: users in the hub's database. A user is ended when the hub saw a
    password for them and it is now another or gone. On the first start, users
    the hub knows who have no account are ended too (removed before the hub
    kept track). A user seen for the first time is only remembered.
    """
    ended = {n for n, fp in (applied or {}).items() if accounts.get(n) != fp}
    if applied is None:
        ended |= {n for n in known if n not in accounts}
    return ended, dict(accounts)


def read_applied(path: Path) -> dict[str, str] | None:
    """What the hub saw last; None when it has never written it."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treat as never seen, every reset is then a first sight
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_applied(path: Path, applied: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(applied, f, sort_keys=True)
    tmp.replace(path)


def end_sessions(db, names: set[str], log) -> list:
    """Sign out every browser of `names` and delete their tokens; returns the
    orm users touched (whose servers are then stopped)."""
    from jupyterhub import orm
    from jupyterhub.utils import new_token

    touched = []
    for name in sorted(names):
        user = orm.User.find(db, name)
        if user is None:
            continue
        tokens = list(user.api_tokens)
        for token in tokens:
            db.delete(token)
        user.cookie_id = new_token()
        touched.append(user)
        log.warning(
            "%s: account removed or password reset: signed out, %d token(s) deleted",
            name,
            len(tokens),
        )
    if touched:
        db.commit()
    return touched


async def stop_servers(app, orm_users: list, log) -> None:
    """Stop the servers of `orm_users`, route first, as the hub's own stop does."""
    users = getattr(app, "users", None)
    proxy = getattr(app, "proxy", None)
    if users is None:
        return
    for orm_user in orm_users:
        user = users[orm_user]
        for name, spawner in list(user.spawners.items()):
            if not spawner.ready or spawner.pending:
                continue
            try:
                if proxy is not None:
                    await proxy.delete_user(user, name)
                await user.stop(name)
                log.warning("%s: server stopped (account removed or password reset)", user.name)
            except Exception:  # one user's failure must not spare the others
                log.exception("%s: could not stop the server", user.name)
