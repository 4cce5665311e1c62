"""The engines behind kg.store.Store: oxigraph (default), memory (rdflib), sparql."""
