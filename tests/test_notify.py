"""The rules that decide what a [[notify]] route is told, on incidents and deliveries made here:
new, worse, recovered, reminded; silence for acks, maintenance, flaps, thresholds and cooldowns;
the message an engineer reads; and the routes' own validation in the inventory."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cronops.inventory import InventoryError, parse_inventory
from cronops.notify import (
    DeliveryError,
    Message,
    backoff,
    compose,
    decide,
    notify_round,
)
from cronops.records import Delivery, IncidentContext
from cronops.routes import Route
from cronops.store import Store
from tests import history

T0 = history.INCIDENT_AT
incident = history.incident


def route(**changes) -> Route:
    base = Route(number=1, url="json://127.0.0.1:1/x", written="json://127.0.0.1:1/x", shown="r")
    return replace(base, **changes)


def told(
    event: str,
    at: datetime,
    *,
    episode: datetime = T0,
    severity: str = "warning",
    state: str = "sent",
    incident_id: int = 1,
) -> Delivery:
    return Delivery(
        id=0,
        route="r",
        shown="r",
        incident_id=incident_id,
        episode=episode,
        event=event,
        severity=severity,
        state=state,
        attempts=1,
        decided_at=at,
        sent_at=at,
        next_attempt_at=None,
        error=None,
    )


def events(r: Route, incidents, rows=(), now=T0 + timedelta(minutes=5), contexts=None):
    by_incident: dict[int, list[Delivery]] = {}
    for row in rows:
        by_incident.setdefault(row.incident_id, []).append(row)
    return [
        (e.incident.id, e.event) for e in decide(r, incidents, contexts or {}, by_incident, now)
    ]


def test_a_new_incident_is_told_once():
    assert events(route(), [incident()]) == [(1, "opened")]
    assert events(route(), [incident()], [told("opened", T0)]) == []


def test_a_worse_severity_is_told_and_then_only_that():
    critical = incident(severity="critical")
    assert events(route(), [critical], [told("opened", T0)]) == [(1, "worse:critical")]
    rows = [told("opened", T0), told("worse:critical", T0, severity="critical")]
    assert events(route(), [critical], rows) == []


def test_a_recovery_goes_where_the_opening_went_and_only_once():
    resolved = incident(state="resolved", resolved_at=T0 + timedelta(minutes=4))
    assert events(route(), [resolved], [told("opened", T0)]) == [(1, "resolved")]
    assert events(route(), [resolved]) == []  # never told it was broken: no recovery either
    assert events(route(), [resolved], [told("opened", T0), told("resolved", T0)]) == []


def test_severity_filter_is_this_or_worse():
    assert events(route(severity="critical"), [incident()]) == []
    assert events(route(severity="critical"), [incident(severity="critical")]) == [(1, "opened")]
    assert events(route(severity="info"), [incident()]) == [(1, "opened")]


def test_acknowledged_and_maintenance_are_silent():
    assert events(route(), [incident(state="acknowledged")]) == []
    assert events(route(), [incident()], contexts={1: IncidentContext(quiet=True)}) == []


def test_notify_after_counts_failures_in_a_row_for_failed_and_runs_otherwise():
    r = route(notify_after={"failed": 2, "missed": 3})
    assert events(r, [incident(streak=1, count=5)]) == []
    assert events(r, [incident(streak=2)]) == [(1, "opened")]
    assert events(r, [incident(kind="missed", streak=0, count=2)]) == []
    assert events(r, [incident(kind="missed", streak=0, count=3)]) == [(1, "opened")]


def test_a_flap_is_not_told_again_until_the_flap_window_has_passed():
    reopened = T0 + timedelta(minutes=20)
    flapping = incident(opened_at=reopened, resolved_at=T0 + timedelta(minutes=10))
    rows = [told("opened", T0), told("resolved", T0 + timedelta(minutes=10))]
    r = route(flap=timedelta(minutes=30))
    assert events(r, [flapping], rows, now=reopened + timedelta(minutes=1)) == []
    later = T0 + timedelta(minutes=41)  # still open 30 minutes after the recovery was told
    assert events(r, [flapping], rows, now=later) == [(1, "opened")]


def test_cooldown_holds_a_reopening_told_of_recently():
    reopened = T0 + timedelta(hours=2)
    again = incident(opened_at=reopened)
    rows = [told("opened", T0), told("resolved", T0 + timedelta(hours=1, minutes=50))]
    r = route(flap=timedelta(0), cooldown=timedelta(hours=1))
    assert events(r, [again], rows, now=reopened) == []
    assert events(r, [again], rows, now=T0 + timedelta(hours=2, minutes=51)) == [(1, "opened")]


def test_reminders_for_an_unacknowledged_open_critical():
    critical = incident(severity="critical")
    r = route(remind=timedelta(hours=1))
    rows = [told("opened", T0, severity="critical")]
    assert events(r, [critical], rows, now=T0 + timedelta(minutes=59)) == []
    assert events(r, [critical], rows, now=T0 + timedelta(hours=1)) == [(1, "remind:1")]
    rows.append(told("remind:1", T0 + timedelta(hours=1), severity="critical"))
    assert events(r, [critical], rows, now=T0 + timedelta(hours=1, minutes=30)) == []
    assert events(r, [critical], rows, now=T0 + timedelta(hours=2)) == [(1, "remind:2")]
    assert events(r, [incident()], [told("opened", T0)], now=T0 + timedelta(days=1)) == []
    assert events(route(), [critical], rows, now=T0 + timedelta(days=1)) == []  # no `remind`


def test_a_pending_intent_is_not_decided_again():
    # A round that died after writing its intent: that row is sent by the retry, not re-decided.
    assert events(route(), [incident()], [told("opened", T0, state="pending")]) == []


def test_a_host_incident_carries_its_jobs_and_they_are_not_told_apart():
    host = incident(
        id=7, entry_id=None, kind="cron_not_running", severity="critical", jobs=("e1", "e2")
    )
    job = incident(id=8, entry_id="e1", kind="missed")
    other_host_job = incident(id=9, host="bravo", entry_id="e1", kind="missed")
    assert events(route(), [host, job, other_host_job]) == [(7, "opened"), (9, "opened")]


def test_filters_kinds_hosts_tags_and_tier():
    i = incident()
    assert events(route(kinds=frozenset({"missed"})), [i]) == []
    assert events(route(hosts=frozenset({"bravo"})), [i]) == []
    assert (
        events(route(tags=frozenset({"db"})), [i], contexts={1: IncidentContext(tags=("web",))})
        == []
    )
    assert events(
        route(tags=frozenset({"db"})), [i], contexts={1: IncidentContext(tags=("db", "x"))}
    ) == [(1, "opened")]
    assert (
        events(
            route(tiers=frozenset({"critical"})), [i], contexts={1: IncidentContext(tier="normal")}
        )
        == []
    )
    host = incident(entry_id=None, kind="unreachable")
    assert events(route(tiers=frozenset({"critical"})), [host]) == [(1, "opened")]


def test_backoff_doubles_up_to_its_limit():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [15, 30, 60]
    assert backoff(50) == timedelta(minutes=30)


def test_the_message_says_what_an_engineer_needs_at_3am():
    entry = history.entry(
        id="e1",
        host="alpha",
        source="/var/spool/cron/crontabs/root",
        schedule="30 2 * * *",
        command="/usr/local/bin/backup --full\x1b[2J",
        first_seen=T0,
    )
    failing = incident(id=12, streak=7, streak_since=T0 - timedelta(days=6))
    message = compose([(failing, "opened")], {12: IncidentContext(entry=entry)})
    assert message.title == "[WARNING] alpha: exit 3"
    for part in (
        "failed on alpha (incident 12)",
        "/usr/local/bin/backup --full\\x1b[2J",  # host text shown, never acted on
        "as root, At 02:30 [30 2 * * *], entry e1",
        "since 2026-11-28 03:00 UTC",
        "Evidence: CRON[12]",
        "Runbook: https://wiki/backup",
        "cronops rerun e1",
        "cronops ack 12",
    ):
        assert part in message.body, part
    assert "\x1b" not in message.body

    recovered = replace(
        failing,
        state="resolved",
        resolved_at=T0 + timedelta(hours=2, minutes=13),
        resolved_why="a later run succeeded",
    )
    message = compose([(recovered, "resolved")], {12: IncidentContext(entry=entry)})
    assert message.title.startswith("[RECOVERED] alpha")
    assert (
        "Recovered after 2h13m broken (since 2026-12-04 03:00 UTC): a later run succeeded"
        in message.body
    )
    assert message.severity == ""


def test_one_message_groups_the_round(tmp_path):
    host = incident(
        id=7,
        entry_id=None,
        kind="cron_not_running",
        severity="critical",
        summary="cron is not running",
        jobs=("e1", "e2"),
    )
    other = incident(id=3, host="bravo")
    message = compose([(other, "opened"), (host, "opened")], {})
    assert message.title == "cronops: 2 new on alpha, bravo"
    assert message.body.index("cron_not_running") < message.body.index("failed on bravo")
    assert "Jobs it stopped (2):\n  - e1\n  - e2" in message.body
    assert message.severity == "critical"


def test_a_round_records_intent_result_and_backoff(tmp_path):
    store = Store(tmp_path / "h.db")
    sent: list[tuple[str, Message]] = []
    down = True

    async def send(r: Route, message: Message) -> None:
        if r.shown == "down" and down:
            raise DeliveryError("Connection refused")
        sent.append((r.shown, message))

    routes = [route(shown="up", written="up"), route(shown="down", written="down")]
    now = T0 + timedelta(minutes=5)
    first = asyncio.run(notify_round(store, routes, [incident()], {}, now, send))
    assert first[0].line() == "up: sent 1 message (1 new)"
    assert first[1].error == "Connection refused" and first[1].attempts == 1
    assert [shown for shown, _ in sent] == ["up"]
    # Resting: the failing route is not tried before its backoff is over; the other is quiet.
    second = asyncio.run(
        notify_round(store, routes, [incident()], {}, now + timedelta(seconds=5), send)
    )
    assert second[1].error == "Connection refused" and len(sent) == 1
    assert second[0].line() == "up: nothing new"
    down = False
    third = asyncio.run(
        notify_round(store, routes, [incident()], {}, now + timedelta(seconds=16), send)
    )
    assert third[1].line() == "down: sent 1 message (1 new)"
    assert [shown for shown, _ in sent] == ["up", "down"]
    (failing,) = [r for r in store.rows("select * from deliveries") if r["route"] == routes[1].key]
    assert failing["state"] == "sent" and failing["attempts"] == 2
    assert store.undelivered() == []
    store.close()


INVENTORY = """\
[[hosts]]
name = "alpha"
address = "127.0.0.1"

[[notify]]
url = "json://hook:${HOOK_SECRET}@127.0.0.1:8080/alerts"
severity = "critical"
notify_after = { failed = 2 }
remind = "4h"
"""


def test_routes_in_the_inventory_expand_the_environment_and_never_show_a_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t")
    (r,) = parse_inventory(INVENTORY, Path("hosts.toml")).routes
    assert r.url == "json://hook:s3cr3t@127.0.0.1:8080/alerts"
    assert "s3cr3t" not in r.shown and "s3cr3t" not in repr(r)
    assert r.shown == "json://hook:****@127.0.0.1:8080/alerts"
    assert r.severity == "critical" and r.notify_after == {"failed": 2}
    assert r.remind == timedelta(hours=4)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", "line 6: [[notify]] #1: key 'url': the environment variable $HOOK_SECRET is not set"),
        (
            'url = "nope://x-s3cr3t"\n',
            "line 12: [[notify]] #2: key 'url': apprise does not understand its scheme 'nope://'",
        ),
        (
            'url = "json://h/x"\nseverity = "loud"\n',
            "line 13: [[notify]] #2: key 'severity' must be one of",
        ),
        (
            'url = "json://h/x"\nkinds = ["failed", "borked"]\n',
            "line 13: [[notify]] #2: key 'kinds': unknown: 'borked'",
        ),
        (
            'url = "json://h/x"\nhosts = ["zulu"]\n',
            "line 13: [[notify]] #2: key 'hosts': no host named 'zulu'",
        ),
        (
            'url = "json://h/x"\nnotify_after = { failed = 0 }\n',
            "[[notify]] #2: key 'notify_after': failed = 0",
        ),
        (
            'url = "json://h/x"\ncooldwn = "1h"\n',
            "unknown key 'cooldwn' (did you mean 'cooldown'?)",
        ),
        ('severity = "critical"\n', "line 11: [[notify]] #2: missing required key 'url'"),
    ],
)
def test_a_bad_route_is_refused_by_file_line_and_key(monkeypatch, table, expected):
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    text = INVENTORY + (f"\n[[notify]]\n{table}" if table else "")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, Path("hosts.toml"))
    assert expected in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_an_alertmanager_route_that_fails_is_that_routes_failure_alone(tmp_path):
    store = Store(tmp_path / "h.db")
    sent: list[str] = []

    async def send(r: Route, message: Message) -> None:
        sent.append(r.shown)

    am = route(url="alertmanager://127.0.0.1:9", written="am", shown="am", timeout=2)
    routes = [am, route(shown="up", written="up")]
    outcome = asyncio.run(notify_round(store, routes, [incident()], {}, T0, send))
    assert outcome[0].error and outcome[0].attempts == 1
    assert sent == ["up"]
    failed = store.undelivered()
    assert {(d.route, d.event, d.state) for d in failed} == {
        (am.key, "opened", "failed"),
        (am.key, "firing", "failed"),
    }
    store.close()


def test_a_finding_stored_already_over_tells_no_route(tmp_path):
    """The judge reported it over at once (a failure a later run made good, within one scan):
    it is stored opened and resolved together, and nobody hears of it, opening or recovery."""
    from cronops.incidents import lifecycle
    from cronops.kinds import LATER_RUN_SUCCEEDED
    from tests.test_incidents import finding

    store = Store(tmp_path / "h.db")
    with store.transaction() as db:
        over = finding(host="alpha", streak=0, over=LATER_RUN_SUCCEEDED, severity="critical")
        store.write_incidents(db, lifecycle([], [over], {}, {}, {}, T0))
    (born,) = store.incidents(now=T0)
    assert (born.state, born.opened_at, born.resolved_at) == ("resolved", T0, T0)
    sent: list[str] = []

    async def send(r: Route, message: Message) -> None:
        sent.append(r.shown)

    # An Alertmanager nothing listens for: contacted, it would fail the round.
    am = route(url="alertmanager://127.0.0.1:9", written="am", shown="am", timeout=2)
    routes = [route(shown="up", written="up", severity="info"), am]
    for later in (timedelta(0), timedelta(minutes=5)):
        outcome = asyncio.run(notify_round(store, routes, [born], {}, T0 + later, send))
        assert [r.line() for r in outcome] == ["up: nothing new", "am: nothing new"]
    assert sent == [] and store.rows("select * from deliveries") == []
    store.close()


class Killed(BaseException):
    """The watch killed between writing its intent and sending it."""


def test_an_intent_left_by_a_killed_watch_is_dropped_if_acknowledged_meanwhile(tmp_path):
    store = Store(tmp_path / "h.db")
    sent: list[str] = []

    async def killed(r: Route, message: Message) -> None:
        raise Killed

    async def send(r: Route, message: Message) -> None:
        sent.append(message.title)

    routes = [route(shown="chat", written="chat")]
    with pytest.raises(Killed):
        asyncio.run(notify_round(store, routes, [incident()], {}, T0, killed))
    (pending,) = store.undelivered()
    assert (pending.event, pending.state) == ("opened", "pending")

    # Restarted after alice acknowledged it: not sent, and the row says why.
    until = T0 + timedelta(hours=1)
    acked = incident(state="acknowledged", ack_by="alice@ops", ack_at=T0, ack_until=until)
    later = T0 + timedelta(minutes=5)
    (outcome,) = asyncio.run(notify_round(store, routes, [acked], {}, later, send))
    assert outcome.line() == "chat: nothing new" and sent == []
    assert store.undelivered() == []
    (dropped,) = store.rows("select state, error from deliveries")
    assert dropped == {
        "state": "dropped",
        "error": "not sent: acknowledged by alice@ops at 2026-12-04 03:00 UTC before it went out",
    }

    # The acknowledgement ran out and it is still open: decided again, told now.
    (outcome,) = asyncio.run(notify_round(store, routes, [incident()], {}, until, send))
    assert outcome.line() == "chat: sent 1 message (1 new)" and len(sent) == 1
    assert store.rows("select state, error from deliveries") == [{"state": "sent", "error": None}]
    store.close()
