"""A table that draws only the rows in sight, so ten thousand rows cost what a screenful costs.

Rows stay plain objects in a list; a row's cells are made when it is first drawn and kept by its
key. It looks like Textual's DataTable with a row cursor, and answers the same keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import zip_longest
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = TypeVar("Row")
# Columns are as wide as the widest cell in sight (the rows before the table's first layout:
# this many); a wider row scrolled into sight later widens its column then.
MEASURED = 60
PAD = 1  # blank cells either side of a cell's text, as DataTable draws them
CELLS_KEPT = 4096  # rows whose cells are kept: a few screenfuls, not a scroll through 10k


class RowTable(ScrollView, Generic[Row], can_focus=True):
    # DataTable's look, so the views read as before: header, zebra stripes, cursor, hover.
    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .rowtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .rowtable--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .rowtable--even-row {
            background: $surface-darken-1 40%;
        }
        & > .rowtable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .rowtable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .rowtable--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .rowtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .rowtable--hover {
            background: $block-hover-background;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header",
        "rowtable--even-row",
        "rowtable--odd-row",
        "rowtable--cursor",
        "rowtable--hover",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
        Binding("up", "cursor(-1)", "Cursor up", show=False),
        Binding("down", "cursor(1)", "Cursor down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("ctrl+home", "first", "Top", show=False),
        Binding("ctrl+end", "last", "Bottom", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("home", "leftmost", "Home", show=False),
        Binding("end", "rightmost", "End", show=False),
    ]

    class RowSelected(Message):
        """Enter, or a click on the cursor's row."""

        def __init__(self, table: RowTable, index: int, key: str) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class HeaderSelected(Message):
        """A click on a column's label."""

        def __init__(self, table: RowTable, column: int) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(
        self,
        key: Callable[[Row], str],
        cells: Callable[[Row], list[Text]],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._key = key
        self._make_cells = cells
        self.rows: Sequence[Row] = ()
        self.labels: list[Text] = []
        self.widths: list[int] = []  # each column's text width, padding aside
        self._fixed: list[int | None] = []
        self.cursor_row = 0
        self._hover: int | None = None  # the row under the mouse, once it has moved
        self._cells: LRUCache[str, list[Text]] = LRUCache(CELLS_KEPT)
        self._lines: LRUCache[tuple, Strip] = LRUCache(512)
        self._drawn = 0  # bumped whenever every line changes: columns or styles
        self._pseudo: tuple = ()
        self._laid_out: tuple = ()
        self._base = Style()
        self._places: LRUCache[tuple, Style] = LRUCache(4096)

    # -- what the owner calls ----------------------------------------------------------------

    def show(
        self,
        rows: Sequence[Row],
        labels: Sequence[Text],
        widths: Sequence[int | None] = (),
        keep: str | None = None,
    ) -> None:
        """Show these rows under these column labels (a width fixes a column's; None measures
        it), the cursor on the row keyed `keep` if it is still there, else on the first."""
        before = (self.labels, self.widths)
        in_sight = self._in_sight()
        self.rows = rows
        self.labels = list(labels)
        self._fixed = list(widths) or [None] * len(self.labels)
        self.widths = [
            w or label.cell_len for w, label in zip(self._fixed, self.labels, strict=True)
        ]
        self.cursor_row = self.index_of(keep) if keep is not None else 0
        height = self.scrollable_content_region.height or MEASURED
        top = self._top_for(self.cursor_row, height)
        self._measure(rows[top : top + height])
        if before != (self.labels, self.widths):
            self._changed()
        else:
            # Lines are kept by row key: only the rows that moved are drawn again.
            self._resized()
            self._refresh_rows(in_sight)
        # The new virtual size is laid out on the next refresh: scroll after it.
        self.call_after_refresh(self._scroll_to_cursor)

    def forget(self) -> None:
        """The rows' cells are stale (new data, another theme): make them again when drawn."""
        self._cells.clear()
        self._lines.clear()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def get_row_at(self, index: int) -> list[Text]:
        return self._cells_of(self.rows[index])

    def index_of(self, key: str) -> int:
        """The row's index, or 0 when it is not among the rows."""
        at = self.cursor_row
        if at < len(self.rows) and self._key(self.rows[at]) == key:
            return at
        return next((i for i, row in enumerate(self.rows) if self._key(row) == key), 0)

    def current(self) -> Row | None:
        return self.rows[self.cursor_row] if self.cursor_row < len(self.rows) else None

    def current_key(self) -> str | None:
        row = self.current()
        return None if row is None else self._key(row)

    def move_cursor(self, row: int, scroll: bool = True) -> None:
        row = max(0, min(row, len(self.rows) - 1))
        if row != self.cursor_row:
            self._refresh_row(self.cursor_row)
            self.cursor_row = row
            self._refresh_row(row)
        if scroll:
            self._scroll_to_cursor()

    # -- keys and mouse ----------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        self._no_hover()
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self._no_hover()
        page = max(1, self._rows_in_sight())
        self.scroll_relative(y=page * direction, animate=False, force=True)
        self.move_cursor(self.cursor_row + page * direction)

    def action_first(self) -> None:
        self._no_hover()
        self.move_cursor(0)

    def action_last(self) -> None:
        self._no_hover()
        self.move_cursor(len(self.rows) - 1)

    def action_leftmost(self) -> None:
        self.scroll_to(x=0, animate=False)

    def action_rightmost(self) -> None:
        self.scroll_to(x=self.max_scroll_x, animate=False)

    def action_select(self) -> None:
        self._no_hover()
        row = self.current()
        if row is not None:
            self.post_message(self.RowSelected(self, self.cursor_row, self._key(row)))

    async def _on_click(self, event: events.Click) -> None:  # async as Widget._on_click is
        meta = event.style.meta
        if "row" not in meta:
            return
        event.stop()
        if meta["row"] < 0:
            if not meta.get("out_of_bounds"):
                self.post_message(self.HeaderSelected(self, meta["column"]))
        elif meta["row"] == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(meta["row"])

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        row = event.style.meta.get("row")
        self._set_hover(row if row is not None and row >= 0 else None)

    def _on_leave(self, _: events.Leave) -> None:
        self._set_hover(None)

    def _no_hover(self) -> None:
        self._set_hover(None)

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            if self._hover is not None:
                self._refresh_row(self._hover)
            self._hover = row
            if row is not None:
                self._refresh_row(row)

    # -- scrolling ---------------------------------------------------------------------------

    def _rows_in_sight(self) -> int:
        return self.scrollable_content_region.height - 1  # the header takes a line

    def _top_for(self, cursor: int, height: int) -> int:
        """The first row in sight once the cursor is: where it is now, or the nearest that
        shows the cursor."""
        top = min(round(self.scroll_y), max(0, len(self.rows) + 1 - height))
        seen = height - 1  # the header takes a line
        if cursor < top:
            return cursor
        if cursor >= top + seen:
            return cursor - seen + 1
        return top

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height
        if height < 2:
            return
        top = self._top_for(self.cursor_row, height)
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, force=True)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._widen_to_sight()

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # ScrollView reads the viewport the compositor passes as a change of virtual size, so
        # every layout anywhere (each keystroke in the filter box is one) repaints the scrollbars
        # a frame later. Only a new size or a new row count is news to this table.
        laid_out = (size, self.virtual_size, container_size)
        if laid_out == self._laid_out:
            return False
        self._laid_out = laid_out
        return super()._size_updated(size, virtual_size, container_size, layout)

    def _on_resize(self, _: events.Resize) -> None:
        self._widen_to_sight()

    def _widen_to_sight(self) -> None:
        top = round(self.scroll_y)
        if self._measure(self.rows[top : top + self.size.height]):
            self._changed()

    # -- drawing -----------------------------------------------------------------------------

    def _cells_of(self, row: Row) -> list[Text]:
        key = self._key(row)
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self._make_cells(row)
        return cells

    def _measure(self, rows: Sequence[Row]) -> bool:
        """Widen the columns to these rows' cells; True if any grew."""
        widths, fixed, grew = self.widths, self._fixed, False
        for row in rows:
            for index, cell in enumerate(self._cells_of(row)):
                if fixed[index] is None and cell.cell_len > widths[index]:
                    widths[index] = cell.cell_len
                    grew = True
        return grew

    def _changed(self) -> None:
        """The columns changed: every line is drawn again."""
        self._drawn += 1
        self._lines.clear()
        self._resized()
        self.refresh()

    def _resized(self) -> None:
        width = sum(w + 2 * PAD for w in self.widths)
        self.virtual_size = Size(width, len(self.rows) + 1)

    def _in_sight(self) -> list[tuple[str, bool] | None]:
        """What each line under the header shows: its row's key and whether the cursor is on it."""
        top = round(self.scroll_y)
        rows, key, cursor = self.rows, self._key, self.cursor_row
        return [
            (key(rows[index]), index == cursor) if index < len(rows) else None
            for index in range(top, top + self.size.height - 1)
        ]

    def _refresh_rows(self, before: list[tuple[str, bool] | None]) -> None:
        now = self._in_sight()
        changed = [y for y, pair in enumerate(zip_longest(before, now), 1) if pair[0] != pair[1]]
        if changed:
            self.refresh(Region(0, changed[0], self.size.width, changed[-1] - changed[0] + 1))

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - round(self.scroll_y)
        self.refresh(Region(0, y, self.size.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn += 1
        self._lines.clear()
        self._places.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pseudo = tuple(self.get_pseudo_class_state())
        self._base = self.rich_style  # read once a pass: it walks every ancestor
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        # The header stays put; the rows scroll under it.
        index = -1 if y == 0 else y - 1 + scroll_y
        if index >= len(self.rows):
            return Strip.blank(width, self._base)
        cursor = index == self.cursor_row
        hover = index == self._hover
        row_key = None if index < 0 else self._key(self.rows[index])
        key = (index, row_key, cursor, hover, width, self._drawn, self._pseudo)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = self._render_row(index, width, cursor, hover)
        return line.crop(scroll_x, scroll_x + width).adjust_cell_length(width, self._base)

    def _render_row(self, index: int, width: int, cursor: bool, hover: bool) -> Strip:
        """One row as DataTable draws it: each cell padded, in the row's style under the cell's
        own, the cursor's colour over both; then the row's background to the right edge."""
        style = self.get_component_rich_style
        if index < 0:
            row_style, cells = style("rowtable--header"), self.labels
            cursor = hover = False
        else:
            stripe = "rowtable--odd-row" if index % 2 else "rowtable--even-row"
            row_style, cells = style(stripe), self._cells_of(self.rows[index])
        over = Style()
        if hover:
            over += style("rowtable--hover")
        if cursor:
            over += style("rowtable--cursor")
        base = row_style + over
        post = Style.from_color(color=over.color) if over.color else None
        console = self.app.console
        segments: list[Segment] = []
        append = segments.append
        for column, (cell, cell_width) in enumerate(zip(cells, self.widths, strict=True)):
            pre = self._where(base, index, column)
            pad = Segment(" " * PAD, pre + post if post else pre)
            append(pad)
            parts = list(cell.render(console))  # the spans' styles: the cell's own goes under
            if cell.style:
                own = console.get_style(cell.style)
                parts = [Segment(text, own + part if part else own) for text, part, _ in parts]
            for text, part, _ in Segment.adjust_line_length(parts, cell_width):
                full = pre + part if part else pre
                append(Segment(text, full + post if post else full))
            append(pad)
        rest = max(0, width - sum(w + 2 * PAD for w in self.widths))
        append(Segment(" " * rest, self._where(base, index, None)))
        return Strip(segments).simplify()

    def _where(self, style: Style, index: int, column: int | None) -> Style:
        """The style with the cell's place as meta, which clicks read (None: past the columns)."""
        key = (style, index, column)
        found = self._places.get(key)
        if found is None:
            if column is None:
                meta = {"row": index, "column": 0, "out_of_bounds": True}
            else:
                meta = {"row": index, "column": column}
            found = self._places[key] = style + Style.from_meta(meta)
        return found
