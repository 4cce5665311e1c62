"""The W3C SPARQL 1.1 Protocol, result-format (JSON, CSV, TSV) and service-description
suites, run over HTTP against /sparql as `kg serve` answers it.

Why over HTTP: these suites are about requests and responses (methods, media types,
status codes, bodies), so each dataset gets a real server: a temporary dist/ whose
dataset.nq holds the suite's data files as named graphs named by their IRIs (the
Protocol tests' http://kasei.us/... IRIs, the W3C test-file IRIs otherwise), loaded
into an Oxigraph generation with the store's own helpers, then `kg serve` on a free
loopback port. Nothing is fetched from the network.

How each area is judged:
  protocol      every request of a test as its manifest describes it (method, path,
                headers, body in its character encoding); the status class, the
                media type of the expected format (boolean: SPARQL XML or JSON
                results; tabular: those or CSV/TSV; RDF: RDF/XML, Turtle, N-Triples)
                and the boolean are checked. A test that needs an update to succeed
                is not applicable to this read-only endpoint; its update must get the
                refusal docs/web.md promises (403, one text/plain line saying
                read-only), or the test fails.
  json-res      the query with Accept: application/sparql-results+json, and again
  csv-tsv-res   with ?format= and no Accept; both answers must equal the expected
                file: same variables, same solutions as a multiset, blank nodes up to
                renaming. JSON compares terms exactly (datatype, language); TSV keeps
                types, and numbers of one datatype compare by value (the expected
                files rewrite 1.0E6 as 1.0e6); CSV has no types, so cells compare as
                text.
  service-description  as the W3C validator (github.com/kasei/sparql11-sdvalidator)
                defines its three tests, with a GET on the endpoint and no query.
"""
from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection

SUITE_BASE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/"
AREAS = ("protocol", "json-res", "csv-tsv-res", "service-description")

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
DAWGT = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#")
SD = "http://www.w3.org/ns/sparql-service-description#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
SRX = "{http://www.w3.org/2005/sparql-results#}"

RESULT_MEDIA = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
                "csv": "text/csv", "tsv": "text/tab-separated-values"}
RESULT_FILES = {".srj": "json", ".srx": "xml", ".csv": "csv", ".tsv": "tsv"}
RDF_MEDIA = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
             "application/rdf+xml": ox.RdfFormat.RDF_XML, "application/ld+json": ox.RdfFormat.JSON_LD}
# The Accept header of the W3C service-description validator (RDF::Trine's default:
# RDF/XML and Turtle first, then every other syntax it parses, RDFa included).
SD_RDF_ACCEPT = ("application/rdf+xml;q=1.0,text/turtle;q=1.0,application/x-turtle;q=0.9,"
                 "application/n-triples;q=0.9,text/plain;q=0.9,application/n-quads;q=0.9,"
                 "application/trig;q=0.9,application/json;q=0.9,application/xhtml+xml;q=0.9,"
                 "text/html;q=0.9")
# What curl, requests and most HTTP libraries send when told nothing.
SD_ANY_ACCEPT = "*/*"
READ_ONLY_STATUS = 403  # docs/web.md: "It is read-only: SPARQL Update gets 403."
SERVER_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Outcome:
    """One manifest entry: pass, fail or na (not applicable to a read-only endpoint)."""
    area: str
    test: str
    status: str
    detail: str = ""


# ---------------------------------------------------------------------------
# Manifests and the suite's files.

def area_dir(suite: Path, area: str) -> Path:
    return suite / "sparql" / "sparql11" / area


def manifest(suite: Path, area: str) -> rdflib.Graph:
    """An area's manifest, its relative IRIs resolved against the W3C IRI of the file
    (so data files are named as the suites name them, never by a local path)."""
    g = rdflib.Graph()
    g.parse(area_dir(suite, area) / "manifest.ttl", format="turtle",
            publicID=f"{SUITE_BASE}{area}/manifest.ttl")
    return g


def entries(g: rdflib.Graph) -> list[rdflib.URIRef]:
    """The tests of a manifest in mf:entries order, withdrawn ones left out (no one
    counts those)."""
    out: list[rdflib.URIRef] = []
    for lst in g.objects(None, MF.entries):
        for test in Collection(g, lst):
            if (test, DAWGT.approval, DAWGT.Withdrawn) not in g:
                out.append(test)
    return out


def local_file(suite: Path, iri: str) -> Path:
    """The copy in the suite folder of a W3C test-file IRI."""
    if not iri.startswith(SUITE_BASE):
        raise ValueError(f"{iri} is not a file of the W3C SPARQL 1.1 suites")
    path = suite / "sparql" / "sparql11" / iri[len(SUITE_BASE):]
    if not path.is_file():
        raise FileNotFoundError(f"{iri}: no {path.name} in the suite copy")
    return path


# ---------------------------------------------------------------------------
# A dist/ per dataset, and `kg serve` on it.

Dataset = tuple[tuple[str, str], ...]  # sorted (graph IRI, file IRI) pairs


def write_dist(suite: Path, dataset: Dataset, dist: Path) -> None:
    """A dist/ holding the dataset's files as named graphs (dataset.nq), published to an
    Oxigraph store as `kg build` publishes: a generation loaded from dataset.nq."""
    from kg.stores.oxigraph import activate, load_generation

    dist.mkdir(parents=True)
    quads: list[ox.Quad] = []
    for graph, file_iri in dataset:
        path = local_file(suite, file_iri)
        for q in ox.parse(path=str(path), base_iri=file_iri, rename_blank_nodes=True):
            quads.append(ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(graph)))
    (dist / "dataset.nq").write_bytes(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) if quads else b"")
    root = dist / "oxigraph"
    activate(root, load_generation(root, dist))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(dist: Path) -> dict[str, str]:
    """The environment of one server: none of the developer's KG_* settings, the test
    dist/, one query worker (several servers share two cores), no warm-up of pages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update({"KG_DIST": str(dist), "KG_STORE": "oxigraph", "KG_WARM_UP": "0",
                "KG_QUERY_WORKERS": "1", "KG_QUERY_TIMEOUT": "20",
                "KG_ADDITIONS": str(dist.parent / "no-additions")})
    return env


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: Path


def start_server(dist: Path, log: Path) -> Server:
    exe = Path(sys.executable).with_name("kg")
    if not exe.exists():
        raise RuntimeError(f"console script {exe} not found: install the project (pip install -e .)")
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=server_env(dist), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Server(proc, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server) -> None:
    """Until the endpoint answers OPTIONS (no query worker needed for that)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"`kg serve` exited with {server.proc.returncode}:\n{server.log.read_text()}")
        try:
            if request(server.url, "OPTIONS", "/sparql").status == 204:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"`kg serve` did not answer within {SERVER_START_TIMEOUT:g} s:\n"
                               + server.log.read_text())
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    """Stop the server and its query workers (its whole process group)."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def serving(suite: Path, datasets: list[Dataset], work: Path) -> Iterator[dict[Dataset, str]]:
    """One server per dataset, started together (they load in parallel); yields the base
    URL of each."""
    servers: dict[Dataset, Server] = {}
    try:
        for i, ds in enumerate(datasets):
            write_dist(suite, ds, work / f"dataset-{i}" / "dist")
            servers[ds] = start_server(work / f"dataset-{i}" / "dist", work / f"dataset-{i}" / "serve.log")
        for server in servers.values():
            wait_ready(server)
        yield {ds: s.url for ds, s in servers.items()}
    finally:
        for server in servers.values():
            stop_server(server)


# ---------------------------------------------------------------------------
# HTTP.

@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes

    @property
    def media(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def line(self) -> str:
        text = self.body[:160].decode("utf-8", "replace").strip().replace("\n", " ")
        return f"{self.status} {self.media or '(no type)'}: {text!r}"


def request(base: str, method: str, path: str, headers: list[tuple[str, str]] | None = None,
            body: bytes | None = None) -> Response:
    """One request, sent as given: no header is added but Host, Content-Length and
    Accept-Encoding (the Protocol tests depend on missing Content-Type headers)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path)
        for name, value in headers or []:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return Response(resp.status, resp.getheader("Content-Type", ""), resp.read())
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# The Protocol suite.

@dataclass
class ProtocolRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes | None
    statuses: set[str]
    fmt: str | None
    boolean: bool | None

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def is_update(self) -> bool:
        """Does it ask for a SPARQL Update (direct, form field or URL parameter)?"""
        media = self.header("content-type").split(";")[0].strip().lower()
        if media == "application/sparql-update":
            return True
        if "update" in parse_qs(urlsplit(self.path).query):
            return True
        return media == "application/x-www-form-urlencoded" and "update" in parse_qs(
            (self.body or b"").decode("utf-8", "replace"))


def protocol_requests(g: rdflib.Graph, test: rdflib.URIRef) -> list[ProtocolRequest]:
    out = []
    action = g.value(test, MF.action)
    for req in Collection(g, g.value(action, HT.requests)):
        path = str(g.value(req, HT.absolutePath))
        if path.startswith("/sparql/"):  # the manifest's endpoint path, ours is /sparql
            path = "/sparql" + path[len("/sparql/"):]
        headers = []
        hlist = g.value(req, HT.headers)
        if hlist is not None:
            headers = [(str(g.value(h, HT.fieldName)), str(g.value(h, HT.fieldValue))) for h in Collection(g, hlist)]
        body = None
        b = g.value(req, HT.body)
        if b is not None:
            encoding = str(g.value(b, CNT.characterEncoding) or "UTF-8")
            body = str(g.value(b, CNT.chars)).encode(encoding)
        resp = g.value(req, HT.resp)
        statuses = {str(s).rsplit("StatusCode", 1)[-1] for s in g.objects(resp, MF.expectedStatus)}
        fmt = g.value(resp, MF.expectedFormat)
        boolean = g.value(resp, MF.expectedBoolean)
        out.append(ProtocolRequest(str(g.value(req, HT.methodName)), path, headers, body, statuses,
                                   str(fmt) if fmt is not None else None,
                                   bool(boolean.toPython()) if boolean is not None else None))
    return out


def protocol_dataset(g: rdflib.Graph, test: rdflib.URIRef) -> Dataset:
    """The graphs a test names (ut:graphData: the file, labelled with its graph IRI)."""
    pairs = {(str(g.value(gd, rdflib.RDFS.label)), str(g.value(gd, UT.graph)))
             for gd in g.objects(test, UT.graphData)}
    return tuple(sorted(pairs))


def status_class(code: int) -> str:
    return f"{code // 100}xx"


def check_protocol_response(req: ProtocolRequest, resp: Response) -> str:
    """'' when the response is what the manifest expects, else what differs."""
    if status_class(resp.status) not in req.statuses:
        return f"expected {'/'.join(sorted(req.statuses))}, got {resp.line()}"
    if req.fmt == "boolean":
        if resp.media not in (RESULT_MEDIA["json"], RESULT_MEDIA["xml"]):
            return f"expected SPARQL XML or JSON boolean results, got {resp.line()}"
        try:
            value = parse_results(resp.body, "json" if resp.media == RESULT_MEDIA["json"] else "xml")
        except ValueError as e:
            return f"unreadable boolean result ({e}): {resp.line()}"
        if not isinstance(value, bool):
            return f"expected a boolean result, got solutions: {resp.line()}"
        if req.boolean is not None and value is not req.boolean:
            return f"expected {str(req.boolean).lower()}, got {str(value).lower()}"
    elif req.fmt == "tabular":
        fmt = next((k for k, v in RESULT_MEDIA.items() if v == resp.media), None)
        if fmt is None:
            return f"expected SPARQL results (XML, JSON, CSV or TSV), got {resp.line()}"
        try:
            value = parse_results(resp.body, fmt)
        except ValueError as e:
            return f"unreadable {fmt} results ({e})"
        if isinstance(value, bool):
            return "expected solutions, got a boolean"
    elif req.fmt == "RDF":
        if resp.media not in ("application/rdf+xml", "text/turtle", "application/n-triples"):
            return f"expected RDF/XML, Turtle or N-Triples, got {resp.line()}"
        try:
            list(ox.parse(resp.body, format=RDF_MEDIA[resp.media]))
        except SyntaxError as e:
            return f"unreadable {resp.media}: {e}"
    return ""


def check_read_only_refusal(resp: Response) -> str:
    """'' when an update got the refusal docs/web.md documents."""
    text = resp.body.decode("utf-8", "replace")
    if resp.status != READ_ONLY_STATUS or resp.media != "text/plain" or "read-only" not in text \
            or text.strip().count("\n"):
        return f"expected the documented refusal ({READ_ONLY_STATUS}, one text/plain line saying read-only), " \
               f"got {resp.line()}"
    return ""


def run_protocol_test(base: str, reqs: list[ProtocolRequest]) -> tuple[str, str]:
    for i, req in enumerate(reqs):
        resp = request(base, req.method, req.path, req.headers, req.body)
        if req.is_update() and status_class(200) in req.statuses:
            problem = check_read_only_refusal(resp)
            if problem:
                return "fail", f"request {i + 1} ({req.method} update): {problem}"
            first = resp.body.decode("utf-8", "replace").strip()
            return "na", f"needs SPARQL Update to succeed; refused as documented: {resp.status} {resp.media}: {first}"
        problem = check_protocol_response(req, resp)
        if problem:
            return "fail", f"request {i + 1} ({req.method}): {problem}"
    return "pass", ""


# ---------------------------------------------------------------------------
# Result sets: reading the four formats and comparing them.

Term = tuple  # ("uri", iri) | ("bnode", label) | ("literal", text, datatype, lang) | ("text", cell)
Row = dict[str, Term]


@dataclass
class Solutions:
    variables: list[str]
    rows: list[Row] = field(default_factory=list)


def _literal(text: str, datatype: str | None, lang: str | None) -> Term:
    if lang:
        return ("literal", text, RDF_LANGSTRING, lang.lower())
    return ("literal", text, datatype or XSD + "string", None)


def _json_term(t: dict) -> Term:
    kind = t["type"]
    if kind == "uri":
        return ("uri", t["value"])
    if kind == "bnode":
        return ("bnode", t["value"])
    if kind in ("literal", "typed-literal"):
        return _literal(t["value"], t.get("datatype"), t.get("xml:lang"))
    raise ValueError(f"unknown term type {kind!r}")


def _xml_term(el: ET.Element) -> Term:
    tag = el.tag.replace(SRX, "")
    if tag == "uri":
        return ("uri", el.text or "")
    if tag == "bnode":
        return ("bnode", el.text or "")
    if tag == "literal":
        return _literal(el.text or "", el.get("datatype"), el.get("{http://www.w3.org/XML/1998/namespace}lang"))
    raise ValueError(f"unknown term element {tag!r}")


_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_NUMBER = re.compile(r"^[+-]?(?:(\d+)|(\d*\.\d+)|((?:\d+\.?\d*|\.\d+)[eE][+-]?\d+))$")


def _unescape(s: str) -> str:
    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] in "uU" else _ESCAPES[m.group(1)], s)


def _tsv_term(cell: str) -> Term | None:
    """A TSV cell: an RDF term in SPARQL/Turtle syntax, or nothing (unbound)."""
    if cell == "":
        return None
    if cell.startswith("<") and cell.endswith(">"):
        return ("uri", _unescape(cell[1:-1]))
    if cell.startswith("_:"):
        return ("bnode", cell[2:])
    m = re.match(r'^"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9-]+)|\^\^<([^>]*)>)?$', cell)
    if m:
        return _literal(_unescape(m.group(1)), m.group(3), m.group(2))
    if cell in ("true", "false"):
        return _literal(cell, XSD + "boolean", None)
    n = _NUMBER.match(cell)
    if n:
        kind = "integer" if n.group(1) else "decimal" if n.group(2) else "double"
        return _literal(cell, XSD + kind, None)
    raise ValueError(f"not an RDF term: {cell!r}")


def parse_results(body: bytes, fmt: str) -> Solutions | bool:
    """A result document read with the standard library (not with the engine that
    wrote it, so a fault on both sides cannot cancel out). Raises ValueError."""
    try:
        if fmt == "json":
            doc = json.loads(body.decode("utf-8"))
            if "boolean" in doc:
                return bool(doc["boolean"])
            return Solutions(list(doc["head"].get("vars", [])),
                             [{k: _json_term(v) for k, v in b.items()} for b in doc["results"]["bindings"]])
        if fmt == "xml":
            root = ET.fromstring(body)
            b = root.find(f"{SRX}boolean")
            if b is not None:
                return (b.text or "").strip() == "true"
            variables = [v.get("name") for v in root.iter(f"{SRX}variable")]
            rows = [{bd.get("name"): _xml_term(bd[0]) for bd in res.findall(f"{SRX}binding")}
                    for res in root.iter(f"{SRX}result")]
            return Solutions(variables, rows)
        text = body.decode("utf-8")
        if fmt == "csv":
            lines = list(csv.reader(io.StringIO(text, newline="")))
            head, rows = lines[0], lines[1:]
            return Solutions(head, [{v: (("bnode", c[2:]) if c.startswith("_:") else ("text", c))
                                     for v, c in zip(head, r) if c != ""} for r in rows if r])
        if fmt == "tsv":
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            head = [v[1:] if v[:1] in "?$" else v for v in lines[0].rstrip("\r").split("\t")]
            rows = []
            for line in lines[1:]:
                cells = line.rstrip("\r").split("\t")
                rows.append({v: t for v, c in zip(head, cells) if (t := _tsv_term(c)) is not None})
            return Solutions(head, rows)
    except (KeyError, IndexError, TypeError, UnicodeDecodeError, json.JSONDecodeError, ET.ParseError) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from None
    raise ValueError(f"unknown results format {fmt!r}")


_NUMERIC = {XSD + "integer": int, XSD + "decimal": Decimal, XSD + "double": float, XSD + "float": float}


def by_value(term: Term) -> Term:
    """A numeric literal as its value (for TSV, which keeps the type, not the spelling)."""
    if term[0] == "literal" and term[2] in _NUMERIC:
        try:
            value = _NUMERIC[term[2]](term[1])
        except (ValueError, InvalidOperation):
            return term
        return ("number", float(value) if isinstance(value, Decimal) else value, term[2])
    return term


def _masked(row: Row) -> tuple:
    return tuple(sorted((k, ("bnode",) if t[0] == "bnode" else t) for k, t in row.items()))


def _extend(expected: Row, actual: Row, fwd: dict, back: dict) -> tuple[dict, dict] | None:
    """The blank-node renaming extended so that `expected` maps onto `actual`, or None."""
    if expected.keys() != actual.keys():
        return None
    fwd, back = dict(fwd), dict(back)
    for k, e in expected.items():
        a = actual[k]
        if e[0] == "bnode" and a[0] == "bnode":
            if fwd.setdefault(e[1], a[1]) != a[1] or back.setdefault(a[1], e[1]) != e[1]:
                return None
        elif e != a:
            return None
    return fwd, back


def same_rows(expected: list[Row], actual: list[Row]) -> bool:
    """Equal as multisets of solutions, blank nodes up to a one-to-one renaming."""
    if sorted(map(_masked, expected)) != sorted(map(_masked, actual)):
        return False

    def match(i: int, used: frozenset, fwd: dict, back: dict) -> bool:
        if i == len(expected):
            return True
        for j, row in enumerate(actual):
            if j not in used and (m := _extend(expected[i], row, fwd, back)) is not None:
                if match(i + 1, used | {j}, *m):
                    return True
        return False

    return match(0, frozenset(), {}, {})


def compare(expected: Solutions | bool, actual: Solutions | bool) -> str:
    """'' when two results are the same, else the first difference."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return "" if expected is actual else f"expected {expected!r}, got {actual!r}"
    if set(expected.variables) != set(actual.variables):
        return f"variables: expected {sorted(expected.variables)}, got {sorted(actual.variables)}"
    if same_rows(expected.rows, actual.rows):
        return ""
    exp, act = list(map(_masked, expected.rows)), list(map(_masked, actual.rows))
    missing = [dict(r) for r in exp if r not in act or exp.count(r) > act.count(r)]
    extra = [dict(r) for r in act if r not in exp or act.count(r) > exp.count(r)]
    if not missing and not extra:
        return "the same solutions but for blank nodes, which do not correspond one to one"
    return (f"{len(expected.rows)} solutions expected, {len(actual.rows)} returned; "
            f"expected but missing: {_show(missing[:2])}; returned instead: {_show(extra[:2])}")


def _show_term(t: Term) -> str:
    kind = t[0]
    if kind == "uri":
        return f"<{t[1]}>"
    if kind == "bnode":
        return "_:b"
    if kind == "text":
        return repr(t[1])
    if kind == "number":
        return f"{t[1]!r}^^{t[2].replace(XSD, 'xsd:')}"
    suffix = f"@{t[3]}" if t[3] else "" if t[2] == XSD + "string" else "^^" + t[2].replace(XSD, "xsd:")
    return f'"{t[1]}"{suffix}'


def _show(rows: list[dict]) -> str:
    return "; ".join(" ".join(f"?{k}={_show_term(v)}" for k, v in r.items()) for r in rows) or "none"


# ---------------------------------------------------------------------------
# The result-format suites (json-res, csv-tsv-res).

@dataclass
class FormatTest:
    query: str
    fmt: str
    expected: bytes
    dataset: Dataset
    problem: str = ""


def format_test(suite: Path, g: rdflib.Graph, test: rdflib.URIRef) -> FormatTest:
    action = g.value(test, MF.action)
    result = str(g.value(test, MF.result))
    fmt = RESULT_FILES[Path(result).suffix]
    data = sorted(str(d) for d in g.objects(action, QT.data))
    problem = "named graphs (qt:graphData) are not supported by this runner" \
        if (action, QT.graphData, None) in g else ""
    return FormatTest(local_file(suite, str(g.value(action, QT.query))).read_text(encoding="utf-8"), fmt,
                      local_file(suite, result).read_bytes(), tuple((d, d) for d in data), problem)


def run_format_test(base: str, t: FormatTest) -> tuple[str, str]:
    """The query asked for the expected file's format by Accept, then by ?format=."""
    if t.problem:
        return "fail", t.problem
    expected = parse_results(t.expected, t.fmt)
    path = "/sparql?query=" + quote(t.query, safe="")
    problems = []
    for how, p, headers in (("Accept", path, [("Accept", RESULT_MEDIA[t.fmt])]),
                            ("format=", f"{path}&format={t.fmt}", [])):
        resp = request(base, "GET", p, headers)
        if resp.status != 200 or resp.media != RESULT_MEDIA[t.fmt]:
            problems.append(f"by {how}: expected 200 {RESULT_MEDIA[t.fmt]}, got {resp.line()}")
            continue
        try:
            actual = parse_results(resp.body, t.fmt)
        except ValueError as e:
            problems.append(f"by {how}: unreadable {t.fmt} ({e})")
            continue
        if t.fmt == "tsv" and not isinstance(actual, bool) and not isinstance(expected, bool):
            exp = Solutions(expected.variables, [{k: by_value(v) for k, v in r.items()} for r in expected.rows])
            actual = Solutions(actual.variables, [{k: by_value(v) for k, v in r.items()} for r in actual.rows])
        else:
            exp = expected
        diff = compare(exp, actual)
        if diff:
            problems.append(f"by {how}: {diff}")
    return ("fail", " | ".join(problems)) if problems else ("pass", "")


# ---------------------------------------------------------------------------
# Service description.

def run_service_description(base: str, dataset: Dataset) -> dict[str, tuple[str, str]]:
    """The validator's three tests on a GET of the endpoint without a query; the RDF
    answer must come both for an RDF client's Accept and for a client that sends */*."""
    endpoint = base + "/sparql"
    graph: list[ox.Triple] | None = None
    problems = []
    for accept in (SD_RDF_ACCEPT, SD_ANY_ACCEPT):
        resp = request(base, "GET", "/sparql", [("Accept", accept)])
        label = "Accept: */*" if accept == SD_ANY_ACCEPT else "an RDF client's Accept"
        if resp.status != 200 or resp.media not in RDF_MEDIA:
            problems.append(f"with {label}: expected 200 and RDF, got {resp.line()}")
            continue
        try:
            triples = [q.triple for q in ox.parse(resp.body, format=RDF_MEDIA[resp.media], base_iri=endpoint)]
        except SyntaxError as e:
            problems.append(f"with {label}: unreadable {resp.media}: {e}")
            continue
        if not triples:
            problems.append(f"with {label}: an empty graph")
        elif graph is None:
            graph = triples
    out = {"returns-rdf": ("fail", "; ".join(problems)) if problems else ("pass", "")}
    if graph is None:
        for name in ("has-endpoint-triple", "conforms-to-schema"):
            out[name] = ("fail", "no service description to check: " + "; ".join(problems))
        return out
    has_endpoint = any(t.predicate.value == SD + "endpoint" and t.object == ox.NamedNode(endpoint) for t in graph)
    out["has-endpoint-triple"] = ("pass", "") if has_endpoint else \
        ("fail", f"no triple ?service sd:endpoint <{endpoint}>")
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    named = {t.subject for t in graph if t.predicate.value == rdf_type and t.object.value == SD + "NamedGraph"}
    names = {t.subject: t.object.value for t in graph if t.predicate.value == SD + "name"}
    unnamed = [n for n in named if n not in names]
    described = sorted(names[n] for n in named if n in names)
    served = sorted({g for g, _ in dataset})
    if unnamed:
        out["conforms-to-schema"] = ("fail", f"{len(unnamed)} sd:NamedGraph without sd:name")
    elif described != served:
        out["conforms-to-schema"] = ("fail", f"sd:NamedGraph names {described}, the dataset has {served}")
    else:
        out["conforms-to-schema"] = ("pass", "")
    return out


# ---------------------------------------------------------------------------
# Everything.

def run_all(suite: Path, work: Path) -> list[Outcome]:
    """Every test of the four areas, in manifest order."""
    proto = manifest(suite, "protocol")
    proto_tests = [(t, protocol_dataset(proto, t), protocol_requests(proto, t)) for t in entries(proto)]
    fmt_tests = []
    for area in ("json-res", "csv-tsv-res"):
        g = manifest(suite, area)
        fmt_tests += [(area, t, format_test(suite, g, t)) for t in entries(g)]
    sd = manifest(suite, "service-description")
    sd_tests = entries(sd)
    # the service description is read from the server of the Protocol's largest dataset
    sd_dataset = max((ds for _, ds, _ in proto_tests), key=len)
    datasets = list(dict.fromkeys([ds for _, ds, _ in proto_tests] + [t.dataset for _, _, t in fmt_tests]))

    outcomes: list[Outcome] = []
    with serving(suite, datasets, work) as urls:
        for test, ds, reqs in proto_tests:
            outcomes.append(Outcome("protocol", str(test), *run_protocol_test(urls[ds], reqs)))
        for area, test, ft in fmt_tests:
            outcomes.append(Outcome(area, str(test), *run_format_test(urls[ft.dataset], ft)))
        sd_results = run_service_description(urls[sd_dataset], sd_dataset)
        for test in sd_tests:
            name = str(test).rsplit("#", 1)[-1]
            status, detail = sd_results.get(name, ("fail", f"no check for {name} in this runner"))
            outcomes.append(Outcome("service-description", str(test), status, detail))
    return outcomes


# ---------------------------------------------------------------------------
# Pinned expectations.

EXPECTED_FAILURES = Path(__file__).with_name("endpoint-expected-failures.txt")


def read_expected_failures(path: Path = EXPECTED_FAILURES) -> dict[str, str]:
    """{test IRI: reason}: one `IRI reason` per line; # starts a comment line."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        iri, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name}:{n}: {iri} has no reason")
        if iri in out:
            raise ValueError(f"{path.name}:{n}: {iri} is listed twice")
        out[iri] = reason.strip()
    return out
