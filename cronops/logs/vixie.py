"""The message grammar Debian cron and cronie inherit from vixie cron: `(user) KEYWORD (detail)`.

Both daemons log job and daemon events through it; each family adds its own job keywords on top."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from sys import intern

from cronops.logs.events import IGNORED, Ignored, LogEvent, new_event
from cronops.logs.syslog import unescape

# Groups: user, keyword, jobpid (Debian -L 8 puts "[jobpid] " before the command), detail, error
# (cronie appends ": strerror" after the parenthesis when a system call failed). Optional parts
# are `(?:part|)` for speed, as in syslog.py.
GRAMMAR = r"\(([^)]*+)\) ([^(]+) \((?:\[(\d++)\] |)(.*)\)(?:(: .*)|)"
_MESSAGE = re.compile(GRAMMAR, re.DOTALL)  # journal messages may hold real newlines
Parts = tuple[str, str, str | None, str, str | None]

# Keywords of non-job lines, from the cron sources (Debian cron 3.0pl1, cronie 1.5-1.7, crontab).
DAEMON_KEYWORDS = frozenset(
    {
        "STARTUP",
        "INFO",
        "info",
        "RELOAD",
        "WARNING",
        "REPLACE",
        "BEGIN EDIT",
        "END EDIT",
        "LIST",
        "DELETE",
    }
)
ERROR_KEYWORDS = frozenset(
    {
        "error",
        "ERROR",
        "ORPHAN",
        "DEATH",
        "AUTH",
        "UNSAFE",
        "UNSAFE MAIL",
        "CAN'T OPEN",
        "CAN'T FORK",
        "CAN'T LOCK",
        "PIPE() FAILED",
        "STAT FAILED",
        "FSTAT FAILED",
        "LSTAT FAILED",
        "OPENDIR FAILED",
        "REGEX FAILED",
        "ENTRYPOINT FAILED",
        "INOTIFY",
        "NOT REGULAR",
        "NOT A REGULAR FILE",
        "BAD FILE MODE",
        "INSECURE MODE",
        "BAD LINK COUNT",
        "NUMBER OF HARD LINKS > 1",
        "WRONG FILE OWNER",
        "WRONG SYMLINK OWNER",
        "WRONG INODE INFO",
        "FAILED to open PAM security session",
    }
)
# What the `crontab` program logs (Debian and cronie): a user's crontab changed, or began to.
CRONTAB_EDITS = frozenset({"REPLACE", "DELETE", "BEGIN EDIT", "END EDIT"})
_DAEMON_USER = "CRON"  # log_it's user for the daemon itself


def split(message: str) -> Parts | None:
    """`(user) KEYWORD ([jobpid] detail)[: strerror]` -> Parts, or None for any other shape."""
    match = _MESSAGE.fullmatch(message)
    return None if match is None else match.groups()  # type: ignore[return-value]


def command(text: str) -> str:
    # Commands repeat on every run: one shared string per command keeps a long history small.
    return intern(unescape(text))


def whole_detail(jobpid: str | None, detail: str) -> str:
    """The detail as logged, for lines whose "[digits] " prefix is text and not a job pid."""
    return detail if jobpid is None else f"[{jobpid}] {detail}"


def user_of(name: str) -> str | None:
    return None if name == _DAEMON_USER else intern(name)


def other_line(
    parts: Parts, at: datetime, pid: int | None, host: str, source: str, dialect: str
) -> LogEvent | None:
    """A known non-job keyword -> a "daemon", "error" or "mail" event; None for an unknown one."""
    user, keyword, jobpid, detail, error = parts
    if keyword in DAEMON_KEYWORDS:
        kind = "daemon"
    elif keyword in ERROR_KEYWORDS:
        kind = "error"
    elif keyword == "MAIL":
        kind = "mail"
    else:
        return None
    return new_event(
        at,
        kind,
        user_of(user),
        None,
        pid,
        detail=unescape(whole_detail(jobpid, detail)).strip() + (error or ""),
        source=source,
        dialect=dialect,
        keyword=intern(keyword),
        process_pid=pid,
        host=host,
    )


# Debian cron's complaint about one line of a crontab, before it rejects the file:
# `Error: bad username; while reading /etc/cron.d/app` (from its log_error, outside the grammar).
READ_ERROR = "Error: "


def unshaped(
    message: str, at: datetime, pid: int | None, host: str, source: str, dialect: str
) -> LogEvent | Ignored | None:
    """A message outside the grammar: a crontab's read error is an "error" event, PAM session
    lines are skipped, anything else is garbage."""
    if message.startswith(READ_ERROR):
        return new_event(
            at,
            "error",
            None,
            None,
            pid,
            detail=unescape(message[len(READ_ERROR) :]).strip(),
            source=source,
            dialect=dialect,
            keyword="Error",
            process_pid=pid,
            host=host,
        )
    return IGNORED if message.startswith("pam_") else None


def message_parser(parse_parts: Callable[..., LogEvent | None], name: str):
    """A family's `parse` for a whole message: the vixie grammar, then its own `parse_parts`."""

    def parse(
        message: str, at: datetime, pid: int | None, host: str, source: str = name
    ) -> LogEvent | Ignored | None:
        parts = split(message)
        if parts is None:
            return unshaped(message, at, pid, host, source, name)
        return parse_parts(parts, at, pid, host, source)

    return parse
