"""Tests for cronops.policy: durations, validation naming the key, precedence, severities, windows.

The TOML here is what an operator writes in hosts.toml, read by the inventory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronops.inventory import parse_inventory
from cronops.kinds import DEFAULT_SEVERITY, KINDS, SEVERITIES
from cronops.policy import (
    JOB_MATCH_KEYS,
    POLICY_KEYS,
    Policy,
    PolicyBook,
    PolicyError,
    read_job_rule,
)
from cronops.records import HostFacts, JobEntry
from cronops.settings import parse_duration, read_table

BERLIN = ZoneInfo("Europe/Berlin")
SEEN = datetime(2026, 1, 1, tzinfo=UTC)

EXAMPLE = """
[defaults]
grace = "5m"
slow_factor = 3
maintenance = [{cron = "0 2 * * 0", duration = "2h"}]

[tags.batch]
grace = "30m"
tier = "low"

[tags.payments]
tier = "critical"
runbook = "https://wiki.example/payments"

[[hosts]]
name = "db1"
address = "db1.example"
tags = ["batch", "payments"]
grace = "10m"

[[jobs]]
host = "db*"
command = "pg_dump"
max_duration = "2h"
runbook = "https://wiki.example/backup"
severity = { late = "info" }

[[jobs]]
id = "abcd1234"
ignore = true

[[jobs]]
host = "db1"
command = "pg_dump"
grace = "1h"
maintenance = []
"""


def example_book(text: str = EXAMPLE) -> PolicyBook:
    return parse_inventory(text, Path("hosts.toml")).policy


def policy_problems(table: dict) -> list[str]:
    return [message for _, message in read_table(table, POLICY_KEYS)[1]]


def window_problems(windows) -> list[str]:
    return policy_problems({"maintenance": windows})


def facts(name: str = "db1", tags: tuple[str, ...] = ()) -> HostFacts:
    return HostFacts(name=name, status="ok", error=None, zone=BERLIN, tags=tags)


def job(command: str = "/usr/bin/pg_dump main", host: str = "db1", **changes) -> JobEntry:
    values = {
        "id": "e1",
        "host": host,
        "user": "postgres",
        "source": "/var/spool/cron/crontabs/postgres",
        "schedule": "0 3 * * *",
        "command": command,
        "disabled": False,
        "paused": None,
        "cron_tz": None,
        "first_seen": SEEN,
        "crontab_mtime": None,
    }
    return JobEntry(**(values | changes))


# -- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (45, 45), ("0s", 0)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m5", "-5m", -3, True, None, "1.5h"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# -- validation -----------------------------------------------------------------------------------


def test_policy_keys_follow_the_inventory_style():
    for table in (POLICY_KEYS, JOB_MATCH_KEYS):
        for key, (read, expected) in table.items():
            assert callable(read) and isinstance(expected, str) and expected, key
    assert not POLICY_KEYS.keys() & JOB_MATCH_KEYS.keys()


def test_values_are_read_once_into_what_the_policy_holds():
    values, problems = read_table(
        {
            "grace": "1h30m",
            "severity": "info",
            "ignore": True,
            "runbook": " https://wiki ",
            "maintenance": [{"cron": "0 2 * * 0", "duration": "2h"}],
        },
        POLICY_KEYS,
    )
    assert problems == []
    assert values["grace"] == timedelta(minutes=90)
    assert values["severity"] == tuple(sorted((kind, "info") for kind in KINDS))
    assert values["ignore"] == frozenset(KINDS)
    assert values["runbook"] == "https://wiki"
    (window,) = values["maintenance"]
    assert (window.cron, window.duration) == ("0 2 * * 0", timedelta(hours=2))


def test_every_bad_value_is_named_by_its_key():
    problems = policy_problems(
        {
            "grace": "soon",
            "max_duration": "0s",
            "min_duration": "later",
            "slow_factor": 1,
            "tier": ["urgent"],
            "severity": {"missed": "loud"},
            "ignore": ["mised"],
            "runbook": "",
        }
    )
    named = sorted(p.split("'")[1] for p in problems)
    assert named == sorted(
        [
            "grace",
            "max_duration",
            "min_duration",
            "slow_factor",
            "tier",
            "severity",
            "ignore",
            "runbook",
        ]
    )
    assert "key 'grace' must be a duration like '90s'" in problems[0]


def test_good_values_pass():
    assert (
        policy_problems(
            {
                "grace": 120,
                "max_duration": "2h",
                "min_duration": "1m",
                "slow_factor": 2.5,
                "slow_margin": "30s",
                "clock_skew": "2m",
                "tier": "critical",
                "severity": "warning",
                "ignore": ["late", "overlap"],
                "runbook": "https://wiki",
                "maintenance": [{"cron": "0 2 * * 0", "duration": "2h", "timezone": "UTC"}],
            }
        )
        == []
    )


def test_tag_and_job_tables_refuse_unknown_keys_with_a_hint():
    assert policy_problems({"grase": "5m"}) == ["unknown key 'grase' (did you mean 'grace'?)"]
    assert read_job_rule({"command": "x", "hots": "db1"})[1] == [
        ("hots", "unknown key 'hots' (did you mean 'host'?)")
    ]


def test_a_job_rule_must_say_which_jobs_it_is_for():
    (problem,) = read_job_rule({"grace": "5m"})[1]
    assert problem.key is None
    assert "needs at least one of host, user, command, id, tag" in problem.message


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ("sundays", "key 'maintenance' must be a list of windows"),
        ([{"cron": "0 2 * * 0"}], "window 1: 'duration' must be"),
        ([{"cron": "61 2 * * 0", "duration": "1h"}], "'cron' must be a cron schedule"),
        ([{"cron": "@reboot", "duration": "1h"}], "'cron' must be a cron schedule"),
        ([{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}], "'end' must be after"),
        ([{"start": "tomorrow", "end": "2026-01-01T00:00:00Z"}], "'start' must be a date-time"),
        ([{"cron": "0 2 * * 0", "duration": "1h", "zone": "UTC"}], "unknown key 'zone'"),
        ([{"cron": "0 2 * * 0", "duration": "1h", "timezone": "Mars/Base"}], "unknown time zone"),
        ([{"start": "2026-01-01T00:00Z", "duration": "1h"}], "'duration' goes with 'cron'"),
    ],
)
def test_maintenance_window_problems(windows, message):
    problems = window_problems(windows)
    assert any(message in p for p in problems), problems
    assert all(p.startswith("key 'maintenance'") for p in problems)


def test_a_book_with_problems_refuses_to_build_and_lists_them_all():
    with pytest.raises(PolicyError) as caught:
        PolicyBook.from_tables(
            defaults={"grace": "x"}, jobs=[{"tier": "low"}], tags={"b": {"tier": 3}}
        )
    assert len(caught.value.problems) == 3
    assert caught.value.problems[0].startswith("[defaults]: key 'grace'")


def test_the_book_holds_what_was_read():
    book = example_book()
    assert book.defaults["grace"] == timedelta(minutes=5)
    assert book.tags["batch"] == {"grace": timedelta(minutes=30), "tier": "low"}
    assert book.hosts["db1"] == {"grace": timedelta(minutes=10)}  # its policy keys only
    assert book.rules[0].match == (("host", "db*"), ("command", "pg_dump"))
    assert book.rules[0].settings["severity"] == (("late", "info"),)


# -- precedence --------------------------------------------------------------------------------


def test_precedence_defaults_tags_host_then_job_rules_in_order():
    book = example_book()
    db1 = facts("db1", ("batch", "payments"))

    # A host with no table of its own: [defaults] only.
    plain = book.resolve(job(host="web1"), facts("web1"))
    assert plain.grace == timedelta(minutes=5) and len(plain.maintenance) == 1

    # Tags in the host's order (payments after batch), then the host's own table.
    other = book.resolve(job(command="/bin/vacuum"), db1)
    assert other.grace == timedelta(minutes=10)
    assert other.tier == "critical" and other.runbook == "https://wiki.example/payments"

    # Both pg_dump rules match; the later one wins where they overlap.
    dump = book.resolve(job(), db1)
    assert dump.grace == timedelta(hours=1)
    assert dump.max_duration == timedelta(hours=2)
    assert dump.runbook == "https://wiki.example/backup"
    assert dump.maintenance == ()

    silenced = book.resolve(job(id="abcd1234", command="/bin/true", host="web9"), facts("web9"))
    assert silenced.ignored == frozenset(KINDS)


def test_resolve_host_uses_no_job_rules():
    book = example_book()
    policy = book.resolve_host(facts("db1", ("batch", "payments")))
    assert policy.grace == timedelta(minutes=10) and policy.max_duration is None


def test_job_rules_match_on_every_key_they_give():
    rule = {"host": "db*", "user": "postgres", "command": "dump", "tag": "prod", "grace": "1h"}
    book = PolicyBook.from_tables(jobs=[rule])
    hour = timedelta(hours=1)
    assert book.resolve(job(command="pg_dump"), facts("db1", ("prod",))).grace == hour
    assert book.resolve(job(command="pg_dump"), facts("db1")).grace != hour  # no tag
    assert book.resolve(job(command="pg_dump", host="web1"), facts("web1", ("prod",))).grace != hour
    assert book.resolve(job(command="vacuum"), facts("db1", ("prod",))).grace != hour
    assert book.resolve(job(command="pg_dump", user="root"), facts("db1", ("prod",))).grace != hour


def test_a_book_resolves_each_job_as_a_new_book_would_whatever_it_resolved_before():
    """A book keeps each job's policy by all that resolving reads of the job and its host: a
    job differing in any of them is resolved anew, never served another's policy."""
    tables = {
        "tags": {"prod": {"tier": "critical"}},
        "hosts": {"db2": {"min_duration": "5s"}},
        "jobs": [
            {"host": "db1", "grace": "1h"},
            {"user": "root", "slow_factor": 5},
            {"command": "dump", "max_duration": "2h"},
            {"id": "e2", "ignore": True},
            {"tag": "batch", "runbook": "https://wiki.example/batch"},
        ],
    }
    book = PolicyBook.from_tables(**tables)
    entry, host = job(command="pg_dump"), facts("db1", ("prod",))
    variants = [
        (entry, host),
        (job(command="vacuum"), host),
        (job(command="pg_dump", user="root"), host),
        (job(command="pg_dump", id="e2"), host),
        (job(command="pg_dump", host="db2"), host),
        (entry, facts("db2", ("prod",))),
        (entry, facts("db1", ("prod", "batch"))),
        (entry, facts("db1")),
    ]
    resolved = [book.resolve(e, h) for e, h in variants * 2]  # the second time from the book
    fresh = [PolicyBook.from_tables(**tables).resolve(e, h) for e, h in variants * 2]
    assert resolved == fresh
    assert len(set(resolved)) == len(variants)  # each one tells its job apart
    hosts = [facts("db1", ("prod",)), facts("db2", ("prod",)), facts("db1"), facts("db2")]
    own = [book.resolve_host(h) for h in hosts * 2]
    assert own == [PolicyBook.from_tables(**tables).resolve_host(h) for h in hosts * 2]
    assert len(set(own)) == len(hosts)


# -- severities --------------------------------------------------------------------------------


def test_default_severities_cover_every_kind():
    assert set(DEFAULT_SEVERITY) == set(KINDS)
    assert set(DEFAULT_SEVERITY.values()) <= set(SEVERITIES)
    # A normal job: what did not happen is a warning, what happened badly is info.
    assert Policy().severity("missed") == Policy().severity("failed") == "warning"
    assert Policy().severity("late") == "info"


def test_a_jobs_severity_follows_its_tier_and_explicit_severity_wins():
    low, high = Policy(tier="low"), Policy(tier="critical")
    did_not_happen, went_badly = ("missed", "never_ran", "failed", "hung"), ("late", "slow")
    assert {high.severity(kind) for kind in did_not_happen} == {"critical"}  # wakes someone
    assert {Policy().severity(kind) for kind in did_not_happen} == {"warning"}
    assert {low.severity(kind) for kind in did_not_happen} == {"info"}
    assert [high.severity(k) for k in went_badly] == ["warning", "warning"]
    assert [low.severity(k) for k in went_badly] == ["info", "info"]
    book = PolicyBook.from_tables(defaults={"tier": "low", "severity": {"late": "critical"}})
    policy = book.resolve_host(facts())
    assert (policy.severity("late"), policy.severity("missed")) == ("critical", "info")
    everything = PolicyBook.from_tables(defaults={"severity": "info"}).resolve_host(facts())
    assert {everything.severity(kind) for kind in KINDS} == {"info"}


@pytest.mark.parametrize("tier", ["low", "normal", "critical"])
def test_a_hosts_own_findings_follow_no_tier(tier):
    policy = Policy(tier=tier)
    stays = ("unreachable", "host_key", "auth", "cron_not_running")
    assert {policy.severity(kind) for kind in stays} == {"critical"}
    assert policy.severity("crontab_errors") == policy.severity("clock_skew") == "warning"


def test_ignore_false_and_a_list():
    assert (
        PolicyBook.from_tables(defaults={"ignore": False}).resolve_host(facts()).ignored
        == frozenset()
    )
    listed = PolicyBook.from_tables(defaults={"ignore": ["late"]}).resolve_host(facts())
    assert listed.ignores("late") and not listed.ignores("missed")


# -- maintenance windows ------------------------------------------------------------------------


def test_a_one_off_window_with_an_offset():
    book = example_book(
        "[defaults]\n"
        "maintenance = [{start = 2026-11-22T01:00:00Z, end = 2026-11-22T05:00:00Z}]\n"
        '[[hosts]]\nname = "db1"\naddress = "db1.example"\n'
    )
    policy = book.resolve_host(facts())
    assert policy.in_maintenance(datetime(2026, 11, 22, 1, 0, tzinfo=UTC), BERLIN)
    assert policy.in_maintenance(datetime(2026, 11, 22, 4, 59, tzinfo=UTC), BERLIN)
    assert not policy.in_maintenance(datetime(2026, 11, 22, 5, 0, tzinfo=UTC), BERLIN)


def test_a_window_without_an_offset_is_in_the_jobs_zone():
    policy = PolicyBook.from_tables(
        defaults={"maintenance": [{"start": "2026-11-22T01:00", "end": "2026-11-22T02:00"}]}
    ).resolve_host(facts())
    assert policy.in_maintenance(datetime(2026, 11, 22, 1, 30, tzinfo=BERLIN), BERLIN)
    assert not policy.in_maintenance(datetime(2026, 11, 22, 1, 30, tzinfo=UTC), BERLIN)


def test_a_weekly_window_recurs_in_the_jobs_zone_or_its_own():
    sunday = {"cron": "0 2 * * 0", "duration": "2h"}
    policy = PolicyBook.from_tables(defaults={"maintenance": [sunday]}).resolve_host(facts())
    assert policy.in_maintenance(datetime(2026, 3, 8, 3, 59, tzinfo=BERLIN), BERLIN)  # a Sunday
    assert not policy.in_maintenance(datetime(2026, 3, 8, 4, 0, tzinfo=BERLIN), BERLIN)
    assert not policy.in_maintenance(datetime(2026, 3, 9, 3, 0, tzinfo=BERLIN), BERLIN)
    utc = PolicyBook.from_tables(
        defaults={"maintenance": [sunday | {"timezone": "UTC"}]}
    ).resolve_host(facts())
    assert utc.in_maintenance(datetime(2026, 3, 8, 4, 30, tzinfo=BERLIN), BERLIN)  # 03:30 UTC


def test_maintenance_spans_are_merged_and_sorted():
    policy = PolicyBook.from_tables(
        defaults={
            "maintenance": [
                {"cron": "0 2 * * *", "duration": "2h"},
                {"cron": "0 3 * * *", "duration": "2h"},
            ]
        }
    ).resolve_host(facts())
    spans = policy.maintenance_spans(
        ZoneInfo("UTC"), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC)
    )
    day = 86400
    first = datetime(2026, 3, 1, 2, tzinfo=UTC).timestamp()
    assert spans == [(first, first + 3 * 3600), (first + day, first + day + 3 * 3600)]
