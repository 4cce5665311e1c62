"""Steward accounts: who may accept and revert change sets on the web (/steward).

The accounts live OUTSIDE the repository, in a JSON file named by KG_STEWARDS
(default ~/.config/bukhara-deer-kg/stewards.json): an object mapping each steward's
name to a salted password hash made by werkzeug.security.generate_password_hash
(scrypt, or pbkdf2:sha256 where scrypt is unavailable). No password is ever stored.

    kg steward add NAME        # prompts twice, or reads KG_STEWARD_PASSWORD
    kg steward remove NAME
    kg steward list

The file is written atomically (temporary file + rename) with mode 0600, in a
directory created with mode 0700. Shared by the CLI and the web app.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from kg.errors import BadInput

DEFAULT_PATH = Path("~/.config/bukhara-deer-kg/stewards.json")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
MIN_PASSWORD = 8
# checked against when the name is unknown, so that a wrong name costs as much time
# as a wrong password (no account enumeration by timing)
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a password: timing equaliser")


def accounts_path() -> Path:
    """The accounts file: $KG_STEWARDS, or ~/.config/bukhara-deer-kg/stewards.json."""
    return Path(os.environ.get("KG_STEWARDS") or DEFAULT_PATH).expanduser()


def load(path: Path | None = None) -> dict[str, str]:
    """name -> password hash; {} when the file does not exist. A malformed file is
    BadInput (never silently 'no accounts')."""
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
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise BadInput(f"{path}: expected a JSON object mapping steward names to password hashes")
    return data


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


def _write(accounts: dict[str, str], path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(sorted(accounts.items())), f, indent=2)
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
    """Create the account, or set a new password if it exists. Returns True if it is new."""
    path = path or accounts_path()
    name = check_name(name)
    check_password(password)
    accounts = load(path)
    new = name not in accounts
    accounts[name] = generate_password_hash(password)
    _write(accounts, path)
    return new


def remove(name: str, path: Path | None = None) -> None:
    path = path or accounts_path()
    accounts = load(path)
    if name not in accounts:
        raise BadInput(f"no steward named {name!r} in {path}")
    del accounts[name]
    _write(accounts, path)


def verify(name: str, password: str, path: Path | None = None) -> bool:
    """True if the name has an account and the password matches its hash."""
    accounts = load(path)
    stored = accounts.get((name or "").strip())
    ok = check_password_hash(stored or _dummy_hash(), password or "")
    return bool(stored) and ok


def exists(name: str | None, path: Path | None = None) -> bool:
    return bool(name) and name in load(path)
