"""Incidents pushed to a real Alertmanager (Debian's prometheus-alertmanager, run here on a free
port with a temporary config), read back through its v2 API, and its resolved notifications
received by a webhook it calls; plus the failures a watch round must hear of quickly.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from cronops.alertmanager import (
    LABEL_MAX,
    DeliveryError,
    alert,
    alert_labels,
    alert_name,
    endpoint,
    push,
)
from cronops.inventory import load_inventory, parse_inventory
from cronops.notify import contexts
from cronops.records import Incident, IncidentContext, JobEntry
from cronops.store import History
from tests import history
from tests.fleet import free_port, silent_listener

ALERTMANAGER = shutil.which("prometheus-alertmanager")
SPOOL_ROOT = "/var/spool/cron/crontabs/root"
PREFIX = "/am"  # its --web.route-prefix: an Alertmanager behind a path, as behind a proxy

NOW = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)


def incident(number: int = 1, **changes) -> Incident:
    """db-01's backup failing 7 times in a row, critical."""
    return history.incident(
        **{
            "id": number,
            "host": "db-01",
            "entry_id": "k3z72gb5",
            "severity": "critical",
            "first_seen": NOW - timedelta(days=3),
            "opened_at": NOW - timedelta(hours=2),
            "last_seen": NOW,
            "count": 7,
            "streak": 7,
            "streak_since": NOW - timedelta(days=3),
            "summary": "failed ×7 since 11-25 (exit status 2)",
            "detail": "backup exited 2 at 03:00",
            "evidence": 'Nov 28 03:00:42 db-01 CRON[77]: (CRON) error (grandchild #78 failed with exit status 2)\n"quoted"\x1b[31m',
            "runbook": "https://wiki.example.com/backup",
        }
        | changes
    )


CRON_DOWN = incident(
    2,
    host="build-01",
    entry_id=None,
    kind="cron_not_running",
    summary="no cron daemon: 2 jobs missed 9 runs",
    detail="cron is not running on build-01",
    evidence="no cron process in the process list",
    runbook=None,
    jobs=("aaaa1111", "bbbb2222"),
    streak=0,
)


class Webhook(http.server.BaseHTTPRequestHandler):
    """Alertmanager's notifications, as a receiver gets them."""

    received: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def start_alertmanager(tmp, port: int, webhook: int) -> subprocess.Popen:
    """A real Alertmanager on `port` (no cluster, its storage in `tmp`), notifying `webhook` at
    once (group_wait 0s, group_interval 1s), ready to take alerts."""
    if ALERTMANAGER is None:
        pytest.skip("prometheus-alertmanager is not installed (scripts/test installs it)")
    config = tmp / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: hook\n"
        "  group_by: [host, alertname]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        f"      - url: http://127.0.0.1:{webhook}/hook\n"
        "        send_resolved: true\n"
    )
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.route-prefix={PREFIX}",
            "--cluster.listen-address=",  # no gossip: one Alertmanager of its own
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}{PREFIX}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=1).read()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Alertmanager did not start: {(tmp / 'log').read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def alertmanager(webhook, tmp_path_factory):
    """A real Alertmanager for the module; its alertmanager:// URL."""
    port = free_port()
    process = start_alertmanager(tmp_path_factory.mktemp("alertmanager"), port, webhook)
    yield f"alertmanager://127.0.0.1:{port}{PREFIX}"
    process.terminate()
    process.wait(10)


def alerts_now(url: str) -> dict[str, dict]:
    """Alertmanager's active alerts, by entry id (or host, for a host's own)."""
    base = url.replace("alertmanager://", "http://")
    with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as response:
        found = json.load(response)
    return {a["labels"].get("entry", a["labels"]["host"]): a for a in found}


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def notified(host: str, status: str, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in Webhook.received:
            for sent in message["alerts"]:
                if sent["labels"]["host"] == host and sent["status"] == status:
                    return sent
        time.sleep(0.2)
    pytest.fail(f"no {status} notification for {host} within {seconds:.0f} s")


def job(command: str) -> JobEntry:
    return history.entry(id="k3z72gb5", host="db-01", source=SPOOL_ROOT, command=command)


CONTEXTS = {
    1: IncidentContext(("prod", "db"), "critical", entry=job("/usr/local/bin/backup --full")),
    2: IncidentContext(tags=("ci",)),
}


async def test_firing_incidents_arrive_with_their_labels_and_annotations(alertmanager):
    now = datetime.now(UTC)
    failed = incident(opened_at=now - timedelta(hours=2))
    down = replace(CRON_DOWN, opened_at=now - timedelta(minutes=20))
    await push(alertmanager, [failed, down], [], now=now, timeout=5, contexts=CONTEXTS)

    active = alerts_now(alertmanager)
    job = active["k3z72gb5"]
    assert job["labels"] == {
        "alertname": "CronopsFailed",
        "host": "db-01",
        "entry": "k3z72gb5",
        "job": "root: /usr/local/bin/backup --full",
        "kind": "failed",
        "severity": "critical",
        "tier": "critical",
        "tags": "prod,db",
    }
    assert job["annotations"] == {
        "summary": failed.summary,
        "description": failed.detail,
        "evidence": failed.evidence,  # host text as it is: JSON carries it whole
        "runbook": "https://wiki.example.com/backup",
        "action": "cronops rerun k3z72gb5",
        "acknowledge": "cronops ack 1",
    }
    assert job["status"]["state"] == "active"
    assert abs(stamp(job["startsAt"]) - failed.opened_at) < timedelta(milliseconds=1)
    assert stamp(job["endsAt"]) > now + timedelta(minutes=59)  # it lasts until sent again

    host = active["build-01"]
    assert host["labels"] == {
        "alertname": "CronopsCronNotRunning",
        "host": "build-01",
        "kind": "cron_not_running",
        "severity": "critical",
        "tags": "ci",
    }
    assert host["annotations"]["jobs"] == "aaaa1111 bbbb2222"
    assert "action" not in host["annotations"]
    notified("db-01", "firing")


async def test_sent_again_it_stays_one_alert_and_its_resolution_reaches_the_receiver(
    alertmanager,
):
    now = datetime.now(UTC)
    failed = incident(3, host="db-02", entry_id="c0ffee00", opened_at=now - timedelta(hours=1))
    await push(alertmanager, [failed], [], now=now, timeout=5)
    again = replace(failed, summary="failed ×8 since 11-25 (exit status 2)")
    await push(alertmanager, [again], [], now=now + timedelta(seconds=1), timeout=5)
    same = [a for a in alerts_now(alertmanager).values() if a["labels"]["host"] == "db-02"]
    assert len(same) == 1
    assert same[0]["annotations"]["summary"] == "failed ×8 since 11-25 (exit status 2)"
    notified("db-02", "firing")

    recovered = replace(again, state="resolved", resolved_at=datetime.now(UTC))
    await push(alertmanager, [], [recovered], now=datetime.now(UTC), timeout=5)
    assert "c0ffee00" not in alerts_now(alertmanager)  # the API lists active alerts only
    sent = notified("db-02", "resolved")
    assert abs(stamp(sent["endsAt"]) - recovered.resolved_at) < timedelta(milliseconds=1)
    assert sent["labels"]["entry"] == "c0ffee00"


async def test_a_long_crontab_line_is_bounded_in_its_label(alertmanager):
    now = datetime.now(UTC)
    long = incident(4, host="db-03", entry_id="10ng10ng", opened_at=now)
    context = IncidentContext(entry=job("x" * 5000))
    await push(alertmanager, [long], [], now=now, timeout=5, contexts={4: context})
    label = alerts_now(alertmanager)["10ng10ng"]["labels"]["job"]
    assert len(label) == LABEL_MAX and label.endswith("…")


async def test_an_alertmanager_that_is_down_or_silent_is_a_delivery_error_quickly():
    down = f"alertmanager://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1.*refused"):
        await push(down, [incident()], [], now=NOW, timeout=5)
    assert time.monotonic() - started < 1

    port, close = silent_listener()
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"no answer in 0\.5 s"):
            await push(f"alertmanager://127.0.0.1:{port}", [incident()], [], now=NOW, timeout=0.5)
        assert time.monotonic() - started < 1.5
    finally:
        close()


async def test_a_wrong_path_is_the_http_error_alertmanager_gave(alertmanager):
    wrong = alertmanager.removesuffix(PREFIX) + "/elsewhere"
    with pytest.raises(DeliveryError, match="HTTP 404"):
        await push(wrong, [incident()], [], now=NOW, timeout=5)


def test_urls():
    assert endpoint("alertmanager://am.example.com:9093")[0] == (
        "http://am.example.com:9093/api/v2/alerts"
    )
    target, headers = endpoint("alertmanagers://ops:s%40cret@am.example.com/prefix/")
    assert target == "https://am.example.com/prefix/api/v2/alerts"
    assert headers["Authorization"] == "Basic b3BzOnNAY3JldA=="  # ops:s@cret
    assert endpoint("alertmanager://[::1]:9093")[0] == "http://[::1]:9093/api/v2/alerts"
    for wrong in (
        "http://am:9093",
        "alertmanager://",
        "alertmanager://am:x",
        "alertmanager://am?a=1",
    ):
        with pytest.raises(DeliveryError):
            endpoint(wrong)


def test_alert_names_and_an_episode_resolved_in_the_second_it_opened():
    assert alert_name("failed") == "CronopsFailed"
    assert alert_name("never_ran") == "CronopsNeverRan"
    instant = incident(opened_at=NOW, resolved_at=NOW)
    sent = alert(instant, IncidentContext(), NOW)
    assert stamp(sent["startsAt"]) < stamp(
        sent["endsAt"]
    )  # else Alertmanager refuses the whole batch
    assert sent["labels"]["alertname"] == "CronopsFailed"


def test_labels_come_from_the_history_and_the_inventory(tmp_path):
    """The job as written, the tier its policy gives it, its host's tags: the contexts a watch
    gives every route (notify.contexts), as an alert's labels."""
    db = tmp_path / "history.db"
    history.scan(db, "db-01", {SPOOL_ROOT: "0 3 * * * /usr/local/bin/backup\t--full\n"}, NOW)
    inventory_path = tmp_path / "hosts.toml"
    inventory_path.write_text(
        '[[hosts]]\nname = "db-01"\naddress = "127.0.0.1"\ntags = ["prod", "db"]\n'
        '[[jobs]]\ncommand = "/usr/local/bin/backup"\ntier = "critical"\n'
    )
    stored = History.open(db)
    try:
        (entry,) = stored.entries()
        on_job = incident(entry_id=entry.id)
        on_host = replace(CRON_DOWN, host="db-01")
        gone = incident(3, entry_id="no-such")
        found = contexts(stored, load_inventory(inventory_path), [on_job, on_host, gone], NOW)
    finally:
        stored.close()
    labels = {i.id: alert_labels(i, found[i.id]) for i in (on_job, on_host, gone)}
    assert (labels[1]["job"], labels[1]["tier"], labels[1]["tags"]) == (
        "root: /usr/local/bin/backup\t--full",
        "critical",
        "prod,db",
    )
    assert [(set(labels[n]) & {"job", "tier"}, labels[n]["tags"]) for n in (2, 3)] == [
        (set(), "prod,db")
    ] * 2


def test_an_alertmanager_that_goes_down_is_recorded_retried_with_backoff_and_shown(
    webhook, tmp_path
):
    """Stopped between two rounds that only send its alerts again (no transition, so no
    message owed): the failed push is stored like any route's, rests for its backoff, shows in
    the round's line and the TUI's status line, and the other route is still told; started
    again, the next try after the backoff gets through."""
    from cronops.notify import Message, notify_round
    from cronops.routes import Route
    from cronops.store import Store
    from cronops.tui.data import FleetReader

    port = free_port()
    process = start_alertmanager(tmp_path, port, webhook)
    url = f"alertmanager://127.0.0.1:{port}{PREFIX}"
    am = Route(number=1, url=url, written=url, shown="am", severity="critical", timeout=2)
    chat = Route(number=2, url="json://x", written="json://x", shown="chat", severity="info")
    told: list[str] = []

    async def send(route: Route, message: Message) -> None:
        told.append(message.title)

    store = Store(tmp_path / "history.db")
    start = datetime.now(UTC)
    failing = incident(50, host="db-09", entry_id="d0wnd0wn", opened_at=start)
    later = incident(51, host="db-09", entry_id="1a7e1a7e", severity="warning", opened_at=start)

    def round_at(seconds: float, incidents: list[Incident]):
        now = start + timedelta(seconds=seconds)
        return asyncio.run(notify_round(store, [am, chat], incidents, {}, now, send))

    try:
        first = round_at(0, [failing])
        assert [r.line() for r in first] == [
            "am: sent 1 message (1 new)",
            "chat: sent 1 message (1 new)",
        ]
        assert "d0wnd0wn" in alerts_now(url)
        process.terminate()
        process.wait(10)

        # The alert only goes again (the new warning is not the Alertmanager route's).
        down = round_at(60, [failing, later])
        assert down[0].error and "refused" in down[0].error and down[0].attempts == 1
        assert down[0].line().startswith("am: FAILING (attempt 1, next try ")
        assert down[1].line() == "chat: sent 1 message (1 new)"
        (row,) = store.undelivered()
        assert (row.route, row.event, row.state, row.attempts) == (am.key, "firing", "failed", 1)
        assert row.next_attempt_at == start + timedelta(seconds=60 + 15)
        inventory = parse_inventory('[[hosts]]\nname = "db-09"\naddress = "127.0.0.1"\n', tmp_path)
        reader = FleetReader(store, inventory, inventory.hosts, lambda: start)
        assert reader.read().failing_routes == [f"am ({row.error})"]

        resting = round_at(70, [failing, later])
        assert resting[0].attempts == 1 and store.undelivered()[0].attempts == 1  # not tried
        again = round_at(80, [failing, later])
        assert again[0].attempts == 2 and store.undelivered()[0].next_attempt_at == (
            start + timedelta(seconds=80 + 30)
        )

        process = start_alertmanager(tmp_path, port, webhook)
        back = round_at(111, [failing, later])
        assert back[0].error is None and store.undelivered() == []
        assert "d0wnd0wn" in alerts_now(url)
        assert len(told) == 2  # chat: each incident once
    finally:
        store.close()
        process.terminate()
        process.wait(10)
