"""The `kg` command: argument parsing, output and exit codes only.

Exit codes: 0 success / no violations (warnings and infos allowed, although SHACL's
sh:conforms is then false), 1 the data has violations (or is inconsistent), 2 bad
input (unreadable file, syntax error, unknown query). Errors are one line on stderr,
never a traceback. Sub-commands import what they need lazily so that a query starts
fast.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import cast

from kg.errors import INTERNAL, INTERRUPTED, KGError


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_build(args: argparse.Namespace) -> int:
    from kg import build
    from kg.config import settings

    t0 = time.perf_counter()
    parts = build.load_parts()
    if not args.no_validate:
        from kg import validate

        report = validate.validate_graph(parts.merged())
        if not report.no_violations:
            sys.stderr.write(report.text() + "\n")
            sys.stderr.write("kg: build refused: the graph does not conform (nothing written)\n")
            return 1
    dist = Path(args.dist) if args.dist else settings().dist
    manifest = build.write_dist(parts, dist)
    store = build.publish(dist)
    t = manifest["triples"]
    _out(f"built {dist}/ in {time.perf_counter() - t0:.1f} s: {t['total']} triples "
         f"(ontology {t['ontology']}, data {t['data']}, inferred {t['inferred']}); {store}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from kg import validate

    report = validate.validate_files([Path(f) for f in args.files])
    _out(report.to_json_text() if args.format == "json" else report.text())
    code = 0 if report.no_violations else 1
    if args.reason:
        code = max(code, _reason(args))
    return code


def _reason(args: argparse.Namespace) -> int:
    from kg import build, rdfio, reason
    from kg.config import settings
    from kg.namespaces import bind_all

    parts = build.load_parts(extra_data=[Path(f) for f in args.files], infer=False)
    result = reason.reason(parts.merged())
    if not result.consistent:
        sys.stderr.write(f"kg: the graph is inconsistent (HermiT): {result.explanation}\n")
        return 1
    counts = ", ".join(f"{k} {len(v)}" for k, v in sorted(result.members.items()))
    out = settings().dist / "reasoner-inferred.ttl"
    rdfio.atomic_write(out, rdfio.serialize(bind_all(result.inferred), "turtle"))
    _out(f"Consistent (HermiT, {result.seconds:.1f} s). Defined classes: {counts}. "
         f"{len(result.inferred)} inferred triples written to {out}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from kg import query
    from kg.store import open_store

    if args.list:
        for q in query.named_queries():
            _out(f"{q.name:32} {q.question}")
        return 0
    if not args.query:
        raise KGError("give a query: SPARQL text, a .rq file, or a name from `kg query --list`")
    sparql = query.resolve(args.query)
    _out(query.run(open_store(), sparql, args.format))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kg import export
    from kg.store import open_store

    rows = export.measures(open_store())
    text = export.to_csv(rows) if args.format == "csv" else export.to_json(rows)
    if args.output:
        from kg.rdfio import atomic_write
        atomic_write(Path(args.output), text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from kg import stats
    from kg.store import open_store

    counts = stats.counts(open_store())
    if args.format == "json":
        _out(json.dumps(counts, indent=2))
    else:
        width = max(map(len, counts))
        _out("\n".join(f"{k.replace('_', ' '):{width}}  {v}" for k, v in counts.items()))
    return 0


def _addition(args: argparse.Namespace):
    from kg import changes, rdfio

    if args.file == "-":  # bytes, decoded as a file is (not by the locale's encoding)
        text = rdfio.decode_input(sys.stdin.buffer.read(), "stdin")
        return changes.parse_input(text=text, fmt=args.format or "turtle", name="stdin")
    return changes.parse_input(Path(args.file), fmt=args.format)


def cmd_check(args: argparse.Namespace) -> int:
    from kg import changes

    result = changes.check(_addition(args), replace=args.replace)
    _out(result.text())
    return 0 if result.no_violations else 1


def cmd_add(args: argparse.Namespace) -> int:
    from kg import changes

    try:
        cs, result = changes.add(_addition(args), by=args.by, source=args.source, replace=args.replace)
    except changes.Rejected as e:
        _out(e.result.text())
        raise
    if result.report.findings or result.changes:
        _out(result.text())
    _out(f"accepted change set {cs.id}: {cs.added} triples added, {cs.removed} replaced, by {cs.by} "
         f"({cs.path})")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from kg import changes

    sets = changes.history()
    if args.format == "json":
        _out(json.dumps([{"id": c.id, "by": c.by, "time": c.time, "source": c.source, "added": c.added,
                          "removed": c.removed, "reverts": c.reverts, "reverted_by": c.reverted_by}
                         for c in sets], indent=2))
        return 0
    if not sets:
        _out("no change sets yet")
    for c in sets:
        state = (f"reverts {c.reverts}" if c.reverts else
                 f"reverted by {c.reverted_by}" if c.reverted_by else f"+{c.added} -{c.removed}")
        _out(f"{c.id}  {c.time}  {c.by:16}  {state:32}  {c.source}")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from kg import changes

    cs = changes.revert(args.id, by=args.by, source=args.source)
    _out(f"reverted {cs.reverts}: recorded as change set {cs.id} ({cs.path})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from kg.config import settings

    if not (settings().dist / "dataset.nq").exists():
        raise KGError(f"no built graph in {settings().dist}: run `kg build` first")
    from webapp import create_app, server

    def announce(summary: str) -> None:  # called once the server settings are known to be valid
        _out(f"Serving the Bukhara Deer Knowledge Graph on http://{args.host}:{args.port}/ (Ctrl-C to stop)\n"
             f"waitress: {summary}")

    app = create_app()
    # waitress settings (threads, connection limit, timeouts, size limits): webapp/server.py
    server.serve(app, host=args.host, port=args.port, threads=args.threads, announce=announce,
                 connection_limit=args.connection_limit, channel_timeout=args.channel_timeout)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """Load the built graph (with its accepted change sets) into the SPARQL server."""
    from kg.config import settings
    from kg.stores.sparql import SparqlEngine

    dist = Path(args.dist) if args.dist else settings().dist
    t0 = time.perf_counter()
    line = SparqlEngine().publish(dist, previous=None)
    _out(f"{line} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """A synthetic graph N times the shipped one, built into its own dist/."""
    from kg import build, synth

    if args.scale < 1:
        raise KGError("--scale must be 1 or more")
    out = Path(args.out or f"dist-synth-{args.scale}")
    t0 = time.perf_counter()
    if args.validate:
        from kg import validate

        report = validate.validate_graph(synth.synth_parts(args.scale, args.seed).merged())
        if not report.no_violations:
            sys.stderr.write(report.text() + "\nkg: the synthetic graph does not conform (nothing written)\n")
            return 1
    if args.dumps:
        manifest = build.write_dist(synth.synth_parts(args.scale, args.seed), out)
    else:
        manifest = synth.write_dist(args.scale, args.seed, out)
    store = build.publish(out)
    _out(f"synthetic graph x{args.scale} (seed {args.seed}) in {out}/ in {time.perf_counter() - t0:.1f} s: "
         f"{manifest['triples']['total']} triples, {len(manifest['changesets'])} change sets; {store}\n"
         f"serve it with: KG_DIST={out} kg serve")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """The engines at 1x to 1000x (benchmarks/scale.py); a report, exit code 0."""
    from kg.config import CODE_ROOT

    if not (CODE_ROOT / "benchmarks" / "scale.py").exists():
        raise KGError("kg bench runs from a source checkout (benchmarks/ is not installed)")
    # Its own process, as `python -m benchmarks.scale`: kg (the core) never imports the
    # benchmarks, which import kg (tests/test_layers.py).
    import os
    import subprocess

    options = ["--scales", str(args.scales), "--stores", str(args.stores), "--output", str(args.output),
               "--budget", str(args.budget), "--limit", str(args.limit),
               "--memory-pages-max", str(args.memory_pages_max), "--hermit-limit", str(args.hermit_limit)]
    path = os.pathsep.join(filter(None, [str(CODE_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "benchmarks.scale", *options],
                          env={**os.environ, "PYTHONPATH": path}).returncode


def cmd_steward(args: argparse.Namespace) -> int:
    """Steward accounts for the web page /steward (kg.stewards; file: $KG_STEWARDS)."""
    import getpass
    import os

    from kg import stewards

    path = stewards.accounts_path()
    if args.action != "list" and not args.name:
        raise KGError(f"kg steward {args.action} needs a NAME")
    if args.action == "list":
        names = sorted(stewards.load())
        _out("\n".join(names) if names else f"no steward accounts in {path}")
        return 0
    if args.action == "remove":
        stewards.remove(args.name)
        _out(f"removed steward {args.name} from {path}")
        return 0
    if args.action == "logout":
        stewards.end_sessions(args.name)
        _out(f"ended every web session of steward {args.name} (password unchanged)")
        return 0
    stewards.check_name(args.name)
    password = os.environ.get("KG_STEWARD_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise KGError("no terminal to ask for the password: set KG_STEWARD_PASSWORD")
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            raise KGError("the passwords differ; nothing written")
    new = stewards.add(args.name, password)
    _out(f"{'added' if new else 'changed the password of'} steward {args.name.strip()} in {path} (mode 0600)")
    return 0


def cmd_curate(args: argparse.Namespace) -> int:
    """The curated crosswalk's review (kg.curate): pairs still to decide, and progress."""
    from kg import curate
    from kg.store import open_store

    if args.action == "decide":
        from kg import changes

        try:
            done = curate.decide(open_store(), args.kind, args.a, args.b, args.decision, args.reason, args.by,
                                 shared_action=args.shared_action or "")
        except changes.Rejected as e:
            _out(e.result.text())
            raise
        s, cs = done.suggestion, cast(changes.ChangeSet, done.changeset)
        _out(f"decided {s.kind} pair {curate.label(s.a)} / {curate.label(s.b)}: {s.decision}"
             f"{' (' + s.shared_action + ')' if s.shared_action else ''}; recorded as change set {cs.id}: "
             f"{cs.added} triples added, by {cs.by} (take it back with `kg revert {cs.id}`)")
        return 0
    if args.action == "suggest":
        if args.limit < 0:
            raise KGError("--limit must be 0 (all) or more")
        found = curate.suggest(open_store(), for_=args.for_, decided=args.all)
        if args.format == "json":
            _out(json.dumps([{"score": s.score, "kind": s.kind, "a": s.a.number, "b": s.b.number,
                              "a_iri": s.a.iri, "b_iri": s.b.iri, "decision": s.decision, "reason": s.reason,
                              "shared_action": s.shared_action, "a_text": s.a.text, "b_text": s.b.text}
                             for s in (found[:args.limit] if args.limit else found)], indent=2, ensure_ascii=False))
            return 0
        _out(_suggestions(found, args))
        return 0
    report = curate.report(open_store())
    _out(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if args.format == "json"
         else _report(report))
    return 0


def curate_kinds() -> tuple[str, ...]:
    return ("annex", "shared")   # kg.curate.KINDS, without importing it when the parser is built


def _suggestions(found: list, args: argparse.Namespace) -> str:
    from kg import curate

    where = f" for {args.for_}" if args.for_ else ""
    undecided = sum(1 for s in found if not s.decision)
    if not found or (not args.all and not undecided):
        return f"nothing to decide{where}: every candidate pair has a decision in the review files"
    shown = found[:args.limit] if args.limit else found
    head = ["score", "kind", "measure", "with"] + (["decision"] if args.all else []) + ["text", "its text"]
    rows = [[f"{s.score:.4f}", s.kind, curate.label(s.a), curate.label(s.b)]
            + ([(s.decision + (f":{s.shared_action}" if s.shared_action else "")) or "-"] if args.all else [])
            + [curate.shorten(s.a.text), curate.shorten(s.b.text)]
            for s in shown]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    what = (f"{len(found)} pairs{where}, {len(found) - undecided} decided, {undecided} undecided" if args.all
            else f"{undecided} undecided pair{'s' if undecided != 1 else ''}{where}")
    lines.append(f"({len(shown)} of {what}; --limit 0 lists all)" if len(shown) < len(found) else f"({what})")
    return "\n".join(lines)


def _report(r) -> str:
    from kg import curate, reviews
    from kg.config import settings

    d, root = reviews.reviews_dir(), settings().root
    where = d.relative_to(root) if d.is_relative_to(root) else d
    lines = [f"Review of the crosswalk ({where}/)"]
    if r.error:
        lines.append(f"  the review files could not be read: {r.error}")
    head = ["layer", "candidates", "decided", "undecided", "same", "part", "none"]
    rows = [[x.title, *("-" if v is None else str(v) for v in (x.candidates, x.decided, x.undecided)),
             *(str(x.decisions.get(k, 0)) for k in ("same", "part", "none"))] for x in r.layers]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(row, widths))))
    if not r.ranked:
        lines.append(f"  (candidates not ranked: more than {curate.MAX_RANKED} measures and Annex 1 items; "
                     "same/part/none count every decision)")
    for x in r.layers:
        if x.below_cutoff:
            lines.append(f"  {x.title}: {x.below_cutoff} decided pairs now rank under the cutoff")
        if x.unknown:
            lines.append(f"  {x.title}: {x.unknown} decisions name a measure or Annex 1 item the graph does not have")
    lines += ["", "Links in the graph"]
    for s, prop in (("same", "bkd:coveredByAnnexItem"), ("part", "bkd:contributesToAnnexItem")):
        lines.append(f"  annex links, {curate.STRENGTHS[s]} ({prop}): {r.annex_links.get(s, 0)} links from "
                     f"{r.annex_measures.get(s, 0)} measures to {r.annex_items.get(s, 0)} Annex 1 items")
    lines.append(f"  shared actions (bkd:sharedAction): {len(r.memberships)} shared actions, "
                 f"{sum(m.members for m in r.memberships)} memberships")
    for m in r.memberships:
        lines.append(f"    {m.members:3}  {m.label}")
    lines += ["", f"Annex 1 items no measure feeds (neither strength): {len(r.unfed)} of {r.annex_total}"]
    lines += [f"  {e.number:5}  {curate.shorten(e.text)}" for e in r.unfed]
    lines += ["", *curate.threat_lines(r)]
    lines += ["", f"Measures with no threat tag (bkd:threatClass): {len(r.untagged)} of {r.measure_total}"]
    numbers, line = [e.number for e in r.untagged], "  "
    for n in numbers:
        if len(line) + len(n) + 2 > 88:
            lines.append(line.rstrip(", ").rstrip())
            line = "  "
        line += n + ", "
    if numbers:
        lines.append(line.rstrip(", ").rstrip())
    return "\n".join(lines)


def _version() -> str:
    """The installed distribution's version (what pip installed), else the package's own."""
    from importlib import metadata

    try:
        return metadata.version("bukhara-deer-kg")
    except metadata.PackageNotFoundError:
        from kg import __version__

        return __version__


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kg", description="Bukhara Deer Knowledge Graph")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="ontology + data + inferred -> dist/ (Turtle, N-Triples, JSON-LD)")
    b.add_argument("--dist", help="output directory (default: $KG_DIST or dist/)")
    b.add_argument("--no-validate", action="store_true", help="write even if the shapes report violations")
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("validate", help="SHACL-validate the graph, optionally with extra files; --reason runs HermiT")
    v.add_argument("files", nargs="*", metavar="FILE",
                   help="Turtle/JSON-LD files validated together with the shipped graph")
    v.add_argument("--reason", action="store_true",
                   help="also check consistency with HermiT and materialize defined classes")
    v.add_argument("--format", choices=["text", "json"], default="text",
                   help="json: SHACL's conforms, the no_violations verdict and every pyshacl result")
    v.set_defaults(func=cmd_validate)

    q = sub.add_parser("query", help="run SPARQL: text, a .rq file, or a named query of queries/")
    q.add_argument("query", nargs="?", help="SPARQL text, FILE or NAME")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.add_argument("--list", action="store_true", help="list the named queries with their questions")
    q.set_defaults(func=cmd_query)

    e = sub.add_parser("export", help="tabular exports")
    e.add_argument("what", choices=["measures"], help="one row per measure and Annex 1 item")
    e.add_argument("--format", choices=["csv", "json"], default="csv")
    e.add_argument("-o", "--output", help="write to a file instead of standard output")
    e.set_defaults(func=cmd_export)

    s = sub.add_parser("stats", help="counts of measures, annex items, planning units ...")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_stats)
    for name, helptext in (("check", "validate an addition against the live graph without writing"),
                           ("add", "validate an addition and, if it has no violations, record it as a change set")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("file", metavar="FILE", help="Turtle (.ttl), JSON-LD (.jsonld) or CSV (.csv) file; - for stdin")
        c.add_argument("--format", choices=["turtle", "json-ld", "csv"], help="override the file type")
        c.add_argument("--replace", action="store_true", help="allow the addition to replace existing values")
        if name == "add":
            c.add_argument("--by", required=True, metavar="NAME", help="who adds it")
            c.add_argument("--source", required=True, metavar="TEXT", help="where the facts come from, or why")
        c.set_defaults(func=cmd_check if name == "check" else cmd_add)

    h = sub.add_parser("history", help="list change sets, oldest first")
    h.add_argument("--format", choices=["text", "json"], default="text")
    h.set_defaults(func=cmd_history)

    r = sub.add_parser("revert", help="take a change set back (recorded as a change set itself)")
    r.add_argument("id", metavar="ID", help="a change set id from `kg history`, or `latest`")
    r.add_argument("--by", required=True, metavar="NAME")
    r.add_argument("--source", required=True, metavar="TEXT", help="why it is taken back")
    r.set_defaults(func=cmd_revert)

    w = sub.add_parser("serve", help="serve the web browser and the SPARQL endpoint")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=5000)
    w.add_argument("--threads", type=int, metavar="N",
                   help="request threads (default $KG_SERVE_THREADS or 16)")
    w.add_argument("--connection-limit", type=int, metavar="N",
                   help="open connections accepted at once (default $KG_SERVE_CONNECTION_LIMIT or 1000)")
    w.add_argument("--channel-timeout", type=int, metavar="SECONDS",
                   help="close a connection silent this long (default $KG_SERVE_CHANNEL_TIMEOUT or 30); "
                        "other settings: docs/deployment.md")
    w.set_defaults(func=cmd_serve)

    pu = sub.add_parser("push", help="load the built graph into the SPARQL server (KG_SPARQL_*)")
    pu.add_argument("--dist", help="the build to push (default: $KG_DIST or dist/)")
    pu.set_defaults(func=cmd_push)

    sy = sub.add_parser("synth", help="a synthetic graph N times the shipped one, for benchmarks")
    sy.add_argument("--scale", type=int, required=True, metavar="N")
    sy.add_argument("--seed", type=int, default=1, help="same scale and seed, same graph (default 1)")
    sy.add_argument("--out", help="output directory (default dist-synth-N)")
    sy.add_argument("--validate", action="store_true", help="check it against the shapes first (slow at scale)")
    sy.add_argument("--dumps", action="store_true", help="also write the Turtle/JSON-LD dumps (slow at scale)")
    sy.set_defaults(func=cmd_synth)

    be = sub.add_parser("bench", help="benchmark the engines at 1x to 1000x; writes docs/benchmarks.md")
    be.add_argument("--scales", default="1,10,100,1000", help="comma-separated scales (default 1,10,100,1000)")
    be.add_argument("--stores", default="memory,oxigraph,sparql", help="engines (default memory,oxigraph,sparql)")
    be.add_argument("--output", default="docs/benchmarks.md",
                    help="where the tables go: between the file's <!-- kg-bench --> markers ('-' for none)")
    be.add_argument("--budget", type=float, default=20.0, help="seconds per measured row, at most (default 20)")
    be.add_argument("--limit", type=float, default=1800.0, help="seconds per engine and scale, at most (default 1800)")
    be.add_argument("--memory-pages-max", type=int, default=100,
                    help="largest scale at which pages and serve are measured on memory (default 100)")
    be.add_argument("--hermit-limit", type=float, default=120.0, help="stop HermiT after this many seconds (0: skip)")
    be.set_defaults(func=cmd_bench)

    cu = sub.add_parser("curate", help="the curated crosswalk's review: pairs to decide (suggest), progress (report)")
    cs = cu.add_subparsers(dest="action", required=True, metavar="ACTION")
    su = cs.add_parser("suggest", help="candidate pairs with no decision in the review files, best first")
    su.add_argument("--for", dest="for_", metavar="IRI_OR_NUMBER",
                    help="only the pairs of this measure (2.10, or its IRI) or Annex 1 item (annex 6.2)")
    su.add_argument("--limit", type=int, default=20, metavar="N", help="show at most N pairs (default 20; 0: all)")
    su.add_argument("--all", action="store_true", help="also the decided pairs, with their decision")
    su.add_argument("--format", choices=["text", "json"], default="text")
    su.set_defaults(func=cmd_curate)
    de = cs.add_parser("decide", help="decide one candidate pair; recorded as a change set (kg history / kg revert)")
    de.add_argument("kind", choices=list(curate_kinds()), help="annex (measure, Annex 1 item) or shared (two measures)")
    de.add_argument("a", metavar="A", help="the measure, as suggest names it (2.10)")
    de.add_argument("b", metavar="B", help="the Annex 1 item (6.2 or annex 6.2) or the other measure")
    de.add_argument("--decision", required=True, choices=["same", "part", "none"])
    de.add_argument("--reason", required=True, metavar="TEXT", help="one line: why")
    de.add_argument("--by", required=True, metavar="NAME", help="who decides")
    de.add_argument("--shared-action", metavar="LOCAL",
                    help="for shared same: the shared action (shared-action/LOCAL) both are occurrences of")
    de.set_defaults(func=cmd_curate)
    rp = cs.add_parser("report", help="candidates, decided and undecided per layer; links by strength; gaps")
    rp.add_argument("--format", choices=["text", "json"], default="text")
    rp.set_defaults(func=cmd_curate)

    st = sub.add_parser("steward", help="manage the steward accounts of the web page /steward ($KG_STEWARDS)")
    st.add_argument("action", choices=["add", "remove", "logout", "list"],
                    help="add (or change the password of) NAME, which ends its web sessions; remove NAME; "
                         "logout: end every web session of NAME; list the names")
    st.add_argument("name", nargs="?", metavar="NAME")
    st.set_defaults(func=cmd_steward)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KGError as e:
        sys.stderr.write(f"kg: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kg: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as e:  # last resort: one line, not a traceback
        sys.stderr.write(f"kg: internal error: {type(e).__name__}: {e}\n")
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
