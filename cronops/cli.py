"""The `cronops` command: parse arguments, call the core, render, and exit with a code that means something.

Exit codes: 0 all well, 1 a host or a finding needs attention, 2 a usage or inventory error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cronops import __version__, locations

# The core is imported in the functions that use it, not here: `--version` and `--help` then load
# none of it, and each command only its own share (a scan neither the judging, nor the actions,
# nor textual). asyncio, asyncssh, sqlite-utils and rich each cost tens of milliseconds per start.
if TYPE_CHECKING:
    from cronops import actions
    from cronops.audit import AuditResult
    from cronops.inventory import Host, Inventory
    from cronops.records import Finding
    from cronops.scan import HostReport, HostScan
    from cronops.store import Store
    from cronops.transport import Connector

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
        default="8d",  # scan.DEFAULT_WINDOW, spelt out: the parser must not import the scan
        metavar="DURATION",
        help="how far back a host's first scan reads its logs, e.g. 36h or 8d (default %(default)s)",
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
        if formats:  # a command with one output has no --format
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
        "edit take), host, user, source file and line, schedule and command; in JSON also what "
        "the TUI's Jobs view shows: its state, last run and next run. Reads the history "
        "database; run `cronops scan` first.",
    )
    judging = argparse.ArgumentParser(add_help=False)
    judging.add_argument(
        "--since",
        type=since_arg,
        default="24h",
        metavar="WHEN",
        help="start of the window: a duration back from now (24h, 8d, 1h30m) or an ISO date-time "
        "(default 24h)",
    )
    judging.add_argument(
        "--fail-on",
        type=fail_on_arg,
        default="warning",
        metavar="SEVERITY|KINDS",
        help="exit 1 when a finding is at or above this severity (critical, warning, info), or of "
        "one of these comma-separated kinds (default: warning)",
    )
    judging.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="in the table: each finding's detail and evidence in full, and every job under a "
        "host's finding (the default is one line a finding)",
    )
    audit = command(
        "audit",
        cmd_audit,
        "scan, then report what was missed, late, failed, slow, hung or overlapping",
        "Scan the fleet (unless --no-scan), then judge every entry over the window: "
        "missed, late, failed, slow, hung, overlap, never_ran and pause_expired per job; "
        "unreachable, host_key, auth, cron_not_running, clock_skew, logs_unreadable and "
        "crontab_errors per host. Where the logs cannot tell (Debian cron at its default -L 1 "
        "logs no end and no exit status), the evidence says so and no failure is invented.",
        formats=("table", "json", "markdown"),
        parents=[window, judging],
        epilog=AUDIT_EPILOG,
    )
    audit.add_argument(
        "--no-scan",
        action="store_true",
        help="no scan: the findings the last scans stored (`cronops findings`), quick at any "
        "size: those standing, and those over whose latest occurrence is within --since",
    )
    findings = command(
        "findings",
        cmd_findings,
        "list the stored findings: open, acknowledged, resolved",
        "Each scan judges the hosts it scanned and stores their findings with a lifecycle: "
        "open (since when, last seen, runs affected, failures in a row), acknowledged (by "
        "whom, when, a note, until when), resolved (when and why: a later run succeeded, the "
        "host answered again, the entry was paused, removed or changed). One finding per "
        "host, entry (or the host itself) and kind, worst first; its ID is what `cronops ack` "
        "takes. Reads the history database only.",
        epilog=FINDINGS_EPILOG,
    )
    findings.add_argument(
        "--state",
        action="append",
        choices=("open", "acknowledged", "resolved"),
        help="only findings in this state (repeatable; default: open and acknowledged)",
    )
    ack = command(
        "ack",
        cmd_ack,
        "acknowledge a stored finding: someone is on it",
        "Acknowledge the finding with this id (as `cronops findings` lists it), with an "
        "optional note and end: it stays acknowledged until it is resolved, or until --until "
        "(then it reads open again). A new episode of it (it resolved and came back) is open "
        "again. Recorded in the audit trail (`cronops log`).",
        formats=("text", "json"),
        epilog=ACK_EPILOG,
    )
    ack.add_argument("finding", type=int, metavar="FINDING", help="the finding's id")
    ack.add_argument("--note", "-n", metavar="TEXT", help="what is being done about it")
    ack.add_argument(
        "--until", type=until_arg, metavar="WHEN", help="until when: a duration (4h) or a date-time"
    )
    command(
        "lint",
        cmd_lint,
        "point out crontab lines that make cron do something else than they seem to say",
        "Read the crontabs of the last scan from the history and point out what makes cron do "
        "something else than a line seems to say: a line cron rejects (Debian cron then ignores "
        "the whole file), no newline at the end of the file, an /etc/cron.d file name cron never "
        "reads, day of month and day of week both restricted (cron runs on either: the next "
        "dates are shown), a fixed-time job in the hour a DST change skips or repeats within a "
        "year (the date and what cron does), an unescaped %, and CRON_TZ for a cron that "
        "ignores it. Exit 0 when there is nothing to say, 1 when there is, 2 on a usage or "
        "inventory error.",
        epilog=LINT_EPILOG,
    )
    changes = command(
        "changes",
        cmd_changes,
        "list what changed in the crontabs: added, removed, changed, paused; who and when",
        "Every change the history holds since --since, oldest first: crontab files added, "
        "removed or rewritten, entries added, removed, with a new schedule or command, paused, "
        "resumed, commented out or back, and NAME=value settings changed. Who and when come "
        "from cronops' audit trail, else the host's log of the crontab program (REPLACE, "
        "DELETE, BEGIN/END EDIT: user crontabs only), else the file's modification time, else "
        "only the scan that found it. Reads the history database; run `cronops scan` first.",
        epilog=CHANGES_EPILOG,
    )
    changes.add_argument(
        "--since",
        type=since_arg,
        default="24h",
        metavar="WHEN",
        help="a duration back from now (24h, 8d) or an ISO date-time (default 24h)",
    )
    changes.add_argument("--entry", "-e", metavar="ID", help="only the changes of this entry")
    add_action_commands(command)
    command(
        "prune",
        cmd_prune,
        "fold runs older than the retention into daily counts now, and drop old daily counts",
        "Fold every run older than the inventory's `retention` (default 35 days) into one row "
        "per job and UTC day (runs, failed, killed, unknown, median, 95th percentile and "
        "longest duration), delete those runs, and drop daily rows older than "
        "`rollup_retention` (default 365 days). Each job's latest run, a run still running and "
        "a rerun stay. Each scan does a little of this already; this does it all at once, in "
        "short transactions that a scan or the TUI never waits long for.",
    )
    metrics = command(
        "metrics",
        cmd_metrics,
        "print the history's metrics for Prometheus (node_exporter textfile format)",
        "Print what the history holds as Prometheus metrics: per job its last "
        "start, last success, last duration, next expected run and interval; per host its last "
        "scan and whether it read the host; open and acknowledged incidents by kind and "
        "severity. Reads the history database only (run `cronops scan` first); with --output, "
        "writes FILE whole (a temp file, then a rename) for node_exporter's textfile collector.",
        formats=(),
    )
    metrics.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write FILE instead of printing"
    )
    watch = command(
        "watch",
        cmd_watch,
        "scan every few minutes and tell the [[notify]] routes what changed",
        "Scan the fleet every --every (with a little jitter), which updates the stored "
        "incidents, then send each [[notify]] route of the inventory one message with what it "
        "was not told yet: a new incident, a worse one, a recovery (and how long it was "
        "broken), a reminder of an unacknowledged critical one. Acknowledged incidents and "
        "maintenance windows are silent. What was sent to which route is stored, so a watch "
        "killed and started again sends nothing twice and loses no recovery; a route that "
        "fails is retried with backoff and never stops the others. One line per round; "
        "SIGTERM or Ctrl-C stop after the current step. With --once: one round (for a timer), "
        "exit 0 when every host was scanned and every route reached, 1 otherwise. "
        "--format json prints one JSON object a line per round instead: the hosts scanned, the "
        "incidents opened and resolved, and what each route was told or why it failed.",
        parents=[window],
    )
    watch.add_argument(
        "--every",
        type=duration_arg,
        default="5m",
        metavar="DURATION",
        help="time between rounds, e.g. 2m or 1h (default %(default)s)",
    )
    watch.add_argument("--once", action="store_true", help="one round, then exit")
    watch.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="also serve the history's metrics on http://127.0.0.1:N/metrics (Prometheus)",
    )
    log = command(
        "log",
        cmd_log,
        "show the audit trail of actions (rerun, kill, pause, resume, edit, undo)",
        "Every action cronops took or refused, newest first: when, who (local user@host), "
        "host, entry, action, the line before and after, and the result. Reads the history "
        "database only.",
    )
    log.add_argument("--entry", "-e", metavar="ID", help="only the actions on this entry")
    log.add_argument("--limit", "-n", type=int, default=50, metavar="N", help="default 50")
    demo = commands.add_parser(
        "demo",
        prog="cronops demo",
        parents=[judging],
        help="open the TUI on a built-in demo fleet (no SSH, nothing written outside a temp dir)",
        description="Build a made-up fleet of about 20 hosts with two weeks of cron history and "
        "every kind of problem in a temporary directory, and open the TUI on it: scans, findings "
        "and actions (rerun, kill, pause, edit) run the real code through a demo transport. With "
        "--audit, print the audit of the same fleet instead. The directory is removed on exit.",
        epilog=AUDIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--audit", action="store_true", help="print the audit instead of the TUI")
    demo.add_argument("--format", "-f", choices=("table", "json", "markdown"), default="table")
    demo.set_defaults(run=cmd_demo)
    return parser


def add_action_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """rerun, kill, pause, resume, edit and undo: an entry id, a confirmation (or --yes), one
    action."""
    confirm = argparse.ArgumentParser(add_help=False)
    confirm.add_argument("entry", metavar="ID", help="the entry's id, as `cronops jobs` lists it")
    confirm.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (needed off a terminal); an interrupted rerun is "
        "stopped without asking",
    )
    actions = {
        "rerun": (
            "run an entry's command now, as its user, with its crontab environment",
            "Run the entry's command on its host now, as the entry's user (runuser as root, "
            "else sudo -n -u USER), with the environment cron gives it (HOME, LOGNAME, SHELL, "
            "PATH and the crontab's NAME=value lines), its % input, in the user's home. It runs "
            "in a process group of its own, its output in a file on the host that streams here; "
            "the run is recorded as a manual run. Refused while the entry is running, unless "
            "--force. Ctrl-C (or SIGTERM) asks whether to stop the job (TERM to its process "
            "group, KILL after the host's kill_grace, 5 s by default), leave it running on the "
            "host, or keep watching; off a terminal, with --yes, or on a hang-up it is stopped "
            "without asking. Past --timeout it is stopped. Each way it ends is recorded.",
        ),
        "kill": (
            "stop a run of an entry that cron started and is still running (a hung run)",
            "Find the entry's runs on its host now (cron's children running its command), show "
            "the one to kill (pid, start, its processes, and any that left its process group), "
            "ask, then send TERM to its process group, and KILL after --grace if any of it is "
            "left; check that none of it is left. As root the signals are sent directly, else as "
            "the entry's user through sudo -n -u USER. Recorded in the audit trail and, on the "
            "run the log shows for it, as its outcome: killed by the signal. When several runs "
            "of the entry are running, --pid chooses one.",
        ),
        "pause": (
            "comment out an entry's line, with who, when and why",
            "Comment out exactly the entry's line behind a cronops marker (who, when, --reason, "
            "--until); `cronops resume` restores the line byte for byte. Refused when the crontab "
            "changed on the host since the last scan.",
        ),
        "resume": (
            "restore a paused entry's line exactly",
            "Restore the line `cronops pause` commented out, byte for byte.",
        ),
        "edit": (
            "change an entry's schedule and/or command (only that line changes)",
            "Replace the entry's schedule and/or command; every other byte of the crontab is "
            "kept. Shows the diff, writes only if the crontab is unchanged since the last scan, "
            "keeps a backup on the host, and reads it back to verify.",
        ),
        "undo": (
            "take back cronops' latest change to the entry (again: the one before)",
            "Restore the crontab version from before cronops' latest pause, resume or edit of "
            "the entry that is not undone yet, through the same checks: refused if the crontab "
            "changed since. Each undo walks one change further back (an undo is never redone); "
            "when every change is undone, it says there is nothing left to undo.",
        ),
    }
    epilog = (
        "exit codes:\n  0  done (a rerun: the job exited 0; a kill: none of the run is left)\n"
        "  1  refused or failed (nothing changed); a rerun: the job failed or was stopped at\n"
        "     its time limit; a kill: some of the run is still there\n  2  usage or "
        "inventory error, or no confirmation\n  128+N  a rerun interrupted by signal N (130 "
        "Ctrl-C, 143 SIGTERM, 129 hang-up): its job stopped or left running, as recorded\n"
    )
    subs = {
        name: command(
            name,
            cmd_action,
            summary,
            description,
            formats=("text", "json"),
            parents=[confirm],
            epilog=epilog,
        )
        for name, (summary, description) in actions.items()
    }
    subs["rerun"].add_argument(
        "--force", action="store_true", help="run even while the entry is running right now"
    )
    subs["rerun"].add_argument(
        "--timeout",
        type=duration_arg,
        metavar="DURATION",
        help="stop the job (its process group) after this long, e.g. 30m or 2h (default: the "
        "host's rerun_timeout in the inventory, else 1d)",
    )
    subs["kill"].add_argument(
        "--pid", type=int, metavar="PID", help="which run, when several of the entry are running"
    )
    subs["kill"].add_argument(
        "--grace",
        type=duration_arg,
        metavar="DURATION",
        help="how long after TERM to send KILL, e.g. 10s or 2m (default: the host's kill_grace "
        "in the inventory, else 5s)",
    )
    subs["pause"].add_argument("--reason", "-r", default="", help="why, shown with the entry")
    subs["pause"].add_argument(
        "--until", type=until_arg, metavar="WHEN", help="until when: a duration (4h) or a date-time"
    )
    subs["edit"].add_argument("--schedule", "-s", metavar="SCHEDULE", help="e.g. '30 2 * * *'")
    subs["edit"].add_argument(
        "--command", "-c", dest="command_text", metavar="COMMAND", help="the new command"
    )


AUDIT_EPILOG = """\
exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on (a host that cannot be reached is a critical finding)
  2  usage or inventory error (nothing was checked)

Use it from cron or a monitoring check:  cronops audit --format json --fail-on critical
"""


FINDINGS_EPILOG = """\
exit codes:
  0  listed (findings or none)
  2  usage or inventory error (nothing was read)
"""


ACK_EPILOG = """\
exit codes:
  0  acknowledged
  1  refused: the finding is resolved (nothing to acknowledge)
  2  usage or inventory error, or no finding with this id
"""


LINT_EPILOG = """\
exit codes:
  0  nothing to point out
  1  something to point out
  2  usage or inventory error (nothing was checked)
"""


CHANGES_EPILOG = """\
exit codes:
  0  listed (changes or none)
  2  usage or inventory error (nothing was read)
"""


def duration_arg(text: str) -> timedelta:
    from cronops.settings import parse_duration

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


def local_now() -> datetime:
    """The wall clock in the local zone: "now" for every command (and where tests pin it)."""
    return datetime.now().astimezone()


def until_arg(text: str) -> datetime:
    moment = since_arg(text)
    return local_now() + moment if isinstance(moment, timedelta) else moment


def fail_on_arg(text: str) -> Callable[[Finding], bool]:
    from cronops.kinds import KINDS, SEVERITIES

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
    from cronops.inventory import InventoryError
    from cronops.visible import visible

    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except InventoryError as exc:
        print(f"cronops: inventory error:\n{visible(str(exc), lines=True)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`cronops audit | head`): say nothing more, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ATTENTION


def open_inventory(args: argparse.Namespace) -> tuple[Inventory, list[Host]]:
    from cronops.inventory import find_inventory, load_inventory

    inventory = load_inventory(find_inventory(args.inventory))
    return inventory, inventory.select(args.host, args.tag)


def cmd_tui(args: argparse.Namespace) -> int:
    from cronops.transport import connector
    from cronops.tui import CronopsApp

    inventory, hosts = open_inventory(args)
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
    import asyncio

    from cronops import report
    from cronops.scan import record_host_checks

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
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.hosts_table(reports))
    return EXIT_OK if all(r.ok and not r.last_scan_error for r in reports) else EXIT_ATTENTION


async def _check_hosts(
    inventory: Inventory, hosts: list[Host], accept_new: bool
) -> list[HostReport]:
    from cronops.progress import FleetProgress
    from cronops.scan import probe_fleet
    from cronops.transport import connector

    fleet = connector(accept_new_host_keys=accept_new)
    by_name: dict[str, HostReport] = {}
    try:
        with FleetProgress(len(hosts), "Connecting", plain_lines=False) as progress:
            async for host_report in probe_fleet(
                hosts, fleet, inventory.concurrency, crontabs=False
            ):
                by_name[host_report.host.name] = host_report
                progress.done(host_report)
    finally:
        await fleet.close()
    return [by_name[h.name] for h in hosts]


def open_store(args: argparse.Namespace) -> Store:
    from cronops.store import Store

    return Store(args.db or locations.default_db_path())


def cmd_scan(args: argparse.Namespace) -> int:
    import asyncio

    from cronops import report
    from cronops.transport import connector

    inventory, hosts = open_inventory(args)
    store = open_store(args)
    try:
        fleet = connector(accept_new_host_keys=args.accept_new_host_keys)
        outcomes = asyncio.run(_scan(inventory, hosts, store, fleet, args.window))
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.scan_json(outcomes))
    else:
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.scan_summary(outcomes))
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_ATTENTION


async def _scan(
    inventory: Inventory,
    hosts: list[Host],
    store: Store,
    fleet: Connector,
    window: timedelta,
) -> list[HostScan]:
    from cronops import collector
    from cronops.progress import FleetProgress
    from cronops.retention import AFTER_SCAN_S, prune
    from cronops.scan import scan_fleet, utc_now

    collector.freeze()  # the modules loaded by now live until exit: no collection need walk them
    by_name: dict[str, HostScan] = {}
    # A run older than the retention may already be folded: reading it again would count it twice.
    window = min(window, inventory.retention)
    try:
        with FleetProgress(len(hosts), "Scanning", plain_lines=True) as progress:
            async for outcome in scan_fleet(
                hosts, store, fleet, inventory.concurrency, window, policy=inventory.policy
            ):
                by_name[outcome.host.name] = outcome
                progress.done(outcome)
    finally:
        await fleet.close()
    # A little of the folding, bounded in time, after the scan's commits.
    prune(store, utc_now(), inventory.retention, inventory.rollup_retention, AFTER_SCAN_S)
    return [by_name[h.name] for h in hosts]


def cmd_prune(args: argparse.Namespace) -> int:
    from cronops import report
    from cronops.retention import prune
    from cronops.scan import utc_now

    inventory, _ = open_inventory(args)
    store = open_store(args)
    try:
        pruned = prune(store, utc_now(), inventory.retention, inventory.rollup_retention)
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.pruned_json(pruned))
    else:
        print(report.pruned_text(pruned))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    import asyncio

    from cronops.transport import connector

    inventory, hosts = open_inventory(args)
    store = open_store(args)
    try:
        now = local_now()
        if args.no_scan:
            from cronops.audit import stored_audit

            # What the scans stored (a few lookups), not the whole window judged again.
            result = stored_audit(store, hosts, _since(args.since, now), now, over=True)
        else:
            fleet = connector(accept_new_host_keys=args.accept_new_host_keys)
            asyncio.run(_scan(inventory, hosts, store, fleet, args.window))
            result = _audit(store, inventory, hosts, args.since, local_now())
    finally:
        store.close()
    return _print_audit(result, args)


def _audit(
    store: Store, inventory: Inventory, hosts: list[Host], since, now: datetime
) -> AuditResult:
    from cronops.audit import run_audit

    return run_audit(store, inventory.policy, hosts, _since(since, now), now)


def _since(since: timedelta | datetime, now: datetime) -> datetime:
    return since if isinstance(since, datetime) else now - since


def _print_audit(result: AuditResult, args: argparse.Namespace) -> int:
    from cronops import report

    if args.format == "json":
        report.print_json(report.audit_json(result))
    elif args.format == "markdown":
        print(report.audit_markdown(result), end="")
    else:
        from cronops import tables  # rich, for a person at a terminal

        out = tables.console()
        for part in tables.audit_tables(result, out.width, verbose=args.verbose):
            out.print(part)
    from cronops.analysis import every_finding

    # A job's missed runs folded under its host's finding still fail `--fail-on missed`.
    failing = any(args.fail_on(f) for f in every_finding(result.findings))
    return EXIT_ATTENTION if failing else EXIT_OK


def cmd_findings(args: argparse.Namespace) -> int:
    from cronops import report

    _, hosts = open_inventory(args)
    store = open_store(args)
    try:
        states = args.state or ["open", "acknowledged"]
        incidents = store.incidents(states, [h.name for h in hosts], local_now())
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.findings_json(incidents))
    else:
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.findings_table(incidents, states))
    return EXIT_OK


def cmd_ack(args: argparse.Namespace) -> int:
    from cronops import report
    from cronops.actions import actor
    from cronops.visible import visible

    open_inventory(args)  # the same inventory errors as every command
    store = open_store(args)
    try:
        incident = store.acknowledge(args.finding, actor(), args.note, args.until, local_now())
    except LookupError as exc:
        print(f"cronops ack: {exc} (`cronops findings` lists them)", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(visible(f"cronops ack: {exc}"), file=sys.stderr)
        return EXIT_ATTENTION
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.incident_json(incident))
    else:
        print(visible(report.acknowledged(incident)))
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    import asyncio

    from cronops.transport import connector
    from cronops.watch import Round, Stop, watch

    inventory, hosts = open_inventory(args)
    if not inventory.routes:
        print(
            f"cronops watch: {inventory.path} has no [[notify]] route: nobody would be told "
            "(see hosts.example.toml)",
            file=sys.stderr,
        )
    db = args.db or locations.default_db_path()
    store = open_store(args)
    if args.metrics_port is not None:
        _serve_metrics(args.metrics_port, db, hosts)
    rounds: list[Round] = []

    def report(done: Round) -> None:
        import json

        from cronops.visible import visible

        rounds.append(done)
        if args.format == "json":  # one object a line, as each round ends (JSON Lines)
            print(json.dumps(done.json(), ensure_ascii=True, default=str), flush=True)
        else:
            print(visible(done.line()), flush=True)

    async def run() -> None:
        stop = Stop()
        stop.install()
        await watch(
            inventory,
            hosts,
            store,
            lambda: connector(accept_new_host_keys=args.accept_new_host_keys),
            every=args.every,
            window=args.window,
            once=args.once,
            report=report,
            stop=stop,
        )

    try:
        asyncio.run(run())
    finally:
        store.close()
    if not rounds:
        return EXIT_ATTENTION
    fine = all(s.ok for s in rounds[-1].scans) and not any(r.error for r in rounds[-1].routes)
    return EXIT_OK if fine else EXIT_ATTENTION


def _serve_metrics(port: int, db: Path, hosts: list[Host]) -> None:
    """`--metrics-port`: /metrics served from the history while the watch runs."""
    from cronops import metrics

    metrics.serve(port, db, hosts=hosts)


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio
    import tempfile

    from cronops.demo import build_demo
    from cronops.scan import utc_now
    from cronops.store import Store

    with tempfile.TemporaryDirectory(prefix="cronops-demo-") as tmp:
        demo = build_demo(Path(tmp), utc_now())
        hosts = demo.inventory.hosts
        if not args.audit:
            from cronops.tui import CronopsApp

            CronopsApp.on_demo(demo).run()
            return EXIT_OK
        store = Store(demo.db_path)
        try:
            asyncio.run(_scan(demo.inventory, hosts, store, demo.connector(), demo.window))
            result = _audit(store, demo.inventory, hosts, args.since, local_now())
        finally:
            store.close()
    return _print_audit(result, args)


def cmd_jobs(args: argparse.Namespace) -> int:
    from cronops import report
    from cronops.audit import read_jobs

    inventory, hosts = open_inventory(args)
    store = open_store(args)
    try:
        jobs = read_jobs(store, hosts)
    finally:
        store.close()
    if args.format == "json":
        states = jobs.states(inventory.policy, local_now())
        report.print_json(report.jobs_json(jobs, states))
    elif not jobs.entries:
        print("No entries in the history yet: run `cronops scan` first.", file=sys.stderr)
    else:
        from cronops import tables  # rich, for a person at a terminal

        out = tables.console()
        out.print(tables.jobs_table(jobs.entries, out.width))
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from cronops import report
    from cronops.lint import lint_host

    _, hosts = open_inventory(args)
    store = open_store(args)
    now = local_now()
    try:
        crontabs = store.crontabs_now([h.name for h in hosts])
        facts = store.host_facts(hosts)
        lookups = store.command_lookups([h.name for h in hosts])
        notes = []
        for host in hosts:
            mine = [c for c in crontabs if c.host == host.name]
            family = facts[host.name].cron_family
            found = lookups.get(host.name, {})
            notes += lint_host(mine, facts[host.name].zone, family, now, found)
    finally:
        store.close()
    if not crontabs:
        print("No crontabs in the history yet: run `cronops scan` first.", file=sys.stderr)
    if args.format == "json":
        report.print_json(report.lint_json(notes, now))
    elif crontabs:
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.lint_table(notes, len(crontabs)))
    return EXIT_ATTENTION if notes else EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    from cronops import metrics

    _, hosts = open_inventory(args)
    path = args.db or locations.default_db_path()
    if not path.exists():
        print(f"cronops: no history at {path}: run `cronops scan` first", file=sys.stderr)
        return EXIT_USAGE
    text = metrics.exposition(path, hosts)
    if args.output is None:
        sys.stdout.buffer.write(text)
        return EXIT_OK
    try:
        metrics.write_textfile(args.output, text)
    except OSError as exc:
        print(f"cronops: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_changes(args: argparse.Namespace) -> int:
    from cronops import report
    from cronops.audit import read_changes

    _, hosts = open_inventory(args)
    now = local_now()
    since = args.since if isinstance(args.since, datetime) else now - args.since
    store = open_store(args)
    try:
        changes = read_changes(store, [h.name for h in hosts], since)
    finally:
        store.close()
    if args.entry:
        changes = [c for c in changes if c.concerns(args.entry)]
    if args.format == "json":
        report.print_json(report.changes_json(changes, since, now))
    else:
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.changes_table(changes, since))
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    from cronops import report

    _, hosts = open_inventory(args)
    store = open_store(args)
    try:
        names = {h.name for h in hosts}
        # A refusal before any host was known (an unknown id) is on no host: shown unless
        # the trail is asked for some hosts only.
        everywhere = not (args.host or args.tag)
        trail = [
            a
            for a in store.actions(entry_id=args.entry, limit=args.limit)
            if a["host"] in names or (a["host"] is None and everywhere)
        ]
    finally:
        store.close()
    if args.format == "json":
        report.print_json(report.actions_json(trail))
    else:
        from cronops import tables  # rich, for a person at a terminal

        tables.console().print(tables.actions_table(trail))
    return EXIT_OK


def cmd_action(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from cronops import actions, report
    from cronops.transport import connector
    from cronops.visible import visible

    inventory, hosts = open_inventory(args)
    store = open_store(args)
    fleet = connector(accept_new_host_keys=args.accept_new_host_keys)
    watch = RerunWatch(ask=not args.yes and sys.stdin.isatty(), show=args.format != "json")
    try:
        done = asyncio.run(_act(args, inventory, hosts, store, fleet, watch))
    except actions.ActionError as exc:
        # The host's words (its error, the crontab's diff) are quoted: made visible.
        print(visible(f"cronops {args.command}: {exc}"), file=sys.stderr)
        if exc.detail:
            print(visible(exc.detail, lines=True), file=sys.stderr)
        return EXIT_ATTENTION
    except NotConfirmed as exc:
        print(f"cronops {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    if args.format == "json":
        report.print_json(dataclasses.asdict(done))
    else:
        print(
            visible(done.message)
            + (f" (entry id now {done.entry_id})" if done.entry_id != args.entry else ""),
            file=sys.stderr,
        )
    if args.command == "kill":
        return EXIT_OK if done.result == "ok" else EXIT_ATTENTION
    if args.command != "rerun":
        return EXIT_OK
    if watch.signum is not None and done.ending in (
        actions.Ending.STOPPED,
        actions.Ending.LEFT_RUNNING,
    ):
        return 128 + watch.signum  # as a shell reports a command ended by that signal
    return EXIT_OK if done.exit_status == 0 else EXIT_ATTENTION


class NotConfirmed(Exception):
    pass


async def _act(
    args, inventory: Inventory, hosts: list[Host], store: Store, fleet, watch: RerunWatch
) -> actions.Done:
    from cronops import actions

    who = actions.actor()
    try:
        return await _act_on(args, inventory, hosts, store, fleet, watch, who)
    except actions.ActionError as exc:
        actions.record_refusal(store, who, args.command, args.entry, exc)
        raise
    finally:
        await fleet.close()


async def _act_on(
    args,
    inventory: Inventory,
    hosts: list[Host],
    store: Store,
    fleet,
    watch: RerunWatch,
    who: str,
) -> actions.Done:
    """Plan, confirm and carry out the action; the host's rescan after a change or a kill
    judges its stored findings with the inventory's policy."""
    from cronops import actions

    if args.command == "undo":
        change = actions.plan_undo(store, hosts, args.entry)
    else:
        target = actions.find_target(store, hosts, args.entry)
        if args.command == "kill":
            kill = await actions.plan_kill(target, fleet)
            run = kill.choose(args.pid)
            grace = args.grace.total_seconds() if args.grace else None
            where = f"kill {target.entry.id} on {target.host.name}"
            _confirm(args, f"{where}:\n{kill.question(run, grace)}?")
            return await actions.kill_run(
                kill, run, fleet, store, who, grace=grace, policy=inventory.policy
            )
        if args.command == "rerun":
            _confirm(args, _rerun_question(target))
            with watch.catching():
                return await actions.rerun(
                    target,
                    fleet,
                    store,
                    who,
                    force=args.force,
                    on_output=watch.output if watch.show else None,
                    limit=args.timeout.total_seconds() if args.timeout else None,
                    interrupted=watch.interrupted,
                    decide=watch.decide,
                )
        change = _plan(args, target, who)
    what = f" (taking back {change.undoes})" if change.undoes else ""
    _confirm(
        args, f"{change.diff()}\n{change.action} {change.entry_id} on {change.host.name}{what}?"
    )
    return await actions.apply(change, fleet, store, who, policy=inventory.policy)


def _plan(args, target: actions.Target, who: str) -> actions.Change:
    from cronops import actions

    if args.command == "pause":
        now = local_now()
        return actions.plan_pause(target, who, now, args.reason, args.until)
    if args.command == "resume":
        return actions.plan_resume(target)
    return actions.plan_edit(target, args.schedule, args.command_text)


def _rerun_question(target: actions.Target) -> str:
    entry = target.entry
    return f"run on {target.host.name} as {entry.user}, now:\n  {entry.command}\n?"


def _confirm(args, question: str) -> None:
    from cronops.visible import visible

    if args.yes:
        return
    if not sys.stdin.isatty():
        raise NotConfirmed("not a terminal: nothing done; pass --yes to act without asking")
    print(visible(question, lines=True), file=sys.stderr)
    if input("[y/N] ").strip().lower() not in ("y", "yes"):
        raise NotConfirmed("not confirmed: nothing done")


class RerunWatch:
    """A rerun at the terminal: its output, and the signals that interrupt it.

    Ctrl-C or SIGTERM asks, on a terminal and without --yes, whether to stop the job, leave it
    running on the host or keep watching (its output is not shown meanwhile, only counted; a
    second signal stops it). Otherwise, and on a hang-up (nobody is left to ask), it is stopped."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
    QUESTION = (
        "\ncronops: the job is still running on the host.\n"
        "  s  stop it: TERM to its process group, KILL if any is left after the grace (default)\n"
        "  l  leave it running, detached; its output stays in a file on the host\n"
        "  w  keep watching\n"
        "[S/l/w] "
    )
    ANSWERS = ("s", "stop", "l", "leave", "w", "watch", "")

    def __init__(self, ask: bool, show: bool):
        import asyncio

        self.ask, self.show = ask, show
        self.write = _output_sink()
        self.interrupted = asyncio.Event()
        self.signum: int | None = None
        self.answer: asyncio.Future | None = None
        self.held = 0  # bytes of output not shown while the question was asked

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        signums = [getattr(signal, name) for name in self.SIGNALS]
        for signum in signums:
            loop.add_signal_handler(signum, self._caught, signum)
        try:
            yield
        finally:
            for signum in signums:
                loop.remove_signal_handler(signum)

    def _caught(self, signum: int) -> None:
        from cronops.actions import Ending

        self.signum = signum
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(Ending.STOPPED)
        else:
            self.interrupted.set()

    async def decide(self) -> actions.Ending | None:
        import asyncio
        import signal

        from cronops.actions import Ending

        if not self.ask or self.signum == signal.SIGHUP:
            return Ending.STOPPED
        loop = asyncio.get_running_loop()
        self.answer = loop.create_future()
        fd = sys.stdin.fileno()
        print(self.QUESTION, end="", file=sys.stderr, flush=True)
        loop.add_reader(fd, self._read_answer, fd)
        try:
            return await self.answer
        finally:
            loop.remove_reader(fd)
            self.answer = None
            if self.held:
                print(f"[{self.held} bytes of output not shown while asking]", file=sys.stderr)
                self.held = 0

    def _read_answer(self, fd: int) -> None:
        from cronops.actions import Ending

        assert self.answer is not None
        data = os.read(fd, 1024)
        word = data.decode(errors="replace").strip().lower()
        if data and word not in self.ANSWERS:
            print("[S/l/w] ", end="", file=sys.stderr, flush=True)
            return
        # Enter, or the end of the input, takes the default.
        choice = {"l": Ending.LEFT_RUNNING, "w": None}.get(word[:1], Ending.STOPPED)
        if not self.answer.done():
            self.answer.set_result(choice)

    def output(self, piece: bytes) -> None:
        if self.answer is not None:
            self.held += len(piece)
            return
        self.write(piece)


def _output_sink() -> Callable[[bytes], None]:
    """Where a rerun's output goes as it comes: to a pipe or a file byte for byte; to a terminal
    made visible, so the job's escape sequences cannot act on it."""
    from cronops.visible import VisibleStream

    if not sys.stdout.isatty():
        return _write_through
    show = VisibleStream()
    return lambda piece: _write_through(show(piece).encode())


def _write_through(piece: bytes) -> None:
    sys.stdout.buffer.write(piece)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
