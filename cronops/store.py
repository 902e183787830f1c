"""The local history: hosts, crontabs and entries (with their versions), runs, log cursors, scans,
and the stored findings (incidents).

SQLite in WAL mode; sqlite-utils declares the tables. One host's scan is written in one IMMEDIATE
transaction, so a crash or a rerun never duplicates or loses a run, and two cronops processes wait
for each other.
"""

from __future__ import annotations

import hashlib
import json
import operator
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from zoneinfo import ZoneInfo

from cronops.changes import CronopsEdit, CrontabEdit
from cronops.crontab import PauseInfo, StoredCrontab
from cronops.kinds import SEVERITIES
from cronops.locations import private_file
from cronops.probe import resolve_zone
from cronops.records import (
    CAUSE_KEYWORDS,
    DaemonLine,
    Delivery,
    Due,
    Finding,
    FleetEntry,
    HostFacts,
    Incident,
    JobEntry,
    Judged,
    LatestRuns,
    LogCursor,
    RunDay,
    RunningJob,
    RunRecord,
    record,
)
from cronops.runs import CAN_LOG_ENDS

if TYPE_CHECKING:
    from sqlite_utils import Database

    from cronops.inventory import Host

# Long enough for another cronops process to finish writing a host; never "database is locked".
BUSY_TIMEOUT_S = 60.0
# SQLite's page cache: a first scan of a fleet rewrites index pages all over the runs table, and
# the default 2 MiB keeps too few of them between one host's writes and the next.
CACHE_KIB = 32 * 1024
# Pages of 16 KiB, not SQLite's 4 KiB: a first scan writes each changed page to the WAL once per
# group of hosts and again at the checkpoint, and a fourth as many pages is a fourth as many
# writes (a 100-host first scan made 25,400 pwrite() calls with 4 KiB; storing is ~0.07 s cheaper).
PAGE_BYTES = 16384
JOURNAL = "journal"
# The WAL file is cut back to this after a checkpoint: a first scan or a long prune may grow it.
WAL_KEEP_BYTES = 64 * 1024 * 1024
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
# What makes a new version of an entry worth keeping in its history.
ENTRY_VERSIONED = ("schedule", "command", "line", "text", "disabled", "paused")
# How many of a host's latest daemon lines its facts carry: restarts and rejected crontabs are
# rare, and the judge needs only those around the runs it judges.
DAEMON_LINES = 200


# Typed per argument: a time always gives a text, only None gives None.
@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
@lru_cache(maxsize=16384)  # ~3 MB; a scan of 100 hosts found 4 in 5 of its stamps here
def iso(moment: datetime | None) -> str | None:
    """Times are stored in UTC with a fixed width, so text order is time order.

    A scan writes two stamps per run, and a fleet's runs start on the same seconds: cached, as
    formatting one costs ~1 µs. (Equal instants in any zone are one key, and one text.)"""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


RUN_COLUMNS = {  # the runs table's columns past its integer id: the parameters of every write
    "host": str,
    "entry_id": str,
    "user": str,
    "command": str,
    "started_at": str,
    "ended_at": str,
    "status": int,
    "signal": int,
    "pid": int,
    "source": str,
    "dialect": str,
    "trigger": str,
    "output_tail": str,
    # 1 while a later line (its end, or its failure line) may still complete the run: the runs a
    # scan takes back to pair with what it reads (see open_runs). None once ended, and for every
    # run of a host known to log neither ends nor failures (Debian's default -L 1).
    "still_open": int,
}
_run_values = operator.itemgetter(*RUN_COLUMNS)  # positional parameters bind faster than names
# A scan's runs: cron ran them, and the output cron mailed is stored apart (write_run_outputs).
# Written as constants in the statement, not bound to each row: a bound value costs its copy,
# a NULL its adapter too (~2,300 instructions a run of ~28,000).
_SCANNED_CONSTANTS = {"trigger": "'cron'", "output_tail": "null"}
SCANNED_RUN_COLUMNS = tuple(column for column in RUN_COLUMNS if column not in _SCANNED_CONSTANTS)
# Runs are written many to a statement, a fifth cheaper than one statement per row: as many as
# SQLite's smallest limit on parameters allows (999, before 3.32).
RUNS_PER_STATEMENT = 999 // len(RUN_COLUMNS)
SCANNED_RUNS_PER_STATEMENT = 999 // len(SCANNED_RUN_COLUMNS)


def _still_open(run: dict[str, Any]) -> int | None:
    """A run's still_open when its writer does not say: a cron run with no end, from a log
    that can log one (not knowing the host's log level, as a scan does)."""
    unended = run["ended_at"] is None and run["trigger"] == "cron"
    return 1 if unended and run["dialect"] in CAN_LOG_ENDS else None


# Python 3.11's sqlite3 adapts each None it binds: finding no adapter, it asks its
# PrepareProtocol type for __adapt__, whose absence the type reports by formatting an
# AttributeError that is then cleared. A scan's run binds two to four Nones: that search was
# a seventh of storing it (28,700 -> 24,800 instructions a run). None's own adapter, which
# leaves it None (a NULL), is found at once. It is a C function, an empty dict's get (None for
# any key), as calling a Python one was most of the rest (~270 instructions a None).
_nothing: dict[None, None] = {}
_null = _nothing.get
sqlite3.register_adapter(type(None), _null)


# A run's identity: the same run read twice, from one log or two, is one row. Its start to the
# second (see run_time), its pid, user and command; a missing one counts as a value (NULLs are
# never equal in an index). Its first columns are also the (host, started_at) index reads use.
RUN_IDENTITY = "host, started_at, ifnull(pid, -1), ifnull(user, ''), ifnull(command, '')"


def run_time(moment: datetime | None) -> str | None:
    """A run's time as stored: to the second, as most cron logs write it. The journal's
    microseconds would otherwise make its runs differ from the same runs read from a syslog
    file beside it (RUN_IDENTITY holds the start).

    A scan stores two per run: remembered, as the hosts of a fleet log the same seconds (a dict
    emptied when full, not an LRU: each host's log walks the whole window, which an LRU of any
    size short of it misses all the way)."""
    if moment is None:
        return None
    text = RUN_TIMES.get(moment)
    if text is None:
        if len(RUN_TIMES) >= RUN_TIMES_KEPT:
            RUN_TIMES.clear()
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        text = RUN_TIMES[moment] = _SECOND_TEXT % (
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
        )
    return text


# What iso() writes, cut to the second: half the cost of isoformat, as a first scan formats a
# time for most of its runs (every second a fleet's runs end on).
_SECOND_TEXT = "%04d-%02d-%02dT%02d:%02d:%02d.000000Z"


RUN_TIMES_KEPT = 1 << 15  # ~7 MB at most; every minute of three weeks
# The texts run_time has made: a scan's rows look their times up here first, and call it only
# for the ones missing (two calls a run were a fifth of building its row).
RUN_TIMES: dict[datetime | None, str] = {}  # None: never there


def _to_the_second(text: str | None) -> str | None:
    """A stored `iso` text (fixed width) cut to the second."""
    return None if text is None else text[:19] + ".000000Z"


@lru_cache(maxsize=RUNS_PER_STATEMENT + SCANNED_RUNS_PER_STATEMENT)
def _upsert_runs(count: int, scanned: bool) -> str:
    """The statement that writes `count` runs, in RUN_COLUMNS order or `scanned` ones (in
    SCANNED_RUN_COLUMNS order)."""
    constants = _SCANNED_CONSTANTS if scanned else {}
    row = f"({', '.join(constants.get(column, '?') for column in RUN_COLUMNS)})"
    return f"""
        insert into runs ({", ".join(RUN_COLUMNS)}) values {", ".join([row] * count)}
        on conflict ({RUN_IDENTITY}) do update set
            ended_at = coalesce(excluded.ended_at, ended_at),
            status = coalesce(excluded.status, status),
            signal = coalesce(excluded.signal, signal),
            entry_id = coalesce(entry_id, excluded.entry_id),
            output_tail = coalesce(excluded.output_tail, output_tail),
            still_open = iif(excluded.ended_at is null, still_open, null)
    """


def database(conn: sqlite3.Connection) -> Database:
    """sqlite-utils over a connection, to declare the tables: loaded only when a history is
    created or migrated (its import, with click, pluggy and dateutil, is ~40 ms of every start).
    Without its plugins: cronops uses none, and looking for them scans every installed
    package's entry points."""
    from sqlite_utils import Database

    return Database(conn, execute_plugins=False)


def _use_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, which stays with the file. Switching a new history to it takes a lock that the
    busy timeout does not wait for: when two processes open a new history at once, the one that
    finds it locked tries again until the other has switched it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class History:
    """The history's reads, each returning records (or, for what no record models yet, rows).

    No method here writes: opened on its own (`History.open`), it is a read-only view of the
    history for a reader thread or worker process; a Store is a History that also writes."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def open(cls, path: Path) -> History:
        """A read-only connection of its own: SQLite connections must not be shared by threads
        that may close them, and a reader never migrates or writes."""
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return cls(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False))

    def close(self) -> None:
        self.db.close()

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return _dicts(self.db, sql, params)

    # -- records ---------------------------------------------------------------------------

    def host_facts(self, hosts: Sequence[Host]) -> dict[str, HostFacts]:
        """Each host as its last scan left it, by name, in one query; a host never scanned says
        so. The inventory's `timezone` wins over the zone the host reported. Its facts carry
        the latest DAEMON_LINES lines its cron daemon logged that can say why a run did not
        happen (restarts and rejected crontabs are rare; the judge needs those near its runs)."""
        rows = self.rows(
            f"""
            select h.*, p.source as problem_source, p.line as problem_line, p.message as problem,
                (select json_group_array(json_array(at, user, keyword, detail)) from (
                    select at, user, keyword, detail from daemon_lines d
                    indexed by daemon_lines_kind  -- not walking every line in time order
                    where d.host = h.name and d.keyword in ({_marks(CAUSE_KEYWORDS)})
                    order by at desc, id desc limit ?
                )) as daemon_lines
            from hosts h left join crontab_problems p on p.host = h.name
            where h.name in ({_marks(hosts)})
            order by h.name, p.source, p.line
            """,
            [*CAUSE_KEYWORDS, DAEMON_LINES, *(host.name for host in hosts)],
        )
        by_name: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_name.setdefault(row["name"], []).append(row)
        return {host.name: _host_facts(host, by_name.get(host.name, [])) for host in hosts}

    def entry_commands(self, hosts: Sequence[str]) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """By host, the command and settings (NAME=value above it) of each enabled entry, in
        one query for the fleet (a scan of 1,000 hosts made 1,000)."""
        rows = self.rows(
            "select host, command, env from entries "
            f"where host in ({_marks(hosts)}) and present = 1 and disabled = 0",
            list(hosts),
        )
        found: dict[str, list[tuple[str, dict[str, str]]]] = {name: [] for name in hosts}
        # The entries of one crontab share their settings' text: each is decoded once.
        settings: dict[str, dict[str, str]] = {}
        for row in rows:
            text = row["env"] or "{}"
            if text not in settings:
                settings[text] = json.loads(text)
            found[row["host"]].append((row["command"], settings[text]))
        return found

    def command_lookups(self, hosts: Sequence[str]) -> dict[str, dict[tuple[str, str], bool]]:
        """By host: (PATH, command) -> whether the host's last scan found it there."""
        rows = self.rows(
            f"select * from command_lookups where host in ({_marks(hosts)})", list(hosts)
        )
        found: dict[str, dict[tuple[str, str], bool]] = {}
        for row in rows:
            found.setdefault(row["host"], {})[row["path"], row["command"]] = bool(row["found"])
        return found

    def entries(self, hosts: Sequence[str] | None = None, limit: int = -1) -> list[JobEntry]:
        """The present entries of these hosts (of every host: None), by host, source and line;
        the first `limit` of them when it is not -1."""
        among = "" if hosts is None else f"and e.host in ({_marks(hosts)})"
        rows = _tuples(
            self.db,
            f"{_ENTRIES} where e.present = 1 {among} order by e.host, e.source, e.line limit ?",
            [*(hosts or ()), limit],
        )
        return [_job_entry(row) for row in rows]

    def fleet_crontabs(
        self, since: datetime
    ) -> tuple[dict[str, tuple[str, ...]], list[FleetEntry]]:
        """What fleet drift compares: each host whose last scan answered, at or after `since`,
        with its tags, and the present entries of those hosts (only what drift reads of them:
        a fleet's every entry is read, once a scan or an audit)."""
        hosts = self.db.execute(
            "select name, tags from hosts where status = 'ok' and ok_at >= ?", [iso(since)]
        ).fetchall()
        entries = self.db.execute(
            """
            select e.id, e.host, e.user, e.schedule, e.command, e.disabled, e.paused is not null
            from hosts h join entries e on e.host = h.name
            where h.status = 'ok' and h.ok_at >= ? and e.present = 1
            """,
            [iso(since)],
        ).fetchall()
        tags = {name: tuple(json.loads(tagged or "[]")) for name, tagged in hosts}
        return tags, [
            FleetEntry(id_, host, user, schedule, command, bool(disabled), bool(paused))
            for id_, host, user, schedule, command, disabled, paused in entries
        ]

    def entry(self, entry_id: str) -> JobEntry | None:
        """The entry with this id, present or not (an entry's last version is kept)."""
        found = _tuples(self.db, f"{_ENTRIES} where e.id = ?", [entry_id])
        return _job_entry(found[0]) if found else None

    def entries_by_id(self, entry_ids: Sequence[str]) -> list[JobEntry]:
        """The present entries with these ids."""
        rows = _tuples(
            self.db, f"{_ENTRIES} where e.present = 1 and e.id in ({_marks(entry_ids)})", entry_ids
        )
        return [_job_entry(row) for row in rows]

    def entry_count(self, hosts: Sequence[str] | None = None, up_to: int = -1) -> int:
        """How many entries these hosts (the fleet: None) have now; counting stops at `up_to`
        when it is not -1 (whether there are that many: a few rows read, not 100k)."""
        among = "" if hosts is None else f"and host in ({_marks(hosts)})"
        return self.db.execute(
            f"select count(*) from (select 1 from entries where present = 1 {among} limit ?)",
            [*(hosts or ()), up_to],
        ).fetchone()[0]

    def runs(self, hosts: Sequence[str], since: datetime) -> list[RunRecord]:
        """The hosts' runs that started at or after `since`."""
        return self._run_records(
            f"select {_RUN_RECORD} from runs where host in ({_marks(hosts)}) and started_at >= ?",
            [*hosts, iso(since)],
        )

    def _run_records(self, sql: str, params: Iterable[Any] = ()) -> list[RunRecord]:
        """The runs a query selects, by _RUN_RECORD's columns (the first ones, in that order):
        read as rows, not dicts, for a judge reads a month of runs at once."""
        return [_run(row) for row in self.db.execute(sql, _stored(params))]

    def entries_runs(self, entry_ids: Sequence[str], since: datetime) -> list[RunRecord]:
        """The entries' runs that started at or after `since` (one index range each)."""
        return self._run_records(
            f"select {_RUN_RECORD} from runs where entry_id in ({_marks(entry_ids)}) "
            "and started_at >= ?",
            [*entry_ids, iso(since)],
        )

    def cron_runs_between(self, host: str, since: datetime, until: datetime) -> list[RunRecord]:
        """The host's runs cron started at or after `since` and before `until`."""
        return self._run_records(
            f"select {_RUN_RECORD} from runs where host = ? and started_at >= ? "
            "and started_at < ? and trigger = 'cron'",
            [host, iso(since), iso(until)],
        )

    def run_count(self, hosts: Sequence[str], since: datetime) -> int:
        """How many runs of the hosts started at or after `since` (one index range each)."""
        return self.db.execute(
            f"select count(*) from runs where host in ({_marks(hosts)}) and started_at >= ?",
            [*hosts, iso(since)],
        ).fetchone()[0]

    def recent_runs(
        self, hosts: Sequence[str], count: int, limit: int = -1
    ) -> dict[str, list[RunRecord]]:
        """The latest `count` runs of each present entry of the hosts (of the first `limit` of
        them, in the order of `entries`), by entry id, oldest first."""
        # A few index probes per entry on (entry_id, started_at): never a scan of every run; the
        # index holds each run's id, its row's key. CROSS JOIN keeps the entries outside: with
        # a thousand hosts or more, SQLite would otherwise walk every run and probe the entries.
        runs = self._run_records(
            f"""
            select r.entry_id, r.host, r.started_at, r.ended_at, r.status, r.signal, r.trigger,
                r.output_tail, r.output_size, r.output_from
            from (
                select id from entries where present = 1 and host in ({_marks(hosts)})
                order by host, source, line limit ?
            ) e
            cross join runs r on r.id in (
                select id from runs where entry_id = e.id order by started_at desc limit ?
            )
            order by e.id, r.started_at
            """,
            [*hosts, limit, count],
        )
        recent: dict[str, list[RunRecord]] = {}
        for run in runs:
            recent.setdefault(run.entry_id or "", []).append(run)
        return recent

    def latest_runs(self, hosts: Sequence[str]) -> dict[str, LatestRuns]:
        """Each present entry's latest run, latest run with an end and latest success, by entry
        id (entries never seen running are left out): three index probes per entry."""
        latest = "select id from runs where entry_id = e.id {} order by started_at desc limit 1"
        rows = self.rows(
            f"""
            select e.id, ({latest.format("")}) as started,
                ({latest.format("and ended_at is not null")}) as ended,
                ({latest.format(f"and {_SUCCEEDED}")}) as succeeded
            from entries e where e.present = 1 and e.host in ({_marks(hosts)})
            """,
            list(hosts),
        )
        ids = {r[k] for r in rows for k in ("started", "ended", "succeeded") if r[k] is not None}
        rows_read = self.db.execute(
            f"select {_RUN_RECORD}, id from runs where id in ({_marks(list(ids))})", list(ids)
        )
        runs = {row[-1]: _run(row) for row in rows_read}
        return {
            r["id"]: LatestRuns(runs[r["started"]], runs.get(r["ended"]), runs.get(r["succeeded"]))
            for r in rows
            if r["started"] is not None
        }

    def entry_runs(self, entry_id: str, count: int) -> list[RunRecord]:
        """The entry's latest `count` runs, newest first."""
        return self._run_records(
            f"select {_RUN_RECORD} from runs where entry_id = ? order by started_at desc limit ?",
            [entry_id, count],
        )

    def processes(self, hosts: Sequence[str]) -> list[RunningJob]:
        """The job processes of each host's last process list."""
        rows = self.rows(
            "select host, entry_id, pid, started_at from processes "
            f"where host in ({_marks(hosts)})",
            list(hosts),
        )
        return [
            RunningJob(r["host"], r["entry_id"], r["pid"], _moment(r["started_at"])) for r in rows
        ]

    # -- the crontabs' history, for `cronops changes` and `cronops lint` -----------------------

    def crontabs_now(self, hosts: Sequence[str]) -> list[StoredCrontab]:
        """The hosts' crontab files as their last scans read them, by host and path."""
        rows = self.rows(
            f"select * from crontabs where host in ({_marks(hosts)}) order by host, path",
            list(hosts),
        )
        return [_crontab(row, row["read_at"]) for row in rows]

    def crontab_versions(self, hosts: Sequence[str], since: datetime) -> list[StoredCrontab]:
        """Each version of the hosts' crontab files seen since `since`, after the version it
        replaced (when there is one): by host and path, oldest first."""
        rows = self.rows(
            f"""
            select v.* from crontab_versions v
            join (
                select host, path, min(id) as first from crontab_versions
                where host in ({_marks(hosts)}) and seen_at >= ? group by host, path
            ) recent on v.host = recent.host and v.path = recent.path
            where v.id >= coalesce((
                select max(id) from crontab_versions w
                where w.host = recent.host and w.path = recent.path and w.id < recent.first
            ), recent.first)
            order by v.host, v.path, v.id
            """,
            [*hosts, iso(since)],
        )
        return [_crontab(row, row["seen_at"]) for row in rows]

    def crontab_edits(self, hosts: Sequence[str], since: datetime) -> list[CrontabEdit]:
        """What the hosts' `crontab` program logged since `since`, in order."""
        rows = self.rows(
            f"select * from crontab_edits where host in ({_marks(hosts)}) and at >= ? "
            "order by at, id",
            [*hosts, iso(since)],
        )
        return [
            CrontabEdit(r["host"], _moment(r["at"]), r["pid"], r["actor"], r["user"], r["action"])
            for r in rows
        ]

    def crontab_actions(self, hosts: Sequence[str], since: datetime) -> list[CronopsEdit]:
        """cronops' own changes to the hosts' crontabs since `since` (the ones that were
        written), in order."""
        rows = self.rows(
            f"""
            select * from actions where host in ({_marks(hosts)}) and at >= ? and result = 'ok'
            and crontab_after is not null order by at, id
            """,
            [*hosts, iso(since)],
        )
        return [
            CronopsEdit(
                host=r["host"],
                path=r["path"],
                at=_moment(r["at"]),
                actor=r["actor"],
                action=r["action"],
                entry_id=r["entry_id"],
                crontab_after=r["crontab_after"],
            )
            for r in rows
        ]

    def first_scans(self, hosts: Sequence[str]) -> dict[str, datetime]:
        """When each host was first scanned with success: what cronops saw then was already
        there, not added."""
        # The scans a host ever had are a row each, never pruned (a watch's every minute: 43,000
        # a month), and min(finished_at) read every one of them each scan (a fleet's rescan
        # spent 17 ms a host so after two weeks). A scan finishes after it starts: none started
        # after the first successful one finished can have finished before it, so only those
        # started until then are read, along the (host, started_at) index.
        rows = _tuples(
            self.db,
            f"""
            select h.name, (
                select min(s.finished_at) from scans s
                where s.host = h.name and s.status = 'ok' and s.started_at <= (
                    select f.finished_at from scans f where f.host = h.name and f.status = 'ok'
                    order by f.started_at limit 1
                )
            ) from hosts h where h.name in ({_marks(hosts)})
            """,
            list(hosts),
        )
        return {name: _moment(at) for name, at in rows if at is not None}

    # -- what the scans' judgements read ---------------------------------------------------

    def judgements(self, hosts: Sequence[str]) -> dict[str, Judged]:
        """Each host's last judgement by a scan, by name (a host never judged is left out)."""
        rows = self.rows(f"select * from judgements where host in ({_marks(hosts)})", list(hosts))
        return {
            row["host"]: Judged(
                host=row["host"],
                inputs=row["inputs"],
                due=Due(_moment(row["due_at"]), _moment(row["due_start"]))
                if row["due_at"] and row["due_start"]
                else None,
                policy=row["policy"],
                drift=row["drift"],
                drift_due=from_iso(row["drift_due"]),
            )
            for row in rows
        }

    def entries_due(
        self, hosts: Sequence[str], since: datetime, now: datetime
    ) -> dict[str, dict[str, bool]]:
        """Whether each entry of the hosts is due to be judged again (Due.passed) by a judgement
        at `now` of the window from `since`, by host and entry id (a host never judged, or not
        since this was kept, is left out). Compared as stored: fixed-width UTC text sorts as
        time, and a scan asks for every entry of every host it stored, nearly all not due."""
        found: dict[str, dict[str, bool]] = {}
        for host, entry_id, due in self.db.execute(
            "select host, entry_id, ? >= due_at or ? > due_start from entry_judgements "
            f"where host in ({_marks(hosts)})",
            [iso(now), iso(since), *hosts],
        ):
            found.setdefault(host, {})[entry_id] = bool(due)
        return found

    def fleet_crontabs_read(self, since: datetime) -> list[tuple[Any, ...]] | None:
        """What fleet drift compares (fleet_crontabs), as the scans' judgements read it: each
        host whose last scan answered at or after `since`, with its tags and its entries' print
        as that scan's judgement read them; None when a host's entries were not read at its
        last scan (it was stored without being judged): then only reading them all tells."""
        rows = self.db.execute(
            """
            select h.name, h.tags, j.crontabs, j.read_at >= h.ok_at
            from hosts h left join judgements j on j.host = h.name
            where h.status = 'ok' and h.ok_at >= ? order by h.name
            """,
            [iso(since)],
        ).fetchall()
        return rows if all(current for *_, current in rows) else None

    # -- rows --------------------------------------------------------------------------------

    def log_cursors(
        self, host: str, mailboxes: bool = False
    ) -> tuple[dict[str, LogCursor], str | None]:
        """Where the host's logs (or, `mailboxes`, its local mailboxes) were left, and the
        journal's cursor."""
        return self.fleet_log_cursors([host], mailboxes)[host]

    def fleet_log_cursors(
        self, hosts: Sequence[str], mailboxes: bool = False
    ) -> dict[str, tuple[dict[str, LogCursor], str | None]]:
        """log_cursors of each of the hosts, in one query (a scan reads the whole fleet's)."""
        found: dict[str, tuple[dict[str, LogCursor], str | None]] = {n: ({}, None) for n in hosts}
        for row in self.rows(
            f"select * from log_cursors where host in ({_marks(hosts)}) "
            "and coalesce(mailbox, 0) = ?",
            [*hosts, int(mailboxes)],
        ):
            cursors = found[row["host"]][0]
            if row["path"] == JOURNAL:
                found[row["host"]] = cursors, row["journal_cursor"]
            else:
                cursors[row["path"]] = LogCursor(
                    row["path"],
                    row["inode"],
                    row["offset"],
                    row["head_len"],
                    row["head_hash"],
                    row["tail_len"] or 0,  # none before schema version 5
                    row["tail_hash"] or "",
                    row["archive_mtime"],
                )
        return found

    def open_runs(self, host: str, since: datetime) -> list[dict[str, Any]]:
        """Runs in the window that a later line may still complete (see RUN_COLUMNS): read
        from the runs_open index, which holds only those, not through each of the host's runs."""
        return self.rows(
            "select * from runs where host = ? and still_open = 1 and started_at >= ? "
            "order by started_at",
            [host, iso(since)],
        )

    def run_of_process(
        self, host: str, pid: int, earliest: datetime, latest: datetime
    ) -> dict[str, Any] | None:
        """The run the log shows for a process: its pid, started between the two times."""
        found = self.rows(
            "select * from runs where host = ? and pid = ? and started_at between ? and ? "
            "order by started_at desc limit 1",
            [host, pid, iso(earliest), iso(latest)],
        )
        return found[0] if found else None

    def host_row(self, name: str) -> dict[str, Any] | None:
        found = self.rows("select * from hosts where name = ?", [name])
        return found[0] if found else None

    def crontab(self, host: str, path: str) -> dict[str, Any] | None:
        found = self.rows("select * from crontabs where host = ? and path = ?", [host, path])
        return found[0] if found else None

    def actions(
        self, *, entry_id: str | None = None, host: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The audit trail, newest first; an entry's actions include those that gave it its id."""
        where, params = ["1 = 1"], []
        if entry_id:
            where.append("(entry_id = ? or new_entry_id = ?)")
            params += [entry_id, entry_id]
        if host:
            where.append("host = ?")
            params.append(host)
        return self.rows(
            f"select * from actions where {' and '.join(where)} order by id desc limit ?",
            [*params, limit],
        )

    # -- daily rollups of the runs older than the retention ------------------------------------

    def run_days(self, hosts: Sequence[str], since: date) -> list[RunDay]:
        """The hosts' folded days from `since` on, by host, day and entry."""
        rows = self.rows(
            f"select * from run_days where host in ({_marks(hosts)}) and day >= ? "
            "order by host, day, entry_id",
            [*hosts, since.isoformat()],
        )
        return [_run_day(row) for row in rows]

    def entry_run_days(self, entry_id: str) -> list[RunDay]:
        """The entry's folded days, oldest first."""
        rows = self.rows("select * from run_days where entry_id = ? order by day", [entry_id])
        return [_run_day(row) for row in rows]

    def short_history_days(
        self,
        hosts: Sequence[str],
        since: datetime,
        most: int,
        entry_ids: Sequence[str] | None = None,
    ) -> list[RunDay]:
        """The folded days of the hosts' entries (or of these `entry_ids` of them) with `most`
        ended runs or fewer since `since` (a weekly or monthly job's, whose runs are too few
        for a baseline), on hosts whose log may write ends; by entry, oldest first. Each
        entry's ended runs are counted up to most + 1 along the (entry_id, started_at) index:
        a job that runs often costs a few rows whatever its history, and its days are not read."""
        only = "" if entry_ids is None else f"and e.id in ({_marks(entry_ids)})"
        rows = self.rows(
            f"""
            select d.* from entries e join hosts h on h.name = e.host
            cross join run_days d on d.entry_id = e.id
            where e.host in ({_marks(hosts)}) {only} and e.present = 1
            and h.ends_logged is not 0
            and (select count(*) from (select 1 from runs r where r.entry_id = e.id
                and r.started_at >= ? and r.ended_at is not null limit ?)) <= ?
            order by d.entry_id, d.day
            """,
            [*hosts, *(entry_ids or ()), iso(since), most + 1, most],
        )
        return [_run_day(row) for row in rows]

    def host_names(self) -> list[str]:
        """Every host the history has a row for (in the inventory or not any more)."""
        return [row[0] for row in self.db.execute("select name from hosts order by name")]

    def oldest_unfolded(self, host: str, before: datetime) -> datetime | None:
        """When the host's oldest run not yet folded started, if before `before`: one probe of
        the (host, started_at) index, past the few runs kept folded."""
        found = self.db.execute(
            "select started_at from runs where host = ? and started_at < ? and folded is null "
            "order by started_at limit 1",
            [host, iso(before)],
        ).fetchone()
        return _moment(found[0]) if found else None

    # -- stored findings ---------------------------------------------------------------------

    def incidents(
        self,
        states: Sequence[str] | None = None,
        hosts: Sequence[str] | None = None,
        now: datetime | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Incident]:
        """The incidents in these states (as read at `now`, the wall clock by default: an
        acknowledgement past its `until` reads as open) of these hosts (and kinds); worst first
        (severity, then the latest opened first)."""
        # Not the findings' JSON: the watch reads every incident of its hosts each round, a scan
        # those of the hosts it judges.
        return [_incident(row) for row in self._incidents(states, hosts, now, None, kinds)]

    def judged_incidents(
        self,
        hosts: Sequence[str],
        now: datetime,
        entries: Collection[str] | None,
        host_kinds: Sequence[str],
        not_kinds: Sequence[str],
    ) -> list[Incident]:
        """The incidents, in every state (as read at `now`), that a judgement of these hosts
        (`entries` of them; None: every one) says whether they stand: the hosts' own (no
        entry), those of `host_kinds` (their crontabs', judged with any entry) and those of
        the entries judged; none of `not_kinds`. In no order: a scan reads those of every host
        it judges, and lifecycle finds each by its identity."""
        where, params = [f"host in ({_marks(hosts)})"], [_read_state(now), *hosts]
        if not_kinds:
            where.append(f"kind not in ({_marks(not_kinds)})")
            params += not_kinds
        if entries is not None:
            # Each host's by its index (incidents_identity), then a look at each of its rows.
            judged = list(entries)
            where.append(
                f"(entry_id is null or kind in ({_marks(host_kinds)}) "
                f"or entry_id in ({_marks(judged)}))"
            )
            params += [*host_kinds, *judged]
        query = f"select {_INCIDENT_COLUMNS} from ({_INCIDENTS}) where {' and '.join(where)}"
        return [_incident(row) for row in _tuples(self.db, query, params)]

    def incident(self, incident_id: int, now: datetime | None = None) -> Incident | None:
        """The incident with this id, its state as read at `now` (see `incidents`)."""
        rows = _tuples(
            self.db,
            f"select {_INCIDENT_COLUMNS} from ({_INCIDENTS}) where id = ?",
            [_read_state(now), incident_id],
        )
        return _incident(rows[0]) if rows else None

    def incident_findings(
        self,
        states: Sequence[str] | None = None,
        hosts: Sequence[str] | None = None,
        now: datetime | None = None,
        seen_since: datetime | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[tuple[Incident, Finding]]:
        """`incidents`, each with the finding the judge last gave (its evidence, its times in
        the job's zone and, under a host's, its jobs' findings), for the views that show it;
        with `seen_since`, only those a scan judged since then."""
        rows = self._incidents(states, hosts, now, seen_since, kinds, with_finding=True)
        return [(_incident(row), _finding(json.loads(row[-1]))) for row in rows]

    def problem_rows(self, hosts: Sequence[str], now: datetime) -> list[dict[str, Any]]:
        """The standing incidents (open or acknowledged) of these hosts in the few columns the
        TUI's Problems table shows, for a fleet's thousands at once (`incident_findings` parses
        each finding's JSON, its evidence and all: ~40 µs an incident). Each row: incident_id,
        host, entry_id, kind, severity, count and summary; `ack_by` and `ack_until` while it
        stands acknowledged at `now` (else None); its entry's `user` and `command` (None: not
        present); `last_at`, the finding's latest occurrence in the job's zone, read out of the
        JSON by SQLite; `jobs`, the job findings under a host's finding (parsed for those few
        only), else []."""
        rows = self.rows(
            f"""
            select i.id as incident_id, i.host, i.entry_id, i.kind, i.severity, i.count, i.summary,
                case when i.state_now = 'acknowledged' then i.ack_by end as ack_by,
                case when i.state_now = 'acknowledged' then i.ack_until end as ack_until,
                e.user, e.command, i.finding ->> '$.last_at' as last_at,
                i.finding ->> '$.zone' as zone,
                case when i.jobs != '[]' then i.finding ->> '$.jobs' end as jobs
            from ({_INCIDENTS}) i left join entries e on e.id = i.entry_id and e.present = 1
            where i.state in ('open', 'acknowledged') and i.host in ({_marks(hosts)})
            """,
            [_read_state(now), *hosts],
        )
        for row in rows:
            zone = row.pop("zone")
            row["last_at"] = _in_zone(from_iso(row["last_at"]), zone)
            row["ack_until"] = from_iso(row["ack_until"])
            jobs = row["jobs"]
            row["jobs"] = [_finding(job) for job in json.loads(jobs)] if jobs else []
        return rows

    def _incidents(
        self,
        states: Sequence[str] | None,
        hosts: Sequence[str] | None,
        now: datetime | None,
        seen_since: datetime | None,
        kinds: Sequence[str] | None,
        with_finding: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Rows of _INCIDENT_COLUMNS (and the finding's JSON after them, `with_finding`):
        tuples, not dicts, for a scan reads the incidents of every host it judges."""
        where, params = ["1 = 1"], [_read_state(now)]
        if seen_since is not None:
            where.append("last_seen >= ?")
            params.append(iso(seen_since))
        if kinds is not None:
            where.append(f"kind in ({_marks(kinds)})")
            params += kinds
        if states is not None:
            # The stored state first, which its index finds without reading the resolved ones
            # (most of them, after a while): an acknowledgement past its `until` reads as open.
            stored = sorted({*states, "acknowledged"} if "open" in states else set(states))
            where.append(f"state in ({_marks(stored)}) and state_now in ({_marks(states)})")
            params += [*stored, *states]
        if hosts is not None:
            where.append(f"host in ({_marks(hosts)})")
            params += hosts
        columns = f"{_INCIDENT_COLUMNS}, finding" if with_finding else _INCIDENT_COLUMNS
        return _tuples(
            self.db,
            f"select {columns} from ({_INCIDENTS}) where {' and '.join(where)} "
            f"order by {_SEVERITY_RANK}, opened_at desc, id",
            params,
        )

    # -- notifications -----------------------------------------------------------------------

    def deliveries(self, route: str, incident_ids: Iterable[int]) -> list[Delivery]:
        """The route's deliveries about these incidents, and every one not yet sent, oldest
        first."""
        ids = list(incident_ids)
        rows = self.rows(
            f"""
            select * from deliveries where route = ?
            and (incident_id in ({_marks(ids)}) or state in {_UNSENT}) order by id
            """,
            [route, *ids],
        )
        return [_delivery(row) for row in rows]

    def undelivered(self) -> list[Delivery]:
        """Every delivery not (yet) sent and still to be, by route, oldest first: what the TUI
        shows of a failing route, read while `watch` writes."""
        rows = self.rows(f"select * from deliveries where state in {_UNSENT} order by route, id")
        return [_delivery(row) for row in rows]


class Store(History):
    """The history opened for writing: its schema steps and every write, besides every read."""

    def __init__(self, path: Path):
        self.path = path
        # Before SQLite opens it: SQLite gives the -wal and -shm it makes the file's own mode.
        private_file(path, ("-wal", "-shm"))
        # A scan stores hosts on one worker thread while its event loop talks to the others.
        super().__init__(
            sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        )
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.db.execute(f"PRAGMA page_size = {PAGE_BYTES}")  # a new history only
        _use_wal(self.db)
        self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        # Each host's savepoint saves the pages it changes that the group has already changed;
        # in memory, not in a temp file (a write() per page: 40,000 of them on a first scan).
        self.db.execute("PRAGMA temp_store = MEMORY")
        # Safe with WAL: a crash loses no committed scan.
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")
        self._migrate()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """IMMEDIATE: take the write lock up front, so two writers queue instead of deadlocking."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.rollback()
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self, db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """Inside a transaction: if the block fails, only its own writes are undone."""
        db.execute("SAVEPOINT part")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK TO part")
            db.execute("RELEASE part")
            raise
        db.execute("RELEASE part")

    def _migrate(self) -> None:
        """Bring the history to SCHEMA_VERSION, one step at a time, in one transaction: an
        upgrade that fails leaves the history as it was."""
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            for step in sorted(step for step in MIGRATIONS if step > version):
                MIGRATIONS[step](database(db))
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing -----------------------------------------------------------------------------

    def record_action(self, action: dict[str, Any], runs: Iterable[dict[str, Any]] = ()) -> int:
        """One action of the audit trail (and the manual run it made), in one transaction."""
        runs = list(runs)
        with self.transaction() as db:
            self.write_runs(db, runs)
            self.judge_again(db, sorted({run["host"] for run in runs}))
            _insert(db, "actions", [action])
            return db.execute("select last_insert_rowid()").fetchone()[0]

    def acknowledge(
        self,
        incident_id: int,
        by: str,
        note: str | None,
        until: datetime | None,
        now: datetime,
    ) -> Incident:
        """Acknowledge a standing incident (until its next episode, or `until`), and say so in
        the audit trail; LookupError for an unknown id, ValueError for a resolved one."""
        with self.transaction() as db:
            incident = self.incident(incident_id, now)
            if incident is None:
                raise LookupError(f"no finding with id {incident_id}")
            if incident.state == "resolved":
                why = f"{incident.resolved_why} at {iso(incident.resolved_at)}"
                raise ValueError(f"finding {incident_id} is resolved ({why})")
            db.execute(
                "update incidents set state = 'acknowledged', ack_by = ?, ack_at = ?, "
                "ack_note = ?, ack_until = ? where id = ?",
                _stored([by, iso(now), note, iso(until), incident_id]),
            )
            until_text = f", until {iso(until)}" if until else ""
            trail = {
                "at": iso(now),
                "actor": by,
                "host": incident.host,
                "entry_id": incident.entry_id,
                "action": "ack",
                "result": "ok",
                "detail": f"finding {incident_id} ({incident.kind}){until_text}: {note or ''}",
            }
            _insert(db, "actions", [trail])
        acknowledged = self.incident(incident_id, now)
        assert acknowledged is not None
        return acknowledged

    def entry_changes(
        self, db: sqlite3.Connection, entry_ids: Sequence[str]
    ) -> dict[str, datetime]:
        """When each entry's line last changed (a new version: schedule, command, commented
        out, paused...), by id; entries never changed since first seen are left out."""
        rows = _dicts(
            db,
            f"select entry_id, max(seen_at) as at from entry_versions "
            f"where entry_id in ({_marks(entry_ids)}) group by entry_id "
            "having count(*) > 1",
            entry_ids,
        )
        return {row["entry_id"]: _moment(row["at"]) for row in rows}

    def write_judgements(self, db: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        """Hosts' judgements (judgements' columns, by host): the columns given, the others kept."""
        for columns in {tuple(row) for row in rows}:  # a few shapes: judged, skipped, drift
            _upsert(db, "judgements", [r for r in rows if tuple(r) == columns], ("host",))

    def write_entry_judgements(
        self, db: sqlite3.Connection, dues: Mapping[str, Mapping[str, Due]], whole: Sequence[str]
    ) -> None:
        """When entries are to be judged again (by host and entry id); a host in `whole` was
        judged entry by entry, so its entries not in `dues` (removed) are forgotten."""
        db.execute(f"delete from entry_judgements where host in ({_marks(whole)})", list(whole))
        db.executemany(
            "insert or replace into entry_judgements (host, entry_id, due_at, due_start) "
            "values (?, ?, ?, ?)",
            [
                (host, entry_id, iso(due.at), iso(due.start))
                for host, entries in dues.items()
                for entry_id, due in entries.items()
            ],
        )

    def judge_again(self, db: sqlite3.Connection, hosts: list[str]) -> None:
        """The hosts' next scans judge them whatever they store: their runs changed outside a
        scan that judged them (judge_scanned skips a host only when what it read is unchanged)."""
        db.execute(f"update judgements set inputs = null where host in ({_marks(hosts)})", hosts)

    def write_incidents(
        self, db: sqlite3.Connection, changes: Iterable[tuple[Incident, Finding | None]]
    ) -> None:
        """New incidents (id 0) inserted, others updated; with a finding, it is stored too. An
        incident's identity (host, entry_id, kind) is never changed."""
        # One executemany a shape (insert; update with or without the finding): a scan
        # rewrites every standing incident of the hosts it judges, thousands in a big fleet.
        # An update leaves the identity's columns out, so SQLite leaves its index alone.
        inserts: dict[bool, list[list[Any]]] = defaultdict(list)
        updates: dict[bool, list[list[Any]]] = defaultdict(list)
        for incident, finding in changes:
            values = _incident_values(incident)
            if finding is not None:
                values.append(_FINDING_JSON.encode(_finding_json(finding)))
            if incident.id:
                values[: len(_IDENTITY)] = ()
                values.append(incident.id)
                updates[finding is not None].append(values)
            else:
                inserts[finding is not None].append(_stored(values))
        for with_finding, rows in updates.items():
            columns = [*_INCIDENT_ROW[len(_IDENTITY) :], *(["finding"] if with_finding else [])]
            sets = ", ".join(f"{column} = ?" for column in columns)
            update = f"update incidents set {sets} where id = ?"
            # Nearly always text SQLite takes as it is; a value it refuses stops the statement,
            # and every row goes again with its host bytes as BLOBs (an update written twice
            # writes the same).
            try:
                db.executemany(update, rows)
            except UnicodeEncodeError:
                db.executemany(update, [_stored(row) for row in rows])
        for with_finding, rows in inserts.items():
            columns = [*_INCIDENT_ROW, *(["finding"] if with_finding else [])]
            db.executemany(
                f"insert into incidents ({', '.join(columns)}) "
                f"values ({', '.join('?' for _ in columns)})",
                rows,
            )

    def intend(self, deliveries: Iterable[dict[str, Any]]) -> None:
        """Decided deliveries, written (committed) before any is sent; a transition already
        decided (by a round that died before sending it) is kept as it is, unless it was
        dropped unsent (its incident acknowledged): decided again, it is due again."""
        rows = list(deliveries)
        if not rows:
            return
        columns = list(rows[0])
        revived = ", ".join(f"{c} = excluded.{c}" for c in _DECIDED)
        with self.transaction() as db:
            db.executemany(
                f"insert into deliveries ({', '.join(columns)}) "
                f"values ({', '.join('?' for _ in columns)}) "
                "on conflict (route, incident_id, episode, event) do update set "
                f"{revived}, error = null where state = 'dropped'",
                [_stored(row[c] for c in columns) for row in rows],
            )

    def delivered(self, ids: Sequence[int], at: datetime) -> None:
        with self.transaction() as db:
            db.executemany(
                "update deliveries set state = 'sent', sent_at = ?, error = null, "
                "next_attempt_at = null, attempts = attempts + 1 where id = ?",
                [[iso(at), i] for i in ids],
            )

    def delivery_failed(
        self, ids: Sequence[int], error: str, retry_at: datetime, attempts: int
    ) -> None:
        """These deliveries failed, the `attempts`-th time in a row for their route."""
        with self.transaction() as db:
            db.executemany(
                "update deliveries set state = 'failed', error = ?, next_attempt_at = ?, "
                "attempts = ? where id = ?",
                [[error, iso(retry_at), attempts, i] for i in ids],
            )

    def delivery_dropped(self, why: Mapping[int, str]) -> None:
        """Deliveries that will not be sent, each with why (kept in its error)."""
        with self.transaction() as db:
            db.executemany(
                "update deliveries set state = 'dropped', error = ?, next_attempt_at = null "
                "where id = ?",
                [[reason, i] for i, reason in why.items()],
            )

    def last_scan(self, db: sqlite3.Connection, host: str) -> dict[str, Any] | None:
        """The host's latest scan (its status and error); None before its first."""
        found = _dicts(
            db,
            "select status, error from scans where host = ? "
            "order by started_at desc, id desc limit 1",
            [host],
        )
        return found[0] if found else None

    def coverage_start(self, db: sqlite3.Connection, host: str) -> str | None:
        """The earliest cron log line held for the host, as stored (inside the write)."""
        found = db.execute("select coverage_start from hosts where name = ?", [host]).fetchone()
        return found[0] if found else None

    def write_host_state(self, db: sqlite3.Connection, state: dict[str, Any]) -> None:
        _upsert(db, "hosts", [state], ("name",))

    def write_crontabs(
        self,
        db: sqlite3.Connection,
        host: str,
        rows: list[dict[str, Any]],
        unreadable: Iterable[str],
        seen_at: str,
    ) -> list[str]:
        """The host's crontabs as a scan read them, each with every distinct version kept; the
        others stored for it are gone unless there but `unreadable`: their version history ends
        with one without text, and they leave the crontabs table. Returns the paths whose text
        changed (a new version).

        What is stored for the host is read once: the files unchanged, text and facts (nearly
        every one, nearly every scan), only have their read time moved, in one statement; a
        file whose facts alone changed has them written, not its text again."""
        stored = {
            path: facts
            for path, *facts in _tuples(
                db, "select path, sha256, kind, owner, mtime from crontabs where host = ?", [host]
            )
        }
        read: set[str] = set()
        unchanged: list[str] = []
        changed: list[str] = []
        for row in rows:
            sha, path = _sha256(row["text"]), row["path"]
            before, stored[path] = stored.get(path), [sha, row["kind"], row["owner"], row["mtime"]]
            read.add(path)
            if before == stored[path]:
                unchanged.append(path)
            elif _write_crontab(db, row, sha, None if before is None else before[0], seen_at):
                changed.append(path)
        if unchanged:
            db.execute(
                f"update crontabs set read_at = ? where host = ? and path in ({_marks(unchanged)})",
                _stored([seen_at, host, *unchanged]),
            )
        kept = read.union(unreadable)
        gone = [
            {"host": host, "path": path, "kind": facts[1], "owner": facts[2]}
            for path, facts in stored.items()
            if path not in kept
        ]
        _insert(db, "crontab_versions", [_version(row, None, seen_at) for row in gone])
        db.executemany(
            "delete from crontabs where host = ? and path = ?",
            [_stored([host, row["path"]]) for row in gone],
        )
        return changed

    def write_crontab_edits(self, db: sqlite3.Connection, edits: list[dict[str, Any]]) -> None:
        """Lines of the host's `crontab` program; one read twice (two files, a rescan) is kept once."""
        _insert(db, "crontab_edits", edits, verb="insert or ignore")

    def write_command_lookups(
        self, db: sqlite3.Connection, host: str, lookups: list[dict[str, Any]] | None
    ) -> None:
        """The host's lookups as this scan found them (None: not looked up, the last kept)."""
        if lookups is not None:
            db.execute("delete from command_lookups where host = ?", [host])
            _insert(db, "command_lookups", lookups)

    def write_run_outputs(self, db: sqlite3.Connection, outputs: list[dict[str, Any]]) -> None:
        """Each output (a mail cron sent, or the lines cron logged) goes with its entry's latest
        cron run that started by the time it was sent (1 s of slack: both are stamped to the
        second), within a day; with its whole size and where it was read (`output_from`)."""
        db.executemany(
            """
            update runs set output_tail = :tail, output_size = :size, output_from = :source
            where id = (
                select id from runs where host = :host and entry_id = :entry_id
                and trigger = 'cron' and started_at <= :latest and started_at >= :earliest
                order by started_at desc limit 1
            )
            """,
            [
                {
                    **row,
                    "tail": _stored_value(row["tail"]),
                    "latest": iso(row["sent_at"] + timedelta(seconds=1)),
                    "earliest": iso(row["sent_at"] - timedelta(days=1)),
                }
                for row in outputs
            ],
        )

    def write_daemon_lines(self, db: sqlite3.Connection, lines: list[dict[str, Any]]) -> None:
        """The cron daemon's own lines; one read twice is kept once (so are two alike in a second)."""
        _insert(db, "daemon_lines", lines, verb="insert or ignore")

    def write_entries(
        self, db: sqlite3.Connection, host: str, entries: list[dict[str, Any]], seen_at: str
    ) -> None:
        """Entries as read now; a changed entry gets a new version row, a vanished one is kept,
        absent. Unchanged entries (most of them, most scans) only have last_seen moved on."""
        rows = [{**e, "env": _env_json(tuple(e["env"].items())), "present": 1} for e in entries]
        compared = ["id", *(column for column in (rows[0] if rows else ()) if column != "id")]
        read = [*compared, "first_seen"]
        pick = operator.itemgetter(*compared)  # a row's values in that order, as a tuple
        # The stored entries as tuples, each compared whole with its row as it would be stored:
        # an unchanged entry (nearly all, nearly every scan) makes no dict.
        current = {
            found[0]: found
            for found in db.execute(
                f"select {', '.join(read)} from entries where host = ?",
                _stored([host]),
            )
        }
        changed, versions = [], []
        for row in rows:
            found = current.pop(row["id"], None)
            # As it is, or as stored when a value is not UTF-8 (stored as its bytes).
            if found is not None and found[:-1] in _as_stored(pick(row)):
                continue
            before = (
                None if found is None else dict(zip(read, map(_read_value, found), strict=True))
            )
            if before is None or any(before[k] != row[k] for k in ENTRY_VERSIONED):
                versions.append(
                    {
                        "entry_id": row["id"],
                        "seen_at": seen_at,
                        **{k: row[k] for k in ENTRY_VERSIONED},
                    }
                )
            changed.append(row | {"first_seen": before["first_seen"] if before else seen_at})
        _insert(db, "entry_versions", versions)
        _upsert(db, "entries", changed, ("id",))
        db.execute(
            "update entries set last_seen = ? where host = ? and present = 1", [seen_at, host]
        )
        if current:
            db.execute(
                f"update entries set present = 0 where id in ({', '.join('?' for _ in current)})",
                list(current),
            )

    def write_problems(
        self, db: sqlite3.Connection, host: str, problems: list[dict[str, Any]]
    ) -> None:
        db.execute("delete from crontab_problems where host = ?", [host])
        _insert(db, "crontab_problems", problems)

    def write_runs(self, db: sqlite3.Connection, runs: list[dict[str, Any]]) -> int:
        """Insert new runs, complete known ones; a fact once known is never overwritten by ignorance.

        Returns how many runs are new."""
        rows = [
            _run_values(
                run
                | {
                    "started_at": _to_the_second(run["started_at"]),
                    "ended_at": _to_the_second(run["ended_at"]),
                    "still_open": run.get("still_open", _still_open(run)),
                }
            )
            for run in runs
        ]
        return self.write_run_rows(db, rows)

    def write_run_rows(self, db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
        """write_runs for rows already in RUN_COLUMNS order, their times `run_time`s."""
        return _write_run_rows(db, rows, scanned=False)

    def write_scanned_runs(self, db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
        """write_run_rows for the runs a scan read in a log, as it makes them: in
        SCANNED_RUN_COLUMNS order (triggered by cron, no output tail)."""
        return _write_run_rows(db, rows, scanned=True)

    # -- folding runs older than the retention into daily rollups ------------------------------

    def fold_runs(self, host: str, day: date, budget: int) -> tuple[int, int]:
        """Fold the host's runs of one UTC day, entry by entry up to about `budget` runs (one
        entry at least), into run_days; delete them, but for the runs still needed, which stay
        marked folded. One short transaction: a crash leaves the rollup and the deletion both
        done or neither. Returns the runs folded and how many of them were deleted."""
        start = datetime.combine(day, datetime.min.time(), UTC)
        span = [host, iso(start), iso(start + timedelta(days=1))]
        with self.transaction() as db:
            counts = db.execute(
                f"select coalesce(entry_id, ''), count(*) from runs where {_UNFOLDED} "
                "group by 1 order by 1",
                span,
            ).fetchall()
            chosen: list[str] = []
            folded = 0
            for entry_id, count in counts:
                if chosen and folded + count > budget:
                    break
                chosen.append(entry_id)
                folded += count
            if not chosen:
                return 0, 0
            where = f"{_UNFOLDED} and coalesce(entry_id, '') in ({_marks(chosen)})"
            params = [*span, *chosen]
            db.execute(_FOLD.format(where=where), [day.isoformat(), *params])
            db.execute(f"update runs set folded = 1 where {where} and {_NEEDED}", params)
            deleted = db.execute(f"delete from runs where {where}", params).rowcount
            if deleted:
                self.judge_again(db, [host])
        return folded, deleted

    def release_kept_runs(self) -> int:
        """Delete the folded runs no longer needed (a later run of the entry came, a running
        one is gone): they are already counted in their day."""
        with self.transaction() as db:
            released = f"from runs where folded = 1 and not {_NEEDED}"
            hosts = [host for (host,) in db.execute(f"select distinct host {released}")]
            self.judge_again(db, hosts)
            return db.execute(f"delete {released}").rowcount

    def drop_run_days(self, before: date) -> int:
        """Forget the folded days before `before`, host by host (each its own short transaction,
        along the primary key)."""
        dropped, day = 0, before.isoformat()
        older = "from run_days where host = ? and day < ?"
        for host in self.host_names():
            # Most hosts, most days, have nothing to drop: a read, not the write lock, says so.
            if self.db.execute(f"select 1 {older} limit 1", [host, day]).fetchone():
                with self.transaction() as db:
                    dropped += db.execute(f"delete {older}", [host, day]).rowcount
                    self.judge_again(db, [host])  # a day gone may have been a baseline
        return dropped

    @contextmanager
    def manual_checkpoints(self) -> Iterator[None]:
        """No checkpoint at commit meanwhile (the caller checkpoints): a commit then holds
        the write lock only for its own pages, not for copying the WAL back as well."""
        self.db.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")

    def checkpoint(self) -> None:
        """Copy the WAL back into the history without waiting for any reader (a TUI's read
        goes on): the WAL file is then reused from its start, and kept within
        WAL_KEEP_BYTES."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def write_cursors(
        self,
        db: sqlite3.Connection,
        host: str,
        cursors: Iterable[LogCursor],
        journal: str | None,
        mailboxes: bool = False,
    ) -> None:
        rows = [
            {
                "mailbox": int(mailboxes),
                "host": host,
                "path": c.path,
                "inode": c.inode,
                "offset": c.offset,
                "head_len": c.head_len,
                "head_hash": c.head_hash,
                "tail_len": c.tail_len,
                "tail_hash": c.tail_hash,
                "archive_mtime": c.archive_mtime,
                "journal_cursor": None,
            }
            for c in cursors
        ]
        if journal is not None:
            rows.append(
                {
                    "host": host,
                    "path": JOURNAL,
                    "inode": None,
                    "offset": None,
                    "head_len": None,
                    "head_hash": None,
                    "tail_len": None,
                    "tail_hash": None,
                    "archive_mtime": None,
                    "journal_cursor": journal,
                    "mailbox": 0,
                }
            )
        _upsert(db, "log_cursors", rows, ("host", "path"))

    def write_processes(
        self, db: sqlite3.Connection, host: str, processes: list[dict[str, Any]]
    ) -> None:
        db.execute("delete from processes where host = ?", [host])
        _insert(db, "processes", processes)

    def write_scan(self, db: sqlite3.Connection, scan: dict[str, Any]) -> None:
        _insert(db, "scans", [scan])


# What the record types are read from.
# An entry's columns in JobEntry's order (its environment's JSON where cron_tz is, and mailto
# read out of it), for _job_entry.
_ENTRIES = """
    select e.id, e.host, e.user, e.source, e.schedule, e.command, e.disabled, e.paused, e.env,
        e.first_seen, c.mtime, e.log_off, e.line, e.text, e.present
    from entries e left join crontabs c on c.host = e.host and c.path = e.source
"""
_RUN_RECORD = (
    "entry_id, host, started_at, ended_at, status, signal, trigger, output_tail, output_size, "
    "output_from"
)
# RunRecord.outcome "ok", in SQL: an end and exit status 0 in the log, no signal.
_SUCCEEDED = "ended_at is not null and status = 0 and signal is null"


@lru_cache(maxsize=256)  # the entries of one crontab share its environment
@lru_cache(maxsize=1024)
def _env_json(env: tuple[tuple[str, str], ...]) -> str:
    """An entry's environment as stored: JSON of its names and values, in order. Made once for
    the settings a crontab's entries share (and the fleet's hosts, mostly): every entry is
    compared with the stored one every scan."""
    return json.dumps(dict(env))


def _daemon_lines(host: str, stored: str | None) -> tuple[DaemonLine, ...]:
    """host_facts' JSON of daemon lines, newest first, as records oldest first."""
    lines = [
        DaemonLine(host, _moment(at), user or None, keyword, detail or "")
        for at, user, keyword, detail in json.loads(stored or "[]")
    ]
    return tuple(reversed(lines))


# A host's runs of one day not folded yet (parameters: host, the day's start and its end).
_UNFOLDED = "host = ? and started_at >= ? and started_at < ? and folded is null"
# A run still needed after its day is folded: a rerun (the audit trail's action made it), a run
# the host's last process list still showed running, and each entry's latest run, latest run
# with an end and latest success (latest_runs: a yearly job's last success and duration, in
# metrics and the Jobs view, whatever its latest run did). A later run of the entry is looked
# for along the (entry_id, started_at) index, and is nearly always the next one; in `l`'s
# subqueries, _SUCCEEDED's bare columns are l's.
_NEEDED = f"""(
    trigger != 'cron'
    or (ended_at is null and exists (
        select 1 from processes p where p.host = runs.host and p.pid = runs.pid))
    or started_at = (select max(l.started_at) from runs l where l.entry_id = runs.entry_id)
    or (entry_id is not null and ended_at is not null and not exists (
        select 1 from runs l where l.entry_id = runs.entry_id
        and l.started_at > runs.started_at and l.ended_at is not null))
    or (entry_id is not null and {_SUCCEEDED} and not exists (
        select 1 from runs l where l.entry_id = runs.entry_id
        and l.started_at > runs.started_at and {_SUCCEEDED}))
)"""
# Each entry's runs of the day as one row: the outcome counted as RunRecord.outcome reads it, and
# nearest-rank percentiles of the durations known (the smallest with at least p% at or below it).
# A day folded again (a run kept, then released) adds to its counts; its percentiles are those of
# the larger part.
_FOLD = """
    insert into run_days (host, day, entry_id, runs, ok, failed, killed, unknown, manual,
        p50_s, p95_s, max_s)
    select host, ?, entry, count(*), sum(outcome = 'ok'), sum(outcome = 'failed'),
        sum(outcome = 'killed'), sum(outcome = 'unknown'), sum(trigger != 'cron'),
        min(case when rank * 100 >= timed * 50 then took end),
        min(case when rank * 100 >= timed * 95 then took end),
        max(took)
    from (
        select *, row_number() over (partition by entry order by took nulls last) as rank,
            count(took) over (partition by entry) as timed
        from (
            select host, coalesce(entry_id, '') as entry, trigger,
                case when signal is not null then 'killed' when status != 0 then 'failed'
                    when ended_at is not null and status = 0 then 'ok' else 'unknown'
                end as outcome,
                round((julianday(ended_at) - julianday(started_at)) * 86400, 3) as took
            from runs where {where}
        )
    )
    where true group by entry
    on conflict (host, day, entry_id) do update set
        runs = runs + excluded.runs,
        ok = ok + excluded.ok,
        failed = failed + excluded.failed,
        killed = killed + excluded.killed,
        unknown = unknown + excluded.unknown,
        manual = manual + excluded.manual,
        p50_s = case when excluded.runs > runs then excluded.p50_s else p50_s end,
        p95_s = case when excluded.runs > runs then excluded.p95_s else p95_s end,
        max_s = max(coalesce(max_s, excluded.max_s), coalesce(excluded.max_s, max_s))
"""


def _run_day(row: dict[str, Any]) -> RunDay:
    def took(seconds: float | None) -> timedelta | None:
        return None if seconds is None else timedelta(seconds=seconds)

    return RunDay(
        host=row["host"],
        entry_id=row["entry_id"] or None,
        day=date.fromisoformat(row["day"]),
        runs=row["runs"],
        ok=row["ok"],
        failed=row["failed"],
        killed=row["killed"],
        unknown=row["unknown"],
        manual=row["manual"],
        p50=took(row["p50_s"]),
        p95=took(row["p95_s"]),
        longest=took(row["max_s"]),
    )


# A delivery still to be sent (pending, or failed and to be tried again); the others were sent
# or dropped. The columns an intent decided again sets anew.
_UNSENT = "('pending', 'failed')"
_DECIDED = ("shown", "severity", "state", "attempts", "decided_at", "next_attempt_at")

# An incident's state as read: an acknowledgement past its `until` (the parameter: now) is open.
_INCIDENTS = """
    select *, case when state = 'acknowledged' and ack_until is not null and ack_until <= ?
        then 'open' else state end as state_now
    from incidents
"""
# An incident's columns in its fields' order, its state as read (not its finding's JSON, the
# largest: _incident).
_INCIDENT_FIELDS = tuple(field.name for field in fields(Incident))
_INCIDENT_COLUMNS = ", ".join("state_now" if name == "state" else name for name in _INCIDENT_FIELDS)
_SEVERITY_RANK = "case severity {} else {} end".format(
    " ".join(f"when '{severity}' then {rank}" for rank, severity in enumerate(SEVERITIES)),
    len(SEVERITIES),
)


def _read_state(now: datetime | None) -> str:
    return iso(now or datetime.now(UTC))


def _incident(row: Sequence[Any]) -> Incident:
    """An incident from a row of _INCIDENT_COLUMNS (and any after them)."""
    # By position, not by name: a scan reads every incident of the hosts it judges.
    values = list(row[: len(_INCIDENT_FIELDS)])
    for index in _INCIDENT_MOMENTS:  # the schema requires these
        values[index] = _moment(values[index])
    for index in _INCIDENT_MAYBE_MOMENTS:
        values[index] = from_iso(values[index])
    jobs = values[_INCIDENT_JOBS]
    values[_INCIDENT_JOBS] = tuple(json.loads(jobs)) if jobs and jobs != "[]" else ()
    return record(Incident, values)


_INCIDENT_MOMENTS = tuple(
    _INCIDENT_FIELDS.index(name) for name in ("first_seen", "opened_at", "last_seen")
)
_INCIDENT_MAYBE_MOMENTS = tuple(
    _INCIDENT_FIELDS.index(name) for name in ("streak_since", "resolved_at", "ack_at", "ack_until")
)
_INCIDENT_JOBS = _INCIDENT_FIELDS.index("jobs")


_IDENTITY = ("host", "entry_id", "kind")  # an incident's: incidents_identity


# An incident's columns as _incident_values lists them: its identity first, id left out.
_INCIDENT_ROW = _INCIDENT_FIELDS[1:]
assert _INCIDENT_ROW[: len(_IDENTITY)] == _IDENTITY
# A finding's JSON as json.dumps writes it, without its check for cycles (a finding has none).
_FINDING_JSON = json.JSONEncoder(check_circular=False)


def _incident_values(incident: Incident) -> list[Any]:
    """An incident's values as stored, in _INCIDENT_ROW's order."""
    return [
        incident.host,
        incident.entry_id,
        incident.kind,
        incident.severity,
        incident.state,
        iso(incident.first_seen),
        iso(incident.opened_at),
        iso(incident.last_seen),
        incident.count,
        incident.streak,
        iso(incident.streak_since),
        incident.summary,
        incident.detail,
        incident.evidence,
        incident.runbook,
        json.dumps(list(incident.jobs)) if incident.jobs else "[]",
        iso(incident.resolved_at),
        incident.resolved_why,
        incident.ack_by,
        iso(incident.ack_at),
        incident.ack_note,
        iso(incident.ack_until),
    ]


def _finding_json(finding: Finding) -> dict[str, Any]:
    """The judge's finding as the views show it: every field, times in ISO with their offset
    and the job's zone by name, the jobs under it likewise."""
    # Its fields' values as they are, in their order, copied at once (a scan stores every
    # finding of the hosts it judges); nothing sets any other attribute on a finding.
    data = vars(finding).copy()
    assert len(data) == len(_FINDING_FIELDS)
    for name in _FINDING_TIMES:
        at = data[name]
        if at is not None:
            data[name] = at.isoformat()
    data["zone"] = _zone_name(finding.last_at.tzinfo)
    data["jobs"] = [_finding_json(job) for job in finding.jobs]
    return data


def _finding(data: dict[str, Any]) -> Finding:
    zone = data.pop("zone")
    for name in _FINDING_TIMES:
        data[name] = _in_zone(from_iso(data[name]), zone)
    return Finding(**data | {"jobs": [_finding(job) for job in data["jobs"]]})


_FINDING_TIMES = ("first_at", "last_at", "streak_since")
# Once: dataclasses.fields() costs more than copying a finding's values (a scan stores thousands).
_FINDING_FIELDS = tuple(field.name for field in fields(Finding))


def _in_zone(at: datetime | None, zone: str | None) -> datetime | None:
    """A finding's stored time in its job's zone, by name; without one it keeps its offset."""
    return at.astimezone(ZoneInfo(zone)) if at is not None and zone else at


def _zone_name(zone: tzinfo | None) -> str | None:
    """An IANA zone's key, so a stored time reads in its zone again (with its name and DST)."""
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) else None


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        route=row["route"],
        shown=row["shown"],
        incident_id=row["incident_id"],
        episode=_moment(row["episode"]),
        event=row["event"],
        severity=row["severity"],
        state=row["state"],
        attempts=row["attempts"],
        decided_at=_moment(row["decided_at"]),
        sent_at=from_iso(row["sent_at"]),
        next_attempt_at=from_iso(row["next_attempt_at"]),
        error=row["error"],
    )


def _host_facts(host: Host, rows: list[dict[str, Any]]) -> HostFacts:
    if not rows:
        zone, _ = resolve_zone(host.timezone or "", "")
        return HostFacts(
            name=host.name, status="error", error="never scanned", zone=zone, tags=host.tags
        )
    row = rows[0]
    zone, _ = resolve_zone(host.timezone or row["zone"] or "", "")
    return HostFacts(
        name=host.name,
        status=row["status"],
        error=row["error"],
        zone=zone,
        tags=host.tags,
        cron_running=_flag(row["cron_running"]),
        clock_skew=timedelta(seconds=row["clock_skew_s"] or 0),
        coverage_start=from_iso(row["coverage_start"]),
        ok_at=from_iso(row["ok_at"]),
        scanned_at=from_iso(row["scanned_at"]),
        logs_readable=row["ok_at"] is None or bool(row["logs"]),
        crontab_problems=tuple(
            (r["problem_source"], r["problem_line"], r["problem"])
            for r in rows
            if r["problem"] is not None
        ),
        ends_logged=_flag(row["ends_logged"]),
        failures_logged=_flag(row["failures_logged"]),
        cron_family=row["cron_family"],
        booted_at=from_iso(row["booted_at"]),
        cron_started_at=from_iso(row["cron_started_at"]),
        no_mta_at=from_iso(row["no_mta_at"]),
        daemon_lines=_daemon_lines(host.name, row["daemon_lines"]),
    )


def _job_entry(row: Sequence[Any]) -> JobEntry:
    """An entry from a row of _ENTRIES' columns."""
    (
        id_,
        host,
        user,
        source,
        schedule,
        command,
        disabled,
        paused,
        env,
        first_seen,
        crontab_mtime,
        log_off,
        line,
        text,
        present,
    ) = row
    cron_tz, mailto = _env_settings(env)
    values = [id_, host, user, source, schedule, command, bool(disabled), _pause(paused), cron_tz]
    values += [_moment(first_seen), from_iso(crontab_mtime), bool(log_off), line, text or ""]
    return record(JobEntry, [*values, bool(present), mailto])


@lru_cache(maxsize=256)  # the entries of one crontab share its environment's text
def _env_settings(env: str | None) -> tuple[str | None, str | None]:
    """The CRON_TZ and MAILTO an entry's stored environment sets (None: not set)."""
    settings = json.loads(env or "{}")
    return settings.get("CRON_TZ"), settings.get("MAILTO")


def _pause(stored: str | None) -> PauseInfo | None:
    """An entries row's `paused` column (JSON, times in ISO) as the marker it was read from."""
    if stored is None:
        return None
    pause = json.loads(stored)
    return PauseInfo(
        by=pause["by"],
        at=from_iso(pause["at"]),
        reason=pause["reason"],
        until=from_iso(pause["until"]),
    )


def _run(row: Sequence[Any]) -> RunRecord:
    """A run from a row of _RUN_RECORD's columns (and any after them)."""
    entry_id, host, started, ended, status, signal, trigger, output, size, output_from = row[:10]
    if type(output) is bytes:  # what a host printed may not be UTF-8 (_stored)
        output = _read_value(output)
    ended_at = _moment(ended) if ended is not None else None
    return RunRecord(
        entry_id,
        host,
        _moment(started),
        ended_at,
        status,
        signal,
        trigger,
        output,
        size,
        output_from,
    )


def scanned_run_records(rows: Iterable[Sequence[Any]]) -> list[RunRecord]:
    """The runs a scan's rows (SCANNED_RUN_COLUMNS order, as write_scanned_runs takes them)
    store, as History.runs reads them back (_run) and in the order it does (RUN_IDENTITY's,
    which breaks a judge's ties between runs started the same second): for a host whose every
    stored run these rows are, the judge is handed them instead of reading them again (~2 µs
    a run of a first scan). Rows of text SQLite takes as it is: ASCII (_stored)."""
    return [
        RunRecord(
            entry_id, host, _moment(started), None if ended is None else _moment(ended), *result
        )
        for host, entry_id, _, _, started, ended, *result in map(
            _SCANNED_RECORD, sorted(rows, key=_scanned_identity)
        )
    ]


def _scanned_identity(row: Sequence[Any]) -> tuple:
    """A scanned row's place in RUN_IDENTITY's order (within its host)."""
    started, pid, user, command = _SCANNED_IDENTITY(row)
    return started, -1 if pid is None else pid, user or "", command or ""


_SCANNED_AT = {column: index for index, column in enumerate(SCANNED_RUN_COLUMNS)}
_SCANNED_IDENTITY = operator.itemgetter(
    *map(_SCANNED_AT.get, ("started_at", "pid", "user", "command"))
)
# host, entry_id, user, command, started_at, ended_at, status, signal: what a RunRecord takes.
_SCANNED_RECORD = operator.itemgetter(
    *map(
        _SCANNED_AT.get,
        ("host", "entry_id", "user", "command", "started_at", "ended_at", "status", "signal"),
    )
)


# A stored time the schema requires; not wrapped in a function of ours, for a judge reads two
# for each of a month of runs.
_moment = datetime.fromisoformat


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _marks(items: Sequence[Any]) -> str:
    """The placeholders of an `in (...)` list; `null` for none, which matches nothing."""
    return ", ".join("?" for _ in items) or "null"


# Writes go straight to SQLite: sqlite-utils' insert and upsert look the table up in
# sqlite_master and PRAGMA table_info on every call, about fifty queries per host per scan.
#
# Text from a host is bytes in no promised encoding, read with surrogateescape (a crontab in
# Latin-1, a line of binary garbage). SQLite takes only UTF-8 text, so a str that is not valid
# UTF-8 is stored as a BLOB of its original bytes, and every BLOB read back is that str again:
# the same value is always stored the same way, so `where command = ?` still finds it.


def _crontab(row: dict[str, Any], seen_at: str | None) -> StoredCrontab:
    values = (row["host"], row["path"], row["kind"], row["owner"], row["text"])
    return record(StoredCrontab, (*values, from_iso(seen_at), from_iso(row["mtime"])))


def _sha256(text: str) -> str:
    """A crontab's checksum, of its bytes as the host has them."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _write_crontab(
    db: sqlite3.Connection, row: dict[str, Any], sha: str, previous: str | None, seen_at: str
) -> bool:
    """A crontab as read, its stored checksum (`previous`, None: new) known: True when its text
    changed (a new version), else only its file's facts and read time are written."""
    key = [row["host"], row["path"]]
    if previous == sha:
        facts = {k: v for k, v in row.items() if k not in ("host", "path", "text")}
        facts["read_at"] = seen_at
        db.execute(
            f"update crontabs set {', '.join(f'{c} = ?' for c in facts)} "
            "where host = ? and path = ?",
            _stored([*facts.values(), *key]),
        )
        return False
    _upsert(db, "crontabs", [{**row, "sha256": sha, "read_at": seen_at}], ("host", "path"))
    _insert(db, "crontab_versions", [_version(row, sha, seen_at)])
    return True


def _version(row: dict[str, Any], sha: str | None, seen_at: str) -> dict[str, Any]:
    """A crontab_versions row for a crontabs row; without a sha256 (and text), the file is gone."""
    return {
        "host": row["host"],
        "path": row["path"],
        "sha256": sha,
        "text": row["text"] if sha else None,
        "seen_at": seen_at,
        "mtime": row["mtime"] if sha else None,
        "kind": row["kind"],
        "owner": row["owner"],
    }


def _write_run_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]], scanned: bool) -> int:
    """Write rows of runs (see write_run_rows, write_scanned_runs); how many are new.

    Inside the write transaction, a new row's rowid is past every rowid there was (SQLite
    takes the largest plus one), so no id need be looked up to count the new ones."""
    if not rows:  # a rescan's usual case: not even the counting queries
        return 0
    last = db.execute("select max(rowid) from runs").fetchone()[0] or 0
    per_statement = SCANNED_RUNS_PER_STATEMENT if scanned else RUNS_PER_STATEMENT
    for start in range(0, len(rows), per_statement):
        some = rows[start : start + per_statement]
        values = list(chain.from_iterable(some))
        # Nearly always text SQLite takes as it is; a value it refuses stops the statement
        # before any row is written, and the rows go again with their host bytes as BLOBs.
        try:
            db.execute(_upsert_runs(len(some), scanned), values)
        except UnicodeEncodeError:
            db.execute(_upsert_runs(len(some), scanned), _stored(values))
    return db.execute("select count(*) from runs where rowid > ?", [last]).fetchone()[0]


def _stored(values: Iterable[Any]) -> list[Any]:
    """The values as SQLite can take them: a str that UTF-8 cannot encode becomes its bytes.
    ASCII text, nearly every value, is passed over without a call."""
    return [
        value if type(value) is not str or value.isascii() else _stored_value(value)
        for value in values
    ]


def _as_stored(values: tuple) -> Iterator[tuple]:
    """The values, then (only if asked on) as SQLite can take them: a compared row whose
    text is all UTF-8 (nearly every one) is matched without a call a value."""
    yield values
    yield tuple(_stored(values))


def _stored_value(value: Any) -> Any:
    if type(value) is str and not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape")
    return value


def _read_value(value: Any) -> Any:
    return value.decode("utf-8", "surrogateescape") if type(value) is bytes else value


def _insert(
    db: sqlite3.Connection, table: str, rows: list[dict[str, Any]], verb: str = "insert"
) -> None:
    if rows:
        columns = list(rows[0])
        db.executemany(
            f"{verb} into {table} ({', '.join(columns)}) "
            f"values ({', '.join('?' for _ in columns)})",
            [_stored(row[c] for c in columns) for row in rows],
        )


def _upsert(
    db: sqlite3.Connection, table: str, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> None:
    """Insert, or update the given columns of the row with the same key (others are kept)."""
    if rows:
        columns = list(rows[0])
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        db.executemany(
            f"insert into {table} ({', '.join(columns)}) "
            f"values ({', '.join('?' for _ in columns)}) "
            f"on conflict ({', '.join(key)}) do update set {updates}",
            [_stored(row[c] for c in columns) for row in rows],
        )


def _dicts(db: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, _stored(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in _read_rows(cursor)]


def _tuples(db: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows as tuples, in the order of the columns selected (_dicts, without the names)."""
    return _read_rows(db.execute(sql, _stored(params)))


def _read_rows(cursor: sqlite3.Cursor) -> list[tuple[Any, ...]]:
    rows = cursor.fetchall()
    # One pass over every value in C finds whether any BLOB came back (almost never).
    if bytes in map(type, chain.from_iterable(rows)):
        rows = [tuple(map(_read_value, row)) for row in rows]
    return rows


# -- the schema, step by step -----------------------------------------------------------------
# Each step takes a history from the version before it to its own; a new history runs them all,
# so a new and an upgraded history cannot differ. A released step is never edited: a change is a
# new step (sqlite-utils' add_column and transform), and tests/schemas/ keeps each version's
# schema as released, which the tests upgrade from.


def _create_tables(db: Database) -> None:
    db.table("hosts").create(
        {
            "name": str,
            "address": str,
            "status": str,
            "error": str,
            "latency_ms": float,
            "hostname": str,
            "zone": str,
            "clock_skew_s": float,
            "cron_running": int,
            "scanned_at": str,
            "ok_at": str,
            "coverage_start": str,
            "logs": str,
            "log_level": int,
            "ends_logged": int,
            "failures_logged": int,
        },
        pk="name",
    )
    db.table("scans").create(
        {
            "id": int,
            "host": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "error": str,
            "entries": int,
            "new_runs": int,
            "log_lines": int,
            "garbage_lines": int,
        },
        pk="id",
    )
    db.table("crontabs").create(
        {
            "host": str,
            "path": str,
            "kind": str,
            "owner": str,
            "mtime": str,
            "sha256": str,
            "text": str,
            "read_at": str,
        },
        pk=("host", "path"),
    )
    db.table("crontab_versions").create(
        {"id": int, "host": str, "path": str, "sha256": str, "text": str, "seen_at": str}, pk="id"
    )
    db.table("entries").create(
        {
            "id": str,
            "host": str,
            "source": str,
            "user": str,
            "schedule": str,
            "command": str,
            "env": str,
            "line": int,
            "text": str,
            "disabled": int,
            "paused": str,
            "log_off": int,
            "first_seen": str,
            "last_seen": str,
            "present": int,
        },
        pk="id",
    )
    db.table("entry_versions").create(
        {
            "id": int,
            "entry_id": str,
            "seen_at": str,
            "schedule": str,
            "command": str,
            "line": int,
            "text": str,
            "disabled": int,
            "paused": str,
        },
        pk="id",
    )
    db.table("crontab_problems").create(
        {"host": str, "source": str, "line": int, "text": str, "message": str}
    )
    db.table("runs").create(
        {
            "id": str,  # a hash of the run's identity, until step 12
            "host": str,
            "entry_id": str,
            "user": str,
            "command": str,
            "started_at": str,
            "ended_at": str,
            "status": int,
            "signal": int,
            "pid": int,
            "source": str,
            "dialect": str,
            "trigger": str,
            "output_tail": str,
        },
        pk="id",
    )
    db.table("log_cursors").create(
        {
            "host": str,
            "path": str,
            "inode": int,
            "offset": int,
            "head_len": int,
            "head_hash": str,
            "journal_cursor": str,
        },
        pk=("host", "path"),
    )
    db.table("processes").create(
        {
            "host": str,
            "pid": int,
            "user": str,
            "started_at": str,
            "command": str,
            "entry_id": str,
            "seen_at": str,
        }
    )
    db.table("entries").create_index(["host"])
    db.table("runs").create_index(["host", "started_at"])
    db.table("runs").create_index(["entry_id", "started_at"])
    db.table("crontab_versions").create_index(["host", "path"])
    db.table("entry_versions").create_index(["entry_id"])
    db.table("scans").create_index(["host", "started_at"])


def _add_audit_trail(db: Database) -> None:
    db.table("actions").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "host": str,
            "entry_id": str,
            "new_entry_id": str,
            "action": str,
            "path": str,
            "line": int,
            "before": str,  # the entry's line before and after (the command, for a rerun)
            "after": str,
            "crontab_before": str,  # the whole crontab file, for undo
            "crontab_after": str,
            "result": str,  # ok, refused, failed
            "detail": str,
        },
        pk="id",
    )
    db.table("actions").create_index(["entry_id"])


def _add_action_login(db: Database) -> None:
    # The login cronops used on the host (the actor is the local user who ran cronops).
    db.table("actions").add_column("login", str)


def _add_crontab_history(db: Database) -> None:
    # What a timeline of changes needs: when the host wrote each version, what kind of file it
    # was (a removed file has no crontabs row left to say), and who ran `crontab` on the host.
    versions = db.table("crontab_versions")
    versions.add_column("mtime", str)
    versions.add_column("kind", str)
    versions.add_column("owner", str)
    for column in ("kind", "owner"):
        db.execute(
            f"update crontab_versions set {column} = (select c.{column} from crontabs c "
            "where c.host = crontab_versions.host and c.path = crontab_versions.path)"
        )
    db.table("crontab_edits").create(
        {
            "id": int,
            "host": str,
            "at": str,
            "pid": int,
            "actor": str,  # who ran `crontab`
            "user": str,  # whose crontab it changed
            "action": str,  # REPLACE, DELETE, BEGIN EDIT or END EDIT, as logged
        },
        pk="id",
    )
    db.table("crontab_edits").create_index(
        ["host", "at", "pid", "action", "user", "actor"], unique=True
    )


def _add_log_cursor_checks(db: Database) -> None:
    """A log cursor keeps the checksum of the bytes just before its offset (a log rewritten in place
    with the same inode, size and first bytes is noticed), and where a first read stopped in the
    log's rotated files (a big first read goes on over several scans)."""
    cursors = db.table("log_cursors")
    cursors.add_column("tail_len", int)
    cursors.add_column("tail_hash", str)
    cursors.add_column("archive_mtime", int)


def _add_cron_family(db: Database) -> None:
    # Until now the family was guessed from the host's latest run: start from that guess.
    db.table("hosts").add_column("cron_family", str)
    db.execute(
        "update hosts set cron_family = (select dialect from runs where runs.host = hosts.name "
        "and dialect != '' order by started_at desc limit 1)"
    )


def _add_run_days(db: Database) -> None:
    """Runs older than the retention are folded into one row per entry and UTC day, then
    deleted; a run still needed stays, marked folded so that no count takes it twice."""
    db.table("run_days").create(
        {
            "host": str,
            "day": str,  # UTC, YYYY-MM-DD
            "entry_id": str,  # '' for runs of no entry
            "runs": int,
            "ok": int,
            "failed": int,
            "killed": int,
            "unknown": int,
            "manual": int,
            "p50_s": float,
            "p95_s": float,
            "max_s": float,
        },
        pk=("host", "day", "entry_id"),
    )
    db.table("run_days").create_index(["entry_id", "day"])
    db.table("runs").add_column("folded", int)
    # Only the few runs kept past the retention are in it: it costs a run's insert nothing.
    db.execute("create index idx_runs_kept on runs (host) where folded = 1")


def _add_incidents(db: Database) -> None:
    """Stored findings: one row per identity (host, entry or none for the host's own, kind),
    its lifecycle (open, acknowledged, resolved) and the judge's latest finding (JSON)."""
    db.table("incidents").create(
        {
            "id": int,
            "host": str,
            "entry_id": str,
            "kind": str,
            "severity": str,
            "state": str,
            "first_seen": str,
            "opened_at": str,
            "last_seen": str,
            "count": int,
            "streak": int,
            "streak_since": str,
            "summary": str,
            "detail": str,
            "evidence": str,
            "runbook": str,
            "jobs": str,  # JSON: the entry ids under a host's incident
            "resolved_at": str,
            "resolved_why": str,
            "ack_by": str,
            "ack_at": str,
            "ack_note": str,
            "ack_until": str,
            "finding": str,  # JSON: the judge's finding, with its jobs' findings under it
        },
        pk="id",
    )
    # One row per identity; a host's own incidents have no entry (NULLs are never equal).
    db.execute(
        "create unique index incidents_identity on incidents (host, ifnull(entry_id, ''), kind)"
    )
    db.table("incidents").create_index(["state"])


def _add_deliveries(db: Database) -> None:
    # What `cronops watch` told each route about each incident's transitions: the intent is
    # written before a message goes out and its result after, so a watch killed at any moment
    # neither tells a transition twice (its key is unique) nor forgets one (it is still pending).
    db.table("deliveries").create(
        {
            "id": int,
            "route": str,
            "shown": str,
            "incident_id": int,
            "episode": str,
            "event": str,
            "severity": str,
            "state": str,
            "attempts": int,
            "decided_at": str,
            "sent_at": str,
            "next_attempt_at": str,
            "error": str,
        },
        pk="id",
        not_null={"route", "incident_id", "episode", "event", "state", "attempts", "decided_at"},
    )
    db.table("deliveries").create_index(["route", "incident_id", "episode", "event"], unique=True)
    db.table("deliveries").create_index(["state"])


def _add_daemon_lines(db: Database) -> None:
    """What says why a run did not happen: the host's boot, the cron daemon's start, and the
    daemon's own log lines (STARTUP, RELOAD, a crontab rejected, an orphan, a PAM failure...);
    and whether the commands its entries start are on cron's PATH there."""
    hosts = db.table("hosts")
    hosts.add_column("booted_at", str)
    hosts.add_column("cron_started_at", str)
    hosts.add_column("no_mta_at", str)  # the latest "No MTA installed, discarding output"
    db.table("daemon_lines").create(
        {"id": int, "host": str, "at": str, "user": str, "keyword": str, "detail": str}, pk="id"
    )
    db.table("daemon_lines").create_index(["host", "at", "keyword", "user", "detail"], unique=True)
    # A cursor can be a local mailbox's (the mail cron sent with jobs' output), not a log's.
    db.table("log_cursors").add_column("mailbox", int)
    # Whether each command the host's entries start is on cron's PATH, as its last scan found.
    db.table("command_lookups").create(
        {"host": str, "path": str, "command": str, "found": int, "checked_at": str},
        pk=("host", "path", "command"),
    )


def _add_output_size(db: Database) -> None:
    """How much a run printed, not only its tail (a run that printed far less than usual did
    less than usual), and where its output was read: the mail cron sent, or cron's log. And
    each host's tags as its last scan had them: drift compares a host with the whole fleet's
    crontabs, hosts judged in other groups or scans among them."""
    runs = db.table("runs")
    runs.add_column("output_size", int)  # bytes; None: not known (no output seen, or cut)
    runs.add_column("output_from", str)  # "mail" | "log"; a rerun's is its own capture
    db.table("hosts").add_column("tags", str)  # JSON: the inventory's tags at the last scan


def _integer_run_ids(db: Database) -> None:
    """Runs keyed by an integer in the order they were stored, not a hash of their identity:
    a hash put each new run (and each deleted one) at a random place in its index, so a scan's
    inserts and a pruning's deletes touched pages all over the history. The identity becomes a
    unique index on the run's columns, in (host, start) order, which also serves the reads that
    the (host, started_at) index served. Times are cut to the second (run_time): the same run
    read from the journal and from a file, stored twice before, is merged into one row."""
    # Spelt out, as this step was released: RUN_COLUMNS and RUN_IDENTITY may change later.
    identity = "host, started_at, ifnull(pid, -1), ifnull(user, ''), ifnull(command, '')"
    db.execute(
        """
        create table runs_new (id integer primary key, host text, entry_id text, user text,
            command text, started_at text, ended_at text, status integer, signal integer,
            pid integer, source text, dialect text, trigger text, output_tail text,
            folded integer, output_size integer, output_from text)
        """
    )
    db.execute(f"create unique index runs_identity on runs_new ({identity})")
    second = "iif({0} glob '????-??-??T??:??:??.??????Z', substr({0}, 1, 19) || '.000000Z', {0})"
    db.execute(
        f"""
        insert into runs_new (host, entry_id, user, command, started_at, ended_at, status,
            signal, pid, source, dialect, trigger, output_tail, folded, output_size, output_from)
        select host, entry_id, user, command, {second.format("started_at")},
            {second.format("ended_at")}, status, signal, pid, source, dialect, trigger,
            output_tail, folded, output_size, output_from
        from runs where true order by host, started_at, rowid
        on conflict ({identity}) do update set
            ended_at = coalesce(ended_at, excluded.ended_at),
            status = coalesce(status, excluded.status),
            signal = coalesce(signal, excluded.signal),
            entry_id = coalesce(entry_id, excluded.entry_id),
            output_tail = coalesce(output_tail, excluded.output_tail),
            folded = coalesce(folded, excluded.folded),
            output_size = coalesce(output_size, excluded.output_size),
            output_from = coalesce(output_from, excluded.output_from)
        """
    )
    db.execute("drop table runs")
    db.execute("alter table runs_new rename to runs")
    db.table("runs").create_index(["entry_id", "started_at"])
    db.execute("create index idx_runs_kept on runs (host) where folded = 1")


def _add_judgements(db: Database) -> None:
    """What each host's last judgement by a scan read (a fingerprint) and when it is due again,
    and what its drift was judged on: a rescan that stored nothing new judges only the hosts
    that time or a change can have given other verdicts (due.py)."""
    db.table("judgements").create(
        {
            "host": str,
            "inputs": str,  # due.fingerprint of what the judge read besides runs
            "due_at": str,  # judged again once the clock reaches it...
            "due_start": str,  # ...or a scan's window starts after it
            "crontabs": str,  # due.crontabs_print: what drift compares of the host...
            "read_at": str,  # ...as the judgement of this scan read it
            "policy": str,  # due.policies_print of the host's resolved policies
            "drift": str,  # the fleet's crontabs print and the host's policy its drift read
            "drift_due": str,
        },
        pk="host",
    )


def _index_open_runs(db: Database) -> None:
    """The runs a scan may still complete, marked and indexed: finding them read each of a
    host's runs in the window (~10% of storing a rescan that found nothing new). The mark is
    what open_runs read before, less the runs of hosts known to log neither ends nor failures:
    nothing will complete those, and marking them would make every run there pay the index."""
    db.table("runs").add_column("still_open", int)
    db.execute(
        """
        update runs set still_open = 1
        where ended_at is null and dialect in ('debian', 'cronie') and trigger = 'cron'
            and host not in (select name from hosts where ends_logged = 0 and failures_logged = 0)
        """
    )
    # Only the marked runs are in it: the usual run, stored with its end, costs it nothing.
    db.execute("create index runs_open on runs (host, started_at) where still_open = 1")


def _index_host_reads(db: Database) -> None:
    """What a scan reads of each host it judges, through indexes that find it, not by walking
    what grows with the history or the fleet: the cron daemon's lines that can say why a run
    did not happen, among all it logged (one a run with output on a host without an MTA: 7 ms
    a host a scan after two weeks of a job a minute); cronops' own actions on its crontabs,
    among the whole audit trail; its crontab problems, among the fleet's (read, and deleted
    to be written again, for each host of each scan)."""
    db.execute("create index daemon_lines_kind on daemon_lines (host, keyword, at, user, detail)")
    db.execute("create index actions_host on actions (host, at)")
    db.execute("create index crontab_problems_host on crontab_problems (host)")


def _add_entry_judgements(db: Database) -> None:
    """When each entry is to be judged again though its scan stored nothing new for it: a
    rescan of a working host judges the few entries whose verdicts can have changed, not all
    (its every-minute jobs have new runs each scan, its daily ones nothing)."""
    db.table("entry_judgements").create(
        {
            "host": str,
            "entry_id": str,
            "due_at": str,  # judged again once the clock reaches it...
            "due_start": str,  # ...or a scan's window starts after it
        },
        pk=("host", "entry_id"),
    )


MIGRATIONS: dict[int, Callable[[Database], None]] = {
    1: _create_tables,
    2: _add_audit_trail,
    3: _add_action_login,
    4: _add_crontab_history,
    5: _add_log_cursor_checks,
    6: _add_cron_family,
    7: _add_run_days,
    8: _add_incidents,
    9: _add_deliveries,
    10: _add_daemon_lines,
    11: _add_output_size,
    12: _integer_run_ids,
    13: _add_judgements,
    14: _index_open_runs,
    15: _index_host_reads,
    16: _add_entry_judgements,
}
SCHEMA_VERSION = max(MIGRATIONS)
