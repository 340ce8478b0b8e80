"""Merging a folder listing that arrives in pages (worker-thread side of the lazy remote model).

Pure Python (no Qt): :class:`PageMerger` keeps the pages received so far in ascending order and, for
each new page, reports the display order and where the new entries landed, so the model can insert
exactly those rows with ``beginInsertRows`` instead of resetting what is already shown.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gsdesktop.datamanager.models import GSFileMetadata

SortKey = Callable[[GSFileMetadata], Any]
Sorter = Callable[[Sequence[GSFileMetadata]], list[GSFileMetadata]]


@dataclass(frozen=True, slots=True)
class MergedPage:
    """The listing so far after one page.

    Attributes:
        entries: every entry received so far, in display order (a fresh list the caller may keep).
        positions: ascending indices in ``entries`` of this page's entries; ``None`` when the whole
            listing was re-sorted (the sort order changed), so rows must be rebuilt.
        sort: the ``(column, descending)`` the entries are ordered by.
    """

    entries: list[GSFileMetadata]
    positions: list[int] | None
    sort: tuple[int, bool]


class PageMerger:
    """Accumulates pages in sort order. Used by one task at a time (pages are fetched in sequence)."""

    def __init__(self) -> None:
        self._asc: list[GSFileMetadata] = []  # ascending by the sort key (folders first)
        self._dirs = 0
        self._sort: tuple[int, bool] | None = None

    def __len__(self) -> int:
        return len(self._asc)

    @property
    def sort(self) -> tuple[int, bool] | None:
        """The order of the last merge (``None`` before the first page)."""
        return self._sort

    def add(
        self, page: Sequence[GSFileMetadata], sort: tuple[int, bool], key: SortKey, sorter: Sorter
    ) -> MergedPage:
        """Merge ``page`` under the order ``sort`` = (column, descending).

        ``key`` is the ascending sort key of that column (folders first); ``sorter`` sorts a whole list
        ascending by it (in chunks, so the GIL is never held long).
        """
        if self._sort is None or sort[0] != self._sort[0]:
            self._asc = sorter([*self._asc, *page])
            self._dirs = sum(1 for m in self._asc if m.is_directory)
            self._sort = sort
            return MergedPage(self._display(sort[1]), None, sort)
        if sort != self._sort:  # same column, other direction: the ascending list is still right
            self._sort = sort
            self._add_sorted(sorted(page, key=key), key)
            return MergedPage(self._display(sort[1]), None, sort)
        landed = self._add_sorted(sorted(page, key=key), key)
        if sort[1]:
            n, d = len(self._asc), self._dirs
            landed = sorted(d - 1 - i if i < d else d + n - 1 - i for i in landed)
        return MergedPage(self._display(sort[1]), landed, sort)

    def _add_sorted(self, new: list[GSFileMetadata], key: SortKey) -> list[int]:
        """Insert already sorted ``new`` entries; their final ascending indices."""
        landed: list[int] = []
        lo = 0
        for meta in new:
            i = bisect_right(self._asc, key(meta), lo=lo, key=key)
            self._asc.insert(i, meta)
            landed.append(i)
            lo = i + 1
            if meta.is_directory:
                self._dirs += 1
        return landed

    def _display(self, descending: bool) -> list[GSFileMetadata]:
        if not descending:
            return list(self._asc)
        d = self._dirs
        return self._asc[:d][::-1] + self._asc[d:][::-1]
