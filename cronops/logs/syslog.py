"""Syslog line styles (rsyslog traditional and RFC 3339, busybox) -> stamp, host, tag, pid, message.

Also undoes rsyslog's `#ooo` escaping of control characters (a newline is logged as `#012`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cronops.logs.timestamps import Clock

# An optional part is written `(?:part|)`, not `(?:part)?`: the same match, but sre runs a `?` group
# through its general repeat machinery, which made the line regexes ~20% slower.
# After the stamp: host, busybox syslogd's optional "facility.level", the tag with an optional
# [pid]. Groups: stamp, host, tag, pid, then the message (plain) or the groups of a grammar.
_HEAD = r" (\S++) (?:[a-z0-9]++\.[a-z]++ |)([^\s\[\]:]++)(?:\[(\d++)\]|): ?"  # ++: no backtracking
_TRADITIONAL_STAMP = r"[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+|)"
_ISO_STAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+|)(?:Z|[+-]\d\d:?\d\d|)"
# A line that starts like syslog but has no "tag:" (e.g. "last message repeated 3 times").
_STAMP_ONLY = re.compile(rf"(?:{_TRADITIONAL_STAMP}|{_ISO_STAMP}) ", re.ASCII)
_CRON_TAG = re.compile(r"\b(?:CRON|CROND|crond|cron|crontab)(?:\[\d+\]|:)")
_ESCAPE = re.compile(r"#(0[0-3][0-7]|177)")  # control characters (rsyslog 8.2302 leaves DEL raw)


@dataclass(frozen=True)
class Style:
    """One timestamp style with two regexes: `shaped` reads the envelope and a message grammar in
    one pass (most cron lines), `plain` the envelope of any other line."""

    name: str
    shaped: re.Pattern[str]  # stamp, host, tag, pid, then the grammar's groups
    plain: re.Pattern[str]  # stamp, host, tag, pid, message
    stamp: Callable[[Clock, str], datetime | None]


def traditional(grammar: str) -> Style:
    """rsyslog's traditional format, `Nov  2 04:17:01 host tag[pid]: message`."""
    return _style("traditional", _TRADITIONAL_STAMP, Clock.syslog, grammar)


def rfc3339(grammar: str) -> Style:
    """rsyslog's RFC 3339 format, journalctl's short-iso: `2026-11-22T09:43:01.6+01:00 host ...`."""
    return _style("rfc3339", _ISO_STAMP, Clock.iso, grammar)


def _style(
    name: str, stamp: str, parse: Callable[[Clock, str], datetime | None], grammar: str
) -> Style:
    head = f"({stamp}){_HEAD}"
    return Style(
        name,
        re.compile(rf"{head}{grammar}\r?$", re.ASCII),
        re.compile(f"{head}(.*)", re.ASCII),
        parse,
    )


def starts_like_syslog(line: str) -> bool:
    """For a line no style reads: a stamp at least (e.g. "last message repeated 3 times")?"""
    return _STAMP_ONLY.match(line) is not None


def names_a_cron_tag(line: str) -> bool:
    """For a line no style reads: does it claim to come from cron (so it is a broken cron line)?"""
    return _CRON_TAG.search(line) is not None


def unescape(text: str) -> str:
    """Undo rsyslog's control-character escaping: `#012` -> newline, `#011` -> tab."""
    if "#" not in text:
        return text
    return _ESCAPE.sub(lambda match: chr(int(match[1], 8)), text)
