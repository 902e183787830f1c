"""Notification routes: the inventory's [[notify]] tables read into Route objects that say which
incidents go where (any apprise URL, or an Alertmanager), how soon and how often.

A URL may name environment variables (`${SLACK_TOKEN}` or `$SLACK_TOKEN`): the secret stays out of
the inventory file, and no error or output ever shows a URL as written or expanded, only masked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

from cronops.kinds import KINDS, SEVERITIES, TIERS, WARNING
from cronops.settings import (
    DURATION_TEXT,
    Key,
    Problem,
    Refused,
    one_of,
    parse_duration,
    read_table,
    text,
)

ALERTMANAGER_SCHEMES = ("alertmanager", "alertmanagers")
DEFAULT_FLAP = timedelta(minutes=30)
DEFAULT_TIMEOUT = 10.0  # seconds a route's receiver has to take a message
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Route:
    """One [[notify]] table: where messages go and which incidents they carry."""

    number: int  # its place among the [[notify]] tables, from 1
    url: str = field(repr=False)  # expanded: may hold a secret, never shown
    written: str = field(repr=False)  # as written (variables unexpanded): its identity
    shown: str  # for output: `name`, else the URL with its secrets masked
    severity: str = WARNING  # this or worse
    kinds: frozenset[str] | None = None  # None: every kind
    tags: frozenset[str] | None = None  # hosts with any of these tags
    hosts: frozenset[str] | None = None
    tiers: frozenset[str] | None = None  # jobs of these tiers (a host's own incidents pass)
    notify_after: Mapping[str, int] = field(default_factory=dict)  # kind -> runs (failed: in a row)
    cooldown: timedelta = timedelta(0)  # between two messages about one incident
    remind: timedelta | None = None  # again while an unacknowledged critical stays open
    flap: timedelta = DEFAULT_FLAP  # reopened within this of its recovery: not told again
    timeout: float = DEFAULT_TIMEOUT

    @property
    def key(self) -> str:
        """What the deliveries table knows the route by: a digest of the URL as written, so a
        rotated secret (in the environment) is still the same route and none is stored."""
        digest = hashlib.blake2b(self.written.encode(), digest_size=8).hexdigest()
        return f"notify:{digest}"

    @property
    def alertmanager(self) -> bool:
        return self.url.split("://", 1)[0].lower() in ALERTMANAGER_SCHEMES


def read_route(
    number: int, table: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[Route | None, list[Problem]]:
    """A [[notify]] table as a Route, or None and the problems that keep it from being one."""
    values, problems = read_table(table, ROUTE_KEYS)
    if "url" not in table:
        problems.append(Problem(None, "missing required key 'url'"))
    elif "url" in values:
        try:
            url = expand(values["url"], os.environ if environ is None else environ)
            shown = values.get("name") or masked(url)
        except Refused as refused:
            problems += [Problem("url", f"key 'url': {p}") for p in refused.problems]
    if problems:
        return None, problems
    settings = {k: v for k, v in values.items() if k not in ("url", "name", "tier")}
    if "tier" in values:
        settings["tiers"] = values["tier"]
    return Route(number=number, url=url, written=values["url"], shown=shown, **settings), []


def expand(url: str, environ: Mapping[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced by the environment's values; a variable that is not set
    is refused by name (never with the URL, which may hold other secrets)."""
    missing = [a or b for a, b in _VARIABLE.findall(url) if (a or b) not in environ]
    if missing:
        names = ", ".join(f"${name}" for name in dict.fromkeys(missing))
        raise Refused([f"the environment variable {names} is not set (the URL names it)"])
    return _VARIABLE.sub(lambda m: environ[m.group(1) or m.group(2)], url)


def masked(url: str) -> str:
    """The URL as output may show it: scheme, host and port, and apprise's own masking of the
    rest (tokens cut to their first and last character, passwords as ****), without the query.
    A URL apprise does not know is refused, without repeating it."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ALERTMANAGER_SCHEMES:
        parts = urllib.parse.urlsplit(url)
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        if not parts.hostname:
            raise Refused(["an Alertmanager URL is alertmanager://HOST:PORT"])
        return f"{scheme}://{parts.hostname}{port}{parts.path}"
    service = quiet_apprise().Apprise.instantiate(url, suppress_exceptions=True)
    if service is None:
        known = f"its scheme {scheme + '://'!r}" if scheme else "it (no scheme://)"
        raise Refused(
            [
                f"apprise does not understand {known} or the rest of it "
                "(see https://github.com/caronc/apprise/wiki for each service's URL)"
            ]
        )
    return service.url(privacy=True).split("?", 1)[0]


def quiet_apprise() -> ModuleType:
    """apprise, imported only where a route is read or used (its import takes ~0.2 s), and
    kept from writing its log to stderr: what it says of a failure is in the error cronops
    shows, and its log lines quote URLs."""
    import apprise

    logging.getLogger("apprise").addHandler(logging.NullHandler())
    return apprise


def _severity(value: Any) -> str:
    return one_of(SEVERITIES)(value)


def _names(choices: tuple[str, ...] | None = None):
    """A list of names (or one name), each one of `choices` when given."""

    def read(value: Any) -> frozenset[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValueError(f"not a name or a list of names: {value!r}")
        names = frozenset(text(item) for item in items)
        if choices is not None and (unknown := sorted(names - set(choices))):
            raise Refused(
                [f"unknown: {', '.join(map(repr, unknown))} (known: {', '.join(choices)})"]
            )
        return names

    return read


def _thresholds(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"not a table: {value!r}")
    problems = []
    for kind, count in value.items():
        if kind not in KINDS:
            problems.append(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
        elif not (isinstance(count, int) and not isinstance(count, bool) and count > 0):
            problems.append(f"{kind} = {count!r}: give a whole number of runs above zero")
    if problems:
        raise Refused(problems)
    return dict(value)


def _optional_duration(value: Any) -> timedelta | None:
    duration = parse_duration(value)
    return duration if duration > timedelta(0) else None


def _timeout(value: Any) -> float:
    seconds = parse_duration(value).total_seconds()
    if seconds <= 0:
        raise ValueError(f"not above zero: {value!r}")
    return seconds


ROUTE_KEYS: dict[str, Key] = {
    "url": Key(text, "an apprise URL like 'slack://T000/B000/XXXX' or 'alertmanager://host:9093'"),
    "name": Key(text, "a non-empty string"),
    "severity": Key(_severity, f"one of {', '.join(SEVERITIES)} (this or worse)"),
    "kinds": Key(_names(KINDS), "a list of finding kinds"),
    "tags": Key(_names(), "a list of host tags"),
    "hosts": Key(_names(), "a list of host names"),
    "tier": Key(_names(tuple(TIERS)), f"a tier or a list of them ({', '.join(TIERS)})"),
    "notify_after": Key(_thresholds, "a table of kind = runs, like { failed = 2 }"),
    "cooldown": Key(parse_duration, DURATION_TEXT),
    "remind": Key(_optional_duration, DURATION_TEXT + " (0: never)"),
    "flap": Key(parse_duration, DURATION_TEXT),
    "timeout": Key(_timeout, DURATION_TEXT + ", above zero"),
}
