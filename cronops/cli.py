"""The `cronops` command: parse arguments, call the core, render, and exit with a code that means something.

Exit codes: 0 all well, 1 a host or a finding needs attention, 2 a usage or inventory error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cronops import __version__, locations, report
from cronops.analysis import Finding
from cronops.audit import run_audit
from cronops.inventory import Host, Inventory, InventoryError, find_inventory, load_inventory
from cronops.policy import KINDS, SEVERITIES, parse_duration
from cronops.scan import (
    DEFAULT_WINDOW,
    HostReport,
    HostScan,
    probe_fleet,
    record_host_checks,
    scan_fleet,
)
from cronops.store import Store
from cronops.transport import connector

DEFAULT_RESCAN_S = 300.0
EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_USAGE = 2

EPILOG = """\
exit codes:
  0  everything checked is fine
  1  something needs attention (a host failed, a finding at or above --fail-on)
  2  usage or inventory error (nothing was checked)

The inventory is --inventory, else $CRONOPS_INVENTORY, else ./hosts.toml, else
~/.config/cronops/hosts.toml. The history database is --db, else $CRONOPS_DB,
else ~/.local/share/cronops/history.db. See hosts.example.toml for every key.
"""


def build_parser() -> argparse.ArgumentParser:
    fleet = argparse.ArgumentParser(add_help=False)
    where = fleet.add_argument_group("fleet")
    where.add_argument(
        "--inventory",
        "-i",
        type=Path,
        metavar="PATH",
        help="hosts.toml to use (see above for the default)",
    )
    where.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"history database (default {locations.default_db_path()})",
    )
    where.add_argument(
        "--host", "-H", action="append", metavar="NAME", help="only this host (repeatable)"
    )
    where.add_argument(
        "--tag", "-t", action="append", metavar="TAG", help="only hosts with this tag"
    )
    where.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust and record the key of a host not yet in known_hosts (a changed key is always refused)",
    )

    parser = argparse.ArgumentParser(
        prog="cronops",
        usage="cronops [fleet options] [--rescan-every SECONDS]   (the TUI)\n"
        "       cronops COMMAND [fleet options] ...",
        description="Agentless operations for a fleet of cron hosts: reads crontabs and cron logs "
        "over SSH and shows what was missed, late, failed, slow, hung or overlapping. With no "
        "command, opens the terminal UI: the history at once, then a scan in the background.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[fleet],
    )
    parser.add_argument("--version", action="version", version=f"cronops {__version__}")
    parser.add_argument(
        "--rescan-every",
        type=float,
        default=DEFAULT_RESCAN_S,
        metavar="SECONDS",
        help=f"TUI: scan again this often (default {DEFAULT_RESCAN_S:g}; 0 turns it off)",
    )
    parser.set_defaults(run=cmd_tui)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    window = argparse.ArgumentParser(add_help=False)
    window.add_argument(
        "--window",
        type=duration_arg,
        default=DEFAULT_WINDOW,
        metavar="DURATION",
        help="how far back a host's first scan reads its logs, e.g. 36h or 8d (default 8d)",
    )

    def command(name, run, summary, description, formats=("table", "json"), **options):
        sub = commands.add_parser(
            name,
            # The main parser's usage lines would otherwise prefix every command's own.
            prog=f"cronops {name}",
            parents=[fleet, *options.pop("parents", [])],
            help=summary,
            description=description,
            epilog=options.pop("epilog", EPILOG),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--format", "-f", choices=formats, default="table")
        sub.set_defaults(run=run)
        return sub

    command(
        "hosts",
        cmd_hosts,
        "connect to every host and report its state",
        "Connect to every host (one SSH connection each, in parallel) and report its "
        "state: ok, unreachable, timeout, auth_failed, host_key_unknown, host_key_changed or error. "
        "Exit 0 when every host is ok, 1 otherwise, 2 on a usage or inventory error.",
    )
    command(
        "scan",
        cmd_scan,
        "read crontabs and cron logs into the local history",
        "Read every host's crontabs, new cron log lines and running jobs (one SSH "
        "connection and one command per host) into the history database. The first scan of a "
        "host reads its rotated logs too, as far back as --window. Exit 0 when every host was "
        "scanned, 1 when any failed, 2 on a usage or inventory error.",
        parents=[window],
    )
    command(
        "jobs",
        cmd_jobs,
        "list the cron entries found on the fleet, with their ids",
        "List every crontab entry of the last scan: its id (what rerun, pause and "
        "edit take), host, user, source file and line, schedule and command. Reads the history "
        "database; run `cronops scan` first.",
    )
    audit = command(
        "audit",
        cmd_audit,
        "scan, then report what was missed, late, failed, slow, hung or overlapping",
        "Scan the fleet (unless --no-scan), then judge every entry over the window: "
        "missed, late, failed, slow, hung, overlap and never_ran per job; unreachable, host_key, "
        "auth, cron_not_running, clock_skew, logs_unreadable and crontab_errors per host. "
        "Where the logs cannot tell (Debian cron at its default -L 1 logs no end and no exit "
        "status), the evidence says so and no failure is invented.",
        formats=("table", "json", "markdown"),
        parents=[window],
        epilog=AUDIT_EPILOG,
    )
    audit.add_argument(
        "--since",
        type=since_arg,
        default="24h",
        metavar="WHEN",
        help="start of the window: a duration back from now (24h, 8d, 1h30m) or an ISO date-time "
        "(default 24h)",
    )
    audit.add_argument(
        "--fail-on",
        type=fail_on_arg,
        default="warning",
        metavar="SEVERITY|KINDS",
        help="exit 1 when a finding is at or above this severity (critical, warning, info), or of "
        "one of these comma-separated kinds (default: warning)",
    )
    audit.add_argument(
        "--no-scan", action="store_true", help="judge the history as it is, without scanning first"
    )
    return parser


AUDIT_EPILOG = """\
exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on (a host that cannot be reached is a critical finding)
  2  usage or inventory error (nothing was checked)

Use it from cron or a monitoring check:  cronops audit --format json --fail-on critical
"""


def duration_arg(text: str) -> timedelta:
    try:
        window = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90m, 36h or 8d") from exc
    if not window:
        raise argparse.ArgumentTypeError("the duration must be more than zero")
    return window


def since_arg(text: str) -> timedelta | datetime:
    """A duration back from now, or a moment (without an offset: this machine's local time)."""
    try:
        return duration_arg(text)
    except argparse.ArgumentTypeError:
        pass
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (24h, 8d) nor an ISO date-time (2026-11-21T06:00)"
        ) from exc


def fail_on_arg(text: str) -> Callable[[Finding], bool]:
    words = [w.strip() for w in text.split(",") if w.strip()]
    if len(words) == 1 and words[0] in SEVERITIES:
        worst = SEVERITIES.index(words[0])
        return lambda finding: SEVERITIES.index(finding.severity) <= worst
    if unknown := [w for w in words if w not in KINDS]:
        raise argparse.ArgumentTypeError(
            f"unknown kind or severity {', '.join(unknown)}: use one of {', '.join(SEVERITIES)}, "
            f"or kinds from {', '.join(KINDS)}"
        )
    return lambda finding: finding.kind in words


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except InventoryError as exc:
        print(f"cronops: inventory error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`cronops audit | head`): say nothing more, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ATTENTION


def open_inventory(args: argparse.Namespace) -> tuple[Inventory, list[Host]]:
    inventory = load_inventory(find_inventory(args.inventory))
    return inventory, inventory.select(args.host, args.tag)


def cmd_tui(args: argparse.Namespace) -> int:
    inventory, hosts = open_inventory(args)
    from cronops.tui import CronopsApp  # here, not at the top: the core never imports textual

    app = CronopsApp(
        args.db or locations.default_db_path(),
        inventory,
        hosts,
        rescan_every=args.rescan_every or None,
        connector_factory=lambda: connector(accept_new_host_keys=args.accept_new_host_keys),
    )
    app.run()
    return EXIT_OK


def cmd_hosts(args: argparse.Namespace) -> int:
    inventory, hosts = open_inventory(args)
    reports = asyncio.run(_check_hosts(inventory, hosts, args.accept_new_host_keys))
    store = open_store(args)
    try:
        record_host_checks(store, reports)
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.hosts_json(reports))
    else:
        report.console().print(report.hosts_table(reports))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_ATTENTION


async def _check_hosts(
    inventory: Inventory, hosts: list[Host], accept_new: bool
) -> list[HostReport]:
    fleet = connector(accept_new_host_keys=accept_new)
    by_name: dict[str, HostReport] = {}
    try:
        with report.FleetProgress(len(hosts), "Connecting", plain_lines=False) as progress:
            async for host_report in probe_fleet(
                hosts, fleet, inventory.concurrency, crontabs=False
            ):
                by_name[host_report.host.name] = host_report
                progress.done(host_report)
    finally:
        await fleet.close()
    return [by_name[h.name] for h in hosts]


def open_store(args: argparse.Namespace) -> Store:
    return Store(args.db or locations.default_db_path())


def cmd_scan(args: argparse.Namespace) -> int:
    inventory, hosts = open_inventory(args)
    store = open_store(args)
    try:
        outcomes = asyncio.run(_scan(inventory, hosts, store, args))
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.scan_json(outcomes))
    else:
        report.console().print(report.scan_summary(outcomes))
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_ATTENTION


async def _scan(inventory: Inventory, hosts: list[Host], store: Store, args) -> list[HostScan]:
    fleet = connector(accept_new_host_keys=args.accept_new_host_keys)
    by_name: dict[str, HostScan] = {}
    try:
        with report.FleetProgress(len(hosts), "Scanning", plain_lines=True) as progress:
            async for outcome in scan_fleet(
                hosts, store, fleet, inventory.concurrency, args.window
            ):
                by_name[outcome.host.name] = outcome
                progress.done(outcome)
    finally:
        await fleet.close()
    return [by_name[h.name] for h in hosts]


def cmd_audit(args: argparse.Namespace) -> int:
    inventory, hosts = open_inventory(args)
    store = open_store(args)
    try:
        if not args.no_scan:
            asyncio.run(_scan(inventory, hosts, store, args))
        now = datetime.now().astimezone()
        since = args.since if isinstance(args.since, datetime) else now - args.since
        result = run_audit(store, inventory, hosts, since, now)
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.audit_json(result))
    elif args.format == "markdown":
        print(report.audit_markdown(result), end="")
    else:
        out = report.console()
        for part in report.audit_tables(result):
            out.print(part)
    return EXIT_ATTENTION if any(args.fail_on(f) for f in result.findings) else EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    _, hosts = open_inventory(args)
    store = open_store(args)
    try:
        names = {h.name for h in hosts}
        entries = [e for e in store.entries() if e["host"] in names]
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.jobs_json(entries))
    elif not entries:
        print("No entries in the history yet: run `cronops scan` first.", file=sys.stderr)
    else:
        out = report.console()
        out.print(report.jobs_table(entries, out.width))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
