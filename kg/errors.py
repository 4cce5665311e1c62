"""Every domain error and exit code of the `kg` command, in one module that imports no
other kg module: any layer can raise them, and the CLI maps them to exit codes that a
script can tell apart (docs/cli.md lists them)."""
from __future__ import annotations

from typing import Any, Protocol

OK = 0
CHECK_FAILED = 1   # the data does not conform: violations, or an inconsistent ontology
BAD_INPUT = 2      # a file, syntax, argument or setting the user can fix
REMOTE = 3         # a remote store (the SPARQL server) failed or could not be reached
INTERNAL = 4       # an unexpected exception: a bug in kg, never the user's input
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class KGError(Exception):
    """A failure the user can act on: one line on stderr and exit_code, never a
    traceback. The default is bad input; subclasses name the other outcomes."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(KGError):
    """Unreadable, malformed or unknown input: exit code 2."""

    exit_code = BAD_INPUT


class CheckFailed(KGError):
    """The data was read but does not conform (violations): exit code 1."""

    exit_code = CHECK_FAILED


class RemoteError(KGError):
    """The SPARQL server failed or could not be reached: exit code 3, so that a script
    retries a push instead of editing its input."""

    exit_code = REMOTE


class _Checked(Protocol):
    """What Rejected needs of a check result (kg.changes.CheckResult): its report."""

    report: Any

    def text(self) -> str: ...


class Rejected(CheckFailed):
    """The addition has violations: nothing was written (exit code 1)."""

    def __init__(self, result: _Checked) -> None:
        super().__init__(f"change set refused: {result.report.summary()} (nothing written)")
        self.result = result
