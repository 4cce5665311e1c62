"""Services: the questions pages ask the graph, as functions of a repository or store.
They import no Flask (tests/test_web_layers.py checks it), so they run without a
request and routes stay HTTP only: parse the request, call a service, respond."""
