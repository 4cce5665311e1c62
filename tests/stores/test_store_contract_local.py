"""The store contract (store_contract.py) on the engines that run in this process:
memory (rdflib) and oxigraph, each on a fresh store per test."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from store_contract import *  # noqa: F403  (the contract's tests, collected here)
from store_contract import write_dataset

from kg.store import Store
from kg.stores.memory import MemoryStore
from kg.stores.oxigraph import OxigraphStore

OPEN = {"memory": MemoryStore.from_file, "oxigraph": OxigraphStore.in_memory}


@pytest.fixture(params=sorted(OPEN))
def store(request, tmp_path) -> Iterator[Store]:
    st = OPEN[request.param](write_dataset(tmp_path))
    yield st
    st.close()
