"""The demo hosts' cron daemons, simulated: DemoCron runs a host's cron forward in jumps.

Each jump logs what Debian cron and rsyslog would have written, and redraws its process table.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from math import inf
from pathlib import Path
from signal import Signals
from typing import NamedTuple
from zoneinfo import ZoneInfo

from cronops.crontab import Crontab, Entry, cron_d_file_ignored, split_percent
from cronops.demo.catalog import DAY, OTHER_SECONDS, SCRIPT_PATH, SCRIPTS, SPOOL
from cronops.demo.tree import host_zone, level_options, parse_crontabs, set_mtime, write
from cronops.schedule import MONTH_NAMES, expected_runs
from cronops.transport.demo import HOSTS_DIR


@dataclass
class _Run:
    """One job run cron started (or will start, once its time comes)."""

    user: str
    command: str  # as cron runs and logs it
    start: float
    end: float | None  # None: it never ends (a hung job)
    status: int = 0
    signal: int | None = None
    parent: int = 0  # cron's own fork, which waits for the job and logs its end
    pid: int = 0  # the job: /bin/sh -c command


@dataclass
class _CronState:
    """What a demo host's cron daemon carries from one contact to the next."""

    tick: float  # everything up to here is logged
    level: int
    daemon_pid: int
    booted: float
    stopped: float | None  # the daemon was stopped then (None: it runs)
    next_pid: int
    plants: dict[str, dict]  # command as written -> planted behaviour (see world._planted)
    runs: list[_Run] = field(default_factory=list)  # started or due, not ended by `tick`


class DemoCron:
    """The demo hosts' cron daemons, run forward in jumps: each jump logs the runs due in it
    (starts, failures, ends, by the daemon's -L level) and redraws the host's process table."""

    def __init__(self, world: Path):
        self.world = world

    def start(
        self,
        name: str,
        at: datetime,
        *,
        level: int,
        plants: dict[str, dict],
        stopped: datetime | None,
    ) -> None:
        seed = random.Random(name)
        state = _CronState(
            tick=at.timestamp(),
            level=level,
            daemon_pid=seed.randrange(480, 900),
            booted=(at - timedelta(days=seed.randrange(20, 90))).timestamp(),
            stopped=stopped.timestamp() if stopped else None,
            next_pid=seed.randrange(2000, 30000),
            plants=plants,
        )
        self._save(name, state)

    def advance(self, name: str, when: datetime) -> None:
        """Run the host's cron up to `when`: log what happened since the last jump, and end the
        jobs `kill` signalled (at once: a pinned clock never jumps)."""
        state = self._load(name)
        if state is None:
            return  # not a demo host this world simulates
        tree = self._tree(name)
        killed = _take_kills(tree, state)
        high = when.timestamp()
        if high <= state.tick and not killed:
            return
        zone = host_zone(tree)
        lines = [line for run in killed for line in _end_lines(state.level, run)]
        if high > state.tick:
            low = state.tick
            # As cron rereads what changed: an action's pause or edit counts from this jump on.
            crontabs = _crontab_files(name, tree)
            runs = state.runs + self._due_runs(name, crontabs, zone, state, high)
            lines += _daemon_lines(crontabs, state, low, high) + _midnight_lines(zone, low, high)
            for run in runs:
                lines += _run_lines(state.level, run, low, high)
            state.runs = [run for run in runs if run.end is None or run.end > high]
            state.tick = high
        _append_log(tree, zone, lines)
        _write_processes(tree, state, state.tick)
        self._save(name, state)

    def rotate(self, name: str, at: datetime) -> None:
        """logrotate's weekly turn: syslog becomes syslog.1, rsyslog starts a new one."""
        tree = self._tree(name)
        log = tree / "var/log/syslog"
        log.rename(log.with_name("syslog.1"))
        set_mtime(log.with_name("syslog.1"), at)
        log.touch()
        hup = (
            'rsyslogd: [origin software="rsyslogd" swVersion="8.2302.0" x-pid="498" '
            'x-info="https://www.rsyslog.com"] rsyslogd was HUPed'
        )
        _append_log(tree, host_zone(tree), [(at.timestamp(), hup)])

    def _due_runs(
        self,
        name: str,
        crontabs: list[tuple[Crontab, float]],
        zone: ZoneInfo,
        state: _CronState,
        high: float,
    ) -> list[_Run]:
        until = high if state.stopped is None else min(high, state.stopped)
        if until <= state.tick:
            return []
        runs = []
        for tab, _ in crontabs:
            if tab.problems:
                continue  # Debian cron ignores a crontab with a line it rejects, whole
            for entry in tab.entries:
                if entry.disabled:
                    continue
                plant = state.plants.get(entry.command, {})
                job = _Job.of(name, entry)
                for due in expected_runs(entry.schedule, zone, _utc(state.tick), _utc(until)):
                    runs.append(_planned_run(job, due.timestamp(), plant))
        runs.sort(key=lambda run: (run.start, run.user, run.command))
        for run in runs:  # pids in the order cron forked them
            run.parent, run.pid = state.next_pid, state.next_pid + 1
            state.next_pid += 2 + int(run.start * 1000) % 29  # other processes came and went
        return runs

    def _tree(self, name: str) -> Path:
        return self.world / HOSTS_DIR / name

    def _path(self, name: str) -> Path:
        return self.world / "cron" / f"{name}.json"

    def _load(self, name: str) -> _CronState | None:
        try:
            data = json.loads(self._path(name).read_text())
        except FileNotFoundError:
            return None
        data["runs"] = [_Run(**run) for run in data["runs"]]
        return _CronState(**data)

    def _save(self, name: str, state: _CronState) -> None:
        write(self._path(name), json.dumps(asdict(state)))


def _crontab_files(name: str, tree: Path) -> list[tuple[Crontab, float]]:
    """Every crontab file cron reads, parsed, with its mtime."""
    paths = [tree / "etc/crontab"]
    paths += sorted(
        p
        for p in (tree / "etc/cron.d").glob("*")
        if p.is_file() and not cron_d_file_ignored(p.name)
    )
    paths += sorted(p for p in (tree / SPOOL.lstrip("/")).glob("*") if p.is_file())
    # tmp.XXXXXX in the spool is a `crontab -` still writing: cron skips it, as the probe cannot.
    files = {
        "/" + str(p.relative_to(tree)): p for p in paths if p.is_file() and p.name[:4] != "tmp."
    }
    crontabs = parse_crontabs(
        name, {path: p.read_bytes().decode("utf-8", "surrogateescape") for path, p in files.items()}
    )
    return [(tab, files[tab.source].stat().st_mtime) for tab in crontabs]


class _Job(NamedTuple):
    """An entry as the simulated cron needs it, worked out once for all of its runs."""

    host: str
    user: str
    command: str  # as written in the crontab
    as_run: str  # as cron runs and logs it
    usual_seconds: float

    @classmethod
    def of(cls, host: str, entry: Entry) -> _Job:
        scripts = [SCRIPTS[n] for n in SCRIPT_PATH.findall(entry.command) if n in SCRIPTS]
        seconds = sum(s.seconds for s in scripts) if scripts else OTHER_SECONDS
        return cls(host, entry.user, entry.command, split_percent(entry.command)[0], seconds)


def _planned_run(job: _Job, at: float, plant: dict) -> _Run:
    """The run cron starts for one due time: its own seeded jitter, or what was planted."""
    rng = random.Random(f"{job.host}|{job.user}|{job.command}|{int(at)}")
    special = plant.get("at", {}).get(str(int(at)), {})
    start = at + rng.uniform(0.05, 0.95) + special.get("delay", 0)
    seconds = special.get("seconds") or job.usual_seconds * rng.uniform(0.85, 1.15)
    failing = plant.get("fails_since") is not None and at >= plant["fails_since"]
    return _Run(
        user=job.user,
        command=job.as_run,
        start=start,
        end=None if special.get("hang") else start + seconds,
        status=plant["status"] if failing else 0,
        signal=special.get("signal"),
    )


Line = tuple[float, str]  # when, and what syslog writes after the timestamp and host name


def _run_lines(level: int, run: _Run, low: float, high: float) -> list[Line]:
    """What Debian cron logs of one run in (low, high], by its -L level: 1 starts, 2 ends,
    4 failures, 8 the job's pid (and then the fork, not the job, logs the start)."""
    lines = []
    if level & 1 and low < run.start <= high:
        logger = run.parent if level & 8 else run.pid
        lines.append(
            (run.start, f"CRON[{logger}]: ({run.user}) CMD ({_jobpid(level, run)}{run.command})")
        )
    if run.end is not None and low < run.end <= high:
        lines += _end_lines(level, run)
    return lines


def _jobpid(level: int, run: _Run) -> str:
    return f"[{run.pid}] " if level & 8 else ""


def _end_lines(level: int, run: _Run) -> list[Line]:
    """What Debian cron logs when a run ends: a failure (-L 4), its end (-L 2)."""
    assert run.end is not None
    lines = []
    jobpid = _jobpid(level, run)
    if level & 4 and (run.status or run.signal):
        how = (
            f"terminated by signal {run.signal}"
            if run.signal
            else f"failed with exit status {run.status}"
        )
        lines.append((run.end, f"CRON[{run.parent}]: (CRON) error (grandchild #{run.pid} {how})"))
    if level & 2:
        lines.append((run.end, f"CRON[{run.parent}]: ({run.user}) END ({jobpid}{run.command})"))
    return lines


def _take_kills(tree: Path, state: _CronState) -> list[_Run]:
    """The running jobs the kill shim signalled (run/killed: group, signal, when), ended then:
    they leave the state's runs, and the file is consumed."""
    path = tree / "run/killed"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    path.unlink()
    killed = []
    for line in lines:
        group, signal, at = line.split()
        for run in state.runs:
            if run.pid == int(group) and run.end is None:
                run.end = max(float(at), run.start)
                run.signal = int(signal) if signal.isdigit() else int(Signals[f"SIG{signal}"])
                killed.append(run)
    state.runs = [run for run in state.runs if run not in killed]
    return killed


def _daemon_lines(
    crontabs: list[tuple[Crontab, float]], state: _CronState, low: float, high: float
) -> list[Line]:
    """The daemon's own news in (low, high]: crontabs it now ignores, and being stopped."""
    lines = []
    for tab, mtime in crontabs:
        noticed = mtime - mtime % 60 + 60.5  # cron looks at its crontabs every minute
        if tab.problems and low < noticed <= high and noticed < (state.stopped or inf):
            lines.append(
                (
                    noticed,
                    f"cron[{state.daemon_pid}]: ({_cron_name(tab)}) ERROR "
                    "(Syntax error, this crontab file will be ignored)",
                )
            )
    if state.stopped is not None and low < state.stopped <= high:
        unit = "cron.service - Regular background program processing daemon"
        lines += [
            (state.stopped, f"systemd[1]: Stopping {unit}..."),
            (state.stopped, "systemd[1]: cron.service: Deactivated successfully."),
            (state.stopped, f"systemd[1]: Stopped {unit}."),
        ]
    return lines


def _cron_name(tab: Crontab) -> str:
    """How Debian cron names a crontab in its log: the user, or *system* and the cron.d file."""
    if tab.owner:
        return tab.owner
    return "*system*" + ("" if tab.source == "/etc/crontab" else tab.source.rsplit("/", 1)[-1])


def _midnight_lines(zone: ZoneInfo, low: float, high: float) -> list[Line]:
    """Some of what else a syslog holds: logrotate's nightly run (the probe must skip it)."""
    lines = []
    unit = "logrotate.service - Rotate log files"
    day = datetime.fromtimestamp(low, zone).date()
    while (midnight := datetime.combine(day, datetime.min.time(), zone).timestamp()) <= high:
        if midnight > low:
            lines += [
                (midnight + 0.2, f"systemd[1]: Starting {unit}..."),
                (midnight + 0.9, "systemd[1]: logrotate.service: Deactivated successfully."),
                (midnight + 0.9, f"systemd[1]: Finished {unit}."),
            ]
        day += DAY
    return lines


def _append_log(tree: Path, zone: ZoneInfo, lines: list[Line]) -> None:
    """rsyslog writing `lines` to the host's syslog, in time order, in the host's own style."""
    if not lines:
        return
    traditional = "TraditionalFileFormat" in (tree / "etc/rsyslog.conf").read_text()
    stamp = traditional_stamp if traditional else _rfc3339_stamp
    host = (tree / "etc/hostname").read_text().strip()
    text = "".join(
        f"{stamp(datetime.fromtimestamp(at, zone))} {host} {line}\n"
        for at, line in sorted(lines, key=lambda item: item[0])
    )
    log = tree / "var/log/syslog"
    with log.open("a") as file:
        file.write(text)
    set_mtime(log, max(at for at, _ in lines))


def traditional_stamp(moment: datetime) -> str:
    """rsyslog's traditional timestamp: no year, no zone, the day padded with a space."""
    month = MONTH_NAMES[moment.month - 1].title()
    return f"{month} {moment.day:2d} {moment:%H:%M:%S}"


def _rfc3339_stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _write_processes(tree: Path, state: _CronState, now: float) -> None:
    """run/ps as the ps shim reads it: pid, ppid, user, start (POSIX seconds), args."""
    booted = int(state.booted)
    options = level_options(state.level)
    rows = [
        (1, 0, "root", booted, "/sbin/init"),
        (498, 1, "root", booted, "/usr/sbin/rsyslogd -n -iNONE"),
        (561, 1, "root", booted, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    ]
    alive = state.stopped is None or now < state.stopped
    if alive:
        rows.append((state.daemon_pid, 1, "root", booted, f"/usr/sbin/cron -f {options}".strip()))
    for run in state.runs:
        if run.start <= now and (run.end is None or run.end > now):
            started = int(run.start)
            fork_parent = state.daemon_pid if alive else 1
            rows.append(
                (run.parent, fork_parent, "root", started, f"/usr/sbin/CRON -f {options}".strip())
            )
            rows.append((run.pid, run.parent, run.user, started, f"/bin/sh -c {run.command}"))
    write(tree / "run/ps", "".join(" ".join(map(str, row)) + "\n" for row in rows), now)


def _utc(moment: float | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(moment, UTC)
