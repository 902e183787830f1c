"""A view onto many rows: filtered by a query, sorted by any column, capped to what a screen needs.

Filtering and sorting work on plain rows in Python; the DataTable only ever holds the first
`limit` of them, because filling a DataTable costs ~0.1 ms a row and a fleet has 10,000 entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

Row = TypeVar("Row")
SHOWN = 100  # rows in the table at once: a tall terminal shows 60, the filter finds the rest


@dataclass(frozen=True)
class Column(Generic[Row]):
    label: str
    cell: Callable[[Row], str | Text]
    sort: Callable[[Row], Any]
    width: int | None = None


class TableView(Vertical, Generic[Row]):
    """A note line over a DataTable. Subclasses give the columns, the rows and each row's key."""

    columns: Sequence[Column]
    default_sort = 0

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, classes="view")
        self.items: list[Row] = []
        self.query = ""
        self.sort_column = self.default_sort
        self.sort_reverse = False
        self.shown: dict[str, Row] = {}
        self.stale = False  # the query changed while the view was out of sight

    def compose(self) -> ComposeResult:
        yield Static("", classes="note")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True)
        for column in self.columns:
            table.add_column(column.label, width=column.width)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    # -- what subclasses say -----------------------------------------------------------------

    def key(self, row: Row) -> str:
        raise NotImplementedError

    def haystack(self, row: Row) -> str:
        raise NotImplementedError

    def note(self, shown: int, matched: int) -> str | Text:
        """The line above the table: counts, and the empty state."""
        total = len(self.items)
        if matched == total:
            text = f"{total} {self.noun}"
        else:
            text = f"{matched} of {total} {self.noun} match '{self.query}'"
        if shown < matched:
            text += f" · showing the first {shown}: filter with / to find the rest"
        return text

    noun = "rows"

    # -- what the app calls ------------------------------------------------------------------

    def show(self, items: list[Row]) -> None:
        self.items = items
        self._sort()
        self.refill()

    def set_query(self, query: str, refill: bool = True) -> None:
        self.query = query.strip().lower()
        if refill:
            self.refill()
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
        self.stale = False
        columns = list(self.columns)  # built once: cells take their colours from the theme now
        words = self.query.split()
        # Items are kept sorted, so a keystroke only filters (sorting 10k rows costs ~50 ms).
        matched = [r for r in self.items if all(w in self.haystack(r) for w in words)]
        shown = matched[:SHOWN]
        table = self.table
        current = self.current_key()
        rows = [(self.key(row), row, [_text(c.cell(row)) for c in columns]) for row in shown]
        with self.app.batch_update():
            table.clear()
            # Labels before rows: adding rows is what makes the table draw its header again.
            for index, (column_key, column) in enumerate(zip(table.columns, columns, strict=True)):
                arrow = ""
                if index == self.sort_column:
                    arrow = " ▼" if self.sort_reverse else " ▲"
                label = Text(column.label + arrow)
                # Widths from the rows shown, set here: DataTable's own sizing happens on a later
                # idle and was seen to leave columns at their labels' width.
                widths = [label.cell_len, *(cells[index].cell_len for _, _, cells in rows)]
                table_column = table.columns[column_key]
                table_column.label = label
                table_column.auto_width = False
                table_column.width = column.width or max(widths)
            self.shown = {}
            for key, row, cells in rows:
                self.shown[key] = row
                table.add_row(*cells, key=key)
            if current in self.shown:
                table.move_cursor(row=table.get_row_index(current), animate=False)
        table.refresh()
        note = self.note(len(shown), len(matched))
        # Never markup: the note repeats what the operator typed, brackets and all.
        self.query_one(".note", Static).update(note if isinstance(note, Text) else Text(note))

    def _sort(self) -> None:
        by = self.columns[self.sort_column].sort
        self.items.sort(key=lambda r: _sortable(by(r)), reverse=self.sort_reverse)

    def current_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # the cursor can sit past the rows for a moment while they change
            return None
        return key

    def current(self) -> Row | None:
        key = self.current_key()
        return self.shown.get(key) if key else None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_index)


def _text(cell: str | Text) -> Text:
    """Plain text, never markup: a command like `echo [done]` must show as written (and
    skipping the markup parser is a third of the cost of filling the table)."""
    return cell if isinstance(cell, Text) else Text(cell, no_wrap=True, end="")


def _sortable(value: Any) -> tuple:
    """None sorts last whatever the type, so 'never ran' does not break a sort by time."""
    return (value is None, value if value is not None else 0)
