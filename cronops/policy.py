"""Alerting policy: grace, limits, severities, silences, runbooks and maintenance windows per job.

From the inventory's [defaults], [tags.NAME], [[hosts]] and [[jobs]] tables; the most specific wins.

Precedence, each key on its own: [defaults] < [tags.NAME] (in the order of the host's `tags`) <
[[hosts]] < every matching [[jobs]] rule, later rules over earlier ones. A value replaces the one
below it whole: lists (`ignore`, `maintenance`) are not merged, so a job can opt out of a fleet
window with `maintenance = []`.

Severity of a finding: its kind's default (DEFAULT_SEVERITY: a normal job's missed, failed and
hung are warnings, its late, slow and overlap info), a job's moved one step up by `tier =
"critical"` or one step down by `tier = "low"`; a host's own (unreachable, cron_not_running, ...)
follow no tier. An explicit `severity` wins over both (one severity for every kind, or a table of
kind = severity).

Maintenance windows, in any of the tables:
    maintenance = [
        {start = 2026-11-22T01:00:00Z, end = 2026-11-22T05:00:00Z},  # once; strings work too
        {cron = "0 2 * * 0", duration = "2h"},                       # Sundays 02:00-04:00
        {cron = "30 1 * * *", duration = "1h", timezone = "UTC"},
    ]
A time without an offset, and a cron window without `timezone`, are read in the job's own zone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.kinds import DEFAULT_SEVERITY, JOB_KINDS, KINDS, SEVERITIES, TIERS
from cronops.schedule import REBOOT, expected_runs, split_schedule, validate
from cronops.settings import (
    DURATION_TEXT,
    Key,
    Problem,
    Refused,
    hint,
    number,
    one_of,
    parse_duration,
    positive_duration,
    read_table,
    text,
)

DEFAULT_GRACE = timedelta(minutes=5)
DEFAULT_SLOW_FACTOR = 3.0
# A 2 s job taking 7 s is "3x its median" and nobody's problem: slow also needs this much extra.
DEFAULT_SLOW_MARGIN = timedelta(minutes=1)
DEFAULT_CLOCK_SKEW = timedelta(minutes=1)
# Jobs whose resolved policies a book keeps (a fleet's 100,000 entries: ~20 MB).
RESOLVED_KEPT = 100_000

_WINDOW_TEXT = (
    "a list of windows, each {start = ..., end = ...} (date-times) "
    'or {cron = "0 2 * * 0", duration = "2h"}, optionally with timezone = "Area/City"'
)
_WINDOW_KEYS = {"start", "end", "cron", "duration", "timezone"}


class PolicyError(ValueError):
    """Policy tables that did not read; carries every problem, each naming its table and key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# -- readers: each turns a value as written into what Policy holds, or raises ValueError.


def _factor(value: Any) -> float:
    if number(value) > 1:
        return float(value)
    raise ValueError(f"not above 1: {value!r}")


def _severities(value: Any) -> tuple[tuple[str, str], ...]:
    """One severity for every kind, or a table of kind = severity: the explicit overrides."""
    if isinstance(value, dict):
        if not all(kind in KINDS and level in SEVERITIES for kind, level in value.items()):
            raise ValueError(f"not a table of kind = severity: {value!r}")
        return tuple(sorted(value.items()))
    return tuple(sorted(dict.fromkeys(KINDS, one_of(SEVERITIES)(value)).items()))


def _ignored(value: Any) -> frozenset[str]:
    if isinstance(value, bool):
        return frozenset(KINDS if value else ())
    if isinstance(value, list) and all(kind in KINDS for kind in value):
        return frozenset(value)
    raise ValueError(f"not true, false or a list of kinds: {value!r}")


def _runbook(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"not a URL: {value!r}")


def _windows(value: Any) -> tuple[Window, ...]:
    if not isinstance(value, list):
        raise ValueError(f"not a list of windows: {value!r}")
    windows, problems = [], []
    for position, table in enumerate(value, start=1):
        try:
            windows.append(_window(table))
        except Refused as refused:
            problems += [f"window {position}: {p}" for p in refused.problems]
    if problems:
        raise Refused(problems)
    return tuple(windows)


def _window(table: Any) -> Window:
    if not isinstance(table, dict):
        raise Refused(
            [f'must be a table like {{cron = "0 2 * * 0", duration = "2h"}}, not {table!r}']
        )
    problems = [
        f"unknown key {key!r}{hint(key, _WINDOW_KEYS)}" for key in table.keys() - _WINDOW_KEYS
    ]
    zone = _zone(table["timezone"]) if "timezone" in table else None
    if "timezone" in table and zone is None:
        problems.append(f"unknown time zone {table['timezone']!r}")
    if "cron" in table:
        cron, duration = table["cron"], timedelta(0)
        if table.keys() & {"start", "end"}:
            problems.append("give either cron + duration or start + end, not both")
        elif not _schedule_ok(cron):
            why = validate(cron) if isinstance(cron, str) and cron else None
            problems.append(
                f"'cron' must be a cron schedule like \"0 2 * * 0\" ({why or 'not one'})"
            )
        try:
            duration = positive_duration(table.get("duration"))
        except ValueError:
            problems.append(f"'duration' must be {DURATION_TEXT}, above zero")
        if problems:
            raise Refused(problems)
        return Window(cron=cron, duration=duration, zone=zone)
    if "duration" in table:
        problems.append("'duration' goes with 'cron'; a one-off window has start and end")
    start, end = _moment(table.get("start")), _moment(table.get("end"))
    for key, moment in (("start", start), ("end", end)):
        if moment is None:
            problems.append(f"'{key}' must be a date-time like 2026-11-22T01:00:00Z")
    if start and end and _comparable(start, end) and end <= start:
        problems.append("'end' must be after 'start'")
    if problems:
        raise Refused(problems)
    return Window(start=start, end=end, zone=zone)


def _schedule_ok(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value != ""
        and validate(value) is None
        and (split_schedule(value) != [REBOOT])
    )


POLICY_KEYS: dict[str, Key] = {
    "grace": Key(parse_duration, DURATION_TEXT),
    "max_duration": Key(positive_duration, f"{DURATION_TEXT}, above zero"),
    "min_duration": Key(positive_duration, f"{DURATION_TEXT}, above zero"),
    "slow_factor": Key(
        _factor,
        "a number above 1 (3: slow past 3x the median of its runs around it, too fast under a third)",
    ),
    "slow_margin": Key(parse_duration, DURATION_TEXT),
    "clock_skew": Key(positive_duration, f"{DURATION_TEXT}, above zero"),
    "tier": Key(one_of(TIERS), f"one of {', '.join(repr(t) for t in TIERS)}"),
    "severity": Key(
        _severities,
        f"one of {', '.join(repr(s) for s in SEVERITIES)}, or a table of kind = severity",
    ),
    "ignore": Key(_ignored, f"true, false or a list of kinds ({', '.join(KINDS)})"),
    "runbook": Key(_runbook, "a URL string"),
    "maintenance": Key(_windows, _WINDOW_TEXT),
}
JOB_MATCH_KEYS: dict[str, Key] = {
    "host": Key(text, "a host name or glob like 'db-*'"),
    "user": Key(text, "a user name"),
    "command": Key(text, "text the job's command contains"),
    "id": Key(text, "an entry id as `cronops jobs` shows it"),
    "tag": Key(text, "a tag the job's host carries"),
}
JOB_RULE_KEYS = {**JOB_MATCH_KEYS, **POLICY_KEYS}
# The Policy field each key sets, where the two names differ.
_FIELDS = {"severity": "severities", "ignore": "ignored"}


def policy_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The policy keys among values read by read_table (a host's table holds others too)."""
    return {key: value for key, value in values.items() if key in POLICY_KEYS}


def read_job_rule(table: Mapping[str, Any]) -> tuple[JobRule, list[Problem]]:
    """One [[jobs]] table: match keys (at least one) and policy keys, read in one pass."""
    values, problems = read_table(table, JOB_RULE_KEYS)
    if not table.keys() & JOB_MATCH_KEYS.keys():
        problems.append(
            Problem(
                None,
                f"needs at least one of {', '.join(JOB_MATCH_KEYS)} to say which jobs it is for",
            )
        )
    rule = JobRule(
        match=tuple((k, v) for k, v in values.items() if k in JOB_MATCH_KEYS),
        settings=policy_settings(values),
    )
    return rule, problems


# -- the resolved policy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A maintenance window: once (start/end) or recurring (cron + duration)."""

    start: datetime | None = None  # naive: in the job's zone
    end: datetime | None = None
    cron: str | None = None
    duration: timedelta = timedelta(0)
    zone: tzinfo | None = None  # None: the job's zone

    def spans(self, zone: tzinfo, low: datetime, high: datetime) -> list[tuple[float, float]]:
        """The window's occurrences overlapping [low, high], as (start, end) POSIX timestamps."""
        return list(_spans(self, zone, low.astimezone(UTC), high.astimezone(UTC)))


@dataclass(frozen=True)
class Policy:
    """Everything that decides how one job (or one host) is judged."""

    grace: timedelta = DEFAULT_GRACE
    max_duration: timedelta | None = None  # None: slow by history only; hung by history or interval
    min_duration: timedelta | None = None  # None: too_fast by history only
    slow_factor: float = DEFAULT_SLOW_FACTOR
    slow_margin: timedelta = DEFAULT_SLOW_MARGIN
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    tier: str = "normal"
    severities: tuple[tuple[str, str], ...] = ()  # explicit (kind, severity) overrides
    ignored: frozenset[str] = frozenset()
    runbook: str | None = None
    maintenance: tuple[Window, ...] = ()

    def severity(self, kind: str) -> str:
        explicit = dict(self.severities)
        if kind in explicit:
            return explicit[kind]
        step = SEVERITIES.index(DEFAULT_SEVERITY[kind])
        if kind in JOB_KINDS:  # a host's own findings explain its jobs': no tier lowers them
            step += TIERS[self.tier]
        return SEVERITIES[min(max(step, 0), len(SEVERITIES) - 1)]

    def ignores(self, kind: str) -> bool:
        return kind in self.ignored

    def maintenance_spans(
        self, zone: tzinfo, low: datetime, high: datetime
    ) -> list[tuple[float, float]]:
        """Every window overlapping [low, high], merged and sorted, as POSIX timestamps."""
        return _merged(
            span for window in self.maintenance for span in window.spans(zone, low, high)
        )

    def in_maintenance(self, moment: datetime, zone: tzinfo) -> bool:
        spans = self.maintenance_spans(zone, moment, moment)
        return in_spans(spans, moment.timestamp())


def in_spans(spans: Sequence[tuple[float, float]], moment: float) -> bool:
    """True when `moment` lies in one of the sorted, merged [start, end) spans."""
    index = bisect_right(spans, (moment, float("inf"))) - 1
    return index >= 0 and spans[index][0] <= moment < spans[index][1]


class JobIdentity(Protocol):
    """What a [[jobs]] rule matches on, of an entry (records.JobEntry is one)."""

    @property
    def id(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def command(self) -> str: ...


class HostIdentity(Protocol):
    """What the policy looks up a host by (records.HostFacts is one)."""

    @property
    def name(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class JobRule:
    """One [[jobs]] table: which jobs it is for, and the settings it gives them."""

    match: tuple[tuple[str, str], ...]
    settings: Mapping[str, Any]  # policy key -> value as read by POLICY_KEYS

    def applies(self, entry: JobIdentity, host: HostIdentity) -> bool:
        for key, wanted in self.match:
            if key == "host" and not fnmatchcase(entry.host, wanted):
                return False
            if key == "user" and entry.user != wanted:
                return False
            if key == "command" and wanted not in entry.command:
                return False
            if key == "id" and entry.id != wanted:
                return False
            if key == "tag" and wanted not in host.tags:
                return False
        return True


Settings = Mapping[str, Any]  # policy key -> its value as read by POLICY_KEYS


@dataclass
class PolicyBook:
    """An inventory's policy tables, already read; `resolve` merges them for one job."""

    defaults: Settings = field(default_factory=dict)
    tags: Mapping[str, Settings] = field(default_factory=dict)
    hosts: Mapping[str, Settings] = field(default_factory=dict)  # by host name
    rules: Sequence[JobRule] = ()  # the [[jobs]] tables, in file order
    _cache: dict[tuple[tuple[str, Any], ...], Policy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # By all that resolving reads of a job (its id, host, user and command, and its host's
    # name and tags) or of a host (its name and tags): a scan resolves each entry's policy for
    # the judge and for its fingerprint, a watch each round.
    _resolved: dict[tuple[Any, ...], Policy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_tables(
        cls,
        defaults: Mapping[str, Any] | None = None,
        tags: Mapping[str, Mapping[str, Any]] | None = None,
        hosts: Mapping[str, Mapping[str, Any]] | None = None,
        jobs: Iterable[Mapping[str, Any]] = (),
    ) -> PolicyBook:
        """A book from policy tables written as hosts.toml writes them, held as Python data (the
        demo fleet's, the tests'): PolicyError lists every problem. The inventory reads its own
        tables with the same readers, naming each problem's line."""
        problems: list[str] = []

        def read(label: str, table: Mapping[str, Any]) -> dict[str, Any]:
            values, found = read_table(table, POLICY_KEYS)
            problems.extend(f"{label}: {p.message}" for p in found)
            return values

        book_defaults = read("[defaults]", defaults or {})
        book_tags = {name: read(f"[tags.{name}]", t) for name, t in (tags or {}).items()}
        book_hosts = {name: read(f"host {name!r}", t) for name, t in (hosts or {}).items()}
        rules = []
        for position, table in enumerate(jobs, start=1):
            rule, found = read_job_rule(table)
            problems.extend(f"[[jobs]] #{position}: {p.message}" for p in found)
            rules.append(rule)
        if problems:
            raise PolicyError(problems)
        return cls(defaults=book_defaults, tags=book_tags, hosts=book_hosts, rules=rules)

    def resolve_host(self, host: HostIdentity) -> Policy:
        """The policy for a host's own findings: defaults < its tags < its [[hosts]] table."""
        key = (host.name, host.tags)
        policy = self._resolved.get(key)
        if policy is None:
            policy = self._kept(key, self._built(tuple(self._host_layers(host))))
        return policy

    def resolve(self, entry: JobIdentity, host: HostIdentity) -> Policy:
        """The policy for one job: defaults < tags < host < matching [[jobs]] rules, in order."""
        key = (entry.id, entry.host, entry.user, entry.command, host.name, host.tags)
        policy = self._resolved.get(key)
        if policy is None:
            rules = [("job", i) for i, rule in enumerate(self.rules) if rule.applies(entry, host)]
            if rules:
                policy = self._kept(key, self._built((*self._host_layers(host), *rules)))
            else:
                policy = self._kept(key, self.resolve_host(host))
        return policy

    def _kept(self, key: tuple[Any, ...], policy: Policy) -> Policy:
        if len(self._resolved) >= RESOLVED_KEPT:  # a long watch of a changing fleet
            self._resolved.clear()
        self._resolved[key] = policy
        return policy

    def _host_layers(self, host: HostIdentity) -> list[tuple[str, Any]]:
        layers: list[tuple[str, Any]] = [("defaults", None)]
        layers += [("tag", tag) for tag in host.tags if tag in self.tags]
        if host.name in self.hosts:
            layers.append(("host", host.name))
        return layers

    def _built(self, layers: tuple[tuple[str, Any], ...]) -> Policy:
        # Jobs on one host mostly share their layers: build each combination once.
        if layers not in self._cache:
            merged: dict[str, Any] = {}
            for kind, key in layers:
                merged |= self._layer(kind, key)
            self._cache[layers] = Policy(**{_FIELDS.get(k, k): v for k, v in merged.items()})
        return self._cache[layers]

    def _layer(self, kind: str, key: Any) -> Settings:
        if kind == "defaults":
            return self.defaults
        if kind == "tag":
            return self.tags[key]
        if kind == "host":
            return self.hosts[key]
        return self.rules[key].settings


# -- helpers ----------------------------------------------------------------------------------


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _moment(value: Any) -> datetime | None:
    """A TOML date-time (tomllib gives datetime) or an ISO 8601 string; None if neither."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _comparable(a: datetime, b: datetime) -> bool:
    return (a.tzinfo is None) == (b.tzinfo is None)


def _localized(moment: datetime, zone: tzinfo) -> datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


@lru_cache(maxsize=4096)
def _spans(
    window: Window, zone: tzinfo, low: datetime, high: datetime
) -> tuple[tuple[float, float], ...]:
    zone = window.zone or zone
    if window.cron is None:
        assert window.start is not None and window.end is not None
        start, end = _localized(window.start, zone), _localized(window.end, zone)
        if end < low or start > high:
            return ()
        return ((start.timestamp(), end.timestamp()),)
    # A window that opened before `low` may still be open at `low`.
    opens = expected_runs(window.cron, zone, low - window.duration, high)
    length = window.duration.total_seconds()
    return tuple((o.timestamp(), o.timestamp() + length) for o in opens)


def _merged(spans) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
