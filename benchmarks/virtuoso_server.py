"""A throw-away OpenLink Virtuoso 7 server on loopback, for the `sparql` engine rows
of `kg bench` (benchmarks/scale.py) and for the integration tests (tests/virtuoso_server.py
re-exports it: the benchmarks never import from tests/, so the one copy lives here).

    from benchmarks.virtuoso_server import start

    server = start(tmp_path / "virtuoso")   # fresh database in that directory, ~2.2 s
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

Digest only: Basic credentials are refused. urllib's ``HTTPDigestAuthHandler``
(see `Virtuoso.opener`) first sends each request without credentials and repeats
it after the 401; Virtuoso answers that 401 without reading the body and closes
the connection, so a body of about 1 MB or more fails now and then, and one of
2 MB or more always, with "broken pipe" / "connection reset". Keep bodies at or
below about 0.5 MB, or send a precomputed digest ``Authorization`` header (the
nonce from one 401 is accepted again on later requests and on other endpoints).

A fresh database holds three system graphs (about 2,500 triples, nearly all in
``virtrdf#``) that are part of the union default graph; `Virtuoso.hide_system_graphs`
hides them from the anonymous endpoint.

Only the standard library is used; the server needs the Debian package
``virtuoso-opensource`` (the binary is in ``virtuoso-opensource-7-bin``).
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SYSTEM_GRAPHS", "Virtuoso", "VirtuosoError", "start"]

BINARY = "virtuoso-t"
HOST = "127.0.0.1"
LOG_TAIL_LINES = 20

# ~8 KB per buffer: 170000 buffers is about 1.3 GB of page cache, the figure the
# Virtuoso documentation suggests for a 2 GB machine (enough for ~1M triples).
DEFAULT_NUMBER_OF_BUFFERS = 170_000
DEFAULT_MAX_DIRTY_BUFFERS = 130_000

# The graphs a fresh Virtuoso 7.2.5 database contains (the last one is its service
# description, named after the unset [URIQA] DefaultHost).
SYSTEM_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/sparql",
)
PRIVATE_GRAPHS = "http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs"

INI_TEMPLATE = """\
; Written by benchmarks/virtuoso_server.py: a throw-away Virtuoso for benchmarks.
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
        """A urllib opener that answers the digest challenge of the ``-auth`` endpoints
        (keep request bodies at or below about 0.5 MB, see the module docstring)."""
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, self.base_url, self.user, self.password)
        return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))

    def sql(self, *statements: str, timeout: float = 60.0) -> str:
        """Run SQL statements as `user` with ``isql-vt``; return its output.
        Raises `VirtuosoError` if isql is missing or reports an error."""
        isql = shutil.which("isql-vt")
        if isql is None:
            raise VirtuosoError("'isql-vt' not found on PATH: install the Debian package "
                                "virtuoso-opensource (the binary is in virtuoso-opensource-7-bin)")
        script = " ".join(s.strip().rstrip(";") + ";" for s in statements)
        p = subprocess.run([isql, f"{HOST}:{self.sql_port}", self.user, self.password,
                            f"exec={script}"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        output = p.stdout + p.stderr
        if p.returncode or "*** Error" in output:  # isql exits 0 after SQL errors
            raise VirtuosoError(f"isql-vt failed (status {p.returncode}) on {script!r}:\n{output}")
        return output

    def hide_system_graphs(self) -> None:
        """Make `SYSTEM_GRAPHS` private (graph-level security), so anonymous queries
        on `query_url` neither see them in the union default graph nor by name.
        `user` (dba) still sees them on `update_url`. Persists in the database."""
        self.sql(f"DB.DBA.RDF_GRAPH_GROUP_CREATE ('{PRIVATE_GRAPHS}', 1)",
                 *(f"DB.DBA.RDF_GRAPH_GROUP_INS ('{PRIVATE_GRAPHS}', '{g}')" for g in SYSTEM_GRAPHS),
                 "DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 0, 1)",  # private graphs: none
                 "DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 1)")     # all others: read

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate the server (SIGTERM), wait, SIGKILL if it lingers. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Virtuoso:
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
    log_offset = log.stat().st_size if log.exists() else 0  # a reused directory keeps its log
    # +foreground also echoes the log to the console: keep that in a file, not a pipe
    # nobody reads (a full pipe would block the server).
    console = directory / "virtuoso.console"
    with open(console, "wb") as out:
        process = subprocess.Popen([executable, "+foreground", "+configfile", str(ini)],
                                   cwd=directory, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Virtuoso(directory, http_port, sql_port, process)

    try:
        _wait_until_ready(server, timeout, log, log_offset, console)
    except BaseException:  # VirtuosoError, but also e.g. KeyboardInterrupt: no orphan server
        server.stop(timeout=10)
        raise
    return server


def _wait_until_ready(server: Virtuoso, timeout: float, log: Path, log_offset: int,
                      console: Path) -> None:
    """Poll ``ASK {}`` on the query endpoint until it answers with a JSON boolean."""
    url = server.query_url + "?" + urllib.parse.urlencode({"query": "ASK {}"})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        code = server.process.poll()
        if code is not None:
            new_log = _read(log)[log_offset:] + _read(console)
            raise VirtuosoError(f"virtuoso-t exited with status {code} during start-up "
                                f"(HTTP port {server.http_port}, SQL port {server.sql_port})"
                                f"{_busy_hint(server, new_log)}\n{_tail(log, console)}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
            if "boolean" in json.loads(body):
                return
            last = f"unexpected answer {body[:200]!r}"
        except urllib.error.HTTPError as e:  # e.g. 503 while the server is still initialising
            last = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            last = str(e)
        if time.monotonic() > deadline:
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


def _busy_hint(server: Virtuoso, text: str) -> str:
    """Why start-up failed, if the log `text` says a port could not be bound."""
    busy = [f"{what} port {port}" for what, port, marker in (
        ("HTTP", server.http_port, "Failed HTTP listen"),
        ("SQL", server.sql_port, "Failed to start listening at SQL port"),
    ) if marker in text]
    if busy:
        return f": {' and '.join(busy)} busy (taken by another process after it was chosen?)"
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
