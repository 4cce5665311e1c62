"""The remote engine: any SPARQL 1.1 server (Virtuoso, Fuseki, GraphDB, QLever, ...).

Reads go to the query endpoint (SPARQL 1.1 Protocol, POST form). Writes go to the
Graph Store Protocol endpoint when one is configured (PUT replaces a graph, POST adds
to it; large graphs are sent in chunks), else to the update endpoint as SPARQL Update
(DROP SILENT GRAPH + INSERT DATA). Credentials, when given, are offered for HTTP Basic
and Digest authentication (Fuseki and GraphDB use Basic, Virtuoso's /sparql-auth and
/sparql-graph-crud-auth use Digest).

This graph owns only the named graphs under its base (<base>graph/..., <base>changeset/...):
queries see their union as the default graph (the server's own system graphs are left
out by naming ours as the Protocol's default-graph-uri), and `kg push` replaces and
removes only those graphs, never anything else on a shared server.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox

from kg import manifest
from kg.config import SparqlSettings, settings
from kg.errors import KGError, RemoteError  # RemoteError: re-exported for callers of this engine
from kg.stores.base import (
    Engine,
    QueryFailed,
    Result,
    Store,
    Term,
    dataset_file,
    prefixes,
    query_base,
    query_form,
    triples_result,
    with_base,
    with_bindings,
    with_prefixes,
)

# Virtuoso answers a query naming many graphs (one default-graph-uri per change set)
# with one header per graph; http.client refuses more than 100 headers by default.
http.client._MAXHEADERS = max(getattr(http.client, "_MAXHEADERS", 100), 100_000)  # type: ignore[attr-defined]

CHUNK_TRIPLES = 50_000         # triples per Graph Store Protocol request
UPDATE_CHUNK_BYTES = 1_000_000  # bytes of N-Triples per INSERT DATA request
RESULTS_JSON = "application/sparql-results+json"
EMPTY_GRAPH = "urn:x-bukhara-deer:empty-graph"  # the Protocol has no way to say "no graph"
TRIPLES_ACCEPT = "application/n-triples, text/plain;q=0.9, text/turtle;q=0.8"


class Client:
    """HTTP to one server, with optional credentials (Basic or Digest, as it asks).

    urllib answers an authentication challenge by sending the request again, which
    fails for a large body: the server refuses it after the first bytes and closes the
    connection (broken pipe). So before a request with a body, a HEAD request fetches
    the challenge of that endpoint once, and the request carries its credentials from
    the start; the usual challenge-response remains the fallback."""

    def __init__(self, cfg: SparqlSettings) -> None:
        self.cfg = cfg
        handlers: list = []
        self._digest: urllib.request.HTTPDigestAuthHandler | None = None
        self._challenges: dict[str, str] = {}
        if cfg.user:
            pm = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            for url in {cfg.query_url, cfg.update_url, cfg.gsp_url} - {""}:
                pm.add_password(None, url, cfg.user, cfg.password or "")
            self._digest = urllib.request.HTTPDigestAuthHandler(pm)
            handlers += [self._digest, urllib.request.HTTPBasicAuthHandler(pm)]
        self._opener = urllib.request.build_opener(*handlers)

    def send(self, method: str, url: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, _retry: bool = True) -> tuple[bytes, str]:
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        preauth = bool(body) and bool(self.cfg.user)
        if preauth:
            auth = self._authorization(req)
            if auth:
                req.add_unredirected_header("Authorization", auth)
        try:
            with self._opener.open(req, timeout=self.cfg.timeout) as resp:
                return resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            if e.code == 401 and preauth and _retry:  # a stale nonce: fetch a new challenge once
                self._challenges.pop(url.split("?")[0], None)
                return self.send(method, url, body, headers, _retry=False)
            detail = " ".join(e.read().decode("utf-8", "replace").split())[:400]
            raise RemoteError(f"SPARQL server {url.split('?')[0]} answered {e.code} {e.reason}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            if preauth and _retry:  # refused mid-upload (e.g. our credentials were not accepted)
                self._challenges.pop(url.split("?")[0], None)
                return self.send(method, url, body, headers, _retry=False)
            reason = getattr(e, "reason", e)
            raise RemoteError(f"SPARQL server {url.split('?')[0]} unreachable: {reason} "
                              "(check KG_SPARQL_QUERY_URL and that the server runs)") from None

    def _authorization(self, req: urllib.request.Request) -> str | None:
        """Credentials for req, from the endpoint's challenge, fetched once by a request
        without a body (HEAD, or GET where HEAD is not implemented, as on Virtuoso)."""
        endpoint = req.full_url.split("?")[0]
        if endpoint not in self._challenges:
            self._challenges[endpoint] = ""
            for method in ("HEAD", "GET"):
                try:
                    with urllib.request.urlopen(urllib.request.Request(endpoint, method=method),
                                                timeout=self.cfg.timeout):
                        break  # no authentication asked
                except urllib.error.HTTPError as e:
                    if e.code == 401:
                        self._challenges[endpoint] = e.headers.get("WWW-Authenticate", "")
                        break
                except (urllib.error.URLError, OSError):
                    return None
        challenge = self._challenges[endpoint]
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            token = base64.b64encode(f"{self.cfg.user}:{self.cfg.password or ''}".encode()).decode()
            return f"Basic {token}"
        if scheme.lower() == "digest" and self._digest is not None:
            chal = urllib.request.parse_keqv_list(list(filter(None, urllib.request.parse_http_list(params))))
            value = self._digest.get_authorization(req, chal)
            return f"Digest {value}" if value else None
        return None

    def form(self, url: str, fields: list[tuple[str, str]], accept: str) -> tuple[bytes, str]:
        body = urllib.parse.urlencode(fields).encode()
        return self.send("POST", url, body, {"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": accept})


class SparqlStore(Store):
    kind = "sparql"

    def __init__(self, cfg: SparqlSettings) -> None:
        self.cfg = cfg
        self.client = Client(cfg)
        self.base = settings().base
        self._graphs: list[str] | None = None

    # -- reading -------------------------------------------------------------------

    def _query(self, sparql: str, default_graph, named_graphs, bindings, own_dataset: bool = False) -> Result:
        """The dataset (kg.store.Store.query) is always sent as the Protocol's, never
        left to the server: without one a server's GRAPH ?g ranges over its own
        system graphs too, Virtuoso adds a query's FROM to default-graph-uri instead
        of letting the Protocol replace it, and gives a query with FROM but no FROM
        NAMED every graph as named graph. So the query's FROM / FROM NAMED are read
        (by rdflib's parser, which resolves prefixed and relative IRIs) and taken out
        of the text, and an empty part is sent as EMPTY_GRAPH, a graph no server has."""
        form = query_form(sparql)
        if own_dataset:
            from rdflib.plugins.sparql import prepareQuery

            from kg.sparql_forms import without_dataset_clause

            try:
                clause = prepareQuery(sparql, initNs=prefixes(), base=query_base()).algebra.get("datasetClause") or []
            except Exception as e:  # noqa: BLE001 - rdflib's grammar lags Oxigraph's in places
                raise QueryFailed(f"could not read the FROM / FROM NAMED of this query: {type(e).__name__}: "
                                  f"{' '.join(str(e).split())[:300]}") from None
            sparql = without_dataset_clause(sparql)
            if default_graph is None and named_graphs is None:
                default_graph = [str(d.default) for d in clause if d.get("default") is not None]
                named_graphs = [str(d.named) for d in clause if d.get("named") is not None]
        ours = self.graph_names()
        default_graph = ours if default_graph is None else default_graph or [EMPTY_GRAPH]
        named_graphs = ours if named_graphs is None else named_graphs or [EMPTY_GRAPH]
        return self._request(with_base(with_prefixes(with_bindings(sparql, bindings))), form, default_graph,
                             named_graphs)

    def _request(self, sparql: str, form: type, default_graph: list[str] | None = None,
                 named_graphs: list[str] | None = None) -> Result:
        fields = [("query", sparql)]
        fields += [("default-graph-uri", g) for g in default_graph or ()]
        fields += [("named-graph-uri", g) for g in named_graphs or ()]
        if form is ox.QueryTriples:
            body, ctype = self.client.form(self.cfg.query_url, fields, TRIPLES_ACCEPT)
            return read_triples(body, ctype)
        body, _ = self.client.form(self.cfg.query_url, fields, RESULTS_JSON)
        return read_results(body)

    def _select(self, sparql: str) -> ox.QuerySolutions:
        """A SELECT over all graphs of the server (callers filter on the base)."""
        return cast(ox.QuerySolutions, self._request(sparql, ox.QuerySolutions))

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              g: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        terms = {"s": s, "p": p, "o": o, "g": g}
        pattern = {k: (str(v) if v is not None else f"?{k}") for k, v in terms.items()}
        select = " ".join(f"?{k}" for k, v in terms.items() if v is None) or "*"
        where = f"GRAPH {pattern['g']} {{ {pattern['s']} {pattern['p']} {pattern['o']} }}"
        if g is None:
            where += f" FILTER(STRSTARTS(STR(?g), {json.dumps(self.base)}))"
        q = f"SELECT {select} WHERE {{ {where} }}" if select != "*" else f"ASK {{ {where} }}"
        if select == "*":
            if bool(self._request(q, ox.QueryBoolean)):
                yield ox.Quad(cast(Any, s), cast(Any, p), cast(Any, o), g)
            return
        for sol in self._select(q):
            yield ox.Quad(*(cast(Any, terms[k] if terms[k] is not None else sol[k]) for k in "spog"))

    def graph_names(self) -> list[str]:
        if self._graphs is None:
            q = (f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                 f"FILTER(STRSTARTS(STR(?g), {json.dumps(self.base)})) }}")
            self._graphs = sorted(sol["g"].value for sol in self._select(q))
        return list(self._graphs)

    def __len__(self) -> int:
        q = (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
             f"FILTER(STRSTARTS(STR(?g), {json.dumps(self.base)})) }}")
        return int(next(iter(self._select(q)))["n"].value)

    # -- writing -------------------------------------------------------------------

    def load(self, dataset_nq: Path) -> None:
        """Replace this graph's named graphs on the server by those of the file, and
        remove the ones the file no longer has (e.g. of reverted change sets)."""
        graphs = read_graphs(dataset_nq)
        stale = [g for g in self.graph_names() if g not in graphs]
        self.replace_graphs({**graphs, **{g: None for g in stale}})

    def replace_graphs(self, graphs: dict[str, Iterable[ox.Triple] | None]) -> None:
        """Per graph: the server replaces each graph atomically (one PUT, or one
        update request); a graph sent in several chunks is complete after its last."""
        self._graphs = None
        for name, triples in graphs.items():
            if triples is None:
                self._update(f"DROP SILENT GRAPH <{name}>")
            elif self.cfg.gsp_url:
                self._put_graph(name, list(triples))
            else:
                self._insert_graph(name, list(triples))

    def _put_graph(self, name: str, triples: list[ox.Triple]) -> None:
        url = self.cfg.gsp_url + ("&" if "?" in self.cfg.gsp_url else "?") + urllib.parse.urlencode({"graph": name})
        for i in range(0, max(len(triples), 1), CHUNK_TRIPLES):
            body = ox.serialize(triples[i:i + CHUNK_TRIPLES], format=ox.RdfFormat.N_TRIPLES)
            # N-Triples is Turtle: every Graph Store Protocol server reads text/turtle
            self.client.send("PUT" if i == 0 else "POST", url, body,
                             {"Content-Type": "text/turtle; charset=utf-8"})

    def _insert_graph(self, name: str, triples: list[ox.Triple]) -> None:
        self._update(f"DROP SILENT GRAPH <{name}>")
        chunk: list[str] = []
        size = 0
        text = cast(bytes, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)).decode()
        for line in text.splitlines(keepends=True):
            chunk.append(line)
            size += len(line)
            if size > UPDATE_CHUNK_BYTES:
                self._update(f"INSERT DATA {{ GRAPH <{name}> {{\n{''.join(chunk)}}} }}")
                chunk, size = [], 0
        if chunk:
            self._update(f"INSERT DATA {{ GRAPH <{name}> {{\n{''.join(chunk)}}} }}")

    def _update(self, sparql: str) -> None:
        self.client.send("POST", self.cfg.update_url, urllib.parse.urlencode({"update": sparql}).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded", "Accept": "*/*"})


# -- reading a server's answers ----------------------------------------------------
#
# Virtuoso names blank nodes in its answers "nodeID://b10000" (as a "bnode" whose value
# is that string in SPARQL JSON results, or as an IRI), which pyoxigraph's parsers
# reject or read as an IRI. Such a name is turned into a blank node with the label
# after "nodeID://", so one name is one blank node throughout an answer. pyoxigraph
# parses lazily, so an answer is read through once here: a malformed one is a
# RemoteError now, not a bare SyntaxError while the caller iterates.

NODE_ID = "nodeID://"


def _label(value: str) -> str:
    """The blank-node label for a Virtuoso name: the part after nodeID:// when it is a
    valid label, else its hex digits (the same name always gives the same label)."""
    rest = value[len(NODE_ID):]
    return rest if re.fullmatch(r"[A-Za-z0-9_]+", rest) else "x" + rest.encode().hex()


def _unreadable(error: Exception) -> RemoteError:
    return RemoteError(f"SPARQL server sent unreadable results: {' '.join(str(error).split())[:300]}")


def read_results(body: bytes) -> ox.QuerySolutions | ox.QueryBoolean:
    """SPARQL JSON results with Virtuoso's nodeID:// names as blank nodes; every
    solution is checked before it is returned."""
    try:
        doc = json.loads(body)
        rows = doc.get("results", {}).get("bindings") if isinstance(doc, dict) else None
        if isinstance(rows, list) and NODE_ID.encode() in body:
            for row in rows:
                for term in (row.values() if isinstance(row, dict) else ()):
                    if (isinstance(term, dict) and term.get("type") in ("bnode", "uri")
                            and str(term.get("value", "")).startswith(NODE_ID)):
                        term["type"], term["value"] = "bnode", _label(term["value"])
            body = json.dumps(doc).encode()
        result = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        if isinstance(result, ox.QueryBoolean):
            return result
        for _ in result:  # parsing is lazy: reach every term now
            pass
        return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    except (SyntaxError, ValueError, TypeError, AttributeError) as e:  # json, pyoxigraph
        raise _unreadable(e) from None


def read_triples(body: bytes, content_type: str) -> ox.QueryTriples:
    """A CONSTRUCT/DESCRIBE answer (N-Triples or Turtle) with nodeID:// IRIs as blank
    nodes."""
    fmt = ox.RdfFormat.TURTLE if "turtle" in content_type else ox.RdfFormat.N_TRIPLES

    def term(t: Term) -> Term:
        return ox.BlankNode(_label(t.value)) if isinstance(t, ox.NamedNode) and t.value.startswith(NODE_ID) else t

    try:
        triples = [ox.Triple(cast(Any, term(q.subject)), q.predicate, term(q.object))
                   for q in ox.parse(body, format=fmt)]
    except (SyntaxError, ValueError) as e:
        raise _unreadable(e) from None
    return triples_result(triples)


def read_graphs(dataset_nq: Path) -> dict[str, list[ox.Triple]]:
    """The triples of each named graph of an N-Quads file."""
    graphs: dict[str, list[ox.Triple]] = defaultdict(list)
    for q in ox.parse(path=str(dataset_nq), format=ox.RdfFormat.N_QUADS):
        if isinstance(q.graph_name, ox.NamedNode):
            graphs[q.graph_name.value].append(ox.Triple(q.subject, q.predicate, q.object))
    return dict(graphs)


class SparqlEngine(Engine):
    kind = "sparql"
    remote = True

    def config(self) -> SparqlSettings:
        cfg = settings().sparql
        if cfg is None:
            raise KGError("KG_STORE=sparql needs KG_SPARQL_QUERY_URL (and KG_SPARQL_UPDATE_URL or "
                          "KG_SPARQL_GSP_URL to write; KG_SPARQL_USER/KG_SPARQL_PASSWORD if it asks)")
        return cfg

    def open(self, dist: Path) -> SparqlStore:
        return SparqlStore(self.config())

    def publish(self, dist: Path, prepared: object = None, previous: dict | None = None) -> str:
        """Push what changed since `previous` (the manifest the server showed), by the
        per-graph hashes of build.json; everything when previous is unknown."""
        store = SparqlStore(self.config())
        path = dataset_file(dist)
        new = (manifest.read_manifest(dist) or {}).get("graphs", {})
        if previous is None or "graphs" not in previous:
            store.load(path)
            return f"pushed {len(new)} graphs to {store.cfg.query_url}"
        old = previous["graphs"]
        changed = [g for g, h in new.items() if old.get(g) != h]
        removed = [g for g in old if g not in new]
        graphs = read_graphs(path) if changed else {}
        store.replace_graphs({**{g: graphs.get(g, []) for g in changed}, **{g: None for g in removed}})
        return f"updated {len(changed)} and removed {len(removed)} graphs on {store.cfg.query_url}"
