"""The exit codes of `kg` are distinct per outcome, so that a script can tell a failed
check from bad input, an unreachable server and a bug (docs/cli.md#exit-codes)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from kg import errors
from kg.changes import Rejected as ChangesRejected
from kg.stores.sparql import RemoteError as SparqlRemoteError

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")


def test_each_outcome_has_its_own_code() -> None:
    codes = {"ok": errors.OK, "check failed": errors.CHECK_FAILED, "bad input": errors.BAD_INPUT,
             "remote": errors.REMOTE, "internal": errors.INTERNAL, "interrupted": errors.INTERRUPTED}
    assert len(set(codes.values())) == len(codes), codes
    assert (errors.OK, errors.CHECK_FAILED, errors.BAD_INPUT, errors.REMOTE, errors.INTERNAL) == (0, 1, 2, 3, 4)


def test_errors_carry_their_codes_and_are_importable_where_they_were() -> None:
    assert errors.KGError("x").exit_code == errors.BAD_INPUT
    assert errors.BadInput("x").exit_code == errors.BAD_INPUT
    assert errors.CheckFailed("x").exit_code == errors.CHECK_FAILED
    assert errors.RemoteError("x").exit_code == errors.REMOTE
    assert issubclass(errors.Rejected, errors.CheckFailed) and errors.Rejected.exit_code == errors.CHECK_FAILED
    assert ChangesRejected is errors.Rejected and SparqlRemoteError is errors.RemoteError


def test_docs_table_matches_the_codes() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M))
    assert rows.keys() == {"0", "1", "2", "3", "4", "130"}, rows
    assert rows["3"].startswith("remote error") and rows["4"].startswith("internal error"), rows


def test_an_unexpected_exception_is_an_internal_error_not_a_server_error(tmp_path: Path) -> None:
    """dataset.nq that is a directory: no KGError covers it, so the CLI's last resort
    answers with one line and code 4 (it was 3, the code of an unreachable server)."""
    (tmp_path / "dataset.nq").mkdir()
    env = {**os.environ, "KG_DIST": str(tmp_path), "KG_STORE": "memory"}
    p = subprocess.run([str(KG), "stats"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == errors.INTERNAL, (p.returncode, p.stderr)
    assert p.stderr.startswith("kg: internal error: ") and "Traceback" not in p.stderr
