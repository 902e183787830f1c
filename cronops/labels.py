"""Short forms for a table cell: a job's command, a span of time, a moment relative to now.

`/usr/local/bin/vacuum-db --full` in 28 columns is `/usr/local/…/vacuum-db --full`, never
`/usr/local/bin/vacuum-d…`: the name tells two jobs apart, the directories seldom do.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from cronops.visible import visible

ELLIPSIS = "…"
MIN_COMMAND = 12  # a label keeps this much of its command, however long its user's name


def short_command(command: str, width: int) -> str:
    """`command` on one line in at most `width` characters.

    First the middle directories of its paths go, one at a time from the path with the most
    left (a path keeps its first directory and its last part), then their first directories
    (`…/vacuum-db`); then, if it is still too long, the end of the line goes. To show host
    text, shorten what `visible` made of it: its escapes then count in the width."""
    words = " ".join(command.split()).split(" ")
    paths = {i: path for i, word in enumerate(words) if (path := _Path.of(word)) is not None}
    while _length(words) > width:
        longest = max(paths, key=lambda i: (paths[i].spare, i), default=None)
        if longest is None or not paths[longest].spare:
            break
        words[longest] = paths[longest].shorter()
    text = " ".join(words)
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def _length(words: list[str]) -> int:
    return sum(len(word) for word in words) + len(words) - 1


class _Path:
    """A word with directories before its last part, which can make way for an ellipsis."""

    def __init__(self, head: list[str], middle: list[str], last: str):
        self.head = head
        self.middle = middle
        self.last = last

    @classmethod
    def of(cls, word: str) -> _Path | None:
        parts = word.split("/")
        # "/usr/..." and "--out=/srv/...": the head is the prefix and the first directory.
        keep = 2 if parts[0] in ("", "~", ".", "..") or parts[0].endswith("=") else 1
        if len(parts) <= keep or not parts[-1] or not all(parts[1:-1]):
            return None  # no directory, or a word like "http://" or "a//b"
        return cls(parts[:keep], parts[keep:-1], parts[-1])

    @property
    def spare(self) -> int:
        """How many more times it can be made shorter."""
        return len(self.middle) + (self.head[-1] != ELLIPSIS)

    def shorter(self) -> str:
        if self.middle:
            self.middle.pop()
            return "/".join([*self.head, *self.middle, ELLIPSIS, self.last])
        # The head goes last, keeping a prefix like "--out=" that says what the path is for.
        self.head = [self.head[0], ELLIPSIS] if self.head[0].endswith("=") else [ELLIPSIS]
        return "/".join([*self.head, self.last])


def short_job(user: str, command: str, width: int) -> str:
    """`postgres: /usr/local/…/vacuum-db --full`: whose job and which, in `width` columns, as
    visible text (see visible.py)."""
    who = f"{visible(user)}: "
    return who + short_command(visible(command), max(width - len(who), MIN_COMMAND))


def span(seconds: float) -> str:
    """'45s', '5m', '2h10m', '1d3h': the two largest units are enough for a person."""
    return _span(max(0, round(seconds)))


# A judge words thousands of durations, late starts and limits, mostly the same few seconds.
@lru_cache(maxsize=4096)
def _span(whole: int) -> str:
    amounts = (
        (whole // 86400, "d"),
        (whole // 3600 % 24, "h"),
        (whole // 60 % 60, "m"),
        (whole % 60, "s"),
    )
    first = next((i for i, (value, _) in enumerate(amounts) if value), len(amounts) - 1)
    return "".join(f"{value}{name}" for value, name in amounts[first : first + 2] if value) or "0s"


def size(count: float) -> str:
    """A number of bytes in one unit: `0 B`, `512 B`, `1.5 kB`, `14 kB`, `2.3 MB`."""
    for unit in ("B", "kB", "MB"):
        if round(count) < 1000 or unit == "MB":
            break
        count /= 1000
    return f"{count:.1f} {unit}" if unit != "B" and count < 10 else f"{count:.0f} {unit}"


def ago(moment: datetime, now: datetime) -> str:
    """'12m ago', '1d3h ago': a column of these sorts and reads the same whatever the hosts'
    zones. Under a minute is 'just now', also for a host whose clock runs a little ahead."""
    minutes = round((now - moment).total_seconds() / 60)  # seconds are noise here
    return f"{span(minutes * 60)} ago" if minutes >= 1 else "just now"
