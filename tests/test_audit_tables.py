"""`cronops audit` at a terminal: one line a finding, the hosts' own first, the jobs under a
stopped cron listed beneath it; `--verbose` gives each finding's detail and evidence in full.

Over the TUI tests' small histories (clock pinned), rendered as the CLI renders them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console

from cronops import tables
from cronops.audit import run_audit
from cronops.cli import main
from cronops.store import Store
from tests.test_tui import NOW, build_history, build_stopped_history


def audit_of(history):
    path, inventory = history
    store = Store(path)
    try:
        return run_audit(store, inventory.policy, inventory.hosts, NOW - timedelta(hours=24), NOW)
    finally:
        store.close()


def rendered(audit, width: int, verbose: bool = False) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False)
    for part in tables.audit_tables(audit, width, verbose=verbose):
        console.print(part)
    return [line.rstrip() for line in console.export_text().splitlines()]


@pytest.fixture
def audit(tmp_path):
    return audit_of(build_history(tmp_path / "history.db"))


def test_one_line_a_finding_the_hosts_own_first(audit):
    headline, header, *lines = rendered(audit, 200)
    assert headline.startswith("2 critical, 2 warning across 3 hosts (1 not reachable)")
    assert header.split() == ["SEVERITY", "HOST", "KIND", "JOB", "LAST", "WHAT"]
    assert [line.split()[:3] for line in lines] == [
        ["critical", "bravo", "unreachable"],
        ["warning", "alpha", "crontab_errors"],
        ["critical", "alpha", "failed"],
        ["warning", "alpha", "never_ran"],
    ]
    failed = lines[2]
    assert "deploy: rsync -a /srv/ mirror:/srv/" in failed
    assert failed.endswith("15m ago    failed ×100 since 11-21 (exit status 1)")
    assert "root: /usr/local/share/…/nightly-report --all" in lines[3]
    assert "connection timed out after 10s" in lines[0]
    text = "\n".join(lines)
    assert "The run records" not in text and "Schedule '" not in text  # evidence: --verbose


def test_a_narrow_terminal_keeps_one_line_a_finding_and_drops_the_last_column(audit):
    header, *lines = rendered(audit, 80)[2:]  # the headline wraps
    assert header.split() == ["SEV", "HOST", "KIND", "JOB", "WHAT"]
    assert len(lines) == 4 and all(len(line) <= 80 for line in lines)
    assert lines[3].split()[:4] == ["warn", "alpha", "never_ran", "…/nightly-report"]


def test_verbose_gives_each_findings_detail_and_evidence_in_full(audit):
    text = "\n".join(rendered(audit, 200, verbose=True))
    assert "The run records (cron's log or a wrapper) show: failed with exit status 1" in text
    assert "11-22 11:45 UTC" in text  # in the job's zone, named
    assert "runbook:" not in text
    assert text.index("unreachable") < text.index("crontab_errors") < text.index("failed")


def test_a_stopped_cron_is_one_line_with_its_jobs_listed_beneath(tmp_path, monkeypatch):
    audit = audit_of(build_stopped_history(tmp_path / "history.db"))
    _, _, stopped, *jobs = rendered(audit, 200)
    assert stopped.split()[:4] == ["critical", "alpha", "cron_not_running", "2"]
    assert "no cron daemon: 2 jobs missed 28 runs since 11-22 06:15" in stopped
    assert [job.split()[:4] for job in jobs] == [
        ["↳", "missed", "×23", "deploy:"],
        ["↳", "missed", "×5", "root:"],
    ]
    monkeypatch.setattr(tables, "JOBS_LISTED", 1)
    _, _, _, first, more = rendered(audit, 200)
    assert "deploy: rsync" in first
    assert more.split() == ["↳", "…", "and", "1", "more", "--verbose", "lists", "every", "one"]
    verbose = "\n".join(rendered(audit, 200, verbose=True))
    assert verbose.count("↳ missed") == 2


def test_the_cli_takes_verbose(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path, inventory = build_history(tmp_path / "history.db")
    hosts = tmp_path / "hosts.toml"
    hosts.write_text(
        "".join(f'[[hosts]]\nname = "{h.name}"\naddress = "{h.address}"\n' for h in inventory.hosts)
    )
    args = ["audit", "--no-scan", "--inventory", str(hosts), "--db", str(path)]
    assert main(args) == 1
    short = capsys.readouterr().out
    assert main([*args, "--verbose"]) == 1
    full = capsys.readouterr().out
    assert "connection timed out after 10s" in short and "Scan status timeout" not in short
    assert "Scan status timeout: connection timed out after 10s" in full
