"""A demo host's directory tree: dated writes, its zone, its crontab files parsed.

The few helpers both the world builder (world.py) and the cron simulator (cron.py) need.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cronops.crontab import Crontab, parse_crontab
from cronops.demo.catalog import SPOOL


def write(path: Path, text: str, at: datetime | float | None = None) -> None:
    """Write a file, dated `at` when given (a host's files have their own history)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if at is not None:
        set_mtime(path, at)


def set_mtime(path: Path, at: datetime | float) -> None:
    stamp = at.timestamp() if isinstance(at, datetime) else at
    os.utime(path, (stamp, stamp))


def level_options(level: int) -> str:
    """cron's -L option as /etc/default/cron and ps show it (Debian's default, 1, needs none)."""
    return f"-L {level}" if level != 1 else ""


def host_zone(tree: Path) -> ZoneInfo:
    """The host's own zone, as its /etc/timezone says."""
    return ZoneInfo((tree / "etc/timezone").read_text().strip())


def parse_crontabs(host: str, crontabs: Mapping[str, str]) -> list[Crontab]:
    """Crontab texts by their path on the host, parsed as cron reads them (spool: user crontabs)."""
    return [
        parse_crontab(
            text,
            host=host,
            source=path,
            kind="user" if path.startswith(SPOOL) else "system",
            owner=path.removeprefix(SPOOL) if path.startswith(SPOOL) else None,
        )
        for path, text in crontabs.items()
    ]
