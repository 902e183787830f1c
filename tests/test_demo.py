"""The built-in demo fleet: built in a temporary directory, scanned and judged through the real code.

No sshd needed: the demo transport runs each host's commands here, inside the host's own tree.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from cronops.actions import ActionError, apply, find_target, plan_edit, plan_pause, rerun
from cronops.analysis import entry_status, every_finding
from cronops.audit import AuditResult, run_audit
from cronops.demo import HOSTS, DemoFleet, build_demo
from cronops.inventory import Host
from cronops.kinds import KINDS
from cronops.scan import HostScan, scan_fleet
from cronops.store import Store, iso
from cronops.transport import HostStatus
from cronops.transport.demo import DemoTransport, Unrooter, into_host, rerun_job

NOW = datetime(2026, 3, 4, 10, 42, 17, tzinfo=UTC)
EVERY_KIND = {
    "missed",
    "late",
    "failed",
    "slow",
    "hung",
    "overlap",
    "cron_not_running",
    "unreachable",
    "crontab_errors",
}


@dataclass
class Scanned:
    fleet: DemoFleet
    store: Store
    first: list[HostScan]
    second: list[HostScan]
    audit: AuditResult
    world_digest: str
    home: Path  # $HOME and $TMPDIR pointed here during the build and the scans
    home_before: set[str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo(tmp_path_factory) -> Scanned:
    base = tmp_path_factory.mktemp("demo")
    home = base / "elsewhere"
    home.mkdir()
    real_home = set(os.listdir(Path.home()))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("TMPDIR", str(home))
        fleet = build_demo(base / "root", NOW)
        digest = world_digest(fleet.world)
        store = Store(fleet.db_path)
        first = await scan(fleet, store, NOW)
        second = await scan(fleet, store, NOW)
    audit = run_audit(store, fleet.inventory.policy, fleet.inventory.hosts, NOW - fleet.window, NOW)
    yield Scanned(fleet, store, first, second, audit, digest, home, real_home)
    store.close()


async def scan(
    fleet: DemoFleet, store: Store, now: datetime, hosts: list[Host] | None = None
) -> list[HostScan]:
    return [
        outcome
        async for outcome in scan_fleet(
            hosts or fleet.inventory.hosts,
            store,
            fleet.connector(lambda: now),
            fleet.inventory.concurrency,
            window=fleet.window,
            clock=lambda: now,
        )
    ]


def world_digest(world: Path) -> str:
    """Every file's path and bytes, and the mtimes a scan reads: crontabs' and rotated logs'."""
    digest = hashlib.sha256()
    for path in sorted(p for p in world.rglob("*") if p.is_file()):
        relative = path.relative_to(world)
        dated = relative.parts[0] == "hosts" and (
            "cron" in str(relative) or path.name == "syslog.1"
        )
        mtime = int(path.stat().st_mtime) if dated else 0
        digest.update(f"{relative}\0{mtime}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def host(fleet: DemoFleet, name: str) -> Host:
    return next(h for h in fleet.inventory.hosts if h.name == name)


def sh(script: str, *args: str) -> str:
    """An action's remote command line: the script inline, its arguments after it."""
    quoted = " ".join(shlex.quote(a) for a in args)
    return f"env LC_ALL=C LANG=C sh -c {shlex.quote(script)} cronops {quoted}"


# -- the fleet, scanned and judged ------------------------------------------------------------------


def test_about_20_hosts_and_150_entries_with_a_modest_log(demo):
    assert len(demo.fleet.inventory.hosts) == len(HOSTS) == 20
    entries = sum(s.entries for s in demo.first)
    assert 140 <= entries <= 160
    assert sum(s.log_lines for s in demo.first) < 60_000
    assert all(s.garbage_lines == 0 for s in demo.first)
    assert all(
        h.transport == "demo" and h.address.endswith(".demo") for h in demo.fleet.inventory.hosts
    )


def test_every_finding_kind_shows_and_only_where_it_was_planted(demo):
    found: dict[str, set[str]] = {spec.name: set() for spec in HOSTS}
    for finding in every_finding(demo.audit.findings):
        found[finding.host].add(finding.kind)
    assert {spec.name: set(spec.expect) for spec in HOSTS} == found
    assert set().union(*found.values()) >= EVERY_KIND
    assert set(KINDS) >= EVERY_KIND  # the names analysis uses
    # cron died on build-01: one problem, its jobs' missed runs under it.
    build = [f for f in demo.audit.findings if f.host == "build-01"]
    assert [f.kind for f in build] == ["cron_not_running"]
    assert {job.kind for job in build[0].jobs} == {"missed"} and len(build[0].jobs) > 1


def test_healthy_jobs_look_healthy_in_the_job_list_too(demo):
    audit, store = demo.audit, demo.store
    # lint and drift are read from the crontabs: they say nothing of how the jobs ran.
    names = [spec.name for spec in HOSTS if not spec.expect - {"lint", "drift"}]
    runs = store.runs(names, NOW - timedelta(days=30))
    running = store.processes(names)
    facts = {f.name: f for f in audit.hosts}
    states = {
        entry_status(e, facts[e.host], runs, running, demo.fleet.inventory.policy, NOW).state
        for e in audit.entries.values()
        if e.host in names
    }
    assert states <= {"ok", "ran", "running", "paused", "disabled", "unknown"}
    assert {"ok", "ran", "paused", "disabled"} <= states


def test_the_unreachable_host_does_not_stop_the_rest(demo):
    status = {s.host.name: s for s in demo.first}
    assert status["legacy-01"].status is HostStatus.UNREACHABLE
    assert status["legacy-01"].error == "connection refused by legacy-01.demo"
    assert all(s.ok for name, s in status.items() if name != "legacy-01")


def test_the_dead_daemon_and_the_log_levels_come_from_the_process_list(demo):
    rows = {r["name"]: r for r in demo.store.rows("select * from hosts")}
    assert rows["build-01"]["cron_running"] == 0
    assert rows["web-01"]["cron_running"] == 1
    assert rows["db-03"]["log_level"] == 1 and rows["db-03"]["ends_logged"] == 0
    assert rows["web-01"]["log_level"] == 15 and rows["web-01"]["failures_logged"] == 1


def test_the_malformed_line_is_reported(demo):
    problems = demo.store.rows("select * from crontab_problems")
    assert [(p["host"], p["source"], p["text"]) for p in problems] == [
        ("reports-01", "/etc/cron.d/reports", "0 8 * * 1-5 /usr/local/bin/kpi-report --churn")
    ]
    assert "user field" in problems[0]["message"]


def test_a_second_scan_is_incremental(demo):
    assert [s.new_runs for s in demo.second] == [0] * len(demo.second)
    assert sum(s.new_runs for s in demo.first) > 10_000


async def test_an_hour_later_cron_has_run_on_and_the_problems_stay(demo):
    """The demo's hosts live on with the clock: a rescan finds the new runs, judged the same.

    Only hosts with problems: the other tests read the healthy hosts at NOW."""
    later = NOW + timedelta(hours=1)
    troubled = [
        h for h in demo.fleet.inventory.hosts if h.name in {s.name for s in HOSTS if s.expect}
    ]
    scans = await scan(demo.fleet, demo.store, later, troubled)
    assert sum(s.new_runs for s in scans) > 20
    audit = run_audit(
        demo.store, demo.fleet.inventory.policy, troubled, later - demo.fleet.window, later
    )
    found: dict[str, set[str]] = {h.name: set() for h in troubled}
    for finding in every_finding(audit.findings):
        found[finding.host].add(finding.kind)
    # Drift compares a command across the fleet, not only the hosts audited: web-03's users
    # differ from those of web-01 and web-02, though web-01 (healthy) is not among these.
    expected = {s.name: set(s.expect) for s in HOSTS if s.expect}
    assert found == expected


def test_a_pinned_clock_builds_the_same_world(demo, tmp_path):
    again = build_demo(tmp_path, NOW)
    assert world_digest(again.world) == demo.world_digest


def test_nothing_is_written_outside_the_root(demo):
    assert list(demo.home.iterdir()) == []
    assert {p.name for p in demo.home.parent.iterdir()} == {"root", "elsewhere"}
    assert set(os.listdir(Path.home())) <= demo.home_before


# -- the hosts behave like hosts --------------------------------------------------------------------


async def test_data_on_stdin_is_installed_as_sent_and_read_back_exactly(demo):
    connector, api = demo.fleet.connector(lambda: NOW), host(demo.fleet, "api-01")
    text = b"# keep /etc/foo as written\n0 * * * * cat /etc/foo >/var/tmp/out\n"
    installed = await connector.run(api, sh('crontab -u "$1" -', "deploy"), text)
    assert installed.exit_status == 0, installed.stderr
    listed = await connector.run(api, sh('crontab -u "$1" -l', "deploy"))
    assert listed.stdout == text
    spool = demo.fleet.world / "hosts/api-01/var/spool/cron/crontabs/deploy"
    assert spool.read_bytes().count(b"# DO NOT EDIT THIS FILE") == 1
    assert spool.read_bytes().endswith(text)
    assert spool.stat().st_mtime == NOW.timestamp() // 1  # the host's clock is the demo's


async def test_crontab_refuses_a_last_line_without_a_newline(demo):
    connector, api = demo.fleet.connector(lambda: NOW), host(demo.fleet, "api-01")
    spool = demo.fleet.world / "hosts/api-01/var/spool/cron/crontabs/www-data"
    refused = await connector.run(api, sh('crontab -u "$1" -', "deploy"), b"0 * * * * true")
    assert refused.exit_status == 1
    assert refused.stderr == b"new crontab file is missing newline before EOF, can't install.\n"
    missing = await connector.run(api, sh('crontab -u "$1" -l', "www-data"))
    assert (missing.exit_status, missing.stderr) == (1, b"no crontab for www-data\n")
    assert not spool.exists()


async def test_runuser_lands_in_the_users_home_inside_the_host(demo):
    connector, api = demo.fleet.connector(lambda: NOW), host(demo.fleet, "api-01")
    reply = await connector.run(
        api, sh('runuser -u "$1" -- sh -c \'cd "$HOME" && pwd && id -un && id -u\'', "deploy")
    )
    assert (reply.exit_status, reply.stdout) == (0, b"/home/deploy\ndeploy\n1001\n")
    assert (demo.fleet.world / "hosts/api-01/home/deploy").is_dir()


async def test_the_host_has_its_own_name_and_the_demos_clock(demo):
    connector, billing = demo.fleet.connector(lambda: NOW), host(demo.fleet, "billing-01")
    pieces: list[bytes] = []
    reply = await connector.run(
        billing, sh("uname -n; date -u +%FT%TZ; pwd >&2", "x"), on_output=pieces.append
    )
    # With a sink, stdout streams there and none of it is kept; stderr is kept.
    assert b"".join(pieces) == b"billing-01\n2026-03-04T10:42:17Z\n"
    assert reply.stdout == b""
    assert reply.stderr == b"/root\n"  # a session starts in the home directory
    assert reply.sent_at == reply.received_at == NOW.timestamp()


# -- actions change the hosts ---------------------------------------------------------------------


async def one_host_history(demo, tmp_path: Path, name: str, at: datetime) -> tuple[Store, Host]:
    """A history of its own for one host, so an action's effects stay out of the shared one."""
    store = Store(tmp_path / f"{name}.db")
    (outcome,) = await scan(demo.fleet, store, at, [host(demo.fleet, name)])
    assert outcome.ok
    return store, outcome.host


def entry_id(store: Store, name: str, command_part: str) -> str:
    (row,) = store.rows(
        "select id from entries where host = ? and command like ?", [name, f"%{command_part}%"]
    )
    return row["id"]


def commands_since(store: Store, name: str, since: datetime) -> list[str]:
    rows = store.rows(
        "select command from runs where host = ? and started_at > ? and trigger = 'cron'",
        [name, iso(since)],
    )
    return [row["command"] for row in rows]


async def test_a_pause_stops_the_entry_while_the_others_go_on(demo, tmp_path):
    """cronops' own pause (crontab -u USER - on the spool) changes what the host's cron runs."""
    paused_at, later = NOW + timedelta(hours=1), NOW + timedelta(hours=3)
    store, web = await one_host_history(demo, tmp_path, "web-03", paused_at)
    target = find_target(store, [web], entry_id(store, "web-03", "purge-sessions"))
    change = plan_pause(target, "alice", paused_at, "disk full")
    connector = demo.fleet.connector(lambda: paused_at)
    done = await apply(change, connector, store, "alice@demo", clock=lambda: paused_at)
    assert done.backup is not None and done.backup.startswith("/var/backups/cronops/_var_spool")

    await scan(demo.fleet, store, later, [web])
    commands = commands_since(store, "web-03", paused_at)
    assert not [c for c in commands if "purge-sessions" in c]
    assert "cd / && run-parts --report /etc/cron.hourly" in commands
    (row,) = store.rows("select paused from entries where id = ?", [target.entry.id])
    assert row["paused"] is not None
    spool = demo.fleet.world / "hosts/web-03/var/spool/cron/crontabs/www-data"
    assert spool.read_text().count("# DO NOT EDIT THIS FILE") == 1
    store.close()


async def test_an_edit_of_a_cron_d_file_moves_the_next_runs(demo, tmp_path):
    edited_at, later = NOW + timedelta(hours=1), NOW + timedelta(hours=4)
    store, api = await one_host_history(demo, tmp_path, "api-02", edited_at)
    target = find_target(store, [api], entry_id(store, "api-02", "token-cleanup"))
    change = plan_edit(target, schedule="5 * * * *")
    connector = demo.fleet.connector(lambda: edited_at)
    await apply(change, connector, store, "bob@demo", clock=lambda: edited_at)
    text = (demo.fleet.world / "hosts/api-02/etc/cron.d/api").read_text()
    assert "\n5 * * * * deploy /usr/local/bin/token-cleanup --expired\n" in text

    await scan(demo.fleet, store, later, [api])
    starts = store.rows(
        "select started_at from runs where host = 'api-02' and command like '%token-cleanup%' "
        "and started_at > ?",
        [iso(edited_at)],
    )
    assert [datetime.fromisoformat(r["started_at"]).minute for r in starts] == [5, 5, 5]
    store.close()


async def test_a_rerun_runs_the_jobs_harmless_script_as_its_user(demo, tmp_path):
    store, billing = await one_host_history(demo, tmp_path, "billing-01", NOW)
    target = find_target(store, [billing], entry_id(store, "billing-01", "invoice-run"))
    pieces: list[bytes] = []
    connector = demo.fleet.connector(lambda: NOW)
    done = await rerun(
        target, connector, store, "carol@demo", on_output=pieces.append, clock=lambda: NOW
    )
    assert done.exit_status == 2  # the invoice run is broken: it fails again
    assert done.output[:2] == ["invoice-run --send", "creating invoices"]
    assert b"HTTP 401" in b"".join(pieces)
    (run,) = store.rows("select * from runs where trigger = 'manual'")
    assert (run["user"], run["status"]) == ("billing", 2)
    store.close()


async def test_an_edited_command_of_the_demos_own_scripts_reruns_inside_the_host(demo, tmp_path):
    edited_at = NOW + timedelta(hours=1)
    store, api = await one_host_history(demo, tmp_path, "api-02", edited_at)
    target = find_target(store, [api], entry_id(store, "api-02", "token-cleanup"))
    command = "/usr/local/bin/token-cleanup --verbose >> /var/log/token-cleanup.log 2>&1"
    connector = demo.fleet.connector(lambda: edited_at)
    await apply(plan_edit(target, command=command), connector, store, "bob@demo")
    await scan(demo.fleet, store, edited_at, [api])
    edited = find_target(store, [api], entry_id(store, "api-02", "--verbose"))
    done = await rerun(edited, connector, store, "bob@demo", clock=lambda: edited_at)
    assert done.exit_status == 0
    log = demo.fleet.world / "hosts/api-02/var/log/token-cleanup.log"
    assert log.read_text().startswith("token-cleanup --verbose\n")
    store.close()


async def test_the_demos_own_commands_rerun_as_written(demo, tmp_path):
    # Not only scripts: the stock /etc/crontab's run-parts line, a report dated by $(date).
    store, web = await one_host_history(demo, tmp_path, "web-03", NOW)
    target = find_target(store, [web], entry_id(store, "web-03", "cron.hourly"))
    connector = demo.fleet.connector(lambda: NOW)
    done = await rerun(target, connector, store, "carol@demo", clock=lambda: NOW)
    assert done.exit_status == 0
    store.close()


ESCAPES = [
    "touch {outside}",  # a path outside the host's directories
    "touch ../../../../../../../../../../../../..{outside}",  # a relative path
    "d={outside_head}; touch ${{d}}{outside_tail}",  # ${VAR}
    'touch "$(printf {outside})"',  # a command substitution
    "/usr/local/bin/heartbeat > {outside}",  # the demo's script, its output outside
    "/usr/local/bin/heartbeat >> /tmp/../..{outside}",  # out of an output directory
    "/usr/local/bin/heartbeat; touch {outside}",  # a second command that is not the demo's
    "/usr/local/bin/heartbeat > /usr/local/bin/invoice-run",  # a demo script overwritten
    "echo x > {outside}",  # echo may run, not write outside
    "sleep 1 && rm -f {outside}",  # nor may what follows it be another program
]


@pytest.mark.parametrize("escape", ESCAPES)
async def test_a_rerun_never_runs_an_edited_command_on_this_machine(demo, tmp_path, escape):
    if not Path("/dev/shm").is_dir():
        pytest.skip("needs /dev/shm, a directory outside the demo host's paths")
    outside = Path("/dev/shm") / f"cronops-demo-escape-{uuid.uuid4().hex}"
    command = escape.format(
        outside=outside, outside_head=str(outside)[:6], outside_tail=str(outside)[6:]
    )
    store, billing = await one_host_history(demo, tmp_path, "billing-01", NOW)
    target = find_target(store, [billing], entry_id(store, "billing-01", "invoice-run"))
    evil = replace(target, entry=replace(target.entry, command=command))
    script = demo.fleet.world / "hosts/billing-01/usr/local/bin/invoice-run"
    script_before = script.read_bytes()
    connector = demo.fleet.connector(lambda: NOW)
    try:
        with pytest.raises(ActionError, match="refused on the demo fleet: the demo fleet reruns"):
            await rerun(evil, connector, store, "mallory@demo", clock=lambda: NOW)
        assert not outside.exists()
        assert script.read_bytes() == script_before
        (trail,) = store.rows("select result, detail from actions where action = 'rerun'")
        assert trail["result"] == "failed" and command in trail["detail"]
    finally:
        outside.unlink(missing_ok=True)
        store.close()


def test_a_rerun_is_known_by_its_name_and_nothing_else_is():
    line = "env LC_ALL=C runuser -u a -- /bin/sh -c 'exec \"$1\"' cronops-rerun 'echo hi'"
    assert rerun_job(line) == "echo hi"
    assert rerun_job(f"sh -c START cronops-rerun 1f2e deadbeef {line}") == "echo hi"
    assert rerun_job("env LC_ALL=C LANG=C sh -s") is None
    assert rerun_job("sh -c 'cronops-rerun") == ""  # unreadable: nothing may run
    assert rerun_job("sh -c START cronops-rerun 'echo hi' more") == ""  # not the job at the end


async def test_an_unreachable_host_runs_nothing(demo):
    transport = DemoTransport(demo.fleet.world, lambda: NOW)
    reply = await transport.run(host(demo.fleet, "legacy-01"), "touch /etc/touched")
    assert reply.status is HostStatus.UNREACHABLE
    assert not (demo.fleet.world / "hosts/legacy-01/etc/touched").exists()


# -- the path rewriting, on its own ---------------------------------------------------------------


def test_only_host_paths_are_moved_into_the_host(tmp_path):
    root = tmp_path / "hosts/web-01"
    command = "cat /etc/crontab '/var/log/syslog' /usr/bin/env /usr/local/var/x $HOME/etc a:/srv/b"
    assert into_host(command, root) == (
        f"cat {root}/etc/crontab '{root}/var/log/syslog' /usr/bin/env {root}/usr/local/var/x "
        f"$HOME/etc a:{root}/srv/b"
    )
    assert (
        into_host('for f in /etc/cron.d/*; do "$f"', root)
        == f'for f in {root}/etc/cron.d/*; do "$f"'
    )
    assert into_host("/etcetera /variable", root) == "/etcetera /variable"


def test_the_host_root_is_taken_out_of_output_even_when_split(tmp_path):
    root = tmp_path / "hosts/web-01"
    out: list[bytes] = []
    unroot = Unrooter(root, out.append)
    whole = f"{root}/etc/crontab and {root}\n".encode()
    cut = len(str(root)) // 2
    for piece in (whole[:cut], whole[cut : cut + len(str(root))], whole[cut + len(str(root)) :]):
        unroot.feed(piece)
    unroot.flush()
    assert b"".join(out) == unroot.text(whole) == b"/etc/crontab and /\n"


def test_the_world_path_must_need_no_quoting(tmp_path):
    with pytest.raises(ValueError, match="quoting"):
        DemoTransport(tmp_path / "a b", lambda: NOW)
