"""Where the W3C SPARQL test suites are: a read-only copy kept next to the checkout
(never vendored into the repository, never fetched from the network).

Looked for, in this order:
  1. the directory named by KG_W3C_SPARQL_TESTS;
  2. <repository root>/../shared/w3c-sparql-tests;
  3. when this checkout is a clone of a local directory (`git clone /path/to/repo`),
     <that directory>/../shared/w3c-sparql-tests.
No copy found is an error, never a skip: a conformance run that silently tests
nothing would read as a pass.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = "KG_W3C_SPARQL_TESTS"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path("..") / "shared" / "w3c-sparql-tests"


class SuiteNotFound(Exception):
    """No copy of the W3C SPARQL test suites where they are looked for."""


def _is_suite(path: Path) -> bool:
    return (path / "sparql" / "sparql11").is_dir()


def _origin_directory(repo: Path) -> Path | None:
    """The local directory this checkout was cloned from, if it was (remote.origin.url
    is a path or a file: URL, not a network address)."""
    try:
        url = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=repo,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if url.startswith("file://"):
        url = url[len("file://"):]
    if not url or "://" in url or (":" in url.split("/", 1)[0] and not Path(url).exists()):
        return None  # empty, or a network remote (https://..., user@host:path)
    path = Path(url)
    if not path.is_absolute():
        path = repo / path
    return path.resolve() if path.is_dir() else None


def candidates(repo: Path = REPO_ROOT) -> list[tuple[str, Path]]:
    """Every place looked at, in order, with where the place comes from."""
    out: list[tuple[str, Path]] = []
    if os.environ.get(ENV):
        out.append((ENV, Path(os.environ[ENV]).expanduser()))
    out.append(("next to the repository", (repo / SHARED).resolve()))
    origin = _origin_directory(repo)
    if origin is not None:
        out.append(("next to the clone's origin " + str(origin), (origin / SHARED).resolve()))
    return out


def suite_root(repo: Path = REPO_ROOT) -> Path:
    """The root of the W3C SPARQL test suites (the folder holding sparql/sparql11/).
    A KG_W3C_SPARQL_TESTS that does not name a suite is an error of its own, so a
    mistyped setting is never replaced by another copy unnoticed."""
    places = candidates(repo)
    if os.environ.get(ENV):
        name, path = places[0]
        if not _is_suite(path):
            raise SuiteNotFound(f"{ENV}={os.environ[ENV]} does not hold the W3C SPARQL test suites "
                                f"(no {path / 'sparql' / 'sparql11'})")
        return path
    for _, path in places:
        if _is_suite(path):
            return path
    raise SuiteNotFound("W3C SPARQL test suites not found; looked in: "
                        + "; ".join(f"{p} ({why})" for why, p in places)
                        + f". Set {ENV} to a copy of w3c/rdf-tests (its sparql/ folder).")
