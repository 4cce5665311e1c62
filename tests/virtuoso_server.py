"""A throw-away OpenLink Virtuoso 7 server on loopback, for integration tests.

    from tests.virtuoso_server import start

    server = start(tmp_path / "virtuoso")       # fresh database in that directory
    try:
        ...  # server.query_url, server.update_url, server.gsp_url (user dba, password dba)
    finally:
        server.stop()

`start` writes a minimal ``virtuoso.ini`` into the directory (database, temporary
database, log and an empty HTTP root all live there), picks two free loopback
ports (SQL and HTTP), runs ``virtuoso-t +foreground +configfile virtuoso.ini`` and
returns once ``/sparql`` answers ``ASK {}``. If anything goes wrong it kills the
process and raises `VirtuosoError`, whose message says why (binary missing, port
busy, the server exited, or it did not answer in time; the last lines of
``virtuoso.log`` are included).

The three HTTP endpoints (they exist in a fresh database, no VAD packages needed):

* ``query_url``  -- ``/sparql``: SPARQL 1.1 Protocol, anonymous, read-only
  (the anonymous ``SPARQL`` account may not update).
* ``update_url`` -- ``/sparql-auth``: the same endpoint behind HTTP *digest*
  authentication; with the ``dba`` account it accepts SPARQL Update.
* ``gsp_url``    -- ``/sparql-graph-crud-auth``: SPARQL 1.1 Graph Store HTTP
  Protocol (``?graph=<iri>``) behind HTTP digest authentication.

Only the standard library is used; the server needs the Debian package
``virtuoso-opensource`` (the binary is in ``virtuoso-opensource-7-bin``).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Virtuoso", "VirtuosoError", "start"]

BINARY = "virtuoso-t"
HOST = "127.0.0.1"
LOG_TAIL_LINES = 20

# ~8 KB per buffer: 170000 buffers is about 1.3 GB of page cache, the figure the
# Virtuoso documentation suggests for a 2 GB machine (enough for ~1M triples).
DEFAULT_NUMBER_OF_BUFFERS = 170_000
DEFAULT_MAX_DIRTY_BUFFERS = 130_000

INI_TEMPLATE = """\
; Written by tests/virtuoso_server.py: a throw-away Virtuoso for tests.
[Database]
DatabaseFile       = {d}/virtuoso.db
ErrorLogFile       = {d}/virtuoso.log
LockFile           = {d}/virtuoso.lck
TransactionFile    = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {d}/virtuoso-temp.db
TransactionFile    = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = {host}:{sql_port}
DisableUnixSocket    = 1
MaxClientConnections = 10
CheckpointInterval   = 60
CaseMode             = 2
DirsAllowed          = ., {d}
NumberOfBuffers      = {number_of_buffers}
MaxDirtyBuffers      = {max_dirty_buffers}

[HTTPServer]
ServerPort           = {host}:{http_port}
ServerRoot           = {d}/www
MaxClientConnections = 10
EnabledDavVSP        = 0
HTTPProxyEnabled     = 0
Charset              = UTF-8

[SPARQL]
ResultSetMaxRows           = 1000000
MaxConstructTriples        = 1000000
MaxQueryExecutionTime      = 0
MaxQueryCostEstimationTime = 0
"""


class VirtuosoError(RuntimeError):
    """The server could not be started (the message says why)."""


@dataclass
class Virtuoso:
    """A running server started by `start`; call `stop` when done."""

    directory: Path
    http_port: int
    sql_port: int
    process: subprocess.Popen
    user: str = "dba"
    password: str = "dba"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def query_url(self) -> str:
        """SPARQL 1.1 Protocol endpoint, anonymous, read-only."""
        return f"{self.base_url}/sparql"

    @property
    def update_url(self) -> str:
        """SPARQL endpoint that accepts updates, with HTTP digest auth (user/password)."""
        return f"{self.base_url}/sparql-auth"

    @property
    def gsp_url(self) -> str:
        """SPARQL 1.1 Graph Store Protocol endpoint, with HTTP digest auth (user/password)."""
        return f"{self.base_url}/sparql-graph-crud-auth"

    @property
    def log_file(self) -> Path:
        return self.directory / "virtuoso.log"

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener that answers the digest challenge of the ``-auth`` endpoints."""
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, self.base_url, self.user, self.password)
        return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate the server (SIGTERM), wait, SIGKILL if it lingers. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Virtuoso":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(directory: Path, timeout: float = 60.0, *,
          number_of_buffers: int = DEFAULT_NUMBER_OF_BUFFERS,
          max_dirty_buffers: int = DEFAULT_MAX_DIRTY_BUFFERS,
          http_port: int | None = None, sql_port: int | None = None,
          binary: str = BINARY) -> Virtuoso:
    """Start Virtuoso with its database in `directory` (created if missing) and wait
    until ``/sparql`` answers ``ASK {}``. Ports default to two free loopback ports.

    A database already in `directory` is reused; for a fresh one pass a new or empty
    directory. Raises `VirtuosoError` (after killing the process) on failure.
    """
    executable = shutil.which(binary)
    if executable is None:
        raise VirtuosoError(f"{binary!r} not found on PATH: install the Debian package "
                            f"virtuoso-opensource (the binary is in virtuoso-opensource-7-bin)")
    directory = Path(directory).resolve()
    (directory / "www").mkdir(parents=True, exist_ok=True)
    http_port = _check_port(http_port, "HTTP")
    sql_port = _check_port(sql_port, "SQL")
    if http_port == sql_port:
        raise VirtuosoError(f"HTTP and SQL port are the same ({http_port})")

    ini = directory / "virtuoso.ini"
    ini.write_text(INI_TEMPLATE.format(
        d=directory, host=HOST, http_port=http_port, sql_port=sql_port,
        number_of_buffers=number_of_buffers, max_dirty_buffers=max_dirty_buffers))
    log = directory / "virtuoso.log"
    # +foreground also echoes the log to the console: keep that in a file, not a pipe
    # nobody reads (a full pipe would block the server).
    console = directory / "virtuoso.console"
    with open(console, "wb") as out:
        process = subprocess.Popen([executable, "+foreground", "+configfile", str(ini)],
                                   cwd=directory, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Virtuoso(directory, http_port, sql_port, process)

    url = server.query_url + "?" + urllib.parse.urlencode({"query": "ASK {}"})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        code = process.poll()
        if code is not None:
            raise VirtuosoError(f"virtuoso-t exited with status {code} during start-up "
                                f"(HTTP port {http_port}, SQL port {sql_port})"
                                f"{_busy_hint(log, console)}\n{_tail(log, console)}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
            if "boolean" in json.loads(body):
                return server
            last = f"unexpected answer {body[:200]!r}"
        except urllib.error.HTTPError as e:  # e.g. 503 while the server is still initialising
            last = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            last = str(e)
        if time.monotonic() > deadline:
            server.stop(timeout=10)
            raise VirtuosoError(f"Virtuoso did not answer ASK on {server.query_url} within "
                                f"{timeout:g} s (last: {last})\n{_tail(log, console)}")
        time.sleep(0.2)


def _check_port(port: int | None, what: str) -> int:
    """A free loopback port: `port` itself if given (after checking it), else any."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port or 0))
        except OSError as e:
            raise VirtuosoError(f"{what} port {HOST}:{port} is busy ({e.strerror})") from None
        return s.getsockname()[1]


def _busy_hint(*files: Path) -> str:
    text = "".join(_read(f) for f in files)
    if "Address already in use" in text or "Failed to start listening" in text:
        return ": a port is busy (taken between choosing and binding it?); try again"
    return ""


def _tail(log: Path, console: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of virtuoso.log (or of the console output if there is no log)."""
    source = log if _read(log).strip() else console
    tail = _read(source).splitlines()[-lines:]
    body = "\n".join(tail) if tail else "(empty)"
    return f"--- last {len(tail)} lines of {source} ---\n{body}"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
