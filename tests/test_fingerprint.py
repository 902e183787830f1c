"""A host's fingerprint (due.fingerprint) changes whenever anything its judgement reads does,
field by field of each record it is given, and stays the same for what it deliberately leaves
out or rounds: a rescan skips judging a host whose fingerprint is unchanged (but for its entries
whose verdicts can have changed: those with a process running are among them, so processes are
not in it)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cronops import due
from cronops.changes import Change
from cronops.crontab import PauseInfo, StoredCrontab
from cronops.policy import Policy, Window
from cronops.records import DaemonLine, HostFacts, JobEntry

NOW = datetime(2026, 11, 28, 10, 10, 17, tzinfo=UTC)
WINDOW = timedelta(days=8)
# Every field set, none empty: each one can be told apart from another value.
FACTS = HostFacts(
    name="web1",
    status="ok",
    error="none",
    zone=ZoneInfo("Europe/Berlin"),
    tags=("web",),
    cron_running=True,
    clock_skew=timedelta(seconds=2),
    coverage_start=NOW - timedelta(days=9),
    ok_at=NOW,
    scanned_at=NOW,
    logs_readable=True,
    crontab_problems=(("/etc/crontab", 3, "bad minute"),),
    ends_logged=True,
    failures_logged=False,
    cron_family="debian",
    booted_at=NOW - timedelta(days=3, seconds=10),
    cron_started_at=NOW - timedelta(days=3, seconds=7),
    daemon_lines=(DaemonLine("web1", NOW - timedelta(days=1), "root", "RELOAD", "crontabs"),),
    no_mta_at=NOW - timedelta(hours=2),
)
ENTRY = JobEntry(
    id="backup",
    host="web1",
    user="root",
    source="/var/spool/cron/crontabs/root",
    schedule="0 3 * * *",
    command="/usr/local/bin/backup",
    disabled=False,
    paused=PauseInfo(by="alice", at=NOW - timedelta(hours=1), reason="disk", until=NOW),
    cron_tz="Asia/Tokyo",
    first_seen=NOW - timedelta(days=40),
    crontab_mtime=NOW - timedelta(days=30),
    log_off=False,
    line=4,
    text="0 3 * * * /usr/local/bin/backup",
    present=True,
    mailto="ops@example.com",
)
CRONTAB = StoredCrontab(
    host="web1",
    path="/var/spool/cron/crontabs/root",
    kind="user",
    owner="root",
    text="0 3 * * * /usr/local/bin/backup\n",
    seen_at=NOW,
    mtime=NOW - timedelta(days=30),
)
CHANGE = Change(
    at=NOW - timedelta(days=2),
    known_by="log",
    host="web1",
    path="/var/spool/cron/crontabs/root",
    kind="changed",
    entry_id="backup",
    previous_id="backup0",
    line=4,
    before="0 2 * * * /usr/local/bin/backup",
    after="0 3 * * * /usr/local/bin/backup",
    who="alice",
    via="crontab -e",
    seen_at=NOW - timedelta(days=1),
    not_before=NOW - timedelta(days=3),
)
POLICY = Policy(
    grace=timedelta(minutes=7),
    max_duration=timedelta(hours=1),
    min_duration=timedelta(seconds=5),
    slow_factor=4.0,
    slow_margin=timedelta(minutes=2),
    clock_skew=timedelta(minutes=3),
    tier="critical",
    severities=(("missed", "critical"),),
    ignored=frozenset({"late"}),
    runbook="https://runbooks.example.com/backup",
    maintenance=(Window(cron="0 2 * * 0", duration=timedelta(hours=2)),),
)


def fingerprint(**given: Any) -> str:
    read: dict[str, Any] = {
        "facts": FACTS,
        "entries": [ENTRY],
        "crontabs": [CRONTAB],
        "changes": [CHANGE],
        "policies": [POLICY, POLICY],
        "window": WINDOW,
    }
    return due.fingerprint(**(read | given))


def other(value: Any) -> Any:
    """Another value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float | str):
        return value + (1 if not isinstance(value, str) else "x")
    if isinstance(value, datetime):
        return value + timedelta(days=1)
    if isinstance(value, timedelta):
        return value + timedelta(hours=1)
    if isinstance(value, tuple):
        return (*value, value[0])
    if isinstance(value, frozenset):
        return value | {"slow"}
    if isinstance(value, ZoneInfo):
        return ZoneInfo("Asia/Tokyo")
    if is_dataclass(value):
        first = fields(value)[0].name
        return replace(value, **{first: other(getattr(value, first))})
    raise AssertionError(f"no other value for {value!r}")


def changed(record: Any, name: str) -> Any:
    return replace(record, **{name: other(getattr(record, name))})


LEFT_OUT = {"ok_at", "scanned_at"}  # measured anew each scan: not what the judge reads


@pytest.mark.parametrize("name", [f.name for f in fields(HostFacts) if f.name not in LEFT_OUT])
def test_each_fact_of_the_host_counts(name):
    assert fingerprint(facts=changed(FACTS, name)) != fingerprint()


@pytest.mark.parametrize("name", [f.name for f in fields(DaemonLine)])
def test_each_field_of_a_daemon_line_counts(name):
    lines = (changed(FACTS.daemon_lines[0], name),)
    assert fingerprint(facts=replace(FACTS, daemon_lines=lines)) != fingerprint()


@pytest.mark.parametrize(
    ("given", "record"),
    [("entries", ENTRY), ("crontabs", CRONTAB), ("changes", CHANGE)],
)
def test_each_field_of_an_entry_crontab_and_change_counts(given, record):
    names = [f.name for f in fields(record) if (given, f.name) != ("crontabs", "seen_at")]
    for name in names:
        assert fingerprint(**{given: [changed(record, name)]}) != fingerprint(), name
    assert fingerprint(**{given: []}) != fingerprint()
    assert fingerprint(**{given: [record, record]}) != fingerprint()


@pytest.mark.parametrize("name", [f.name for f in fields(Policy)])
def test_each_setting_of_each_policy_counts(name):
    assert fingerprint(policies=[POLICY, changed(POLICY, name)]) != fingerprint()
    assert fingerprint(policies=[changed(POLICY, name), POLICY]) != fingerprint()


def test_what_each_scan_measures_anew_is_left_out_or_rounded():
    """Our clock's scan times; the skew to the second; a boot's or cron's start to its minute."""
    assert fingerprint(facts=replace(FACTS, ok_at=NOW + WINDOW, scanned_at=None)) == fingerprint()
    skewed = FACTS.clock_skew + timedelta(seconds=0.3)
    assert fingerprint(facts=replace(FACTS, clock_skew=skewed)) == fingerprint()
    booted = FACTS.booted_at + timedelta(seconds=20)  # type: ignore[operator]
    assert fingerprint(facts=replace(FACTS, booted_at=booted)) == fingerprint()
    assert fingerprint(crontabs=[replace(CRONTAB, seen_at=NOW + WINDOW)]) == fingerprint()
    assert fingerprint(window=WINDOW + timedelta(minutes=20)) == fingerprint()
    assert fingerprint(window=WINDOW + timedelta(minutes=40)) != fingerprint()
