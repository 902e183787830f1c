"""Cron log parsing: the registry of families and line styles, and the entry points for each source.

Each line is first tried in the style that read the one before (like toolong's format_parser, which
moves the format that matched to the front); its syslog tag (CRON, CROND, ...) picks the family."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from sys import intern
from types import ModuleType
from typing import Any

from cronops import collector
from cronops.logs import busybox, cronie, debian, journald, syslog, vixie
from cronops.logs.events import IGNORED, ClockContext, Ignored, LogEvent, ParseResult
from cronops.logs.timestamps import Clock

__all__ = [
    "CRON_TAGS",
    "FAMILIES",
    "STYLES",
    "ClockContext",
    "LogEvent",
    "ParseResult",
    "parse_journal",
    "parse_lines",
]

FAMILIES = {family.NAME: family for family in (debian, cronie, busybox)}
CRON_TAGS = frozenset().union(*(family.TAGS for family in FAMILIES.values()))  # CRON, crond, ...
# Debian and cronie lines are read in one pass with the vixie grammar; other lines as plain text.
STYLES = (syslog.traditional(vixie.GRAMMAR), syslog.rfc3339(vixie.GRAMMAR))

# A family parser takes the message (plain) or its vixie Parts (shaped), then at, pid, host, source.
Parser = Callable[..., LogEvent | Ignored | None]


def parse_lines(lines: Iterable[str], ctx: ClockContext) -> ParseResult:
    """Lines of a syslog or cron file (timestamp styles may change midway) -> events and counts.

    Never raises on content: a line that cannot be read is counted as garbage and skipped.
    The cyclic garbage collector is paused for the read: every young collection promoted
    thousands of events, and each full one walked them all again (~0.5 µs a line)."""
    with collector.paused():
        return _parse_lines(lines, ctx)


def _parse_lines(lines: Iterable[str], ctx: ClockContext) -> ParseResult:
    # One loop, no helper calls on the common path: a Python call per line costs ~3% of the budget.
    clock = Clock(ctx)
    stamps = clock.cache
    styles = list(STYLES)
    shaped, plain, stamp_of = _bind(styles[0])
    dispatch = _Dispatch()
    shaped_by_tag, plain_by_tag = dispatch.shaped, dispatch.plain
    sole_parser: Parser | None = None  # last used for a tag that only one family writes
    last_host = ""
    events: list[LogEvent] = []
    append = events.append
    ignored = garbage = 0
    for line in lines:
        # Every cron tag (CRON, CROND, crond, cron, crontab) holds one of these: two substring
        # searches spare other programs' lines both regexes.
        try:
            cron_like = "RON" in line or "ron" in line
        except TypeError:  # bytes
            line = _as_text(line)
            cron_like = "RON" in line or "ron" in line
        match = None
        if cron_like:
            match = shaped(line) or plain(line)
            if match is None and _switch_style(styles, line):
                shaped, plain, stamp_of = _bind(styles[0])
                match = shaped(line) or plain(line)
        if match is None:
            if not syslog.starts_like_syslog(line) or (cron_like and syslog.names_a_cron_tag(line)):
                garbage += 1
            else:
                ignored += 1
            continue
        groups = match.groups()
        if len(groups) == 9:  # shaped (unpacking beats slicing here)
            stamp, host, tag, pid, user, keyword, jobpid, detail, error = groups
            parsers = shaped_by_tag.get(tag)
            payload: Any = (user, keyword, jobpid, detail, error)
        else:
            stamp, host, tag, pid, payload = groups
            parsers = plain_by_tag.get(tag)
        if parsers is None:
            ignored += 1
            continue
        at = stamps.get(stamp) or stamp_of(clock, stamp)
        if at is None:
            garbage += 1
            continue
        number = int(pid) if pid else None
        if host != last_host:  # every event keeps the host: one string per host, not per line
            last_host = host = intern(host)
        else:
            host = last_host
        if len(parsers) == 1:
            sole_parser = parsers[0]
            result = sole_parser(payload, at, number, host)
        else:
            dispatch.prefer(sole_parser)
            result = _first_understood(parsers, payload, at, number, host)
        if result is None:
            garbage += 1
        elif result is IGNORED:
            ignored += 1
        else:
            append(result)
    return ParseResult(events, len(events) + ignored + garbage, ignored, garbage)


def parse_journal(
    lines: Iterable[str | bytes], ctx: ClockContext
) -> tuple[ParseResult, str | None]:
    """`journalctl -o json` output, one object a line -> events, counts and the last __CURSOR.

    journald's stamps are absolute, so ctx is not needed to place them; it is taken for symmetry."""
    del ctx
    with collector.paused():
        return _parse_journal(lines)


def _parse_journal(lines: Iterable[str | bytes]) -> tuple[ParseResult, str | None]:
    dispatch = _Dispatch()
    sole_parser: Parser | None = None
    events: list[LogEvent] = []
    count = ignored = garbage = 0
    cursor: str | None = None
    for line in lines:
        count += 1
        record = journald.read(line)
        if record is None:
            garbage += 1
            continue
        cursor = record.cursor or cursor
        parsers = dispatch.plain.get(record.identifier or "")
        if parsers is None:
            ignored += 1
            continue
        if len(parsers) == 1:
            sole_parser = parsers[0]
        else:
            dispatch.prefer(sole_parser)
        if record.message is None or record.at is None:
            garbage += 1
            continue
        result = _first_understood(
            parsers, record.message, record.at, record.pid, record.host, "journald"
        )
        if result is None:
            garbage += 1
        elif result is IGNORED:
            ignored += 1
        else:
            events.append(result)
    return ParseResult(events, count, ignored, garbage), cursor


class _Dispatch:
    """Tag -> the family parsers that read it, fresh for each read as the lists get reordered.

    Shared tags (crond: cronie or busybox; crontab: Debian or cronie) go first to the family that
    last read a tag of its own on this host, then to the one that last understood the tag."""

    def __init__(self) -> None:
        self.shaped: dict[str, list[Parser]] = {}  # vixie Parts -> event (Debian, cronie)
        self.plain: dict[str, list[Parser]] = {}  # whole message -> event (every family)
        self.owners: dict[Parser, ModuleType] = {}
        for family in FAMILIES.values():
            self._add(self.plain, family, family.parse)
            if hasattr(family, "parse_parts"):
                self._add(self.shaped, family, family.parse_parts)
        tables = (*self.shaped.values(), *self.plain.values())
        self._shared = [parsers for parsers in tables if len(parsers) > 1]
        self._preferred: ModuleType | None = None

    def _add(self, table: dict[str, list[Parser]], family: ModuleType, parser: Parser) -> None:
        self.owners[parser] = family
        for tag in family.TAGS:
            table.setdefault(tag, []).append(parser)

    def prefer(self, parser: Parser | None) -> None:
        """Put the family of `parser` first for the shared tags."""
        family = self.owners.get(parser)  # type: ignore[arg-type]
        if family is not None and family is not self._preferred:
            self._preferred = family
            for parsers in self._shared:
                parsers.sort(key=lambda other: self.owners[other] is not family)


def _bind(style: syslog.Style) -> tuple[Callable, Callable, Callable]:
    return style.shaped.match, style.plain.match, style.stamp


def _switch_style(styles: list[syslog.Style], line: str) -> bool:
    """Another style reads the line: it moves to the front, as logs rarely change style midway."""
    for index in range(1, len(styles)):
        style = styles[index]
        if style.shaped.match(line) or style.plain.match(line):
            styles.insert(0, styles.pop(index))
            return True
    return False


def _first_understood(
    parsers: list[Parser], payload: Any, at: datetime, pid: int | None, host: str, *source: str
) -> LogEvent | Ignored | None:
    """Try each family sharing the tag; the one that understood the line answers first next time."""
    for index, parse in enumerate(parsers):
        result = parse(payload, at, pid, host, *source)
        if result is not None:
            if index:
                parsers.insert(0, parsers.pop(index))
            return result
    return None


def _as_text(line: object) -> str:
    if isinstance(line, bytes | bytearray):
        return line.decode("utf-8", "replace")
    return str(line)
