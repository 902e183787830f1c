"""`cronops watch` on real hosts with live cron, telling a real HTTP receiver (apprise json://) and
a real SMTP server (aiosmtpd, apprise mailto://): once per new incident, once per recovery,
nothing on a rescan without change or while acknowledged, one alert for a stopped cron daemon;
a watch killed with SIGKILL mid-round and started again repeats nothing and loses no recovery; a
route whose receiver is down is recorded and retried while the other gets its message.

foxtrot runs a job that fails every minute until /root/fixed exists; golf's cron is stopped.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.conftest import logged, own_fleet, wait_for
from tests.fleet import Fleet, HostSpec, free_port, silent_listener

pytestmark = pytest.mark.fleet

FOXTROT_ROOT = 'MAILTO=""\n* * * * * test -e /root/fixed || exit 3\n'
GOLF_ROOT = 'MAILTO=""\n* * * * * true\n*/2 * * * * echo golf >/dev/null\n'
BLOCK = re.compile(r"^\[(\w+)(?: \(([a-z ]+)\))?\] (\w+) on (\S+) \(incident (\d+)\)$", re.M)


class HttpReceiver:
    """A webhook endpoint: each POSTed JSON body (apprise's json:// payload) kept in order."""

    def __init__(self, port: int = 0):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [f"{m['title']}\n{m['message']}" for m in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A real SMTP server (aiosmtpd): each mail kept as subject and body."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        received = self.received = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def texts(self) -> list[str]:
        # An SMTP body's lines end in CRLF.
        bodies = [m.get_body().get_content().replace("\r\n", "\n") for m in self.received]
        return [f"{m['subject']}\n{body}" for m, body in zip(self.received, bodies, strict=True)]

    def close(self) -> None:
        self.controller.stop()


def blocks(texts: list[str]) -> Counter[tuple[str, str, str]]:
    """(label, kind, host) of every incident block in the messages: [WARNING] failed on foxtrot."""
    return Counter(
        (label + (f" ({more})" if more else ""), kind, host)
        for text in texts
        for label, more, kind, host, _ in BLOCK.findall(text)
    )


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    specs = (
        HostSpec(name, crontabs={"root": jobs}, cron=True, cron_level=15, syslog="traditional")
        for name, jobs in (("foxtrot", FOXTROT_ROOT), ("golf", GOLF_ROOT))
    )
    for fleet in own_fleet(tmp_path_factory, "watch-fleet", *specs):
        fleet.hosts["golf"].stop_cron()
        yield fleet


def failing_job(fleet: Fleet) -> None:
    """foxtrot's job broken, and failed at least once since."""
    foxtrot = fleet.hosts["foxtrot"]
    foxtrot.run("rm -f /root/fixed")
    before = logged(foxtrot, "failed with exit status 3")
    wait_for(lambda: logged(foxtrot, "failed with exit status 3") > before, 130, "a failure")


def fixed_job(fleet: Fleet) -> None:
    """foxtrot's job mended, and run once since (with success: the test passes)."""
    foxtrot = fleet.hosts["foxtrot"]
    foxtrot.run("touch /root/fixed")
    before = logged(foxtrot, ") END (", "/root/fixed")
    wait_for(lambda: logged(foxtrot, ") END (", "/root/fixed") > before, 130, "a new run")


def inventory(fleet: Fleet, path: Path, routes: list[dict], extra_hosts=()) -> Path:
    text = fleet.inventory_toml(["foxtrot", "golf"], extra_hosts=extra_hosts)
    for route in routes:
        text += "\n[[notify]]\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in route.items()
        )
    path.write_text(text)
    return path


def mail_url(smtp: SmtpReceiver) -> str:
    return f"mailto://localhost:{smtp.port}?to=oncall@example.com&from=cronops@example.com&mode=insecure&smtp=127.0.0.1"


def undelivered(db: Path) -> list:
    store = Store(db)
    try:
        return store.undelivered()
    finally:
        store.close()


def watch_once(hosts: Path, db: Path, *more: str) -> int:
    return main(["watch", "--once", "--inventory", str(hosts), "--db", str(db), *more])


def round_json(capsys) -> dict:
    """The round `watch --format json` printed: one JSON object on one line."""
    (line,) = capsys.readouterr().out.splitlines()
    return json.loads(line)


def test_each_route_is_told_once_nothing_when_unchanged_or_acknowledged_then_the_recovery(
    watched, tmp_path, capsys
):
    http, smtp = HttpReceiver(), SmtpReceiver()
    try:
        hosts = inventory(
            watched,
            tmp_path / "hosts.toml",
            [
                {"url": f"json://127.0.0.1:{http.port}/hook"},
                {"url": mail_url(smtp), "remind": "1s"},
            ],
        )
        db = tmp_path / "history.db"
        failing_job(watched)

        assert watch_once(hosts, db) == 0
        for receiver in (http, smtp):
            (text,) = receiver.texts()
            found = blocks([text])
            assert found[("WARNING", "failed", "foxtrot")] == 1, text
            assert found[("CRITICAL", "cron_not_running", "golf")] == 1, text
            assert [host for (_, _, host) in found].count("golf") == 1, (
                text
            )  # golf's jobs: inside it
            assert "test -e /root/fixed || exit 3" in text and "cronops ack " in text
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert "round 1: scanned 2 hosts" in line and "sent 1 message (2 new)" in line

        time.sleep(1.1)  # past the mail route's `remind`: golf's critical is told again there
        assert watch_once(hosts, db) == 0
        assert len(http.received) == 1
        assert blocks(smtp.texts()[1:]) == {
            ("CRITICAL (still open)", "cron_not_running", "golf"): 1
        }

        store = Store(db)
        try:
            (golf,) = [i for i in store.incidents(states=["open"]) if i.host == "golf"]
            store.acknowledge(golf.id, "oncall", "on it", None, datetime.now(UTC))
        finally:
            store.close()
        time.sleep(1.1)
        assert watch_once(hosts, db) == 0
        assert (len(http.received), len(smtp.received)) == (1, 2)  # no change; golf acknowledged

        fixed_job(watched)
        capsys.readouterr()
        assert watch_once(hosts, db, "--format", "json") == 0
        done = round_json(capsys)
        assert [(i["host"], i["kind"], i["resolved_why"]) for i in done["resolved"]] == [
            ("foxtrot", "failed", "a later run succeeded")
        ]
        assert done["opened"] == [] and {h["name"] for h in done["hosts"]} == {"foxtrot", "golf"}
        assert [r["told"] for r in done["routes"]] == [{"resolved": 1}] * 2
        for receiver in (http, smtp):
            text = receiver.texts()[-1]
            assert blocks([text]) == {("RECOVERED", "failed", "foxtrot"): 1}, text
            assert "Recovered after " in text and " broken (since " in text
        assert (len(http.received), len(smtp.received)) == (2, 3)
    finally:
        http.close()
        smtp.close()


def test_a_route_that_is_down_is_recorded_and_retried_while_the_other_gets_its_message(
    watched, tmp_path, capsys
):
    down_port = free_port()
    smtp = SmtpReceiver()
    http = None
    try:
        url = f"json://hook:s3cr3t@127.0.0.1:{down_port}/hook"
        hosts = inventory(watched, tmp_path / "hosts.toml", [{"url": url}, {"url": mail_url(smtp)}])
        db = tmp_path / "history.db"
        assert watch_once(hosts, db) == 1  # a route failed
        out = capsys.readouterr().out
        assert f"json://hook:****@127.0.0.1:{down_port}/hook: FAILING (attempt 1" in out
        assert "s3cr3t" not in out
        assert len(smtp.received) == 1

        # Resting: not tried again yet, the other unaffected; as a script reads it.
        assert watch_once(hosts, db, "--format", "json") == 1
        assert len(smtp.received) == 1
        down, fine = round_json(capsys)["routes"]
        assert down["route"] == f"json://hook:****@127.0.0.1:{down_port}/hook"
        assert (down["attempts"], down["told"], fine["error"], fine["told"]) == (1, {}, None, {})
        assert "connection error" in down["error"].lower() and down["retry_at"]
        store = Store(db)
        try:
            failing = store.undelivered()
            assert failing and {d.attempts for d in failing} == {1}
            assert all(d.state == "failed" and d.error for d in failing)
        finally:
            store.close()

        http = HttpReceiver(down_port)
        time.sleep(16)  # the first backoff
        assert watch_once(hosts, db) == 0
        (text,) = http.texts()
        assert blocks([text])[("CRITICAL", "cron_not_running", "golf")] == 1
        assert len(smtp.received) == 1
        store = Store(db)
        try:
            assert store.undelivered() == []
        finally:
            store.close()
    finally:
        smtp.close()
        if http is not None:
            http.close()


def test_kill_9_mid_round_and_restart_repeats_nothing_and_loses_no_recovery(watched, tmp_path):
    http = HttpReceiver()
    port, close_listener = silent_listener()  # a host that never answers: each scan takes 3 s
    hosts = inventory(
        watched,
        tmp_path / "hosts.toml",
        [{"url": f"json://127.0.0.1:{http.port}/hook"}],
        extra_hosts=[{"name": "hotel", "address": "127.0.0.1", "port": port, "connect_timeout": 3}],
    )
    db = tmp_path / "history.db"
    argv = [
        sys.executable,
        "-m",
        "cronops",
        "watch",
        "--every",
        "1s",
        "--inventory",
        str(hosts),
        "--db",
        str(db),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def start() -> subprocess.Popen:
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()

    try:
        failing_job(watched)
        watcher = start()
        time.sleep(1.5)  # in the first round's scan
        kill(watcher)
        assert http.received == []

        watcher = start()
        wait_for(lambda: len(http.received) >= 1, 60, "the first message")
        wait_for(lambda: not undelivered(db), 10, "the message's result to be stored")
        kill(watcher)  # after a round's message, in its wait or its next scan
        watcher = start()
        time.sleep(5)  # a round or two, whose scans each take 3 s
        kill(watcher)
        assert len(http.received) == 1

        fixed_job(watched)
        watcher = start()
        time.sleep(2)  # in the first round's scan, which now sees the job mended
        kill(watcher)
        watcher = start()
        wait_for(
            lambda: any("[RECOVERED] failed on foxtrot" in t for t in http.texts()),
            60,
            "the recovery",
        )
        time.sleep(5)
        watcher.terminate()  # SIGTERM: stops after the step it is in, as a service manager asks
        assert watcher.wait(timeout=30) == 1  # hotel never answered: attention, not a signal death

        told = blocks(http.texts())
        assert told[("WARNING", "failed", "foxtrot")] == 1, http.texts()
        assert told[("RECOVERED", "failed", "foxtrot")] == 1, http.texts()
        assert max(told.values()) == 1, http.texts()  # no incident told twice
    finally:
        http.close()
        close_listener()
