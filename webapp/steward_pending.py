"""Pending additions: checked on /steward, not yet accepted. They stay on the server,
never in the browser: one N-Triples file + one JSON file per check in
STEWARD_PENDING_DIR (env KG_PENDING_DIR, default <KG_DIST>/.pending), named by a
random token that only the steward who made the check can use.

Bounded in time and space, so that checks nobody accepts cannot fill the disk:
- time: a check expires after STEWARD_PENDING_TTL seconds (KG_PENDING_TTL, default
  1 hour). Every store and every use sweeps the directory: expired checks go, and so
  do leftovers (a .nt without its .json, a .claimed file of an interrupted accept,
  temporary files) once they are older than the TTL, or than a minute for a .nt
  that lost its record.
- space: at most STEWARD_PENDING_PER_STEWARD checks per steward (KG_PENDING_PER_STEWARD,
  default 10) and STEWARD_PENDING_MAX_BYTES in all (KG_PENDING_MAX_BYTES, default
  100 MB). A new check that does not fit makes room by dropping the OLDEST checks
  first (the steward's own for the count, anyone's for the size; a check being
  accepted is never dropped). A check larger than the whole cap is refused
  (PendingTooLarge, HTTP 507): nothing is stored.
The sizes are enforced under a lock per process; several processes sharing the
directory may overshoot by the checks they store at the same instant.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from kg import rdfio

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
DEFAULT_TTL = 3600
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_PER_STEWARD = 10
ORPHAN_GRACE = 60  # seconds a .nt may wait for its .json (written right after it)
_LOCK = threading.Lock()


class PendingTooLarge(Exception):
    """The check alone is larger than the space for pending checks."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} > {limit}")
        self.size, self.limit = size, limit


@dataclass
class PendingAddition:
    token: str
    graph: Graph
    steward: str
    name: str
    replace: bool
    conforms: bool
    created: float


@dataclass
class _Entry:
    token: str
    steward: str
    created: float
    size: int


class PendingStore:
    def __init__(self, directory: Path, ttl: float = DEFAULT_TTL, max_bytes: int = DEFAULT_MAX_BYTES,
                 per_steward: int = DEFAULT_PER_STEWARD) -> None:
        self.directory = Path(directory)
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.per_steward = max(1, per_steward)

    def _dir(self) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.directory

    # -- bounds -------------------------------------------------------------------

    def _files(self) -> list[tuple[Path, os.stat_result]]:
        out = []
        for f in self._dir().iterdir():
            try:
                st = f.lstat()
            except FileNotFoundError:
                continue
            if f.is_file() and not f.is_symlink():
                out.append((f, st))
        return out

    def sweep(self) -> None:
        """Delete expired checks and leftovers (see the module docstring)."""
        now = time.time()
        files = self._files()
        names = {f.name for f, _ in files}
        for f, st in files:
            expired = st.st_mtime < now - self.ttl
            orphan = (f.suffix == ".nt" and st.st_mtime < now - ORPHAN_GRACE
                      and f"{f.stem}.json" not in names and f"{f.stem}.claimed" not in names)
            if expired or orphan:
                f.unlink(missing_ok=True)

    def _entries(self) -> tuple[list[_Entry], int]:
        """The waiting (unclaimed) checks, oldest first, and the bytes of every file."""
        files = self._files()
        sizes = {f.name: st.st_size for f, st in files}
        entries = []
        for f, st in files:
            if f.suffix != ".json" or f.name.startswith("."):
                continue
            try:
                meta = json.loads(f.read_bytes())
            except (OSError, ValueError):
                continue
            entries.append(_Entry(f.stem, str(meta.get("steward", "")), float(meta.get("created") or st.st_mtime),
                                  st.st_size + sizes.get(f"{f.stem}.nt", 0)))
        return sorted(entries, key=lambda e: e.created), sum(sizes.values())

    def _make_room(self, steward: str, size: int) -> None:
        if size > self.max_bytes:
            raise PendingTooLarge(size, self.max_bytes)
        entries, total = self._entries()
        mine = [e for e in entries if e.steward == steward]
        for e in mine[:max(0, len(mine) - self.per_steward + 1)]:
            self.drop(e.token)
            total -= e.size
            entries.remove(e)
        for e in entries:
            if total + size <= self.max_bytes:
                break
            self.drop(e.token)
            total -= e.size
        if total + size > self.max_bytes:  # checks being accepted hold the space
            raise PendingTooLarge(size, self.max_bytes - max(0, total))

    # -- the checks ----------------------------------------------------------------

    def put(self, g: Graph, *, steward: str, name: str, replace: bool, conforms: bool) -> str:
        nt = g.serialize(format="nt", encoding="utf-8")
        meta = {"steward": steward, "name": name, "replace": replace, "conforms": conforms, "created": time.time()}
        record = json.dumps(meta).encode()
        token = secrets.token_urlsafe(24)
        with _LOCK:
            self.sweep()
            self._make_room(steward, len(nt) + len(record))
            d = self._dir()
            rdfio.atomic_write(d / f"{token}.nt", nt)
            rdfio.atomic_write(d / f"{token}.json", record)  # written last: the record is complete
        return token

    def get(self, token: str, steward: str) -> PendingAddition | None:
        if not token or not TOKEN_RE.match(token):
            return None
        self.sweep()
        d = self._dir()
        try:
            meta = json.loads((d / f"{token}.json").read_text(encoding="utf-8"))
            nt = (d / f"{token}.nt").read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("steward") != steward:
            return None
        if meta.get("created", 0) < time.time() - self.ttl:
            self.drop(token)
            return None
        g = Graph().parse(data=nt.decode("utf-8"), format="nt")
        return PendingAddition(token, g, meta["steward"], meta.get("name", ""), bool(meta.get("replace")),
                               bool(meta.get("conforms")), meta.get("created", 0))

    def claim(self, token: str) -> bool:
        """Take the check for this request only (an atomic rename): a double click or two
        tabs cannot accept the same check twice."""
        d = self._dir()
        try:
            os.rename(d / f"{token}.json", d / f"{token}.claimed")
        except FileNotFoundError:
            return False
        return True

    def drop(self, token: str) -> None:
        d = self._dir()
        for suffix in (".json", ".claimed", ".nt"):
            (d / f"{token}{suffix}").unlink(missing_ok=True)
