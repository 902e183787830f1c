"""Alerting policy: grace, limits, severities, silences, runbooks and maintenance windows per job.

From the inventory's [defaults], [tags.NAME], [[hosts]] and [[jobs]] tables; the most specific wins.

Precedence, each key on its own: [defaults] < [tags.NAME] (in the order of the host's `tags`) <
[[hosts]] < every matching [[jobs]] rule, later rules over earlier ones. A value replaces the one
below it whole: lists (`ignore`, `maintenance`) are not merged, so a job can opt out of a fleet
window with `maintenance = []`.

Severity of a finding: its kind's default (DEFAULT_SEVERITY), moved one step up by `tier =
"critical"` or one step down by `tier = "low"`, unless `severity` names it outright (one severity
for every kind, or a table of kind = severity).

Maintenance windows, in any of the tables:
    maintenance = [
        {start = 2026-11-22T01:00:00Z, end = 2026-11-22T05:00:00Z},  # once; strings work too
        {cron = "0 2 * * 0", duration = "2h"},                       # Sundays 02:00-04:00
        {cron = "30 1 * * *", duration = "1h", timezone = "UTC"},
    ]
A time without an offset, and a cron window without `timezone`, are read in the job's own zone.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.schedule import REBOOT, expected_runs, split_schedule, validate

if TYPE_CHECKING:
    from cronops.analysis import HostFacts, JobEntry

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)  # worst first

JOB_KINDS = ("missed", "late", "failed", "slow", "hung", "overlap", "never_ran", "pause_expired")
HOST_KINDS = (
    "unreachable",
    "host_key",
    "auth",
    "cron_not_running",
    "clock_skew",
    "logs_unreadable",
    "crontab_errors",
)
KINDS = JOB_KINDS + HOST_KINDS

# Work that did not happen, and hosts we cannot see, cost data: critical. Work that happened
# badly, a pause left in place past its `until`, or a host fact that makes the judging shakier,
# is a warning.
DEFAULT_SEVERITY: dict[str, str] = {
    "missed": CRITICAL,
    "never_ran": CRITICAL,
    "failed": CRITICAL,
    "hung": CRITICAL,
    "late": WARNING,
    "slow": WARNING,
    "overlap": WARNING,
    "pause_expired": WARNING,
    "unreachable": CRITICAL,
    "host_key": CRITICAL,
    "auth": CRITICAL,
    "cron_not_running": CRITICAL,
    "clock_skew": WARNING,
    "logs_unreadable": WARNING,
    "crontab_errors": WARNING,
}
TIERS = {"critical": -1, "normal": 0, "low": 1}  # steps along SEVERITIES

DEFAULT_GRACE = timedelta(minutes=5)
DEFAULT_SLOW_FACTOR = 3.0
# A 2 s job taking 7 s is "3x its median" and nobody's problem: slow also needs this much extra.
DEFAULT_SLOW_MARGIN = timedelta(minutes=1)
DEFAULT_CLOCK_SKEW = timedelta(minutes=1)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_TEXT = "a duration like '90s', '5m', '2h', '1d' (or '1h30m'), or whole seconds"
_WINDOW_TEXT = (
    "a list of windows, each {start = ..., end = ...} (date-times) "
    'or {cron = "0 2 * * 0", duration = "2h"}, optionally with timezone = "Area/City"'
)
_WINDOW_KEYS = {"start", "end", "cron", "duration", "timezone"}


class PolicyError(ValueError):
    """A policy table that did not validate; carries every problem, each naming its key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_duration(value: Any) -> timedelta:
    """'90s', '5m', '2h', '1d', '1h30m', or a number of seconds; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        match = _DURATION.fullmatch(text)
        if text and match:
            days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"not {_DURATION_TEXT}: {value!r}")


# -- checks, in the style of inventory.HOST_KEYS: each returns True when the value is acceptable.


def _duration(value: Any) -> bool:
    try:
        parse_duration(value)
    except ValueError:
        return False
    return True


def _positive_duration(value: Any) -> bool:
    return _duration(value) and parse_duration(value) > timedelta(0)


def _factor(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 1


def _tier(value: Any) -> bool:
    return isinstance(value, str) and value in TIERS


def _severity(value: Any) -> bool:
    if isinstance(value, dict):
        return all(kind in KINDS and level in SEVERITIES for kind, level in value.items())
    return isinstance(value, str) and value in SEVERITIES


def _ignore(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list) and all(kind in KINDS for kind in value)


def _url(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _windows(value: Any) -> bool:
    return not window_problems(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _schedule_ok(value: Any) -> bool:
    return _text(value) and validate(value) is None and split_schedule(value) != [REBOOT]


POLICY_KEYS: dict[str, tuple[Any, str]] = {
    "grace": (_duration, _DURATION_TEXT),
    "max_duration": (_positive_duration, f"{_DURATION_TEXT}, above zero"),
    "slow_factor": (_factor, "a number above 1 (3 means 3x the median of recent runs)"),
    "slow_margin": (_duration, _DURATION_TEXT),
    "clock_skew": (_positive_duration, f"{_DURATION_TEXT}, above zero"),
    "tier": (_tier, f"one of {', '.join(repr(t) for t in TIERS)}"),
    "severity": (
        _severity,
        f"one of {', '.join(repr(s) for s in SEVERITIES)}, or a table of kind = severity",
    ),
    "ignore": (_ignore, f"true, false or a list of kinds ({', '.join(KINDS)})"),
    "runbook": (_url, "a URL string"),
    "maintenance": (_windows, _WINDOW_TEXT),
}
JOB_MATCH_KEYS: dict[str, tuple[Any, str]] = {
    "host": (_text, "a host name or glob like 'db-*'"),
    "user": (_text, "a user name"),
    "command": (_text, "text the job's command contains"),
    "id": (_text, "an entry id as `cronops jobs` shows it"),
    "tag": (_text, "a tag the job's host carries"),
}


def policy_problems(table: Mapping[str, Any]) -> list[str]:
    """Problems with the policy keys of a [defaults] or [[hosts]] table; other keys are not ours."""
    problems = []
    for key, value in table.items():
        if key in POLICY_KEYS:
            problems += _value_problems(key, value, POLICY_KEYS)
    return problems


def tag_problems(table: Any) -> list[str]:
    """Problems with one [tags.NAME] table: policy keys only."""
    if not isinstance(table, dict):
        return ["must be a table of policy keys, like [tags.batch]"]
    return _table_problems(table, POLICY_KEYS)


def job_rule_problems(table: Any) -> list[str]:
    """Problems with one [[jobs]] table: match keys (at least one) and policy keys."""
    if not isinstance(table, dict):
        return ["must be a table: [[jobs]]"]
    problems = _table_problems(table, {**JOB_MATCH_KEYS, **POLICY_KEYS})
    if not table.keys() & JOB_MATCH_KEYS.keys():
        problems.append(
            f"needs at least one of {', '.join(JOB_MATCH_KEYS)} to say which jobs it is for "
            "(settings for every job belong in [defaults])"
        )
    return problems


def window_problems(value: Any) -> list[str]:
    """What is wrong with a `maintenance` value, one message per problem, naming the key."""
    if not isinstance(value, list):
        return [f"key 'maintenance' must be {_WINDOW_TEXT}, not {value!r}"]
    problems = []
    for number, window in enumerate(value, start=1):
        problems += [
            f"key 'maintenance' window {number}: {p}" for p in _one_window_problems(window)
        ]
    return problems


def _one_window_problems(window: Any) -> list[str]:
    if not isinstance(window, dict):
        return [f'must be a table like {{cron = "0 2 * * 0", duration = "2h"}}, not {window!r}']
    problems = [
        f"unknown key {key!r}{hint(key, _WINDOW_KEYS)}" for key in window.keys() - _WINDOW_KEYS
    ]
    if "timezone" in window and _zone(window["timezone"]) is None:
        problems.append(f"unknown time zone {window['timezone']!r}")
    if "cron" in window:
        if window.keys() & {"start", "end"}:
            problems.append("give either cron + duration or start + end, not both")
        elif not _schedule_ok(window["cron"]):
            why = validate(window["cron"]) if _text(window["cron"]) else None
            problems.append(
                f"'cron' must be a cron schedule like \"0 2 * * 0\" ({why or 'not one'})"
            )
        if not _positive_duration(window.get("duration")):
            problems.append(f"'duration' must be {_DURATION_TEXT}, above zero")
        return problems
    if "duration" in window:
        problems.append("'duration' goes with 'cron'; a one-off window has start and end")
    start, end = _moment(window.get("start")), _moment(window.get("end"))
    for key, moment in (("start", start), ("end", end)):
        if moment is None:
            problems.append(f"'{key}' must be a date-time like 2026-11-22T01:00:00Z")
    if start and end and _comparable(start, end) and end <= start:
        problems.append("'end' must be after 'start'")
    return problems


def _value_problems(key: str, value: Any, allowed: dict[str, tuple[Any, str]]) -> list[str]:
    if key == "maintenance":
        return window_problems(value)
    check, expected = allowed[key]
    return [] if check(value) else [f"key {key!r} must be {expected}, not {value!r}"]


def keyed_problems(table: dict, allowed: dict[str, tuple[Any, str]]) -> list[tuple[str, str]]:
    """(key, message) for each problem, so the inventory can point at the key's line."""
    problems = []
    for key, value in table.items():
        if key not in allowed:
            problems.append((key, f"unknown key {key!r}{hint(key, allowed)}"))
        else:
            problems += [(key, message) for message in _value_problems(key, value, allowed)]
    return problems


def _table_problems(table: dict, allowed: dict[str, tuple[Any, str]]) -> list[str]:
    return [message for _, message in keyed_problems(table, allowed)]


def hint(key: str, allowed) -> str:
    """A "did you mean" for a mistyped key."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- the resolved policy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A maintenance window: once (start/end) or recurring (cron + duration)."""

    start: datetime | None = None  # naive: in the job's zone
    end: datetime | None = None
    cron: str | None = None
    duration: timedelta = timedelta(0)
    zone: tzinfo | None = None  # None: the job's zone

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Window:
        zone = _zone(table["timezone"]) if "timezone" in table else None
        if "cron" in table:
            return cls(cron=table["cron"], duration=parse_duration(table["duration"]), zone=zone)
        return cls(start=_moment(table["start"]), end=_moment(table["end"]), zone=zone)

    def spans(self, zone: tzinfo, low: datetime, high: datetime) -> list[tuple[float, float]]:
        """The window's occurrences overlapping [low, high], as (start, end) POSIX timestamps."""
        return list(_spans(self, zone, low.astimezone(UTC), high.astimezone(UTC)))


@dataclass(frozen=True)
class Policy:
    """Everything that decides how one job (or one host) is judged."""

    grace: timedelta = DEFAULT_GRACE
    max_duration: timedelta | None = None  # None: slow by history only; hung past the interval
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
        step = SEVERITIES.index(DEFAULT_SEVERITY[kind]) + TIERS[self.tier]
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


def build_policy(settings: Mapping[str, Any]) -> Policy:
    """A Policy from merged, already validated settings (unknown keys are not policy: skipped)."""
    values: dict[str, Any] = {}
    if "grace" in settings:
        values["grace"] = parse_duration(settings["grace"])
    if "max_duration" in settings:
        values["max_duration"] = parse_duration(settings["max_duration"])
    if "slow_factor" in settings:
        values["slow_factor"] = float(settings["slow_factor"])
    if "slow_margin" in settings:
        values["slow_margin"] = parse_duration(settings["slow_margin"])
    if "clock_skew" in settings:
        values["clock_skew"] = parse_duration(settings["clock_skew"])
    if "tier" in settings:
        values["tier"] = settings["tier"]
    if "severity" in settings:
        severity = settings["severity"]
        chosen = severity if isinstance(severity, dict) else dict.fromkeys(KINDS, severity)
        values["severities"] = tuple(sorted(chosen.items()))
    if "ignore" in settings:
        ignore = settings["ignore"]
        values["ignored"] = frozenset(
            KINDS if ignore is True else () if ignore is False else ignore
        )
    if "runbook" in settings:
        values["runbook"] = settings["runbook"].strip()
    if "maintenance" in settings:
        values["maintenance"] = tuple(Window.from_table(w) for w in settings["maintenance"])
    return Policy(**values)


@dataclass(frozen=True)
class JobRule:
    """One [[jobs]] table: which jobs it is for, and the settings it gives them."""

    match: tuple[tuple[str, str], ...]
    settings: tuple[tuple[str, Any], ...]

    def applies(self, entry: JobEntry, host: HostFacts) -> bool:
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


@dataclass
class PolicyBook:
    """The policy tables of an inventory; `resolve` merges them for one job."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by host name
    jobs: Sequence[Mapping[str, Any]] = ()  # the [[jobs]] tables, in file order

    def __post_init__(self) -> None:
        if not isinstance(self.tags, Mapping):
            raise PolicyError(["'tags' must be tables of policy keys: [tags.NAME]"])
        if isinstance(self.jobs, str | Mapping) or not isinstance(self.jobs, Sequence):
            raise PolicyError(["'jobs' must be an array of tables: [[jobs]]"])
        problems = [f"[defaults]: {p}" for p in policy_problems(self.defaults)]
        for name, table in self.tags.items():
            problems += [f"[tags.{name}]: {p}" for p in tag_problems(table)]
        for name, table in self.hosts.items():
            problems += [f"host {name!r}: {p}" for p in policy_problems(table)]
        for number, table in enumerate(self.jobs, start=1):
            problems += [f"[[jobs]] #{number}: {p}" for p in job_rule_problems(table)]
        if problems:
            raise PolicyError(problems)
        self._rules = [
            JobRule(
                match=tuple((k, v) for k, v in table.items() if k in JOB_MATCH_KEYS),
                settings=tuple((k, v) for k, v in table.items() if k in POLICY_KEYS),
            )
            for table in self.jobs
        ]
        self._cache: dict[Any, Policy] = {}

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> PolicyBook:
        """From a parsed hosts.toml: [defaults], [tags.NAME], [[hosts]] (by name), [[jobs]]."""
        hosts = {h["name"]: h for h in data.get("hosts", []) if isinstance(h, dict) and "name" in h}
        return cls(
            defaults=data.get("defaults", {}),
            tags=data.get("tags", {}),
            hosts=hosts,
            jobs=data.get("jobs", []),
        )

    def resolve_host(self, host: HostFacts) -> Policy:
        """The policy for a host's own findings: defaults < its tags < its [[hosts]] table."""
        return self._built(tuple(self._host_layers(host)))

    def resolve(self, entry: JobEntry, host: HostFacts) -> Policy:
        """The policy for one job: defaults < tags < host < matching [[jobs]] rules, in order."""
        rules = tuple(i for i, rule in enumerate(self._rules) if rule.applies(entry, host))
        return self._built((*self._host_layers(host), *(("job", i) for i in rules)))

    def _host_layers(self, host: HostFacts) -> list[tuple[str, Any]]:
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
            self._cache[layers] = build_policy(merged)
        return self._cache[layers]

    def _layer(self, kind: str, key: Any) -> dict[str, Any]:
        if kind == "defaults":
            table = self.defaults
        elif kind == "tag":
            table = self.tags[key]
        elif kind == "host":
            table = self.hosts[key]
        else:
            return dict(self._rules[key].settings)
        return {k: v for k, v in table.items() if k in POLICY_KEYS}


# -- helpers ----------------------------------------------------------------------------------


def _zone(name: Any) -> ZoneInfo | None:
    if not _text(name):
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
