"""Errors that reach the user as one clear line and an exit code, never a traceback."""
from __future__ import annotations


class KGError(Exception):
    """A failure the user can act on. exit_code follows the CLI contract:
    1 = the data does not conform, 2 = bad input (file, syntax, arguments)."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(KGError):
    """Unreadable, malformed or unknown input: exit code 2."""

    exit_code = 2
