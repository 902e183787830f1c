"""`journalctl -o json` lines -> JournalRecords (time, identifier, pid, message) for the families.

journald keeps fields apart, so there is no envelope to parse. MESSAGE: text, bytes, or null."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cronops.logs.timestamps import epoch_micros


@dataclass(frozen=True, slots=True)
class JournalRecord:
    cursor: str | None
    identifier: str | None  # SYSLOG_IDENTIFIER (CRON, CROND, crond, ...), else _COMM
    at: datetime | None
    pid: int | None  # SYSLOG_PID if present, else _PID: the pid a syslog file would show
    host: str
    message: str | None  # None when journald gave null (a field over 4096 bytes without --all)


def read(line: str | bytes) -> JournalRecord | None:
    """One output line -> its record, or None for anything but a JSON object."""
    try:
        fields = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(fields, dict):
        return None
    cursor = fields.get("__CURSOR")
    host = fields.get("_HOSTNAME")
    return JournalRecord(
        cursor=cursor if isinstance(cursor, str) else None,
        identifier=_text(fields.get("SYSLOG_IDENTIFIER")) or _text(fields.get("_COMM")),
        at=_realtime(fields.get("__REALTIME_TIMESTAMP")),
        pid=_number(fields.get("SYSLOG_PID")) or _number(fields.get("_PID")),
        host=host if isinstance(host, str) else "",
        message=_message(fields.get("MESSAGE")),
    )


def _text(value: object) -> str | None:
    """A field as text: journald writes a field that is not valid UTF-8 as an array of bytes."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "replace")
    return None


def _message(value: object) -> str | None:
    text = _text(value)
    # syslog files end a line at a newline; the journal keeps a trailing one (cron's MAIL lines)
    return None if text is None else text.rstrip("\n")


def _number(value: object) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _realtime(value: object) -> datetime | None:
    micros = _number(value)
    if micros is None:
        return None
    try:
        return epoch_micros(micros)
    except OverflowError:
        return None
