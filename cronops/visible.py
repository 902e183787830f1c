"""Text from a host made safe to show: its control characters and raw bytes written as escapes.

Tables, the TUI, Markdown and messages show host text through `visible`; JSON keeps it exact.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# What a terminal (or a reader) could take for something other than a character: controls (Cc:
# ESC starts a sequence that retitles the window or clears the screen), format characters (Cf:
# bidi overrides reorder what follows, zero-width ones hide), lone surrogates (Cs: the raw bytes
# that were not UTF-8) and the line and paragraph separators (Zl, Zp).
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Everything but printable ASCII goes to `_shown`, which decides: a text of plain ASCII with its
# newlines is one pass of the regex engine and no Python call at all.
_ONE_LINE = re.compile(r"[^ -~]")
_LINES = re.compile(r"[^ -~\t\n]")


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with every control and format character as an escape, so that it shows as what
    it is and a terminal never acts on it; printable text (any script) is unchanged.

    The escapes are Python's: `\\t` `\\n` `\\r`, `\\x1b` for another ASCII control (and DEL),
    `\\u0085` `\\u202e` for a code point beyond ASCII, `\\xe9` for a raw byte that was not UTF-8
    (read with errors="surrogateescape"). A backslash already in the text stays as it is: a
    crontab's `\\%` must read as written. With `lines`, for views of several lines, a tab and a
    newline stay themselves."""
    if text.isprintable():  # the common case, at C speed
        return text
    return (_LINES if lines else _ONE_LINE).sub(_shown, text)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char.isprintable() or unicodedata.category(char) not in HIDDEN:
        return char  # a letter, a symbol, a space of another width
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class VisibleStream:
    """A job's output as it arrives in pieces of bytes, as visible lines of text: a character
    cut between two pieces is kept whole, and bytes that are not UTF-8 show as `\\xNN`."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def __call__(self, piece: bytes) -> str:
        return visible(self._decoder.decode(piece), lines=True)
