"""Stored findings: the lifecycle's transitions (pure), the store's reads and acknowledgements,
and a scan that judges the hosts it stored in the same transaction."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronops.crontab import PauseInfo
from cronops.incidents import lifecycle, standing_state
from cronops.inventory import Host
from cronops.kinds import (
    CRONTAB_KINDS,
    ENTRY_CHANGED,
    ENTRY_PAUSED,
    ENTRY_REMOVED,
    HOST_ANSWERED,
    LATER_RUN_SUCCEEDED,
    NO_LONGER_SEEN,
)
from cronops.policy import PolicyBook
from cronops.records import Finding, HostFacts, Incident, JobEntry
from cronops.scan import HostReport, record_group
from cronops.store import Store
from cronops.transport import HostStatus
from tests import history

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
entry = history.entry
BERLIN = ZoneInfo("Europe/Berlin")
LATER = NOW + timedelta(minutes=5)


def finding(kind: str = "failed", entry_id: str | None = "backup", **changes) -> Finding:
    values = {
        "host": "web1",
        "kind": kind,
        "severity": "warning",
        "count": 3,
        "first_at": datetime(2026, 11, 28, 1, 0, tzinfo=BERLIN),
        "last_at": datetime(2026, 11, 28, 3, 0, tzinfo=BERLIN),
        "evidence": "Nov 28 03:00:01 web1 CROND[42]: (root) CMDEND (backup) exit status 1",
        "detail": "backup failed 3 times.",
        "entry_id": entry_id,
        "runbook": "https://wiki/backup",
        "summary": "failed ×3 since 11-28 (exit status 1)",
        "streak": 3 if kind == "failed" else 0,
        "streak_since": datetime(2026, 11, 28, 1, 0, tzinfo=BERLIN) if kind == "failed" else None,
    }
    return Finding(**(values | changes))


def facts(status: str = "ok") -> HostFacts:
    return HostFacts(name="web1", status=status, error=None, zone=BERLIN)


def step(
    stored: list[Incident],
    findings: list[Finding],
    now: datetime,
    entries: list[JobEntry] | None = None,
    status: str = "ok",
    changed_at: dict[str, datetime] | None = None,
) -> list[Incident]:
    """One scan's lifecycle, its changes applied to `stored` (a new incident gets the next id)."""
    known = {e.id: e for e in (entries if entries is not None else [entry()])}
    changes = lifecycle(stored, findings, known, {"web1": facts(status)}, changed_at or {}, now)
    by_id = {incident.id: incident for incident in stored}
    for incident, _ in changes:
        by_id[incident.id or max(by_id, default=0) + 1] = replace(
            incident, id=incident.id or max(by_id, default=0) + 1
        )
    return sorted(by_id.values(), key=lambda i: i.id)


# -- the lifecycle -------------------------------------------------------------------------------


def test_a_finding_opens_one_incident_that_a_rescan_only_updates():
    (opened,) = step([], [finding()], NOW)
    assert (opened.state, opened.first_seen, opened.opened_at, opened.last_seen) == (
        "open",
        NOW,
        NOW,
        NOW,
    )
    assert (opened.streak, opened.streak_since.day, opened.count) == (3, 28, 3)
    assert opened.summary == "failed ×3 since 11-28 (exit status 1)"

    (again,) = step([opened], [finding(count=4, streak=4)], LATER)
    assert (again.id, again.first_seen, again.opened_at, again.last_seen) == (1, NOW, NOW, LATER)
    assert (again.count, again.streak, again.state) == (4, 4, "open")


def test_a_rescan_with_no_change_writes_nothing_new():
    (opened,) = step([], [finding()], NOW)
    changes = lifecycle([opened], [finding()], {"backup": entry()}, {}, {}, LATER)
    assert [(i.id, i.last_seen) for i, _ in changes] == [(1, LATER)]


def test_a_later_run_that_succeeded_resolves_it_and_a_new_failure_reopens_the_same_row():
    (opened,) = step([], [finding()], NOW)
    recovered = finding(streak=0, over=LATER_RUN_SUCCEEDED)
    (resolved,) = step([opened], [recovered], LATER)
    assert (resolved.state, resolved.resolved_at, resolved.resolved_why) == (
        "resolved",
        LATER,
        "a later run succeeded",
    )
    # The judge still reports it (over): last seen by the second scan, as it judged it.
    assert (resolved.last_seen, resolved.streak, resolved.opened_at) == (LATER, 0, NOW)

    # Still in the window and still over, as it was: nothing changes.
    much_later = LATER + timedelta(minutes=5)
    assert lifecycle([resolved], [recovered], {}, {}, {}, much_later) == []
    # Resolved otherwise (its entry changed), then reported over: stored over, as judged.
    changed = replace(resolved, resolved_why=ENTRY_CHANGED)
    ((again, stored),) = lifecycle([changed], [recovered], {}, {}, {}, much_later)
    assert (again.state, again.resolved_why, again.resolved_at) == (
        "resolved",
        LATER_RUN_SUCCEEDED,
        LATER,
    )
    assert stored.over == LATER_RUN_SUCCEEDED
    # Over, but judged otherwise (a failure left the window): the finding is kept up to date.
    (fewer,) = step([resolved], [replace(recovered, count=2)], much_later)
    assert (fewer.state, fewer.count, fewer.last_seen, fewer.resolved_at) == (
        "resolved",
        2,
        much_later,
        LATER,
    )

    reopen_at = LATER + timedelta(hours=1)
    (reopened,) = step([resolved], [finding(count=1, streak=1)], reopen_at)
    assert (reopened.id, reopened.state, reopened.opened_at, reopened.first_seen) == (
        1,
        "open",
        reopen_at,
        NOW,
    )
    # The last resolution is kept: opened_at - resolved_at is how long it stayed fixed.
    assert (reopened.resolved_at, reopened.resolved_why) == (LATER, LATER_RUN_SUCCEEDED)


def test_a_finding_over_before_it_was_ever_stored_is_stored_opened_and_resolved_at_once():
    """So that the stored findings hold all the judge reports of the window: `audit --no-scan`
    lists what the judge would (a failure a later run made good, a past slow run)."""
    over = finding(streak=0, over=LATER_RUN_SUCCEEDED)
    ((born, stored),) = lifecycle([], [over], {}, {}, {}, NOW)
    assert (born.id, born.state, born.resolved_why) == (0, "resolved", LATER_RUN_SUCCEEDED)
    assert (born.first_seen, born.opened_at, born.resolved_at, born.last_seen) == (NOW,) * 4
    assert (born.count, born.summary, stored) == (3, over.summary, over)


def test_a_paused_entrys_finding_is_stored_over_with_why():
    pause = PauseInfo("alice@ops", NOW, "fixing it", None)
    ((born, stored),) = lifecycle(
        [], [finding()], {"backup": entry(disabled=True, paused=pause)}, {}, {}, NOW
    )
    assert (born.state, born.resolved_why, stored.over) == ("resolved", ENTRY_PAUSED, ENTRY_PAUSED)


def test_an_acknowledgement_holds_until_its_until_then_reads_open_and_a_new_episode_clears_it():
    (opened,) = step([], [finding()], NOW)
    acked = replace(
        opened,
        state="acknowledged",
        ack_by="alice@ops",
        ack_at=NOW,
        ack_note="disk ordered",
        ack_until=NOW + timedelta(hours=4),
    )
    (still,) = step([acked], [finding()], LATER)
    assert (still.state, still.ack_by, still.ack_note) == (
        "acknowledged",
        "alice@ops",
        "disk ordered",
    )
    assert standing_state(still, NOW + timedelta(hours=4)) == "open"
    (expired,) = step([still], [finding()], NOW + timedelta(hours=5))
    assert (expired.state, expired.ack_by) == ("open", "alice@ops")  # who acked stays on record

    (resolved,) = step([acked], [finding(over=LATER_RUN_SUCCEEDED)], LATER)
    (reopened,) = step([resolved], [finding()], LATER + timedelta(hours=1))
    assert (reopened.state, reopened.ack_by, reopened.ack_until) == ("open", None, None)


@pytest.mark.parametrize(
    ("entries", "changed", "why"),
    [
        ([], {}, ENTRY_REMOVED),
        ([entry(disabled=True, paused=PauseInfo("alice@ops", NOW, "", None))], {}, ENTRY_PAUSED),
        ([entry(schedule="0 4 * * *")], {"backup": LATER}, ENTRY_CHANGED),
        ([entry()], {}, NO_LONGER_SEEN),
    ],
)
def test_an_incident_no_longer_judged_is_resolved_by_what_became_of_its_entry(
    entries, changed, why
):
    (opened,) = step([], [finding("missed")], NOW)
    (resolved,) = step([opened], [], LATER, entries=entries, changed_at=changed)
    assert (resolved.state, resolved.resolved_why) == ("resolved", why)


def test_a_paused_entrys_findings_are_resolved_though_the_failures_are_still_in_the_window():
    (opened,) = step([], [finding()], NOW)
    pause = PauseInfo("alice@ops", LATER, "fixing it", None)
    (resolved,) = step([opened], [finding()], LATER, entries=[entry(disabled=True, paused=pause)])
    assert resolved.resolved_why == ENTRY_PAUSED


def test_a_host_that_answers_again_resolves_its_unreachable_incident():
    (opened,) = step([], [finding("unreachable", None, severity="critical")], NOW, status="timeout")
    assert (opened.entry_id, opened.kind) == (None, "unreachable")
    (resolved,) = step([opened], [], LATER)
    assert resolved.resolved_why == HOST_ANSWERED


def test_a_stopped_cron_is_one_incident_carrying_the_jobs_it_stopped():
    jobs = [finding("missed", "backup"), finding("missed", "report")]
    stopped = finding("cron_not_running", None, severity="critical", jobs=jobs)
    (incident,) = step([], [stopped], NOW)
    assert (incident.kind, incident.jobs) == ("cron_not_running", ("backup", "report"))


# -- the store -----------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "history.db")
    yield store
    store.close()


def write(store: Store, *findings: Finding, now: datetime = NOW) -> list[Incident]:
    with store.transaction() as db:
        changes = lifecycle(store.incidents(now=now), list(findings), {}, {}, {}, now)
        store.write_incidents(db, changes)
    return store.incidents(now=now)


def test_a_judgement_of_some_entries_reads_the_incidents_it_judges_only(store):
    """Those of the entries judged, the host's own and its crontabs' (whatever entry), in
    every state; not the other entries' nor drift's (judge_across's)."""
    resolved = finding("missed", "poll", over=NO_LONGER_SEEN)
    write(
        store,
        finding(),
        finding("missed", "report"),
        finding("lint", "report", severity="info"),
        finding("drift", "report", severity="info"),
        finding("unreachable", None, severity="critical"),
        resolved,
    )

    def judged(entries):
        read = store.judged_incidents(["web1"], NOW, entries, CRONTAB_KINDS, ("drift",))
        return sorted((i.entry_id or "", i.kind, i.state) for i in read)

    assert judged({"backup", "poll"}) == [
        ("", "unreachable", "open"),
        ("backup", "failed", "open"),
        ("poll", "missed", "resolved"),
        ("report", "lint", "open"),
    ]
    assert judged(None) == [*judged({"backup", "poll"}), ("report", "missed", "open")]
    assert store.judged_incidents(["db1"], NOW, None, CRONTAB_KINDS, ("drift",)) == []


def test_the_store_reads_incidents_worst_first_with_the_finding_as_judged(store):
    warning = finding()
    critical = finding("unreachable", None, severity="critical", summary="no answer")
    incidents = write(store, warning, critical)
    assert [(i.kind, i.severity, i.state) for i in incidents] == [
        ("unreachable", "critical", "open"),
        ("failed", "warning", "open"),
    ]
    failed = store.incident(incidents[1].id)
    assert failed == incidents[1]
    assert (failed.streak_since, failed.jobs, failed.runbook) == (
        warning.streak_since,
        (),
        "https://wiki/backup",
    )
    (_, shown), _ = store.incident_findings(hosts=["web1"], states=["open"], now=NOW)[::-1]
    # The zone is kept, so the views say 03:00 CET as the judge did.
    assert shown.last_at == warning.last_at and shown.last_at.tzinfo == BERLIN
    assert (shown.evidence, shown.detail, shown.summary) == (
        warning.evidence,
        warning.detail,
        warning.summary,
    )
    assert store.incidents(states=["resolved"]) == []
    assert store.incidents(hosts=["db1"]) == []


def test_an_acknowledgement_is_stored_with_its_note_and_in_the_audit_trail(store):
    (incident,) = write(store, finding())
    until = NOW + timedelta(hours=4)
    acked = store.acknowledge(incident.id, "alice@ops", "disk ordered", until, NOW)
    assert (acked.state, acked.ack_by, acked.ack_note, acked.ack_until) == (
        "acknowledged",
        "alice@ops",
        "disk ordered",
        until,
    )
    (trail,) = store.actions()
    assert (trail["action"], trail["actor"], trail["host"], trail["entry_id"]) == (
        "ack",
        "alice@ops",
        "web1",
        "backup",
    )
    assert "disk ordered" in trail["detail"]
    # Past its `until` the acknowledgement reads as open again.
    assert store.incidents(states=["open"], now=until) == [replace(acked, state="open")]
    assert store.incidents(states=["acknowledged"], now=until - timedelta(seconds=1)) == [acked]


def test_acknowledging_an_unknown_or_resolved_finding_is_refused_and_writes_nothing(store):
    (incident,) = write(store, finding())
    with pytest.raises(LookupError, match="no finding with id 99"):
        store.acknowledge(99, "alice@ops", None, None, NOW)
    write(store, finding(over=LATER_RUN_SUCCEEDED), now=LATER)
    with pytest.raises(ValueError, match="resolved"):
        store.acknowledge(incident.id, "alice@ops", None, None, LATER)
    assert store.actions() == []


def test_the_stored_audit_lists_what_stands_and_what_the_judge_reported_over_in_its_window(store):
    """`audit --no-scan`: the standing findings, and the resolved ones the last scans reported
    over (a later run made good) whose latest occurrence is in --since; not those resolved
    because the judge stopped reporting them, nor those over before --since."""
    from cronops.audit import stored_audit

    standing = finding("missed", "report")
    recovered = finding(streak=0, over=LATER_RUN_SUCCEEDED)
    old = finding("slow", "sync", over=LATER_RUN_SUCCEEDED, last_at=NOW - timedelta(days=3))
    write(store, standing, recovered, old, finding("hung", "gone"))
    write(store, standing, recovered, old, now=LATER)  # hung no longer reported: resolved
    assert {(i.kind, i.state, i.resolved_why) for i in store.incidents(now=LATER)} == {
        ("missed", "open", None),
        ("failed", "resolved", LATER_RUN_SUCCEEDED),
        ("slow", "resolved", LATER_RUN_SUCCEEDED),
        ("hung", "resolved", ENTRY_REMOVED),  # (no entries written here)
    }
    hosts = [Host(name="web1", address="127.0.0.1")]
    day = stored_audit(store, hosts, LATER - timedelta(days=1), LATER, over=True)
    assert sorted(f.kind for f in day.findings) == ["failed", "missed"]
    week = stored_audit(store, hosts, LATER - timedelta(days=7), LATER, over=True)
    assert sorted(f.kind for f in week.findings) == ["failed", "missed", "slow"]
    assert [
        f.kind for f in stored_audit(store, hosts, NOW - timedelta(days=7), LATER).findings
    ] == ["missed"]  # the Problems view: standing only


# -- a scan judges the hosts it stored -------------------------------------------------------------


def test_a_scan_opens_and_resolves_its_hosts_incidents_in_its_own_transaction(tmp_path):
    db = tmp_path / "history.db"
    web1 = Host(name="web1", address="127.0.0.1")
    store = Store(db)
    try:
        since = NOW - timedelta(days=8)
        timed_out = HostReport(web1, HostStatus.TIMEOUT, "timed out", None)
        record_group(store, [timed_out], since, NOW, lambda: NOW, PolicyBook())
        (incident,) = store.incidents(now=NOW)
        assert (incident.host, incident.kind, incident.severity) == (
            "web1",
            "unreachable",
            "critical",
        )
        # A scan without the policy stores its data and leaves them be.
        record_group(store, [timed_out], since, LATER, lambda: LATER)
        assert store.incidents(now=LATER) == [incident]
    finally:
        store.close()
    history.scan(db, "web1", {"/etc/crontab": ""}, LATER, policy=PolicyBook())
    store = Store(db)
    try:
        # (The made-up answer shows no cron daemon and no log: those are new incidents.)
        (resolved,) = [i for i in store.incidents(now=LATER) if i.kind == "unreachable"]
        assert (resolved.id, resolved.state, resolved.resolved_why) == (
            incident.id,
            "resolved",
            HOST_ANSWERED,
        )
    finally:
        store.close()


# -- what `cronops findings` and `cronops ack` print ------------------------------------------------


def test_the_findings_table_says_the_streak_the_ack_and_why_it_resolved(store):
    from io import StringIO

    from cronops import tables

    cron_stopped = finding("cron_not_running", None, jobs=[finding("missed", "report")])
    (stopped,) = [i for i in write(store, finding(), cron_stopped) if i.jobs]
    store.acknowledge(stopped.id, "alice@ops", "restarting \x1b[2Jcron", None, NOW)
    write(store, cron_stopped, now=LATER)  # the backup's failure is no longer judged
    out = StringIO()
    console = tables.console(out)
    console.width = 300
    shown = store.incidents(["open", "acknowledged", "resolved"], now=LATER)
    console.print(tables.findings_table(shown, ["open", "acknowledged", "resolved"]))
    text = out.getvalue()
    assert "failed 3 times in a row since 11-28" in text
    assert "acknowledged by alice@ops: restarting \\x1b[2Jcron" in text  # host text made visible
    assert "1 jobs: report" in text
    assert ": the entry was removed" in text
    assert tables.findings_table([], ["open"]) == "No open findings."


def test_ack_and_findings_on_the_command_line(tmp_path, capsys):
    from cronops.cli import main

    db = tmp_path / "history.db"
    inventory = history.inventory(tmp_path / "hosts.toml", "web1")
    store = Store(db)
    try:
        (incident,) = write(store, finding())
    finally:
        store.close()

    def cronops(*args: str) -> int:
        return main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])

    assert cronops("ack", str(incident.id), "--note", "on it", "--until", "4h") == 0
    said = capsys.readouterr().out
    assert said.startswith(f"acknowledged finding {incident.id} (warning failed on web1 backup")
    assert said.rstrip().endswith(": on it")
    assert cronops("findings", "--format", "json", "--state", "acknowledged") == 0
    (shown,) = json.loads(capsys.readouterr().out)["findings"]
    assert (shown["id"], shown["state"], shown["ack_note"]) == (
        incident.id,
        "acknowledged",
        "on it",
    )
    assert cronops("ack", "42") == 2
    assert "no finding with id 42" in capsys.readouterr().err
    assert cronops("findings", "--state", "resolved") == 0
    assert "No resolved findings." in capsys.readouterr().out


def test_a_scan_of_some_hosts_leaves_the_others_incidents_as_they_were(tmp_path):
    db = tmp_path / "history.db"
    web1, web2 = Host(name="web1", address="127.0.0.1"), Host(name="web2", address="127.0.0.1")
    store = Store(db)
    try:
        down = [HostReport(host, HostStatus.TIMEOUT, "timed out", None) for host in (web1, web2)]
        record_group(store, down, NOW - timedelta(days=8), NOW, lambda: NOW, PolicyBook())
    finally:
        store.close()
    history.scan(db, "web1", {"/etc/crontab": ""}, LATER, policy=PolicyBook())  # --host web1
    store = Store(db)
    try:
        unreachable = {i.host: i for i in store.incidents(now=LATER) if i.kind == "unreachable"}
        assert unreachable["web1"].state == "resolved"
        assert (unreachable["web2"].state, unreachable["web2"].last_seen) == ("open", NOW)
    finally:
        store.close()


def test_drift_missed_by_a_group_stored_before_its_peers_is_judged_once_all_are_stored(tmp_path):
    """A first scan stores its hosts group by group: the odd one stored first had no peers to
    be compared with; judged across the scan's hosts once all are stored, its drift opens, and
    judging it alone again (against the peers now stored) keeps it. Judged again: nothing
    changed, so not before an hour has passed (JUDGED_AT_LEAST_EVERY)."""
    from cronops.due import JUDGED_AT_LEAST_EVERY
    from cronops.incidents import judge_across

    db = tmp_path / "history.db"
    spool = "/var/spool/cron/crontabs/root"
    book = PolicyBook()
    for name, minute in (("web3", 30), ("web1", 0), ("web2", 0)):
        history.scan(
            db, name, {spool: f"{minute} 3 * * * /usr/local/bin/backup\n"}, NOW, policy=book
        )
    hosts = [Host(name=name, address="127.0.0.1") for name in ("web1", "web2", "web3")]
    store = Store(db)
    try:
        assert [i for i in store.incidents(now=NOW) if i.kind == "drift"] == []
        with store.transaction() as sql:
            judge_across(store, sql, hosts, book, NOW - history.WINDOW, NOW)
    finally:
        store.close()
    later = NOW + JUDGED_AT_LEAST_EVERY
    history.scan(db, "web3", {spool: "30 3 * * * /usr/local/bin/backup\n"}, later, policy=book)
    store = Store(db)
    try:
        (drift,) = [i for i in store.incidents(now=later) if i.kind == "drift"]
        assert (drift.host, drift.state, drift.opened_at, drift.last_seen) == (
            "web3",
            "open",
            NOW,
            later,
        )
    finally:
        store.close()


async def test_a_scan_of_several_hosts_judges_drift_across_them_and_one_of_a_lone_host_keeps_it(
    tmp_path,
):
    """Through scan_fleet, as `cronops scan` and an action's rescan run it, on the demo fleet
    (web-03's schedules are unlike the other web hosts')."""
    from cronops.demo import build_demo
    from cronops.scan import scan_fleet

    demo = build_demo(tmp_path / "demo", NOW)
    store = Store(demo.db_path)

    async def scan(hosts: list[Host], at: datetime) -> None:
        connector = demo.connector(lambda: at)
        policy = demo.inventory.policy
        async for _ in scan_fleet(hosts, store, connector, 4, demo.window, lambda: at, policy):
            pass

    def drift(at: datetime) -> list[tuple[str, str]]:
        return sorted((i.host, i.state) for i in store.incidents(now=at) if i.kind == "drift")

    try:
        await scan(demo.inventory.hosts, NOW)
        found = drift(NOW)
        assert found and {host for host, _ in found} == {"web-03"}
        (web3,) = [h for h in demo.inventory.hosts if h.name == "web-03"]
        await scan([web3], LATER)  # alone, nobody to compare with: kept open
        assert drift(LATER) == found
    finally:
        store.close()
