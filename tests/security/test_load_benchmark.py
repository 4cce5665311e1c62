"""Smoke run of the pages-under-attack benchmark (benchmarks/load.py): it starts a
real server, attacks it and prints its table. The numbers are reported, not judged
here (the target lives in the benchmark and the closing note)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # a real server under attack for a few seconds


def test_load_benchmark_runs_and_reports(dist, capsys, monkeypatch):
    from benchmarks import load

    monkeypatch.setenv("KG_DIST", str(dist))
    assert load.main(["--clients", "2", "--seconds", "1", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "pages, no attack" in out and "pages, 2 attackers" in out
    assert "attack answers:" in out and "503" in out  # the attack was refused, not queued for ever
    assert "target: page p95 under 100 ms" in out
