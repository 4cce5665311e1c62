"""Steward accounts: who may accept and revert change sets on the web (/steward).

The accounts live OUTSIDE the repository, in a JSON file named by KG_STEWARDS
(default ~/.config/bukhara-deer-kg/stewards.json): an object mapping each steward's
name to {"hash": ..., "epoch": ...}. The hash is a salted password hash made by
werkzeug.security.generate_password_hash (scrypt, or pbkdf2:sha256 where scrypt is
unavailable); no password is ever stored. The epoch is a random session version:
a web session records the epoch it was opened under and is refused once it differs,
so setting a new password (`kg steward add NAME`) or `kg steward logout NAME` ends
every session of that steward, in every server process that reads the file.

Older files map a name straight to its hash string; they still load, with an epoch
derived from the hash (so it changes with the password too), and are written in the
new form the next time the file is written.

    kg steward add NAME        # prompts twice, or reads KG_STEWARD_PASSWORD
    kg steward remove NAME
    kg steward logout NAME     # end NAME's web sessions, password unchanged
    kg steward list

The file is written atomically (temporary file + rename) with mode 0600, in a
directory created with mode 0700. Shared by the CLI and the web app.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

from werkzeug.security import check_password_hash, generate_password_hash

from kg.errors import BadInput

DEFAULT_PATH = Path("~/.config/bukhara-deer-kg/stewards.json")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Account:
    hash: str   # werkzeug password hash
    epoch: str  # session version: changes with the password, or on `kg steward logout`


# checked against when the name is unknown, so that a wrong name costs as much time
# as a wrong password (no account enumeration by timing)
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a password: timing equaliser")


def _new_epoch() -> str:
    return secrets.token_urlsafe(16)


def _derived_epoch(password_hash: str) -> str:
    """The epoch of an old-format entry: stable while the hash is, new with a new password."""
    return "h-" + hashlib.sha256(password_hash.encode()).hexdigest()[:22]


def accounts_path() -> Path:
    """The accounts file: $KG_STEWARDS, or ~/.config/bukhara-deer-kg/stewards.json."""
    return Path(os.environ.get("KG_STEWARDS") or DEFAULT_PATH).expanduser()


def _account(value: object) -> Account | None:
    if isinstance(value, str):  # the old format: name -> hash
        return Account(value, _derived_epoch(value))
    if isinstance(value, dict) and isinstance(value.get("hash"), str):
        epoch = value.get("epoch")
        if epoch is None:
            return Account(value["hash"], _derived_epoch(value["hash"]))
        if isinstance(epoch, str) and epoch:
            return Account(value["hash"], epoch)
    return None


def load_accounts(path: Path | None = None) -> dict[str, Account]:
    """name -> Account; {} when the file does not exist. A malformed file is BadInput
    (never silently 'no accounts')."""
    path = path or accounts_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read the steward accounts file ({e})") from None
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    accounts = {k: _account(v) for k, v in data.items()} if isinstance(data, dict) else None
    if accounts is None or not all(isinstance(k, str) and a is not None for k, a in accounts.items()):
        raise BadInput(f"{path}: expected a JSON object mapping steward names to password hashes")
    return cast("dict[str, Account]", accounts)


def load(path: Path | None = None) -> dict[str, str]:
    """name -> password hash (see load_accounts)."""
    return {name: a.hash for name, a in load_accounts(path).items()}


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise BadInput(f"steward name {name!r}: use 1-64 letters, digits, spaces or . _ @ - "
                       "(starting with a letter or digit)")
    return name


def check_password(password: str) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise BadInput(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def _write(accounts: dict[str, Account], path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    data = {name: {"hash": a.hash, "epoch": a.epoch} for name, a in sorted(accounts.items())}
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def add(name: str, password: str, path: Path | None = None) -> bool:
    """Create the account, or set a new password if it exists (which also ends its
    sessions: a new epoch). Returns True if it is new."""
    path = path or accounts_path()
    name = check_name(name)
    check_password(password)
    accounts = load_accounts(path)
    new = name not in accounts
    accounts[name] = Account(generate_password_hash(password), _new_epoch())
    _write(accounts, path)
    return new


def end_sessions(name: str, path: Path | None = None) -> None:
    """A new epoch for the account: every web session of it is refused from now on."""
    path = path or accounts_path()
    accounts = load_accounts(path)
    if name not in accounts:
        raise BadInput(f"no steward named {name!r} in {path}")
    accounts[name] = Account(accounts[name].hash, _new_epoch())
    _write(accounts, path)


def remove(name: str, path: Path | None = None) -> None:
    path = path or accounts_path()
    accounts = load_accounts(path)
    if name not in accounts:
        raise BadInput(f"no steward named {name!r} in {path}")
    del accounts[name]
    _write(accounts, path)


def verify(name: str, password: str, path: Path | None = None) -> bool:
    """True if the name has an account and the password matches its hash."""
    account = load_accounts(path).get((name or "").strip())
    ok = check_password_hash(account.hash if account else _dummy_hash(), password or "")
    return account is not None and ok


def epoch(name: str | None, path: Path | None = None) -> str | None:
    """The account's session epoch; None when there is no such account."""
    account = load_accounts(path).get(name) if name else None
    return account.epoch if account else None


def exists(name: str | None, path: Path | None = None) -> bool:
    return bool(name) and name in load_accounts(path)
