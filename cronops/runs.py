"""Runs from cron log events: pair starts with their end and failure lines; say what the log knows.

Pure functions: events in, runs out. The rules, from the cron sources (Debian cron 3.0pl1, cronie):

Pairing
- Every start carries the job's pid: Debian's CMD comes from the job's own process, or with -L 8
  from its parent as "[jobpid] command"; cronie's CMD from the job's process; busybox prints it.
- Lines that name the job pid pair by it: Debian's failure line ("grandchild #jobpid ...") and
  END with "[jobpid]" (-L 8). The parent writes the failure line, then MAIL, then END; the other
  order is handled too, within a read.
- Ends that do not (cronie's CMDEND, Debian's END below -L 8) come from the job's parent process,
  which forks the job right after it starts: they pair with the open run of the same user and
  command whose job pid is the nearest above the logging pid (exactly, once a run's parent pid is
  known), else the oldest one. cronie's CMDOUT lines come from the parent too and pair the same
  way by user alone; without such a run they are dropped.
- A start whose pid is reused while its run is open ends that run as `end_missing`.
- An end or a failure with no open run becomes a run with no start (`started_at` None).

What the log can tell, per dialect (the caller's ends_logged / failures_logged, else inferred)
- Ends are logged (Debian -L 2, cronie >= 1.5.6) when an end line is among the events or an open
  run says so. Only then does a run stay open waiting for its end and count as "running"; under
  Debian's default -L 1 and with busybox, every run is returned closed, outcome "unknown".
- Failures are logged (Debian -L 4 only; cronie and busybox never log an exit status) when a
  failure line is among the events or an open run says so. The log level cannot be read from the
  log: a -L 15 host whose jobs never fail looks like -L 3, so without that evidence or the caller's
  word an ended run stays "unknown" rather than "ok".

Outcome: "killed" (a signal line), "failed" (a non-zero exit status line), "ok" (start and END
read, failures logged, no failure line: exit status 0), "running" (started, no end yet, ends
logged), else "unknown" (the log cannot know). Runs never pair across hosts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter

from cronops.logs.events import LogEvent

OUTPUT_LINES_KEPT = 200  # cronie's CMDOUT: the last lines of a run's output are kept
_FAILURES = ("failed", "signal")
# The families whose runs a later line can complete (no family logs failures and not ends).
CAN_LOG_ENDS = frozenset({"debian", "cronie"})
_CAN_LOG_FAILURES = frozenset({"debian"})


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    KILLED = "killed"
    RUNNING = "running"
    UNKNOWN = "unknown"


@dataclass(slots=True)  # a scan builds one per run seen: slots make that quicker
class Run:
    user: str | None
    command: str | None
    started_at: datetime | None
    ended_at: datetime | None = None
    status: int | None = None  # exit status, when the log says so (0 only when it would have told)
    signal: int | None = None
    pid: int | None = None  # the job's pid
    source: str = ""  # "debian", "cronie", "busybox" or "journald"
    dialect: str = ""  # the cron family that wrote the lines
    host: str = ""
    core_dumped: bool = False
    process_pid: int | None = None  # the job's parent (middle) cron process, once known
    output: tuple[str, ...] = ()  # cronie CMDOUT lines, the last ones kept; no list per run
    ends_logged: bool = False  # this log writes an end line for every run
    failures_logged: bool = False  # this log writes a line for every failed or killed run
    end_missing: bool = False  # an end was due and never came (the job pid was reused)

    @property
    def outcome(self) -> Outcome:
        if self.signal is not None:
            return Outcome.KILLED
        if self.status:
            return Outcome.FAILED
        if self.ended_at is not None:
            return Outcome.OK if self.status == 0 else Outcome.UNKNOWN
        if self.started_at is not None and self.ends_logged and not self.end_missing:
            return Outcome.RUNNING
        return Outcome.UNKNOWN

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


def pair_events(
    events: Iterable[LogEvent],
    open_runs: Iterable[Run] = (),
    *,
    ends_logged: bool | None = None,
    failures_logged: bool | None = None,
) -> tuple[list[Run], list[Run]]:
    """Events in log order (plus the runs still open from earlier reads) -> (new or updated runs,
    runs still open).

    ends_logged / failures_logged: what the caller knows of the host's cron (e.g. `cron -L 15`
    seen in its command line); None means infer from the events, see the module docstring.
    Open runs passed in are updated in place and returned again when a line touched them."""
    events = list(events)
    open_runs = list(open_runs)
    seen = set(map(_dialect_and_kind, events))  # the lines each dialect shows
    pairing = _Pairing(
        open_runs,
        ends=_capable(CAN_LOG_ENDS, ends_logged, seen, ("end",), open_runs, "ends_logged"),
        failures=_capable(
            _CAN_LOG_FAILURES, failures_logged, seen, _FAILURES, open_runs, "failures_logged"
        ),
        outputs=frozenset(dialect for dialect, kind in seen if kind == "output"),
    )
    # A scan pairs tens of thousands of lines a host: each kind's handler is looked up once
    # here (the other kinds say nothing about a run), not through a dispatching method a line.
    handler_of = {
        "start": pairing.start,
        "end": pairing.end,
        "failed": pairing.failure,
        "signal": pairing.failure,
        "output": pairing.output,
    }.get
    for event in events:
        handle = handler_of(event.kind)
        if handle is not None:
            handle(event)
    return pairing.result()


_dialect_and_kind = attrgetter("dialect", "kind")


def _capable(
    able: frozenset[str],
    told: bool | None,
    seen: set[tuple[str, str]],
    kinds: tuple[str, ...],
    open_runs: list[Run],
    flag: str,
) -> frozenset[str]:
    """The dialects whose log shows these lines: as told by the caller, or as seen."""
    if told is not None:
        return able if told else frozenset()
    showing = {dialect for dialect, kind in seen if kind in kinds}
    showing |= {run.dialect for run in open_runs if getattr(run, flag)}
    return able & showing


class _Pairing:
    def __init__(
        self,
        open_runs: list[Run],
        ends: frozenset[str],
        failures: frozenset[str],
        outputs: frozenset[str],
    ):
        self._ends = ends
        self._failures = failures
        self._later_lines = ends | failures | outputs  # dialects whose runs get more lines
        self._open: dict[int, Run] = {id(run): run for run in open_runs}
        self._by_pid: dict[tuple[str, str, int], Run] = {  # by host, dialect and job pid
            (run.host, run.dialect, run.pid): run for run in open_runs if run.pid is not None
        }
        self._ended: dict[tuple[str, str, int], Run] = {}  # this read's ended runs, by job pid
        self._touched: dict[int, Run] = {}  # insertion order: the order the runs were touched

    def result(self) -> tuple[list[Run], list[Run]]:
        touched = list(self._touched.values())
        for run in touched:
            # An END and no failure line, in a log that would have shown one: exit status 0.
            if (
                run.failures_logged
                and run.started_at is not None
                and run.ended_at is not None
                and run.status is None
                and run.signal is None
            ):
                run.status = 0
        still_open = [run for run in self._open.values() if run.ends_logged]
        return touched, still_open

    def start(self, event: LogEvent) -> None:
        pid = event.pid
        run = self._new_run(event, event.at, pid)
        if pid is None:
            return  # nothing can be paired with it
        if pid != event.process_pid:  # logged by the job's parent (Debian -L 8)
            run.process_pid = event.process_pid
        if event.dialect not in self._later_lines:
            return  # nothing more will be logged about this run
        key = (event.host, event.dialect, pid)
        earlier = self._by_pid.get(key)
        if earlier is not None:  # the pid was reused, so that job has ended unseen
            earlier.end_missing = True
            self._close(earlier)
            self._touch(earlier)
        self._open[id(run)] = run
        self._by_pid[key] = run

    def end(self, event: LogEvent) -> None:
        jobpid = event.pid
        if jobpid is not None and jobpid != event.process_pid:  # the line names the job pid
            key = (event.host, event.dialect, jobpid)
            run = self._by_pid.get(key)
        else:
            jobpid = key = None
            run = _nearest_child(self._candidates(event, same_command=True), event.process_pid)
        if run is None:
            run = self._headless(event, jobpid)
        run.ended_at = event.at
        if run.process_pid is None and event.process_pid != run.pid:
            run.process_pid = event.process_pid
        self._close(run, key)
        if id(run) not in self._touched:  # most ends are of runs this read started
            self._touch(run)

    def failure(self, event: LogEvent) -> None:
        key = (event.host, event.dialect, event.pid or 0)
        run = self._by_pid.get(key) or self._ended.get(key)
        if run is None:
            run = self._headless(event, event.pid)
            if run.ends_logged:  # its END follows: let it find this run
                self._open[id(run)] = run
                self._by_pid[key] = run
        run.status = event.status
        run.signal = event.signal
        run.core_dumped = event.core_dumped
        if run.process_pid is None:
            run.process_pid = event.process_pid  # the job's parent writes the failure line
        if run.ended_at is None:
            run.ended_at = event.at  # the END line, when it comes, is the later word
        if not run.ends_logged:
            self._close(run)
        self._touch(run)

    def output(self, event: LogEvent) -> None:
        candidates = self._candidates(event, same_command=False)
        run = _nearest_child(candidates, event.process_pid, oldest_otherwise=False)
        if run is None:
            return
        run.process_pid = event.process_pid
        run.output = (*run.output, event.detail)[-OUTPUT_LINES_KEPT:]
        self._touch(run)

    def _candidates(self, event: LogEvent, *, same_command: bool) -> list[Run]:
        return [
            run
            for run in self._open.values()
            if run.host == event.host
            and run.dialect == event.dialect
            and run.user == event.user
            and (not same_command or run.command == event.command)
        ]

    def _headless(self, event: LogEvent, jobpid: int | None) -> Run:
        """A run whose start is not in the log read (before the window, or rotated away)."""
        return self._new_run(event, None, jobpid)

    def _new_run(self, event: LogEvent, started_at: datetime | None, pid: int | None) -> Run:
        # Every field of Run set here, not through its __init__: the call with sixteen
        # parameters was half of what pairing a run cost (test_runs checks none is left out).
        run = _blank(Run)
        run.user = event.user
        run.command = event.command
        run.started_at = started_at
        run.ended_at = None
        run.status = None
        run.signal = None
        run.pid = pid
        run.source = event.source
        run.dialect = dialect = event.dialect
        run.host = event.host
        run.core_dumped = False
        run.process_pid = None
        run.output = ()
        run.ends_logged = dialect in self._ends
        run.failures_logged = dialect in self._failures
        run.end_missing = False
        self._touched[id(run)] = run  # every new run is returned
        return run

    def _close(self, run: Run, key: tuple[str, str, int] | None = None) -> None:
        """No line but a failure line naming its pid completes the run now. `key`: its
        (host, dialect, pid), when the caller has it already."""
        self._open.pop(id(run), None)
        if run.pid is not None:
            key = key or (run.host, run.dialect, run.pid)
            if self._by_pid.get(key) is run:
                del self._by_pid[key]
            self._ended[key] = run

    def _touch(self, run: Run) -> None:
        if id(run) not in self._touched:  # new runs are touched from the start
            # a run opened in an earlier read learns what this read shows about its log
            run.ends_logged = run.ends_logged or run.dialect in self._ends
            run.failures_logged = run.failures_logged or run.dialect in self._failures
            self._touched[id(run)] = run


_blank = object.__new__


def _nearest_child(
    candidates: list[Run], parent: int | None, *, oldest_otherwise: bool = True
) -> Run | None:
    """The run a line from process `parent` belongs to (see the module docstring)."""
    if parent is not None:
        for run in candidates:
            if run.process_pid == parent:
                return run
        candidates = [run for run in candidates if run.process_pid is None]
        children = [run for run in candidates if run.pid is not None and run.pid > parent]
        if children:
            return min(children, key=lambda run: run.pid or 0)
    if not oldest_otherwise or not candidates:
        return None
    return candidates[0]  # runs are kept in the order they opened
