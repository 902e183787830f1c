"""The help screen: every key cronops answers to, read from the bindings so it never goes stale.

Any key closes it."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

# Keys that are not app bindings: the table's own, and the filter box's.
EXTRA_KEYS = (
    ("enter", "open the job under the cursor; on a host, its jobs; on ▸, expand"),
    ("escape", "clear the filter, close a detail or this help"),
    ("↑ ↓ pgup pgdn", "move in the table"),
    ("click a header", "sort by it (again: reverse)"),
    ("ctrl+p", "command palette: every action by name"),
)


class HelpScreen(ModalScreen[None]):
    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        rows = [
            (
                b.key_display or _key(b.key),
                f"{b.description}: {b.tooltip}" if b.tooltip else b.description,
            )
            for b in self.bindings
        ]
        rows += EXTRA_KEYS
        width = max(len(k) for k, _ in rows)
        text = "\n".join(f"[b]{k.ljust(width)}[/b]  {what}" for k, what in rows)
        with Vertical(id="help"):
            yield Static("[b]cronops keys[/b]\n")
            yield Static(text)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss()


def _key(key: str) -> str:
    names = {"slash": "/", "question_mark": "?", "escape": "esc"}
    return ",".join(names.get(k, k) for k in key.split(","))
