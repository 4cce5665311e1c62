"""The store contract (store_contract.py) on the sparql engine and a real Virtuoso
(tests/virtuoso_server.py, one server for this module): before each test the store
is loaded with the contract's dataset, which also drops graphs an earlier test added."""
from __future__ import annotations

import pytest
from store_contract import *  # noqa: F403  (the contract's tests, collected here)
from store_contract import write_dataset

from kg.config import SparqlSettings
from kg.stores.sparql import SparqlStore
from test_virtuoso import virtuoso  # noqa: F401  (a fresh server for this module)

pytestmark = pytest.mark.virtuoso


@pytest.fixture(scope="module")
def remote(virtuoso) -> SparqlStore:  # noqa: F811
    cfg = SparqlSettings(query_url=virtuoso.query_url, update_url=virtuoso.update_url, gsp_url=virtuoso.gsp_url,
                         user=virtuoso.user, password=virtuoso.password, timeout=30)
    return SparqlStore(cfg)


@pytest.fixture
def store(remote, tmp_path) -> SparqlStore:
    remote.load(write_dataset(tmp_path))
    return remote
