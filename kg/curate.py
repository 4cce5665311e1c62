"""The state of the curated crosswalk (issue 11), for `kg curate` and the web's
/curation page: which candidate pairs (kg.candidates) still need a decision in the
review files (kg.reviews), and how far the review and the links it yields have got.

  suggest(store, ...)  the candidate pairs without a decision, best first (or, with
                       decided=True, every candidate and every decided pair with its
                       decision), optionally only those of one measure or Annex 1 item
  report(store)        per layer (annex links, shared actions): candidates, decided,
                       undecided; the links of the built graph by strength (same
                       action / in part; members of each shared action); the Annex 1
                       items no measure feeds; the actions whose text names a threat
                       (the lexicon data/curation/threat-terms.csv) with no matching
                       threat tag; the measures with no threat tag at all
  threat_gaps(store)   that list of actions naming a threat without a matching tag

Both return data; the CLI (kg.cli) and the web app (webapp/curation_views) format it.
The pairs are those of the current store, so a measure added by a change set has its
candidates as soon as the change set is accepted. Ranking compares every pair of
actions: on a graph of more than MAX_RANKED measures and Annex 1 items (the synthetic
benchmark graphs) it is refused by suggest and left out of report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kg import candidates as cand, reviews
from kg.errors import BadInput, KGError

MAX_RANKED = 3000   # measures + Annex 1 items ranked at most (the shipped graph has 92)
KINDS = ("annex", "shared")
LAYER_TITLES = {"annex": "annex links", "shared": "shared actions"}
STRENGTHS = {"same": "same action", "part": "in part"}   # decision -> how pages and reports say it

# the links of the built graph, by strength
ANNEX_LINKS = """
SELECT ?strength (COUNT(*) AS ?links) (COUNT(DISTINCT ?measure) AS ?measures) (COUNT(DISTINCT ?item) AS ?items) WHERE {
  { SELECT DISTINCT ?measure ?item ?strength WHERE {
      { ?measure bkd:coveredByAnnexItem ?item . BIND("same" AS ?strength) }
      UNION
      { ?measure bkd:contributesToAnnexItem ?item . BIND("part" AS ?strength) } } }
} GROUP BY ?strength"""
MEMBERSHIPS = """
SELECT ?shared ?label (COUNT(DISTINCT ?measure) AS ?members) WHERE {
  ?shared a bkd:SharedAction .
  OPTIONAL { ?shared rdfs:label ?label }
  OPTIONAL { ?measure bkd:sharedAction ?shared }
} GROUP BY ?shared ?label"""
UNFED = """
SELECT ?item ?number ?text WHERE {
  ?item a bkd:Annex1Item ; bkd:number ?number ; bkd:text ?text .
  FILTER NOT EXISTS { ?measure bkd:coveredByAnnexItem|bkd:contributesToAnnexItem ?item }
}"""
UNTAGGED = """
SELECT ?measure ?number ?text WHERE {
  ?measure a bkd:Measure ; bkd:number ?number ; bkd:text ?text .
  FILTER NOT EXISTS { ?measure bkd:threatClass ?threat }
}"""
# the texts of the actions (measures and Annex 1 items), their threat tags, and the
# skos:broader links between threat classes, by code (threat_gaps)
ACTION_TEXTS = """
SELECT ?action ?kind ?number ?text WHERE {
  { ?action a bkd:Measure . BIND("measure" AS ?kind) } UNION { ?action a bkd:Annex1Item . BIND("annex1" AS ?kind) }
  ?action bkd:number ?number ; bkd:text ?text .
}"""
THREAT_TAGS = """
SELECT ?action ?code WHERE { ?action bkd:threatClass/skos:notation ?code }"""
THREAT_BROADER = """
SELECT ?code ?broader WHERE {
  ?c a bkd:ThreatClass ; skos:notation ?code .
  OPTIONAL { ?c skos:broader/skos:notation ?broader }
}"""
# the Annex 1 items (with number and text, as ACTION_TEXTS) that have a threat tag (THREAT_TAGS)
TAGGED_ANNEX = """
SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE {
  ?a a bkd:Annex1Item ; bkd:number ?number ; bkd:text ?text ; bkd:threatClass/skos:notation ?code .
}"""
TOTALS = """
SELECT ?kind (COUNT(DISTINCT ?a) AS ?n) WHERE {
  { ?a a bkd:Measure . BIND("measure" AS ?kind) } UNION { ?a a bkd:Annex1Item . BIND("annex1" AS ?kind) }
} GROUP BY ?kind"""

# the decisions recorded in the graph by change sets (decide)
GRAPH_DECISIONS = """
SELECT ?d ?decision ?reason ?a WHERE {
  ?d a bkd:CurationDecision ; bkd:decision ?decision ; bkd:decidesPair ?a .
  OPTIONAL { ?d bkd:decisionReason ?reason }
}"""
SHARED_ACTIONS = """
SELECT ?shared WHERE { ?shared a bkd:SharedAction }"""
SHARED_MEMBERS = """
SELECT ?measure ?shared WHERE { ?measure bkd:sharedAction ?shared }"""


@dataclass(frozen=True)
class Suggestion:
    """One candidate pair (or decided pair), with the decision it has, if any."""
    pair: cand.Pair
    decision: str = ""        # same | part | none | "" (undecided)
    reason: str = ""
    shared_action: str = ""

    @property
    def kind(self) -> str:
        return self.pair.kind

    @property
    def score(self) -> float:
        return self.pair.score

    @property
    def a(self) -> cand.Item:
        return self.pair.a

    @property
    def b(self) -> cand.Item:
        return self.pair.b


@dataclass
class Layer:
    """The review of one layer (annex links or shared actions)."""
    kind: str
    candidates: int | None = None           # None: not ranked (graph too large)
    decided: int | None = None
    undecided: int | None = None
    decisions: dict[str, int] = field(default_factory=dict)   # same/part/none -> decided candidates
    below_cutoff: int | None = None   # decisions on pairs of the graph that now rank under the cutoff
    unknown: int | None = None        # decisions naming a measure or item the graph does not have

    @property
    def title(self) -> str:
        return LAYER_TITLES[self.kind]


@dataclass(frozen=True)
class Entry:
    iri: str
    number: str
    text: str


@dataclass(frozen=True)
class Membership:
    iri: str
    label: str
    members: int


@dataclass(frozen=True)
class ThreatTerm:
    """One row of the threat lexicon (data/curation/threat-terms.csv)."""
    term: str
    pattern: str          # a case-insensitive Python regex over an action's text
    code: str             # an IUCN threat code (skos:notation in ontology/vocab/iucn-threats.ttl)
    note: str = ""

    @property
    def regex(self) -> re.Pattern:
        return re.compile(self.pattern, re.IGNORECASE)


@dataclass(frozen=True)
class ThreatGap:
    """An action whose text names threats (term, code) that none of its tags match."""
    iri: str
    kind: str                          # measure | annex1
    number: str
    text: str
    named: tuple[tuple[str, str], ...]  # (term, code) the text names without a matching tag
    tags: tuple[str, ...]               # the codes of its bkd:threatClass tags

    @property
    def label(self) -> str:
        return f"Annex 1 item {self.number}" if self.kind == "annex1" else f"measure {self.number}"


@dataclass
class Report:
    layers: list[Layer]
    ranked: bool                          # candidates were computed
    annex_links: dict[str, int]           # same/part -> links in the graph
    annex_measures: dict[str, int]        # same/part -> distinct measures with such a link
    annex_items: dict[str, int]           # same/part -> distinct Annex 1 items with such a link
    memberships: list[Membership]         # per shared action, by label
    unfed: list[Entry]                    # Annex 1 items no measure feeds (neither strength)
    untagged: list[Entry]                 # measures with no threat class
    annex_total: int = 0
    measure_total: int = 0
    error: str = ""                       # the review files could not be read
    threat_gaps: list[ThreatGap] = field(default_factory=list)   # text names a threat, no matching tag
    untagged_annex: int = 0               # Annex 1 items with no threat class

    def layer(self, kind: str) -> Layer:
        return next(x for x in self.layers if x.kind == kind)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return {"ranked": self.ranked, "error": self.error,
                "layers": {x.kind: {k: v for k, v in asdict(x).items() if k != "kind"} for x in self.layers},
                "links": {"annex": {s: {"links": self.annex_links.get(s, 0), "measures": self.annex_measures.get(s, 0),
                                        "items": self.annex_items.get(s, 0)} for s in STRENGTHS},
                          "shared": {m.label: m.members for m in self.memberships}},
                "annex_items": self.annex_total, "measures": self.measure_total,
                "unfed_annex_items": [e.number for e in self.unfed],
                "measures_without_threat": [e.number for e in self.untagged],
                "untagged": {"measures": len(self.untagged), "annex_items": self.untagged_annex},
                "threat_named_without_tag": [
                    {"kind": g.kind, "number": g.number, "tags": list(g.tags),
                     "named": [{"term": t, "threat": c} for t, c in g.named]} for g in self.threat_gaps]}


# ---------------------------------------------------------------- pairs and decisions

def ranked_items(store) -> list[cand.Item]:
    """The measures and Annex 1 items of the store; KGError when too many to rank."""
    found = cand.items(store)
    if len(found) > MAX_RANKED:
        raise KGError(f"the graph has {len(found)} measures and Annex 1 items: ranking compares every pair, "
                      f"and more than {MAX_RANKED} is not supported (kg curate works on the shipped graph "
                      "and its change sets)")
    return found


def decisions(directory: Path | None = None) -> dict[tuple[str, str, str], reviews.Decision]:
    """Every row of both review files by pair key (kind, a, b), decided or not."""
    return {d.key: d for kind in KINDS for d in reviews.read(kind, directory)}


def resolve(found: list[cand.Item], spec: str, base: str | None = None) -> list[cand.Item]:
    """The measure(s) or Annex 1 item(s) that `spec` names: an IRI (full, bkdi:path or
    path under the base), "annex 6.2" / "annex1 6.2" / "annex1/6.2" for an Annex 1 item,
    or a number ("2.10", "measure 2.10") for a measure. BadInput if none."""
    from kg.config import settings

    base = base or settings().base
    text = " ".join(spec.split())
    if not text:
        raise BadInput("--for needs a measure or an Annex 1 item: an IRI, a number such as 2.10, or annex 6.2")
    iri = text
    if text.startswith("bkdi:"):
        iri = base + text[len("bkdi:"):].replace("\\/", "/")
    elif re.match(r"(measure|annex1)/", text):
        iri = base + text
    if "/" in iri or ":" in iri:
        hits = [i for i in found if i.iri == iri]
        if hits:
            return hits
        raise BadInput(f"--for {spec}: no measure or Annex 1 item with this IRI in the graph")
    m = re.fullmatch(r"(?i)(?:(measure|m|annex ?1?|a)\s*)?(\d+\.\d+)", text)
    if not m:
        raise BadInput(f"--for {spec}: give an IRI, a measure number such as 2.10, or an Annex 1 item as annex 6.2")
    kind = "annex1" if (m.group(1) or "").lower().startswith("a") else "measure"
    number = m.group(2)
    hits = [i for i in found if i.kind == kind and i.number == number]
    if not hits:
        what = "Annex 1 item" if kind == "annex1" else "measure"
        hint = ""
        if kind == "measure" and any(i.kind == "annex1" and i.number == number for i in found):
            hint = f" (for the Annex 1 item, write annex {number})"
        raise BadInput(f"--for {spec}: no {what} {number} in the graph{hint}")
    return hits


def graph_decisions(store, found: list[cand.Item] | None = None) -> dict[tuple[str, str, str], reviews.Decision]:
    """The decisions recorded in the graph (bkd:CurationDecision, from the change sets of
    `kg curate decide` and the steward page) by pair key; a reverted change set's
    decision is not in the graph, so its pair is undecided again."""
    found = cand.items(store) if found is None else found
    by_iri = {i.iri: i for i in found}
    rows: dict[str, dict] = {}
    for r in store.query(GRAPH_DECISIONS):
        d = rows.setdefault(r["d"].value, {"decision": r["decision"].value, "members": set(),
                                           "reason": r["reason"].value if r["reason"] is not None else ""})
        d["members"].add(r["a"].value)
    out = {}
    for d in rows.values():
        items = [by_iri[m] for m in d["members"] if m in by_iri]
        if len(items) != 2 or d["decision"] not in reviews.DECISIONS:
            continue
        items.sort(key=lambda i: (i.kind != "measure", cand.number_key(i.number)))
        x, y = items
        if x.kind != "measure":
            continue
        kind = "annex" if y.kind == "annex1" else "shared"
        dec = reviews.Decision(kind, x.number, y.number, "", d["decision"], d["reason"])
        out[dec.key] = dec
    return out


def all_decisions(store, found: list[cand.Item] | None = None,
                  directory: Path | None = None) -> dict[tuple[str, str, str], reviews.Decision]:
    """The review files' rows, with the graph's decisions for the pairs they leave undecided."""
    out = decisions(directory)
    for key, d in graph_decisions(store, found).items():
        if key not in out or not out[key].decision:
            out[key] = d
    return out


def suggest(store, *, for_: str | None = None, decided: bool = False,
            directory: Path | None = None) -> list[Suggestion]:
    """The candidate pairs with no decision in the review files nor in the graph (a
    decision recorded as a change set: decide), best first. With
    `decided`, every candidate pair and every decided pair of the graph (ranked under
    the cutoff or not), each with its decision. With `for_`, only the pairs of that
    measure or Annex 1 item (resolve)."""
    found = ranked_items(store)
    only = {i.iri for i in resolve(found, for_)} if for_ is not None else None
    review = all_decisions(store, found, directory)
    out = []
    for p in cand.rank(found):
        if only is not None and p.a.iri not in only and p.b.iri not in only:
            continue
        d = review.get(p.key)   # shared pairs: a is the lower-numbered measure, as in Decision.key
        has = d is not None and bool(d.decision)
        if has and not decided:
            continue
        if p.score < cand.CUTOFF[p.kind] and not has:
            continue
        out.append(Suggestion(p, d.decision, d.reason, d.shared_action) if has and d is not None else Suggestion(p))
    return out


# ---------------------------------------------------------------- deciding a pair (a change set)

@dataclass
class Decided:
    """What decide recorded: the pair, the decision and the change set."""
    suggestion: Suggestion
    changeset: object          # kg.changes.ChangeSet
    graph: object              # the addition (rdflib.Graph)


def _pick(found: list[cand.Item], spec: str, want: str, what: str) -> cand.Item:
    """The measure (want="measure") or Annex 1 item (want="annex1") that `spec` names;
    a bare number names an Annex 1 item where one is wanted (as suggest prints it)."""
    text = " ".join((spec or "").split())
    if want == "annex1" and re.fullmatch(r"\d+\.\d+", text):
        text = "annex " + text
    try:
        hits = [i for i in resolve(found, text) if i.kind == want]
    except BadInput as e:
        raise BadInput(f"{what}: {str(e).removeprefix('--for ')}") from None
    if not hits:
        raise BadInput(f"{what} {spec}: not {'an Annex 1 item' if want == 'annex1' else 'a measure'} of the graph")
    return hits[0]


def decision_iri(kind: str, a: cand.Item, b: cand.Item) -> str:
    from kg.config import settings

    tail = f"annex-m{a.number}-a{b.number}" if kind == "annex" else f"shared-m{a.number}-m{b.number}"
    return f"{settings().base}curation-decision/{tail}"


def decision_graph(store, kind: str, a: str, b: str, decision: str, reason: str, by: str,
                   shared_action: str = "", directory: Path | None = None):
    """The addition that records one decision (checked, nothing written): the
    bkd:CurationDecision record and, for a link, the link with its bkd:CuratedAnnotation
    (the IRIs of kg.crosswalk). BadInput for an unknown or decided pair, a bad decision,
    a missing reason or shared action. Returns (suggestion, graph)."""
    reason = _checked_arguments(kind, decision, reason, by)
    pair, x, y = _undecided_pair(store, kind, a, b, directory)
    slug = _shared_slug(store, kind, decision, shared_action)
    g = _decision_records(store, kind, x, y, decision, reason, by.strip(), slug)
    return Suggestion(pair, decision, reason, slug), g


def _checked_arguments(kind: str, decision: str, reason: str, by: str) -> str:
    """The reason on one line, once kind, decision, reason and decider are valid."""
    if kind not in KINDS:
        raise BadInput(f"unknown kind {kind!r} (use annex or shared)")
    if decision not in reviews.DECISIONS:
        raise BadInput(f"unknown decision {decision!r} (use same, part or none)")
    reason = " ".join((reason or "").split())
    if not reason:
        raise BadInput("missing --reason TEXT: a one-line reason for the decision")
    if not (by or "").strip():
        raise BadInput("missing --by NAME (who decides)")
    return reason


def _undecided_pair(store, kind: str, a: str, b: str, directory: Path | None):
    """The candidate pair a / b of this kind (measures of a shared pair in number
    order), refused when it is no candidate or is decided already. Returns (pair, x, y)."""
    found = ranked_items(store)
    x = _pick(found, a, "measure", "A")
    y = _pick(found, b, "annex1" if kind == "annex" else "measure", "B")
    if kind == "shared":
        if x.iri == y.iri:
            raise BadInput(f"the pair {a} / {b} names one measure twice")
        x, y = sorted((x, y), key=lambda i: cand.number_key(i.number))
    pair = next((p for p in cand.rank(found) if p.kind == kind and p.a.iri == x.iri and p.b.iri == y.iri), None)
    if pair is None:
        raise BadInput(f"{a} / {b} is not a candidate pair of kind {kind} (two measures of one section are "
                       "never a shared pair); see `kg curate suggest`")
    known = all_decisions(store, found, directory).get(pair.key)
    if known is not None and known.decision:
        where = "the review files" if known.line else "the graph (a change set: revert it first)"
        raise BadInput(f"{kind} pair {label(x)} / {label(y)} is already decided {known.decision!r} in {where}")
    return pair, x, y


def _shared_slug(store, kind: str, decision: str, shared_action: str) -> str:
    """The shared action a shared 'same' decision names (it must exist); empty otherwise."""
    from kg.namespaces import inst

    slug = (shared_action or "").strip()
    if kind == "shared" and decision == "same":
        if not slug:
            raise BadInput("a shared 'same' decision needs --shared-action LOCAL (the shared action both are "
                           "occurrences of, shared-action/LOCAL)")
        prefix = str(inst()["shared-action/"])
        local = {r["shared"].value[len(prefix):] for r in store.query(SHARED_ACTIONS)
                 if r["shared"].value.startswith(prefix)}
        if slug not in local:
            raise BadInput(f"--shared-action {slug}: no bkd:SharedAction shared-action/{slug} in the graph "
                           f"(known: {', '.join(sorted(local)) or 'none'})")
    elif slug:
        raise BadInput("--shared-action is for a shared 'same' decision only")
    return slug


def _decision_records(store, kind: str, x, y, decision: str, reason: str, by: str, slug: str):
    """The bkd:CurationDecision record and the links it makes, with their annotations."""
    from datetime import date

    from rdflib import Graph, Literal, URIRef
    from rdflib.namespace import DCTERMS, PROV, RDF, XSD

    from kg import changes
    from kg.crosswalk import PREDICATE, add_link
    from kg.namespaces import bind_all, bkd, inst

    B, I = bkd(), inst()
    agent = URIRef(changes.agent_iri(by))
    created = Literal(date.today().isoformat(), datatype=XSD.date)
    g = bind_all(Graph())
    rec = URIRef(decision_iri(kind, x, y))
    for t in ((RDF.type, B.CurationDecision), (B.decidesPair, URIRef(x.iri)), (B.decidesPair, URIRef(y.iri)),
              (B.decision, Literal(decision)), (B.decisionReason, Literal(reason)),
              (PROV.wasAttributedTo, agent), (DCTERMS.created, created)):
        g.add((rec, *t))

    def annotate(iri: URIRef, s_: URIRef, p: URIRef, o: URIRef, why: str) -> None:
        add_link(g, iri, s_, p, o, why, agent, created, f"curation decision {rec.n3()} (kg curate decide)")

    if kind == "annex" and decision in PREDICATE:
        annotate(I[f"annotation/annex-link-m{x.number}-a{y.number}"], URIRef(x.iri), B[PREDICATE[decision]],
                 URIRef(y.iri), reason)
    elif kind == "shared" and decision == "same":
        target = I[f"shared-action/{slug}"]
        members = {r["measure"].value for r in store.query(SHARED_MEMBERS) if r["shared"].value == str(target)}
        for m, other in ((x, y), (y, x)):
            if m.iri in members:
                continue   # already an occurrence: its annotation stays as it is
            annotate(I[f"annotation/shared-m{m.number}-{slug}"], URIRef(m.iri), B.sharedAction, target,
                     f"Occurrence of the shared action {slug}: decided the same action as measure "
                     f"{other.number}. {reason}")
    return g


def decide(store, kind: str, a: str, b: str, decision: str, reason: str, by: str,
           shared_action: str = "", directory: Path | None = None) -> Decided:
    """Record a decision on a candidate pair as a change set (kg.changes.add: checked
    against the graph, with PROV-O provenance, revertible with `kg revert`). Raises
    BadInput (nothing written) for bad input and kg.changes.Rejected when the check refuses it."""
    from kg import changes

    found, g = decision_graph(store, kind, a, b, decision, reason, by, shared_action, directory)
    source = (f"curation decision: {kind} {label(found.a)} / {label(found.b)} {decision}"
              f"{' (' + found.shared_action + ')' if found.shared_action else ''}: {found.reason}")
    cs, _result = changes.add(g, by=by, source=source)
    return Decided(found, cs, g)


# ---------------------------------------------------------------- report

def _layers(store, directory: Path | None) -> list[Layer]:
    found = cand.items(store)
    review = all_decisions(store, found, directory)
    if len(found) > MAX_RANKED:
        layers = [Layer(kind) for kind in KINDS]
        for d in review.values():
            if d.decision:
                x = layers[KINDS.index(d.kind)]
                x.decisions[d.decision] = x.decisions.get(d.decision, 0) + 1
        return layers
    ranked = cand.rank(found)
    keys = {p.key for p in ranked}
    layers = []
    for kind in KINDS:
        cands = [p for p in ranked if p.kind == kind and p.score >= cand.CUTOFF[kind]]
        cand_keys = {p.key for p in cands}
        got = [review[k] for k in cand_keys if k in review and review[k].decision]
        counts = {s: sum(1 for d in got if d.decision == s) for s in ("same", "part", "none")}
        mine = [d for d in review.values() if d.kind == kind and d.decision]
        layers.append(Layer(kind, len(cands), len(got), len(cands) - len(got), counts,
                            below_cutoff=sum(1 for d in mine if d.key in keys and d.key not in cand_keys),
                            unknown=sum(1 for d in mine if d.key not in keys)))
    return layers


def report(store, directory: Path | None = None) -> Report:
    """The figures of `kg curate report` (and the web's /curation page)."""
    error = ""
    try:
        layers = _layers(store, directory)
    except BadInput as e:   # a malformed review file: the graph's figures are still worth showing
        layers, error = [Layer(kind) for kind in KINDS], str(e)
    ranked = layers[0].candidates is not None
    links, measures, fed = {}, {}, {}
    for r in store.query(ANNEX_LINKS):
        s = r["strength"].value
        links[s], measures[s], fed[s] = int(r["links"].value), int(r["measures"].value), int(r["items"].value)
    members = sorted((Membership(r["shared"].value, r["label"].value if r["label"] is not None
                                 else r["shared"].value.rsplit("/", 1)[-1], int(r["members"].value))
                      for r in store.query(MEMBERSHIPS)), key=lambda m: (m.label.lower(), m.iri))

    def entries(sparql: str, var: str) -> list[Entry]:
        rows = [Entry(r[var].value, r["number"].value, r["text"].value) for r in store.query(sparql)]
        return sorted(rows, key=lambda e: (cand.number_key(e.number), e.iri))
    total = {r["kind"].value: int(r["n"].value) for r in store.query(TOTALS)}
    tagged_annex = next((int(r["n"].value) for r in store.query(TAGGED_ANNEX)), 0)
    return Report(layers, ranked, links, measures, fed, members, entries(UNFED, "item"),
                  entries(UNTAGGED, "measure"), total.get("annex1", 0), total.get("measure", 0), error,
                  threat_gaps(store), total.get("annex1", 0) - tagged_annex)


# ---------------------------------------------------------------- threats the text names

THREAT_TERMS_NAME = "threat-terms.csv"
TERM_COLUMNS = ("term", "pattern", "threat_code", "note")


def threat_terms_file() -> Path:
    """The lexicon of the sources in use (kg.config.project): a checkout's, or the copy
    packaged with the code."""
    from kg.config import settings

    return settings().data_dir / "curation" / THREAT_TERMS_NAME


def threat_terms(path: Path | None = None) -> list[ThreatTerm]:
    """The threat lexicon: the words of the source text that name a threat, each with
    the IUCN threat code it names. BadInput for a missing column, an empty cell or a
    pattern that does not compile."""
    import csv

    path = Path(path) if path else threat_terms_file()
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in TERM_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BadInput(f"{path}: missing column(s) {', '.join(missing)}")
        out = []
        for line, row in enumerate(reader, start=2):
            t = ThreatTerm(*((row[c] or "").strip() for c in TERM_COLUMNS))
            if not (t.term and t.pattern and t.code):
                raise BadInput(f"{path}:{line}: term, pattern and threat_code are required")
            try:
                _ = t.regex
            except re.error as e:
                raise BadInput(f"{path}:{line}: pattern {t.pattern!r} does not compile: {e}") from None
            out.append(t)
    return out


def related_codes(broader: dict[str, set[str]], code: str) -> set[str]:
    """The code, every broader code and every narrower code (skos:broader, transitively)."""
    return {code} | _ancestors(broader, code) | {c for c in broader if code in _ancestors(broader, c)}


def _ancestors(broader: dict[str, set[str]], code: str) -> set[str]:
    seen, todo = set(), [code]
    while todo:
        for b in broader.get(todo.pop(), ()):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def named_threats(text: str, terms: list[ThreatTerm]) -> list[tuple[str, str]]:
    """The (term, code) pairs of the lexicon that the text names, in lexicon order."""
    return [(t.term, t.code) for t in terms if t.regex.search(text)]


def threat_gaps(store, terms: list[ThreatTerm] | None = None) -> list[ThreatGap]:
    """The actions (measures and Annex 1 items) whose text names a threat of the
    lexicon that none of their bkd:threatClass tags matches; a tag matches when it is
    the named code or a broader or narrower one (skos:broader in the store). By kind
    (measures first), then number. KGError for a lexicon code the vocabulary lacks."""
    terms = threat_terms() if terms is None else terms
    broader: dict[str, set[str]] = {}
    for r in store.query(THREAT_BROADER):
        broader.setdefault(r["code"].value, set())
        if r["broader"] is not None:
            broader[r["code"].value].add(r["broader"].value)
    unknown = sorted({t.code for t in terms} - set(broader), key=cand.number_key)
    if unknown and broader:
        raise KGError(f"{THREAT_TERMS_NAME}: threat code(s) {', '.join(unknown)} not in the IUCN threats vocabulary")
    tags: dict[str, set[str]] = {}
    for r in store.query(THREAT_TAGS):
        tags.setdefault(r["action"].value, set()).add(r["code"].value)
    related = {t.code: related_codes(broader, t.code) for t in terms}
    out = []
    for r in store.query(ACTION_TEXTS):
        iri, text = r["action"].value, r["text"].value
        mine = tags.get(iri, set())
        missing = tuple((term, code) for term, code in named_threats(text, terms) if not mine & related[code])
        if missing:
            out.append(ThreatGap(iri, r["kind"].value, r["number"].value, text, missing,
                                 tuple(sorted(mine, key=cand.number_key))))
    return sorted(out, key=lambda g: (g.kind != "measure", cand.number_key(g.number), g.iri))


def threat_lines(r: Report) -> list[str]:
    """The threat part of `kg curate report` as text lines."""
    lines = [f"Actions whose text names a threat with no matching threat tag: {len(r.threat_gaps)}"]
    for g in r.threat_gaps:
        named = "; ".join(f'"{t}" -> {c}' for t, c in g.named)
        lines.append(f"  {label(g):13}  names {named}  (tags: {', '.join(g.tags) or 'none'})")
    lines.append(f"Actions with no threat tag at all: {len(r.untagged)} of {r.measure_total} measures, "
                 f"{r.untagged_annex} of {r.annex_total} Annex 1 items")
    return lines


def shorten(text: str, width: int = 80) -> str:
    """One line of at most `width` characters, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    if " " in cut[width // 2:]:
        cut = cut[:cut.rfind(" ")]
    return cut.rstrip(" ,;:.") + "…"


def label(item: cand.Item | ThreatGap) -> str:
    """How the CLI names a measure or Annex 1 item (what --for accepts)."""
    return f"annex {item.number}" if item.kind == "annex1" else item.number
