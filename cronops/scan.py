"""Scanning the fleet: one connection and one probe exec per host, its answer parsed and stored.

Data flows probe -> crontab and log parsers -> runs -> store, as hosts answer: each host is
parsed and paired alone, and the hosts that answered together are stored in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import posixpath
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from cronops import collector, probe
from cronops.crontab import (
    Crontab,
    Entry,
    PauseInfo,
    command_lookup,
    cron_d_file_ignored,
    parse_crontab,
    split_percent,
)
from cronops.inventory import Host
from cronops.logs import ClockContext, LogEvent, parse_journal, parse_lines
from cronops.logs.rendering import as_logged
from cronops.logs.vixie import CRONTAB_EDITS
from cronops.mail import MAILBOXES, NO_MTA, cron_mails
from cronops.records import LogCursor, RunRecord, Stored
from cronops.runs import CAN_LOG_ENDS, OUTPUT_LINES_KEPT, Run, pair_events
from cronops.store import (
    RUN_TIMES,
    SCANNED_RUN_COLUMNS,
    Store,
    from_iso,
    iso,
    run_time,
    scanned_run_records,
)
from cronops.transport import Connector, HostStatus, run_on_fleet, shell_command

if TYPE_CHECKING:
    import sqlite3

    from cronops.policy import PolicyBook

DEFAULT_WINDOW = timedelta(days=8)
GROUP_HOSTS = 16  # hosts stored in one transaction, at most
ERROR_CHARS = 200  # of an exception's text in a host's error: enough to say what went wrong
# The time a scan is stamped with: the wall clock, or a pinned one for demos and screenshots.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class HostReport:
    """One host's answer: its status, and what the probe found when it got that far."""

    host: Host
    status: HostStatus
    error: str | None
    latency_ms: float | None
    result: probe.ProbeResult | None = None
    # A reachability check's note: what the last scan found wrong, standing until a scan succeeds.
    last_scan_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK


async def probe_fleet(
    hosts: Sequence[Host],
    connector: Connector,
    concurrency: int,
    *,
    crontabs: bool = True,
    logs: Callable[[Host], probe.LogRequest] | None = None,
    unstored: asyncio.Semaphore | None = None,
) -> AsyncIterator[HostReport]:
    """Probe every host; `logs` says, per host, which logs to read and from where.

    With `unstored`, a host is asked only once it grants a place: the caller releases one for
    each answer it is done with, so answers never pile up faster than they are stored."""

    async def ask(host: Host) -> HostReport:
        if unstored is not None:
            await unstored.acquire()
        try:
            request = logs(host) if logs else None
            return await probe_host(host, connector, crontabs=crontabs, logs=request)
        except Exception as exc:  # one host's surprise must never stop the fleet
            return HostReport(host, HostStatus.ERROR, f"{type(exc).__name__}: {exc}", None)

    async for report in run_on_fleet(hosts, ask, concurrency):
        yield report


async def probe_host(
    host: Host,
    connector: Connector,
    *,
    crontabs: bool = True,
    logs: probe.LogRequest | None = None,
    processes: bool = False,
) -> HostReport:
    marker = probe.new_marker()
    script = probe.build_script(
        marker,
        crontabs=crontabs,
        logs=logs,
        processes=processes,
        time_limit=host.command_timeout,
    )
    # The host's own bytes go back as they came: a command looked up on the PATH is a crontab's
    # text, read with surrogate escapes (a Latin-1 file name is not UTF-8).
    script_bytes = script.encode("utf-8", "surrogateescape")
    reply = await connector.run(host, shell_command(host, probe.PROBE_COMMAND), script_bytes)
    report = HostReport(host, reply.status, reply.error, reply.latency_ms)
    if reply.ok:
        try:
            lookups = logs.lookups if logs else ()
            report.result = probe.parse_output(reply, marker, host.timezone, lookups)
        except probe.ProbeError as exc:
            report.status, report.error = HostStatus.ERROR, str(exc)
    return report


@dataclass
class HostScan:
    """What one host's scan found and stored."""

    host: Host
    status: HostStatus
    error: str | None = None
    entries: int = 0
    problems: int = 0
    new_runs: int = 0
    log_lines: int = 0
    garbage_lines: int = 0
    missing_logs: dict[str, str] = field(default_factory=dict)  # log -> why it was not read
    more_logs: list[str] = field(default_factory=list)  # logs the next scan goes on reading

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK


async def scan_fleet(
    hosts: Sequence[Host],
    store: Store,
    connector: Connector,
    concurrency: int,
    window: timedelta = DEFAULT_WINDOW,
    clock: Clock = utc_now,
    policy: PolicyBook | None = None,
) -> AsyncIterator[HostScan]:
    """Scan every host and store what it says; yields each host's outcome once it is stored.
    With the inventory's `policy`, the hosts are judged again as they are stored, and their
    stored findings (incidents) updated in the same transaction; without, they are left for
    the next scan that has it.

    Parsing and storing run on one worker thread, in the order hosts answer, so the event loop
    keeps serving the other connections (and their timeouts) meanwhile. The hosts that answered
    while the worker was busy are stored together (`record_group`).
    """
    started = clock()
    since = started - window
    names = [host.name for host in hosts]
    cursors = store.fleet_log_cursors(names)
    lookups = fleet_command_lookups(store.entry_commands(names))
    mailboxes = store.fleet_log_cursors(names, mailboxes=True)

    def log_request(host: Host) -> probe.LogRequest:
        files, journal_cursor = cursors[host.name]
        return probe.LogRequest(
            since=since,
            files=host.logs or (),
            cursors=files,
            journal_cursor=journal_cursor,
            lookups=lookups[host.name],
            mail_folder=MAILBOXES if host.output_tail else None,
            mailboxes=mailboxes[host.name][0],
        )

    answers: asyncio.Queue[HostReport | None] = asyncio.Queue()
    # Hosts being asked or answered and not stored yet: each holds its answer (up to
    # probe.LOG_SEND_BYTES of log) and its parse. Unbounded, a writer slower than the network
    # held most of a fleet at once (1,000 hosts of 1,000 runs each: 353 MB at the peak).
    unstored = asyncio.Semaphore(concurrency + GROUP_HOSTS)

    async def probe_all() -> None:
        async for report in probe_fleet(
            hosts, connector, concurrency, logs=log_request, unstored=unstored
        ):
            answers.put_nowait(report)
        answers.put_nowait(None)

    loop = asyncio.get_running_loop()
    prober = asyncio.ensure_future(probe_all())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cronops-store") as writer:
        try:
            while reports := await _answered(answers):
                outcomes = await loop.run_in_executor(
                    writer, record_group, store, reports, since, started, clock, policy
                )
                for _ in reports:
                    unstored.release()
                for outcome in outcomes:
                    yield outcome
            if policy is not None:
                await loop.run_in_executor(
                    writer, _judge_across_safely, store, hosts, policy, since, clock
                )
        finally:
            prober.cancel()


def fleet_command_lookups(
    commands: dict[str, list[tuple[str, dict[str, str]]]],
) -> dict[str, tuple[tuple[str, str], ...]]:
    """By host, the (PATH, command) pairs a scan looks up for the entries the last one found,
    by PATH (one shell each on the host), at most probe.MAX_LOOKUPS. The first scan of a host
    knows no entries yet: its commands are looked up from the second scan on.

    A fleet's hosts mostly share their crontabs: each command is read once for each PATH (all
    of its settings that command_lookup reads), not once for each host."""
    read: dict[tuple[str, str | None], tuple[str, str] | None] = {}

    def lookup(command: str, env: dict[str, str]) -> tuple[str, str] | None:
        key = (command, env.get("PATH"))
        if key not in read:
            read[key] = command_lookup(command, env)
        return read[key]

    return {
        host: tuple(
            sorted({pair for c, env in found if (pair := lookup(c, env))})[: probe.MAX_LOOKUPS]
        )
        for host, found in commands.items()
    }


async def _answered(answers: asyncio.Queue[HostReport | None]) -> list[HostReport]:
    """The next answer and every other one already waiting (up to GROUP_HOSTS); [] at the end."""
    reports: list[HostReport] = []
    report = await answers.get()
    while report is not None:
        reports.append(report)
        if answers.empty() or len(reports) == GROUP_HOSTS:
            return reports
        report = answers.get_nowait()
    answers.put_nowait(None)  # the end, for the next call
    return reports


def host_state(report: HostReport) -> dict:
    """The host as this answer shows it: reachability, and the facts when the probe ran."""
    state = {
        "name": report.host.name,
        "address": report.host.address,
        "status": str(report.status),
        "error": report.error,
        "latency_ms": report.latency_ms,
        "tags": json.dumps(report.host.tags),  # what drift reads of the hosts judged apart
    }
    if report.result:
        facts = report.result.facts
        state |= {
            "hostname": facts.hostname,
            "zone": facts.zone_name,
            "clock_skew_s": facts.skew.total_seconds(),
        }
    return state


def record_host_checks(store: Store, reports: Iterable[HostReport]) -> None:
    """Remember each host's reachability from `cronops hosts` (no scan, so no runs).

    A host that answers proves only that: a failure its last scan found (its store refused the
    scan, its probe's answer was cut) stays the host's status, and the report's
    `last_scan_error`, until a scan succeeds. A host that does not answer is recorded as such."""
    with store.transaction() as db:
        for report in reports:
            state = host_state(report)
            if report.ok:
                last = store.last_scan(db, report.host.name)
                if last is not None and last["status"] == HostStatus.ERROR:
                    report.last_scan_error = last["error"]
                    state |= {"status": last["status"], "error": last["error"]}
            store.write_host_state(db, state)


def record_group(
    store: Store,
    reports: Sequence[HostReport],
    since: datetime,
    started: datetime,
    clock: Clock = utc_now,
    policy: PolicyBook | None = None,
) -> list[HostScan]:
    """Parse each host's answer, then store them all in one transaction, each host in its own
    savepoint: a host is stored whole or not at all, and one that fails is undone alone (its
    host row and scan then record only that the scan failed). With a `policy`, the hosts'
    incidents are then judged again in that transaction (`_judge_safely`).

    One commit per group rather than per host: the index pages that every host's runs touch are
    written once, which was a third of a first scan's storing."""
    # Events, runs and rows, then the runs the judge reads: many objects, no cycles.
    with collector.paused():
        digests = [_digest_safely(store, report, since, clock) for report in reports]
        try:
            with store.transaction() as db:
                outcomes = [_write_safely(store, db, digest, started) for digest in digests]
                stored = {
                    outcome.host.name: _stored(digest)
                    for outcome, digest in zip(outcomes, digests, strict=True)
                    if outcome.ok and _only_runs(digest)
                }
                if policy is not None:
                    runs = _first_runs(store, digests, outcomes)
                    _judge_safely(store, db, outcomes, policy, since, clock(), stored, runs)
                else:  # what they stored is judged by the next scan that has the policy
                    news = [o.host.name for o in outcomes if stored.get(o.host.name) != _NOTHING]
                    store.judge_again(db, news)
                return outcomes
        except Exception as exc:  # the commit itself failed: nothing of the group is stored
            return [_not_stored(report.host, exc) for report in reports]


@dataclass
class _Digest:
    """One host's answer parsed and paired: the rows to write, computed before the write lock."""

    outcome: HostScan
    state: dict  # the hosts row; coverage_start is settled at write time
    answered: bool  # the probe ran: crontabs, entries, runs and cursors are known
    first_event: str | None = None
    crontabs: list[dict] = field(default_factory=list)
    entries: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    runs: list[tuple] = field(default_factory=list)  # rows in SCANNED_RUN_COLUMNS order
    cursors: list[LogCursor] = field(default_factory=list)
    journal_cursor: str | None = None
    processes: list[dict] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # crontabs there, but not readable
    crontab_edits: list[dict] = field(default_factory=list)
    daemon_lines: list[dict] = field(default_factory=list)
    command_lookups: list[dict] | None = None  # None: none asked or answered
    mail_cursors: list[LogCursor] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)  # job output from cron's mail, per run
    first_scan: bool = False  # no earlier scan of the host was stored


def _digest_safely(store: Store, report: HostReport, since: datetime, clock: Clock) -> _Digest:
    try:
        return _digest(store, report, since, clock)
    except Exception as exc:  # one host's surprise must never stop the fleet
        return _failed(report.host, exc, iso(clock()))


def _write_safely(
    store: Store, db: sqlite3.Connection, digest: _Digest, started: datetime
) -> HostScan:
    """Store the host whole, or else only that its scan failed (its history stays as it was)."""
    try:
        with store.savepoint(db):
            _write(store, db, digest, started)
    except Exception as exc:
        digest = _failed(digest.outcome.host, exc, digest.state["scanned_at"])
        # Not even the failure could be stored: the outcome still tells the operator.
        with contextlib.suppress(Exception), store.savepoint(db):
            _write(store, db, digest, started)
    return digest.outcome


def _only_runs(digest: _Digest) -> bool:
    """Whether the host's scan stored no line of its cron daemon or `crontab` program (only
    runs and their output, if anything): the rest of what its judgement reads is compared
    with the last (judge_scanned)."""
    return digest.answered and not (digest.daemon_lines or digest.crontab_edits)


_NOTHING = Stored(frozenset(), None)
_STARTED = SCANNED_RUN_COLUMNS.index("started_at")


def _stored(digest: _Digest) -> Stored:
    """The entries the host's scan stored a run or an output of, and its runs' first start."""
    entries = {row[1] for row in digest.runs} | {row["entry_id"] for row in digest.outputs}
    first = min((row[_STARTED] for row in digest.runs), default=None)  # times of one form
    return Stored(frozenset(entries - {None}), from_iso(first))


def _first_runs(
    store: Store, digests: Sequence[_Digest], outcomes: Sequence[HostScan]
) -> dict[str, list[RunRecord]]:
    """By host, every run the history holds of the hosts whose first scan was just stored,
    as it reads them back: the rows written, handed to the judge instead of read again."""
    return {
        digest.outcome.host.name: scanned_run_records(digest.runs)
        for digest, outcome in zip(digests, outcomes, strict=True)
        if outcome is digest.outcome and _all_its_runs(store, digest)
    }


def _all_its_runs(store: Store, digest: _Digest) -> bool:
    """Whether the rows a scan wrote are every run the history holds of the host, as written
    (scanned_run_records): its first scan, no row merged into another (new_runs), no output
    set on one, and text SQLite keeps as it is (ASCII; else store._stored may make it bytes)."""
    name = digest.outcome.host.name
    return (
        digest.first_scan
        and not digest.outputs
        and digest.outcome.new_runs == len(digest.runs) == store.run_count([name], _EPOCH)
        and name.isascii()
        and "".join(
            filter(None, chain.from_iterable(map(_user_and_command, digest.runs)))
        ).isascii()
    )


def _judge_safely(
    store: Store,
    db: sqlite3.Connection,
    outcomes: list[HostScan],
    policy: PolicyBook,
    since: datetime,
    now: datetime,
    stored: Mapping[str, Stored] | None = None,
    stored_runs: Mapping[str, list[RunRecord]] | None = None,
) -> None:
    """Update the hosts' incidents, in their own savepoint: the scan's data is kept if judging
    fails (the next scan judges the same hosts again, whole), and each host's outcome says so.
    `stored`: what the hosts' scans stored, of those that stored only runs; `stored_runs`:
    every run of the hosts whose first scan this is (judge_scanned)."""
    from cronops.incidents import judge_scanned  # the judge: only for scans that store findings

    hosts = [outcome.host for outcome in outcomes]
    try:
        with store.savepoint(db):
            judge_scanned(store, db, hosts, policy, since, now, stored, stored_runs)
    except Exception as exc:
        # What this scan stored is unjudged: the hosts' last judgements no longer tell it.
        store.judge_again(db, [host.name for host in hosts])
        for outcome in outcomes:
            outcome.error = f"{outcome.error or ''} findings not updated: {exc!r}".strip()


def _judge_across_safely(
    store: Store, hosts: Sequence[Host], policy: PolicyBook, since: datetime, clock: Clock
) -> None:
    """Once every host of the scan is stored: the findings across them (drift), in their own
    transaction. A failure keeps the scan's data and leaves those findings for the next scan
    (its hosts' outcomes have been told already)."""
    from cronops.incidents import judge_across  # the judge: only for scans that store findings

    with contextlib.suppress(Exception), store.transaction() as db:
        judge_across(store, db, hosts, policy, since, clock())


def _failed(host: Host, exc: Exception, now: str | None) -> _Digest:
    """A host whose answer could not be stored: the scan failed, and the host says so until a
    later scan is stored (its last good scan, ok_at, stays where it was)."""
    outcome = _not_stored(host, exc)
    state = {
        "name": host.name,
        "address": host.address,
        "status": str(outcome.status),
        "error": outcome.error,
        "scanned_at": now,
    }
    return _Digest(outcome, state, answered=False)


def _not_stored(host: Host, exc: Exception) -> HostScan:
    """Short whatever the exception holds (a UnicodeEncodeError's repr carries a whole crontab)."""
    reason = (str(exc).splitlines() or [""])[0]
    if len(reason) > ERROR_CHARS:
        reason = reason[: ERROR_CHARS - 1] + "…"
    return HostScan(
        host, HostStatus.ERROR, f"could not store the scan: {type(exc).__name__}: {reason}"
    )


def _digest(store: Store, report: HostReport, since: datetime, clock: Clock) -> _Digest:
    name = report.host.name
    now = iso(clock())
    state = host_state(report) | {"scanned_at": now}
    outcome = HostScan(report.host, report.status, report.error)
    result = report.result
    if result is None:
        return _Digest(outcome, state, answered=False)

    facts = result.facts
    crontabs = _parse_crontabs(name, result.crontabs)
    entries = [e for c in crontabs for e in c.entries]
    events, outcome.log_lines, outcome.garbage_lines, journal_cursor = _parse_logs(result, facts)
    first = min(map(_time_of, events), default=None)
    if first is not None and first < since:  # a log's older lines (in a rotated file, mostly)
        events = [e for e in events if e.at >= since]
        first = min(map(_time_of, events), default=None)
    daemon, jobs = probe.cron_processes(result.processes or [])
    level = probe.debian_log_level(daemon) if daemon else None
    stored = store.host_row(name) or {}  # what earlier scans learnt
    ends, failures = _log_capabilities(level, stored)
    # Pairing knows a run by the host name its lines carry, which the store does not keep: the
    # lines of one host's log carry one name, the runs it left open the same.
    names = set(map(_host_of, events))
    logged_as = names.pop() if len(names) == 1 else ""
    open_runs = [_run_from_row(r, ends, failures, logged_as) for r in store.open_runs(name, since)]
    runs, _ = pair_events(events, open_runs, ends_logged=ends, failures_logged=failures)
    # What one batch of lines proved about the log stays known for the next scans.
    ends = ends if ends is not None else any(r.ends_logged for r in runs) or None
    failures = failures if failures is not None else any(r.failures_logged for r in runs) or None
    match = entry_matcher(entries)
    # The daemon's own lines, a few among the runs' (edits, restarts, mail, errors): found in one
    # pass, so the passes that look for each kind of them are short.
    notes = [e for e in events if e.kind in _NOTE_KINDS]
    running = None if result.processes is None else daemon is not None
    outcome.entries = len(entries)
    outcome.problems = sum(len(c.problems) for c in crontabs)
    outcome.missing_logs = result.missing_logs
    outcome.more_logs = result.more_logs
    state |= {
        "cron_running": None if running is None else int(running),
        "cron_family": cron_family(events, daemon, result.crontabs) or stored.get("cron_family"),
        "log_level": level,
        "ends_logged": None if ends is None else int(ends),
        "failures_logged": None if failures is None else int(failures),
        "ok_at": now,
        "logs": ",".join(dict.fromkeys(c.log for c in result.logs))
        or ("journal" if result.journal is not None else ""),
        "booted_at": iso(facts.booted_at),
        "no_mta_at": iso(max((e.at for e in notes if e.detail == NO_MTA), default=None))
        or stored.get("no_mta_at"),
        "cron_started_at": iso(
            facts.clock - timedelta(seconds=daemon.elapsed_s) if daemon else None
        ),
    }
    return _Digest(
        outcome,
        state,
        answered=True,
        first_scan=not stored,
        first_event=iso(first),
        crontabs=[_crontab_row(name, file) for file in result.crontabs],
        entries=[_entry_row(e) for e in entries],
        problems=[_problem_row(name, p) for c in crontabs for p in c.problems],
        runs=_run_rows(name, runs, match, _completing(ends, failures)),
        # Each log goes on where its last piece read stopped (in a rotated file, while one is left).
        cursors=list({c.log: c.cursor for c in result.logs}.values()),
        journal_cursor=journal_cursor,
        processes=[_process_row(name, job, facts.clock, match, now) for job in jobs],
        unreadable=result.unreadable,
        crontab_edits=[_edit_row(name, e) for e in notes if e.keyword in CRONTAB_EDITS],
        daemon_lines=[_daemon_row(name, e) for e in notes if e.keyword not in CRONTAB_EDITS],
        mail_cursors=list({c.log: c.cursor for c in result.mail}.values()),
        outputs=[
            *_job_mails(name, result, match, report.host.output_tail),
            *_logged_outputs(name, runs, open_runs, match, report.host.output_tail),
        ],
        command_lookups=None
        if result.on_path is None
        else [
            {"host": name, "path": path, "command": word, "found": int(found), "checked_at": now}
            for (path, word), found in result.on_path.items()
        ],
    )


def _write(store: Store, db: sqlite3.Connection, digest: _Digest, started: datetime) -> None:
    name, now, outcome = digest.state["name"], digest.state["scanned_at"], digest.outcome
    if not digest.answered:
        store.write_host_state(db, digest.state)
        store.write_scan(db, _scan_row(outcome, started, now))
        return
    coverage = store.coverage_start(db, name)
    earliest = min(filter(None, [coverage, digest.first_event]), default=None)
    store.write_host_state(db, digest.state | {"coverage_start": earliest})
    store.write_crontabs(db, name, digest.crontabs, digest.unreadable, now)
    store.write_crontab_edits(db, digest.crontab_edits)
    store.write_daemon_lines(db, digest.daemon_lines)
    store.write_command_lookups(db, name, digest.command_lookups)
    store.write_entries(db, name, digest.entries, now)
    store.write_problems(db, name, digest.problems)
    outcome.new_runs = store.write_scanned_runs(db, digest.runs)
    store.write_run_outputs(db, digest.outputs)
    store.write_cursors(db, name, digest.cursors, digest.journal_cursor)
    store.write_cursors(db, name, digest.mail_cursors, None, mailboxes=True)
    store.write_processes(db, name, digest.processes)
    store.write_scan(db, _scan_row(outcome, started, now))


def _parse_crontabs(host: str, files: Iterable[probe.CrontabFile]) -> list[Crontab]:
    parsed = []
    for file in files:
        folder, name = posixpath.split(file.path)  # a path object a file was ~4% of digesting
        if folder == "/etc/cron.d" and cron_d_file_ignored(name):
            continue  # cron itself never reads it
        parsed.append(
            parse_crontab(file.text, host=host, source=file.path, kind=file.kind, owner=file.owner)
        )
    return parsed


def _parse_logs(
    result: probe.ProbeResult, facts: probe.ProbeFacts
) -> tuple[list[LogEvent], int, int, str | None]:
    clock = ClockContext(zone=facts.zone, now=facts.clock)
    events: list[LogEvent] = []
    lines = garbage = 0
    for chunk in result.logs:
        parsed = parse_lines(_text_lines(chunk.lines), clock)
        events += parsed.events
        lines += parsed.lines
        garbage += parsed.garbage
    journal_cursor = None
    if result.journal:
        parsed, journal_cursor = parse_journal(result.journal.splitlines(), clock)
        events += parsed.events
        lines += parsed.lines
        garbage += parsed.garbage
    return events, lines, garbage, journal_cursor


def _text_lines(data: bytes, block: int = 1 << 20) -> Iterator[str]:
    """The lines of a piece of log, decoded a block (of whole lines) at a time: a piece is never
    held twice more as text and a list of lines. Chained in C: a generator's step a line was
    ~3% of parsing one."""
    return chain.from_iterable(map(_decoded_lines, _blocks(data, block)))


def _blocks(data: bytes, size: int) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + size) + 1 or len(data)
        yield data[start:end]
        start = end


def _decoded_lines(block: bytes) -> list[str]:
    return block.decode("utf-8", "replace").splitlines()


def entry_matcher(entries: list[Entry]) -> Callable[[str | None, str | None], str | None]:
    """Which entry a run or process belongs to: same user and command, the command as written, as
    cron runs it (`\\%` made `%`, cut at the first `%`) or as each cron family logs it (control
    characters and 8-bit bytes made printable: logs.rendering); cron may truncate long ones.

    A scan asks about a few commands tens of thousands of times: what is not matched at once is
    worked out once per matcher."""
    forms = [(e.user, form, e.id) for e in entries for form in as_logged(e.command)]
    forms += [(e.user, split_percent(e.command)[0], e.id) for e in entries]
    forms += [(e.user, e.command, e.id) for e in entries]
    # As written wins, then as run (keyed as asked: a run or process may have no known user).
    exact: dict[tuple[str | None, str], str] = {(user, form): id_ for user, form, id_ in forms}
    squeezed = {(user, " ".join(command.split())): id_ for (user, command), id_ in exact.items()}
    worked_out: dict[tuple[str | None, str], str | None] = {}

    def truncated(user: str | None, command: str) -> str | None:
        candidates = {id_ for u, form, id_ in forms if u == user and form.startswith(command)}
        return candidates.pop() if len(candidates) == 1 else None

    def match(user: str | None, command: str | None) -> str | None:
        if command is None:
            return None
        key = (user, command)
        if found := exact.get(key):
            return found
        if key not in worked_out:
            worked_out[key] = squeezed.get((user, " ".join(command.split()))) or truncated(
                user, command
            )
        return worked_out[key]

    return match


def _completing(ends: bool | None, failures: bool | None) -> frozenset[str]:
    """The dialects whose runs, stored with no end, a later line of this host's log may still
    complete: none where the log is known to write neither ends nor failures (Debian -L 1)."""
    return frozenset() if ends is False and failures is False else CAN_LOG_ENDS


def _run_rows(
    host: str,
    runs: Iterable[Run],
    match: Callable[[str | None, str | None], str | None],
    completing: frozenset[str],
) -> list[tuple]:
    """The runs with a start as rows of the runs table, in SCANNED_RUN_COLUMNS order: a tuple is
    a sixth of a dict's memory, and a first scan makes one per run (100,000 for the 100-host
    benchmark), so they are built in one comprehension, not a call each. `completing`: see
    _completing."""
    known = RUN_TIMES.get
    return [
        (
            host,
            match(run.user, run.command),  # entry_id
            run.user,
            run.command,
            known(run.started_at) or run_time(run.started_at),
            known(run.ended_at) or run_time(run.ended_at),
            run.status,
            run.signal,
            run.pid,
            run.source,
            run.dialect,
            1 if run.ended_at is None and run.dialect in completing else None,  # still_open
        )
        for run in runs
        if run.started_at is not None
    ]


# Lines of the daemon about itself or a crontab, not about a run (the `crontab` program's are edits).
_NOTE_KINDS = frozenset({"daemon", "error", "mail"})
# A scan's passes over every event of a host, in C rather than a Python loop per event.
_host_of, _time_of, _dialect_of = attrgetter("host"), attrgetter("at"), attrgetter("dialect")
_user_and_command = itemgetter(
    SCANNED_RUN_COLUMNS.index("user"), SCANNED_RUN_COLUMNS.index("command")
)
_EPOCH = datetime.fromtimestamp(0, UTC)

# Debian's and busybox's user crontabs are in /var/spool/cron/crontabs; cronie's in
# /var/spool/cron itself (SUSE's in /var/spool/cron/tabs).
_CRONIE_SPOOLS = ("/var/spool/cron", "/var/spool/cron/tabs")


def cron_family(
    events: Sequence[LogEvent], daemon: probe.Process | None, crontabs: Sequence[probe.CrontabFile]
) -> str | None:
    """debian, cronie or busybox, by what this scan saw; None when it could not tell.

    The log lines say it best (each family writes its own); without any, the daemon: Debian's is
    `cron`, while cronie's and busybox's are both `crond`, told apart by where user crontabs are
    kept (busybox's spool is Debian's)."""
    dialects = Counter(map(_dialect_of, events))
    dialects.pop("", None)  # a line of no family's own
    if dialects:
        return dialects.most_common(1)[0][0]
    if daemon is None:
        return None
    if probe.debian_log_level(daemon) is not None:
        return "debian"
    if any(str(PurePosixPath(c.path).parent) in _CRONIE_SPOOLS for c in crontabs):
        return "cronie"
    return None


def _log_capabilities(level: int | None, previous: dict) -> tuple[bool | None, bool | None]:
    """Whether the host's log writes end lines and failure lines: from Debian's -L level when
    the daemon shows it, else what earlier scans learnt (None: not known yet)."""
    if level is not None:
        return bool(level & 2), bool(level & 4)

    def known(key: str) -> bool | None:
        return None if previous.get(key) is None else bool(previous[key])

    return known("ends_logged"), known("failures_logged")


def _run_from_row(row: dict, ends: bool | None, failures: bool | None, logged_as: str) -> Run:
    return Run(
        user=row["user"],
        command=row["command"],
        started_at=datetime.fromisoformat(row["started_at"]),
        status=row["status"],
        signal=row["signal"],
        pid=row["pid"],
        source=row["source"],
        dialect=row["dialect"],
        host=logged_as,
        ends_logged=bool(ends),
        failures_logged=bool(failures),
    )


def _crontab_row(host: str, file: probe.CrontabFile) -> dict:
    return {
        "host": host,
        "path": file.path,
        "kind": file.kind,
        "owner": file.owner,
        "mtime": iso(file.mtime),
        "text": file.text,
    }


def _entry_row(entry: Entry) -> dict:
    return {
        "id": entry.id,
        "host": entry.host,
        "source": entry.source,
        "user": entry.user,
        "schedule": entry.schedule,
        "command": entry.command,
        "env": dict(entry.env),
        "line": entry.line,
        "text": entry.text,
        "disabled": int(entry.disabled),
        "paused": _pause_json(entry.paused),
        "log_off": int(entry.log_off),
    }


def _pause_json(pause: PauseInfo | None) -> str | None:
    if pause is None:
        return None
    return json.dumps(
        {"by": pause.by, "at": iso(pause.at), "reason": pause.reason, "until": iso(pause.until)}
    )


def _edit_row(host: str, event: LogEvent) -> dict:
    """A line of the host's `crontab` program: `(actor) REPLACE (user)`."""
    return {
        "host": host,
        "at": iso(event.at),
        "pid": event.process_pid,
        "actor": event.user,
        "user": event.detail,
        "action": event.keyword,
    }


def _job_mails(
    host: str,
    result: probe.ProbeResult,
    match: Callable[[str | None, str | None], str | None],
    tail: int,
) -> Iterator[dict]:
    """The cron mails in the new mailbox bytes, each as the output of the entry it came from."""
    for piece in result.mail:
        for mail in cron_mails(piece.lines, tail):
            entry_id = match(mail.user, mail.command)
            if entry_id is not None:
                yield _output_row(host, entry_id, mail.sent_at, mail.tail, mail.size, "mail")


def _logged_outputs(
    host: str,
    runs: Iterable[Run],
    continued: Iterable[Run],
    match: Callable[[str | None, str | None], str | None],
    tail: int,
) -> Iterator[dict]:
    """The output lines cron logged for its runs (cronie's CMDOUT, in a file or the journal),
    as each run's output. A run this read continues (its start read by an earlier scan) has
    only this read's lines: their end, but not its whole size."""
    earlier = {id(run) for run in continued}
    for run in runs:
        if not run.output or run.started_at is None or tail <= 0:
            continue  # most runs: no output was logged
        entry_id = match(run.user, run.command)
        if entry_id is None:
            continue
        text = "\n".join(run.output).encode("utf-8", "surrogateescape")
        whole = id(run) not in earlier and len(run.output) < OUTPUT_LINES_KEPT
        size = len(text) if whole else None  # as a mail's: its last newline not counted
        yield _output_row(host, entry_id, run.started_at, text[-tail:], size, "log")


def _output_row(
    host: str, entry_id: str, sent_at: datetime, tail: bytes, size: int | None, source: str
) -> dict:
    """A run's output for store.write_run_outputs: the tail as text (undecodable bytes kept as
    surrogate escapes, stored as they were)."""
    return {
        "host": host,
        "entry_id": entry_id,
        "sent_at": sent_at,
        "tail": tail.decode("utf-8", "surrogateescape"),
        "size": size,
        "source": source,
    }


def _daemon_row(host: str, event: LogEvent) -> dict:
    return {
        "host": host,
        "at": iso(event.at),
        "user": event.user or "",  # not NULL: the unique index would let NULLs repeat
        "keyword": event.keyword,
        "detail": event.detail,
    }


def _problem_row(host: str, problem) -> dict:
    return {
        "host": host,
        "source": problem.source,
        "line": problem.line,
        "text": problem.text,
        "message": problem.message,
    }


def _process_row(
    host: str,
    job: probe.JobProcess,
    clock: datetime,
    match: Callable[[str | None, str | None], str | None],
    now: str,
) -> dict:
    return {
        "host": host,
        "pid": job.pid,
        "user": job.user,
        "started_at": iso(clock - timedelta(seconds=job.elapsed_s)),
        "command": job.command,
        "entry_id": match(job.user, job.command),
        "seen_at": now,
    }


def _scan_row(outcome: HostScan, started: datetime, finished: str) -> dict:
    return {
        "host": outcome.host.name,
        "started_at": iso(started),
        "finished_at": finished,
        "status": str(outcome.status),
        "error": outcome.error,
        "entries": outcome.entries,
        "new_runs": outcome.new_runs,
        "log_lines": outcome.log_lines,
        "garbage_lines": outcome.garbage_lines,
    }
