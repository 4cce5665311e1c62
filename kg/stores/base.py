"""What every engine shares: the Store and Engine interfaces, the result and term
types, the predefined prefixes and the query parsing helpers.

The engines (kg.stores.*) build on this module and kg.store picks one of them, so this
module imports no engine and no engine imports kg.store: the layers run
base -> engines -> kg.store, without a cycle. kg.store re-exports every name here.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import cast

import pyoxigraph as ox

from kg import sparql_forms
from kg.config import settings
from kg.errors import BadInput, KGError

PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "wd": "http://www.wikidata.org/entity/",
}


Result = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples
Term = ox.NamedNode | ox.BlankNode | ox.Literal


def prefixes() -> dict[str, str]:
    """Prefixes predefined for every query: the standard ones plus bkd: and bkdi:."""
    s = settings()
    return {**PREFIXES, "bkd": s.ontology_ns, "bkdi": s.base}


class Store(ABC):
    """The built graph (its named graphs, queried as their union), on some engine."""

    kind: str = ""

    # -- reading -------------------------------------------------------------------

    def query(self, sparql: str, *, bindings: Mapping[str, Term] | None = None,
              values: Mapping[str, Sequence[Term]] | None = None,
              default_graph: list[str] | None = None, named_graphs: list[str] | None = None) -> Result:
        """Run a read-only SPARQL query. A syntax error, an update, or a query longer or
        nested deeper than the limits (kg.sparql_forms.check_bounds) is bad input.

        bindings: variable name -> RDF term, pre-bound before evaluation (SEP-0007,
        the engine's own substitution where it has one). This is the only way a value
        from outside (a request path, a form field) enters a query: the query text
        stays a constant, so no input can change its structure. A SELECT must project
        the variables it binds (Oxigraph's rule for substitutions).
        values: variable name -> terms, a VALUES block opening the WHERE group (one
        query for a batch of entities), written by values_block.
        default_graph / named_graphs are the Protocol's dataset (IRIs, not rebased):
        given, they replace the query's FROM / FROM NAMED (None in one of them: all
        graphs). Without them, the query's own FROM / FROM NAMED define the dataset,
        and without those the default graph is the union of all named graphs.
        A valid query the engine cannot evaluate raises QueryFailed."""
        info = sparql_forms.check_bounds(sparql)
        if info.form == "UPDATE":
            raise BadInput("updates are not allowed: this store is read-only "
                           "(change the data files and run `kg build`, or add a change set)")
        s = settings()
        dg = [s.rebase(g) for g in default_graph] if default_graph is not None else None
        ng = [s.rebase(g) for g in named_graphs] if named_graphs is not None else None
        terms = check_bindings(bindings)
        text = s.rebase(sparql)
        for name, column in (values or {}).items():
            rows = [[check_bindings({name: t})[name.lstrip("?$")]] for t in column]
            text = with_values_block(text, values_block([name.lstrip("?$")], rows))
        try:
            return self._query(text, dg, ng, terms, own_dataset=info.dataset)
        except SyntaxError as e:  # Oxigraph's parser, on every engine (query_form)
            raise BadInput(syntax_message(sparql, str(e))) from None
        except RuntimeError as e:  # Oxigraph's planner, on every engine (query_form)
            failed = unknown_function(e)
            if failed is None:
                raise
            raise failed from None

    @abstractmethod
    def _query(self, sparql: str, default_graph: list[str] | None, named_graphs: list[str] | None,
               bindings: dict[str, Term], own_dataset: bool = False) -> Result:
        """Run a rebased query with pre-bound variables; a syntax error raises
        SyntaxError from Oxigraph's parser. own_dataset: the query text has FROM /
        FROM NAMED (kg.sparql_forms), which apply unless the Protocol's dataset
        (default_graph / named_graphs, None when not given) replaces them."""

    @abstractmethod
    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              g: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None = any), in the named graphs."""

    @abstractmethod
    def graph_names(self) -> list[str]:
        """The named graphs the store holds."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of quads."""

    # -- writing -------------------------------------------------------------------

    @abstractmethod
    def load(self, dataset_nq: Path) -> None:
        """Replace everything this graph owns with the quads of an N-Quads file."""

    @abstractmethod
    def replace_graphs(self, graphs: dict[str, Iterable[ox.Triple] | None]) -> None:
        """Replace each named graph by the triples given (None: remove the graph), in
        one transaction where the engine has them."""

    def add_graph(self, name: str, triples: Iterable[ox.Triple]) -> None:
        self.replace_graphs({name: triples})

    def remove_graph(self, name: str) -> None:
        self.replace_graphs({name: None})

    def generation(self) -> str:
        """Changes whenever the published graph changes (for caches); "" if unknown."""
        return ""

    def close(self) -> None:  # noqa: B027  (optional: a no-op unless the store holds something)
        """Release files or connections."""


class Engine(ABC):
    """How one kind of store is opened and how a newly built dist/ is published to it."""

    kind: str = ""         # its name in kg.store.ENGINES (KG_STORE)
    remote: bool = False   # a server others may share: `kg build` leaves it to `kg push`

    @abstractmethod
    def open(self, dist: Path) -> Store:
        """The store showing the graph built in dist (read-only use)."""

    def prepare(self, staged: Path) -> object:
        """Work done before a change set's commit point, from the staged dist/ (so a
        failure leaves the published graph as it was). Returns what publish needs."""
        return None

    @abstractmethod
    def publish(self, dist: Path, prepared: object = None, previous: dict | None = None) -> str:
        """Make the store show dist/ (already in place); `previous` is the manifest
        (build.json) the store showed before, when known. Returns one line for people."""

    def discard(self, prepared: object) -> None:  # noqa: B027  (optional: a no-op unless prepare() left something)
        """Undo prepare() when the commit did not happen."""

    def current_generation(self, dist: Path) -> str:
        """The generation a store opened now would show (compare with
        Store.generation() to notice that another process published a new graph)."""
        return ""

    def lock(self, dist: Path) -> AbstractContextManager:
        """Held while dist/ and the store switch to a new graph, so that no reader
        opens the one without the other."""
        return nullcontext()


def dataset_file(dist: Path) -> Path:
    path = dist / "dataset.nq"
    if not path.exists():
        raise KGError(f"no built graph at {path}: run `kg build` first")
    return path


# ---------------------------------------------------------------------------------
# Parsing, shared by every engine
# ---------------------------------------------------------------------------------

_PARSER = ox.Store()  # empty: running a query on it only parses it and tells its form


def query_form(text: str) -> type:
    """The result class of a query (QuerySolutions for SELECT, QueryBoolean for ASK,
    QueryTriples for CONSTRUCT/DESCRIBE), found by Oxigraph's parser on an empty
    store: engines other than Oxigraph check syntax with it, so errors read the same
    everywhere. Raises SyntaxError, and RuntimeError for a call of an unknown function
    (Store.query turns both into BadInput: unknown_function)."""
    return type(_PARSER.query(text, prefixes=prefixes(), base_iri=query_base()))


def query_base() -> str:
    """The base IRI against which a query's relative IRIs resolve when it declares no
    BASE: the endpoint's own IRI under the configured base (<base>sparql), as the
    Protocol's retrieval URI would be; a constant of the settings, never taken from a
    request (a Host header must not reach query text)."""
    return settings().base + "sparql"


def with_prefixes(sparql: str) -> str:
    """The query text with PREFIX declarations for the predefined prefixes it uses but
    does not declare, for engines that take no prefix map (rdflib takes initNs)."""
    declared = {m.lower() for m in re.findall(r"PREFIX\s+([\w.-]*):", sparql, re.I)}
    head = "".join(f"PREFIX {p}: <{ns}> " for p, ns in prefixes().items()
                   if p.lower() not in declared and re.search(rf"(?<![\w.-]){re.escape(p)}:", sparql))
    return head + sparql if head else sparql


def with_base(sparql: str) -> str:
    """The query text with `BASE <query_base()>` in front unless its prologue declares
    a BASE (read from its tokens), for engines that take no base IRI (a remote server;
    Virtuoso refuses a second BASE). The IRI is a constant of the settings."""
    from kg.sparql_lexer import tokens

    for tok in tokens(sparql):
        if tok.kind != "WORD" or tok.text.upper() not in ("BASE", "PREFIX"):
            if tok.kind == "WORD" or tok.kind == "OP":
                break
            continue
        if tok.text.upper() == "BASE":
            return sparql
    return f"BASE <{query_base()}>\n{sparql}"


class QueryFailed(BadInput):
    """A valid query the engine could not evaluate (a limitation or error of the
    engine's library): one line naming the engine and the reason, exit code 2 and
    HTTP 400, never an "internal error", so the user knows to rewrite the query."""


_CUSTOM_FUNCTION = re.compile(r"The custom function (<[^>]*>) is not supported")


def unknown_function(error: RuntimeError) -> QueryFailed | None:
    """Oxigraph plans a query before running it and refuses a call of a function it
    does not know (an extension function, `<http://ex/f>(1)`) with a RuntimeError;
    query_form runs that planner on every engine. That is the user's query, not an
    internal error: QueryFailed naming the function. None for any other error."""
    m = _CUSTOM_FUNCTION.search(str(error))
    if m is None:
        return None
    return QueryFailed(f"unknown function {m.group(1)}: no extension functions are available here; "
                       "use the SPARQL 1.1 built-in functions")


def triples_result(triples: Iterable[ox.Triple]) -> ox.QueryTriples:
    """A pyoxigraph QueryTriples holding exactly the given triples: the one
    CONSTRUCT/DESCRIBE result type of every engine (pyoxigraph has no public
    constructor for it). The triples are the constant template of a CONSTRUCT on an
    empty store, written by Oxigraph's own N-Triples serialization of each term:
    storing them in a Store first would put every literal in Oxigraph's canonical
    form ("2"^^xsd:nonNegativeInteger would come back as "2"^^xsd:integer), while a
    template constant is returned as written. Blank nodes keep their identity within
    the result (one solution, so one fresh node per label)."""
    body = " .\n".join(str(t) for t in triples)
    return cast(ox.QueryTriples, ox.Store().query(f"CONSTRUCT {{\n{body}\n}} WHERE {{}}"))


def check_bindings(bindings: Mapping[str, Term] | None) -> dict[str, Term]:
    """Bindings as {variable name: Oxigraph term}; anything else is a programming error
    (a caller must build terms, e.g. ox.NamedNode(iri), which validates the IRI)."""
    out: dict[str, Term] = {}
    for name, term in (bindings or {}).items():
        if not isinstance(term, (ox.NamedNode, ox.BlankNode, ox.Literal)):
            raise TypeError(f"binding ?{name} must be an RDF term, not {type(term).__name__}")
        out[name.lstrip("?$")] = term
    return out


def values_block(names: Sequence[str], rows: Iterable[Sequence[Term]]) -> str:
    """A VALUES block of terms, each written by Oxigraph's own N-Triples serialization
    of a validated term: the one escaping function of the project."""
    body = " ".join(f"({' '.join(str(t) for t in row)})" for row in rows)
    return f"VALUES ({' '.join('?' + n for n in names)}) {{ {body} }}"


def with_bindings(sparql: str, bindings: Mapping[str, Term]) -> str:
    """Pre-binding for engines that take no substitutions (a remote SPARQL server): a
    one-row VALUES block opening the WHERE group."""
    if not bindings:
        return sparql
    return with_values_block(sparql, values_block(list(bindings), [list(bindings.values())]))


def with_values_block(sparql: str, block: str) -> str:
    """The query with `block` (a VALUES block) opening its WHERE group, so that it is
    joined with everything in the group, first (engines join in written order)."""
    from kg.sparql_lexer import tokens, unescape

    text = unescape(sparql)
    toks = list(tokens(text))
    depth, i = 0, 0
    while i < len(toks):
        t = toks[i]
        if t.keyword == "CONSTRUCT" and i + 1 < len(toks) and toks[i + 1].text == "{":
            level = 0
            for j in range(i + 1, len(toks)):  # skip the template to the group after WHERE
                level += toks[j].text == "{"
                level -= toks[j].text == "}"
                if level == 0:
                    break
            i = j + 1
            continue
        if t.kind == "OP":
            if t.text in ("(", "["):
                depth += 1
            elif t.text in (")", "]"):
                depth -= 1
            elif t.text == "{" and depth == 0:
                return f"{text[:t.pos + 1]} {block} {text[t.pos + 1:]}"
        i += 1
    raise BadInput("VALUES need a query with a WHERE group")


def syntax_message(sparql: str, error: str) -> str:
    """One readable line from Oxigraph's parser error: where, what it expected, and
    the text at that point. Its raw message lists Unicode character classes."""
    m = re.match(r"error at (\d+):(\d+): (.*)", error, re.S)
    if not m:
        return f"SPARQL syntax error: {' '.join(error.split())[:300]}"
    line, col, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if "Prefix not found" in rest:
        what = "unknown prefix (declare it with PREFIX or use a predefined one: " + ", ".join(sorted(prefixes())) + ")"
    else:
        tokens = [t for t in re.findall(r'"[^"]+"|\b[A-Z][A-Za-z]+\b', re.sub(r"\[[^\]]*\]", "", rest))]
        what = "expected " + (", ".join(dict.fromkeys(tokens)) if tokens else "something else")
    lines = sparql.splitlines() or [""]
    near = lines[line - 1][max(0, col - 21):col + 19].strip() if 0 < line <= len(lines) else ""
    return f"SPARQL syntax error at line {line}, column {col}: {what}" + (f" (near \"{near}\")" if near else "")
