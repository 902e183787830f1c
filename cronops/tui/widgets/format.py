"""Short, dense renderings of times, spans and states for the tables.

Colours come from the running theme, so every view reads well in dark and light themes."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.theme import Theme

from cronops import labels
from cronops.visible import visible

# How loud each word is: findings by severity, entries by state, hosts by status.
_LOUDNESS = {
    "critical": "error",
    "warning": "warning",
    "info": "secondary",
    "missed": "error",
    "failing": "error",
    "hung": "error",
    "late": "warning",
    "unknown": "warning",
    "running": "accent",
    "ok": "success",
    "ran": "success",
    "paused": "secondary",
    "disabled": "secondary",
    "failed": "error",
    "killed": "error",
    "refused": "warning",
    "…": "",  # not judged yet
    "-": "",
}


def loud(word: str, theme: Theme, like: str | None = None) -> Text:
    """The word in its theme colour, or in that of `like` (a finding's kind is as loud as its
    severity); a host status other than ok is an error."""
    role = _LOUDNESS.get(like or word, "error" if word else "")
    colour = getattr(theme, role, None) if role else None
    return Text(word, style=f"bold {colour}" if colour else "")


def when(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """'11-22 14:05' in the given zone (the host's, for its jobs); '-' when never."""
    if moment is None:
        return "-"
    return (moment.astimezone(zone) if zone else moment).strftime("%m-%d %H:%M")


def span(seconds: float | None) -> str:
    """'45s', '5m', '2h10m', '1d3h' (see labels.span); '-' when unknown."""
    return "-" if seconds is None else labels.span(seconds)


def clip(text: str, width: int) -> str:
    """One line, at most `width` characters: tables stay one row per item (its control
    characters as escapes, counted in the width)."""
    flat = visible(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


_BLOCKS = "▁▂▃▄▅▆▇█"


def trend(durations: list[float | None]) -> str:
    """A run's duration per character, oldest first, scaled to the longest: '▂▂▃█' shows a job
    slowing down; '·' is a run whose end the log did not show."""
    longest = max((d for d in durations if d is not None), default=0) or 1
    return "".join(
        "·" if d is None else _BLOCKS[min(len(_BLOCKS) - 1, int(d / longest * len(_BLOCKS)))]
        for d in durations
    )
