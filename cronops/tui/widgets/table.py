"""A view onto many rows: filtered by a query, sorted by any column, drawn a screenful at a time.

Filtering and sorting work on plain rows in Python; the RowTable under the note draws only the rows
in sight, so a keystroke costs the filter and a screenful, whether the fleet has 100 or 10,000."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from cronops.tui.widgets.rowtable import RowTable
from cronops.visible import visible

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    label: str
    cell: Callable[[Row], str | Text]
    sort: Callable[[Row], Any]
    width: int | None = None


class TableView(Vertical, Generic[Row]):
    """A note line over a RowTable. Subclasses give the columns, the rows and each row's key."""

    columns: Sequence[Column]
    default_sort = 0
    grouped = False  # rows may show others under them (`under`)

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, classes="view")
        self.items: list[Row] = []
        self.query_text = ""  # not `query`: that is the DOM query method every widget has
        self.sort_column = self.default_sort
        self.sort_reverse = False
        self.matched: list[Row] = []
        self.stale = False  # the query changed while the view was out of sight
        # Each item with its haystack, made once per refill (after the paint, or when a query
        # needs them first): a keystroke only tests substrings.
        self._haystacks: list[tuple[Row, str]] | None = None
        self._matches: list[tuple[Row, str]] = []  # what `_matched_query` matched of those
        self._matched_query: str | None = None
        self._columns: list[Column] = []

    def compose(self) -> ComposeResult:
        yield Static("", classes="note")
        yield RowTable(key=self.key, cells=self.cells)

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    # -- what subclasses say -----------------------------------------------------------------

    def key(self, row: Row) -> str:
        raise NotImplementedError

    def haystack(self, row: Row) -> str:
        raise NotImplementedError

    def under(self, row: Row, words: list[str]) -> list[Row]:
        """The rows shown under `row`, which matched `words` (an expanded group's members)."""
        return []

    def note(self, matched: int) -> str | Text:
        """The line above the table: counts, and the empty state."""
        total = len(self.items)
        if matched == total:
            return f"{total} {self.noun}"
        return f"{matched} of {total} {self.noun} match '{self.query_text}'"

    noun = "rows"

    def cells(self, row: Row) -> list[Text]:
        """A row's cells, made when the table first draws the row."""
        return [_text(column.cell(row)) for column in self._columns]

    # -- what the app calls ------------------------------------------------------------------

    def show(self, items: list[Row], ordered: bool = False) -> None:
        """Show these items; `ordered`: they come in the default sort's order already (thousands
        of findings sorted again would cost the first paint ~40 ms)."""
        self.items = items
        if not (ordered and self.sort_column == self.default_sort and not self.sort_reverse):
            self._sort()
        self.refill()

    def set_query(self, query: str, refill: bool = True) -> None:
        self.query_text = query.strip().lower()
        if refill:
            self._fill()
        else:
            self.stale = True

    def sort_by(self, column: int) -> None:
        """The same column again turns the order round, as a header click does elsewhere."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._sort()
        self.refill()

    def next_sort(self) -> None:
        self.sort_by((self.sort_column + 1) % len(self.columns))

    def refill(self) -> None:
        """Everything again: the rows, their order, the theme or what the cells read changed."""
        self._columns = list(self.columns)  # built once: cells take their colours from the theme
        self._haystacks = None
        self._matched_query = None
        self.table.forget()
        self._fill()
        # Made once the rows are painted, so that neither the paint nor the first key waits.
        self.call_after_refresh(self._haystacks_made)

    def _fill(self) -> None:
        self.stale = False
        if not self._columns:  # a query typed before the first rows came
            self._columns = list(self.columns)
        query = self.query_text
        # Typing on only narrows: what matches the longer query matched the shorter one, so a
        # keystroke filters the last matches, not every item again.
        narrower = self._matched_query is not None and query.startswith(self._matched_query)
        words = query.split()
        if not words:
            matched = self.items
        else:
            matches = self._matches if narrower else self._haystacks_made()
            for word in words:
                matches = [pair for pair in matches if word in pair[1]]
            self._matches = matches
            matched = [row for row, _ in matches]
        self._matched_query = query if words else None  # nothing typed: every row, no haystack
        self.matched = list(matched)
        if self.grouped:  # a list of 100k rows made twice over costs a keystroke ~30 ms
            self.matched = [
                shown for row in self.matched for shown in (row, *self.under(row, words))
            ]
        labels = []
        for index, column in enumerate(self._columns):
            arrow = ""
            if index == self.sort_column:
                arrow = " ▼" if self.sort_reverse else " ▲"
            labels.append(Text(column.label + arrow))
        table = self.table
        widths = [column.width for column in self._columns]
        table.show(self.matched, labels, widths, keep=table.current_key())
        note = self.note(len(matched))
        # Never markup: the note repeats what the operator typed, brackets and all.
        self.query_one(".note", Static).update(note if isinstance(note, Text) else Text(note))

    def _haystacks_made(self) -> list[tuple[Row, str]]:
        if self._haystacks is None:
            self._haystacks = [(row, self.haystack(row)) for row in self.items]
        return self._haystacks

    def _sort(self) -> None:
        by = self.columns[self.sort_column].sort
        self.items.sort(key=lambda r: _sortable(by(r)), reverse=self.sort_reverse)

    def current_key(self) -> str | None:
        return self.table.current_key()

    def current(self) -> Row | None:
        return self.table.current()

    @on(RowTable.HeaderSelected)
    def _header_clicked(self, event: RowTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column)


def _text(cell: str | Text) -> Text:
    """Plain text, never markup: a command like `echo [done]` must show as written (and
    skipping the markup parser is a third of the cost of filling the table); its control
    characters as escapes."""
    return cell if isinstance(cell, Text) else Text(visible(cell), no_wrap=True, end="")


def _sortable(value: Any) -> tuple:
    """None sorts last whatever the type, so 'never ran' does not break a sort by time."""
    return (value is None, value if value is not None else 0)
