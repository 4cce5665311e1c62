"""Server-side records of steward sessions, so that a session can end on the server.

Flask's session is a signed cookie: on its own, a copied cookie would stay valid
after log-out until it expires. So log-in also writes a record, one small file per
session in STEWARD_SESSION_DIR (env KG_SESSION_DIR, default <KG_DIST>/.sessions,
mode 0700), named by the SHA-256 of a random session id that only the cookie holds.
A session counts only while its record exists; log-out deletes it. Files rather
than memory, so that several server processes sharing the directory agree, and
sessions survive a restart (when KG_SECRET_KEY is set, so that the cookies do too).

Records older than STEWARD_SESSION_MAX_AGE seconds (env KG_SESSION_MAX_AGE, default
12 hours) are refused and swept at the next log-in; a steward keeps at most
STEWARD_SESSIONS_PER_STEWARD records (default 20; the oldest go first), so the
directory cannot grow without bound.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path

SID_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
DEFAULT_MAX_AGE = 12 * 3600
DEFAULT_PER_STEWARD = 20


class SessionRecords:
    def __init__(self, directory: Path, max_age: int = DEFAULT_MAX_AGE,
                 per_steward: int = DEFAULT_PER_STEWARD) -> None:
        self.directory = Path(directory)
        self.max_age = max_age
        self.per_steward = per_steward

    def _file(self, sid: str) -> Path | None:
        if not isinstance(sid, str) or not SID_RE.match(sid):
            return None
        return self.directory / hashlib.sha256(sid.encode()).hexdigest()

    def create(self, steward: str) -> str:
        """A new session id for the steward, recorded on disk."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sweep(steward)
        sid = secrets.token_urlsafe(32)
        path = self._file(sid)
        data = json.dumps({"steward": steward, "created": time.time()}).encode()
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return sid

    def _read(self, path: Path) -> dict | None:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def valid(self, sid: str | None, steward: str) -> bool:
        """Is this session id recorded, for this steward, and young enough?"""
        path = self._file(sid) if sid else None
        data = self._read(path) if path else None
        if not data or data.get("steward") != steward:
            return False
        created = data.get("created")
        return isinstance(created, (int, float)) and created > time.time() - self.max_age

    def delete(self, sid: str | None) -> None:
        path = self._file(sid) if sid else None
        if path is not None:
            path.unlink(missing_ok=True)

    def sweep(self, steward: str | None = None) -> None:
        """Delete expired records (and leftovers); keep the steward's newest
        per_steward - 1, making room for the one about to be created."""
        if not self.directory.is_dir():
            return
        cutoff = time.time() - self.max_age
        mine: list[tuple[float, Path]] = []
        for f in self.directory.iterdir():
            try:
                st = f.lstat()
            except FileNotFoundError:
                continue
            if not f.is_file() or f.is_symlink():
                continue
            if st.st_mtime < cutoff:
                f.unlink(missing_ok=True)
                continue
            if steward is not None and not f.name.startswith("."):
                data = self._read(f)
                if data and data.get("steward") == steward:
                    mine.append((float(data.get("created") or 0), f))
        mine.sort()
        for _, f in mine[:max(0, len(mine) - self.per_steward + 1)]:
            f.unlink(missing_ok=True)
