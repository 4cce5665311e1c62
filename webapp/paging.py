"""Long lists one page at a time: a large graph has lists of hundreds of thousands of
links, and every page of the app stays fast by showing one slice ("rows a–b of N")."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_SIZE = 100  # rows of a long list per page


@dataclass
class Page:
    """One page of a long list (a large graph has lists of hundreds of thousands of
    links): its items and where they sit in the whole, for "rows a–b of N" and page links."""
    items: list
    total: int
    number: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.number * self.size, self.total)

    def window(self, around: int = 2) -> list[int | None]:
        """The page numbers to link: first, last and those near this one; None marks a gap."""
        near = range(max(1, self.number - around), min(self.pages, self.number + around) + 1)
        out: list[int | None] = []
        prev = 0
        for n in sorted({1, self.pages, *near}):
            if n - prev > 1:
                out.append(None)
            out.append(n)
            prev = n
        return out


def paginate(items: Sequence, number: int, size: int) -> Page:
    """Page `number` of `size` items (clamped to the pages there are)."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    return Page(list(items[(number - 1) * size:number * size]), len(items), number, size)


def page_number(value: str | None) -> int:
    """The ?page= of a request; anything that is not a positive number is page 1."""
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1
