// Run one SPARQL query with Comunica (@comunica/query-sparql, default settings) against a
// SPARQL endpoint and print the result as JSON, for tests/test_real_clients.py:
//   node tests/comunica_query.js ENDPOINT FORM QUERY      (FORM: select | ask | graph)
// select -> {"rows": [{var: term}]}, ask -> {"boolean": b}, graph -> {"triples": [[s, p, o]]},
// each term {"type", "value", "datatype", "language"} (blank nodes keep only their type).
"use strict";

const { QueryEngine } = require("@comunica/query-sparql");

function term(t) {
  if (t.termType === "BlankNode") return { type: "BlankNode" };
  if (t.termType === "Literal") {
    return { type: "Literal", value: t.value, datatype: t.datatype.value, language: t.language };
  }
  return { type: t.termType, value: t.value };
}

async function main() {
  const [endpoint, form, query] = process.argv.slice(2);
  const engine = new QueryEngine();
  const context = { sources: [{ type: "sparql", value: endpoint }] };
  let out;
  if (form === "select") {
    const rows = await (await engine.queryBindings(query, context)).toArray();
    out = {
      rows: rows.map((b) => Object.fromEntries([...b].map(([v, t]) => [v.value, term(t)]))),
    };
  } else if (form === "ask") {
    out = { boolean: await engine.queryBoolean(query, context) };
  } else if (form === "graph") {
    const quads = await (await engine.queryQuads(query, context)).toArray();
    out = { triples: quads.map((q) => [term(q.subject), term(q.predicate), term(q.object)]) };
  } else {
    throw new Error(`unknown form ${form}: use select, ask or graph`);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
