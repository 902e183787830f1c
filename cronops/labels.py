"""A job's command where room is short: the script's name kept, long paths elided in the middle.

`/usr/local/bin/vacuum-db --full` in 28 columns is `/usr/local/…/vacuum-db --full`, never
`/usr/local/bin/vacuum-d…`: the name tells two jobs apart, the directories seldom do.
"""

from __future__ import annotations

from cronops.visible import visible

ELLIPSIS = "…"
MIN_COMMAND = 12  # a label keeps this much of its command, however long its user's name


def short_command(command: str, width: int) -> str:
    """`command` on one line in at most `width` columns, as visible text (see visible.py).

    First the middle directories of its paths go, one at a time from the path with the most
    left (a path keeps its first directory and its last part); then, if it is still too long,
    the end of the line goes."""
    words = visible(" ".join(command.split())).split(" ")
    paths = {i: _Path.of(word) for i, word in enumerate(words)}
    paths = {i: path for i, path in paths.items() if path is not None}
    while _length(words) > width:
        longest = max(paths, key=lambda i: (len(paths[i].middle), i), default=None)
        if longest is None or not paths[longest].middle:
            break
        paths[longest].middle.pop()
        words[longest] = paths[longest].text()
    text = " ".join(words)
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def _length(words: list[str]) -> int:
    return sum(len(word) for word in words) + len(words) - 1


class _Path:
    """A word with at least one directory between its head and its last part."""

    def __init__(self, head: list[str], middle: list[str], last: str):
        self.head = head
        self.middle = middle
        self.last = last

    @classmethod
    def of(cls, word: str) -> _Path | None:
        parts = word.split("/")
        # "/usr/..." and "--out=/srv/...": the head is the prefix and the first directory.
        keep = 2 if parts[0] in ("", "~", ".", "..") or parts[0].endswith("=") else 1
        if len(parts) < keep + 2 or not parts[-1] or not all(parts[1:-1]):
            return None  # nothing to elide, or a word like "http://" or "a//b"
        return cls(parts[:keep], parts[keep:-1], parts[-1])

    def text(self) -> str:
        return "/".join([*self.head, *self.middle, ELLIPSIS, self.last])


def job_label(user: str, command: str, width: int) -> str:
    """`postgres: /usr/local/…/vacuum-db --full`: whose job and which, in `width` columns."""
    who = f"{visible(user)}: "
    return who + short_command(command, max(width - len(who), MIN_COMMAND))
