"""Canned answers to cronops' probe, as a Debian host with the bench's crontabs and syslog prints them.

For benchmarks that must not pay a real shell per host: the in-process ingest profile and the
1,000-host fleet of asyncssh servers. The answer's format is the probe's own (cronops/probe.py).

A host's syslog is the planted one (bench_scan.make_syslog) and, when it grows, after it what cron
would have written since for the bench's crontabs, minute by minute up to the moment of the probe:
each minute's lines made on demand from the host's name and the minute alone, so the same bytes
come back at every probe and a rescan reads the new ones from its cursor, as on a real host."""

from __future__ import annotations

import random
import re
import zlib
from bisect import bisect_right
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from bench_scan import (
    ALICE_JOBS,
    CRON_D_JOBS,
    HOURLY,
    ROOT_JOBS,
    other_line,
    run_lines,
    syslog_stamp,
)

# What the probe's awk keeps of a log (probe.CRON_LINES without probe.PAM_LINES), on bytes.
_CRON_LINE = re.compile(rb" (?:/usr/sbin/)?(?:cron|crond|crontab)(?:\[[0-9]+\])?: ", re.IGNORECASE)
_PAM_LINE = re.compile(rb" (?:/usr/sbin/)?(?:cron|crond)(?:\[[0-9]+\])?: pam_", re.IGNORECASE)
_MARKER = re.compile(r"M='@@([^@']+)@@'")
_LOG_CALL = re.compile(r"^(firstlog|readlog|autologs) (.*)$", re.MULTILINE)
SYSLOG = "/var/log/syslog"
INODE = 131077
# A Debian 12 host's process list as `ps -eo pid=,ppid=,user:32=,etimes=,args=` prints it: cron
# runs with -L 15, so the log shows ends and failures.
PROCESSES = [
    (1, 0, "root", "/sbin/init"),
    (212, 1, "root", "/lib/systemd/systemd-journald"),
    (398, 1, "root", "/usr/sbin/rsyslogd -n -iNONE"),
    (412, 1, "root", "/lib/systemd/systemd-logind"),
    (455, 1, "root", "/usr/sbin/cron -f -L 15"),
    (470, 1, "root", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    (501, 1, "postgres", "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main"),
    *((510 + n, 501, "postgres", f"postgres: 15/main worker {n}") for n in range(12)),
    (601, 1, "www-data", "php-fpm: pool www"),
    *((620 + n, 601, "www-data", "php-fpm: pool www") for n in range(16)),
    (9001, 470, "root", "sshd: root@notty"),
    (9003, 9001, "root", "sh -s"),
    (9010, 9003, "root", "ps -eo pid=,ppid=,user:32=,etimes=,args="),
]

# What the probe's awk keeps of it (probe._PROCESSES): the lines that say cron, and their children.
_SAYS_CRON = {pid for pid, _, user, args in PROCESSES if "cron" in f"{user} {args}".lower()}
SENT_PROCESSES = [p for p in PROCESSES if p[0] in _SAYS_CRON or p[1] in _SAYS_CRON]

SUM_BYTES = 1024  # the probe's head and tail checksums cover this much


@dataclass
class HostFiles:
    """What one host holds: its crontabs (path -> (kind, owner, text)) and its syslog, of which
    only what the probe sends is kept (a thousand hosts' whole logs would not fit): the planted
    log's cron lines and last bytes, and, when the log grows from `grows_from` (epoch) on, its
    size at the end of each whole minute since; the lines themselves are made again when read."""

    name: str
    crontabs: dict[str, tuple[str, str, bytes]]
    syslog: InitVar[bytes]
    zone: str = "UTC"
    mtime: int = 1764800000
    # When its processes started (cron's among them): ps's elapsed times grow from it, as on a
    # real host, so cron's start (a fact the judge reads) is the same at every probe.
    started: int = 1764800000
    grows_from: int | None = None  # None: the log never grows (every frequent job looks stopped)
    cron_lines: bytes = field(init=False)  # the part of the planted syslog the probe sends
    size: int = field(init=False)  # the planted log's
    head: str = field(init=False)  # the length and checksum of its first bytes
    last_bytes: bytes = field(init=False)  # the planted log's, for the checksum before a cursor
    minute_ends: list[int] = field(init=False, default_factory=list)  # growth: size after each

    def __post_init__(self, syslog: bytes) -> None:
        self.cron_lines = cron_lines(syslog)
        self.size = len(syslog)
        self.head = f"{min(self.size, SUM_BYTES)} {zlib.crc32(syslog[:SUM_BYTES])}"
        self.last_bytes = syslog[-SUM_BYTES:]

    def size_at(self, epoch: int) -> int:
        """The log's size at `epoch`: the planted log, whole minutes since, this minute's lines so far."""
        if self.grows_from is None:
            return self.size
        now = epoch // 60
        first = self.grows_from // 60 + 1
        while first + len(self.minute_ends) < now:
            grown = sum(len(line) for _, line in _minute(self.name, first + len(self.minute_ends)))
            self.minute_ends.append((self.minute_ends or [self.size])[-1] + grown)
        if now < first:
            return self.size
        so_far = sum(len(line) for at, line in _minute(self.name, now) if at <= epoch)
        return (self.minute_ends or [self.size])[-1] + so_far

    def span(self, start: int, stop: int) -> bytes:
        """The log's bytes from `start` to `stop` (at most its size, as size_at last said), made
        again from the minutes they hold. Before the growth only the planted log's last bytes are
        kept: enough for a checksum, not for a read."""
        if start < self.size - len(self.last_bytes):
            raise ValueError(f"{self.name}: bytes {start}.. are inside the planted log")
        if start < self.size:
            index, at = 0, start
            pieces = [self.last_bytes[len(self.last_bytes) - (self.size - start) :]]
        else:
            index = bisect_right(self.minute_ends, start)
            at = self.minute_ends[index - 1] if index else self.size
            pieces = []
        reached = at + len(pieces[0]) if pieces else at
        first = (self.grows_from or 0) // 60 + 1
        while reached < stop:
            block = b"".join(line for _, line in _minute(self.name, first + index))
            pieces.append(block)
            reached += len(block)
            index += 1
        return b"".join(pieces)[start - at : stop - at]

    def tail(self, end: int) -> str:
        """The length and checksum of the bytes before `end`, as the probe's end line gives them."""
        length = min(end, SUM_BYTES)
        return f"{length} {zlib.crc32(self.span(end - length, end))}"


def cron_lines(log: bytes) -> bytes:
    """What the probe's awk keeps of a log."""
    return b"".join(
        line
        for line in log.splitlines(keepends=True)
        if _CRON_LINE.search(line) and not _PAM_LINE.search(line)
    )


# -- the growth: what cron writes each minute for the bench's crontabs ---------------------------

LONGEST_S = 301  # a job started on the minute (second 1) ends within this: its lines span 6 minutes
OTHERS_A_MINUTE = 2  # other programs' lines: up to this many a minute, each as likely as not
OTHER_CHANCE = 0.37  # about OTHER_SHARE of the log's events, as in the planted log


def _values(field_: str, low: int, high: int) -> frozenset[int]:
    """The values a crontab time field (`*/5`, `9-17`, `1-5`, `0,30`) stands for."""
    values: set[int] = set()
    for part in field_.split(","):
        span, _, step = part.partition("/")
        first, _, last = (f"{low}-{high}" if span == "*" else span).partition("-")
        values.update(range(int(first), int(last or first) + 1, int(step or 1)))
    return frozenset(values)


Schedule = tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int], frozenset[int]]
ANY_DAY = frozenset(range(1, 32))
ANY_WEEKDAY = frozenset(range(8))


def _schedule(spec: str) -> Schedule:
    """(minutes, hours, months, days of month, days of week) of a crontab schedule."""
    minute, hour, day, month, weekday = spec.split()
    return (
        _values(minute, 0, 59),
        _values(hour, 0, 23),
        _values(month, 1, 12),
        ANY_DAY if day == "*" else _values(day, 1, 31),
        ANY_WEEKDAY if weekday == "*" else _values(weekday, 0, 7),
    )


# (user, command, schedule) of every job cron starts on these hosts (@reboot ones aside), and
# Debian's /etc/crontab's hourly run-parts at minute 17
JOBS = [
    *(("root", command, _schedule(spec)) for spec, command in ROOT_JOBS if spec[0] != "@"),
    *(("alice", command, _schedule(spec)) for spec, command in ALICE_JOBS),
    *((user, command, _schedule(spec)) for spec, user, command in CRON_D_JOBS),
    (*HOURLY, _schedule("17 * * * *")),
]


def _due(schedule: Schedule, at: datetime) -> bool:
    """Whether cron starts a job with this schedule at minute `at`: on its day of month or of
    week when both are restricted, as cron does."""
    minutes, hours, months, days, weekdays = schedule
    if at.minute not in minutes or at.hour not in hours or at.month not in months:
        return False
    weekday = (at.weekday() + 1) % 7  # cron: 0 (and 7) is Sunday
    on_day, on_weekday = at.day in days, weekday in weekdays or weekday + 7 in weekdays
    if days is ANY_DAY or weekdays is ANY_WEEKDAY:
        return on_day and on_weekday
    return on_day or on_weekday


@lru_cache(maxsize=16384)
def _started(name: str, minute: int) -> tuple[tuple[int, int, str], ...]:
    """(epoch, order, message) of the lines that follow from minute `minute` (epoch // 60) on
    host `name`: each due job's start, its end up to LONGEST_S later (and its failure, now
    and then), and other programs' lines that minute. The same host and minute, the same lines."""
    rng = random.Random(f"{name} {minute}")
    start = minute * 60 + 1  # cron starts jobs on the minute
    at = datetime.fromtimestamp(start, UTC)
    pid = 20000 + minute % 1000 * 40  # fresh pids each minute, for the 6 minutes a job may last
    lines: list[tuple[int, int, str]] = []
    for user, command, schedule in JOBS:
        if not _due(schedule, at):
            continue
        parent, job = pid + 1, pid + 2
        pid += 3
        started, took, ended = run_lines(rng, user, command, parent, job)
        lines += [(start, len(lines) + i, text) for i, text in enumerate(started)]
        lines += [(start + took, len(lines) + i, text) for i, text in enumerate(ended)]
    for _ in range(OTHERS_A_MINUTE):
        if rng.random() < OTHER_CHANCE:
            pid += 1
            second = rng.randint(0, 59)
            text = other_line(rng, pid, minute * 60 % 10**7 + second)
            lines.append((minute * 60 + second, len(lines), text))
    return tuple(lines)


@lru_cache(maxsize=16384)
def _minute(name: str, minute: int) -> tuple[tuple[int, bytes], ...]:
    """(epoch, line) of what the host's syslog gains during minute `minute`, in order."""
    lines = [
        (at, earlier, order, text)
        for earlier in range(minute - LONGEST_S // 60, minute + 1)
        for at, order, text in _started(name, earlier)
        if at // 60 == minute
    ]
    lines.sort()
    return tuple(
        (at, f"{syslog_stamp(datetime.fromtimestamp(at, UTC))} {name} {text}\n".encode())
        for at, _, _, text in lines
    )


def answer(host: HostFiles, script: str, epoch: int) -> bytes:
    """The probe's answer to `script` (build_script's output) on this host, at host time `epoch`:
    its facts, crontabs, the syslog's cron lines (from the cursor the script gives, up to what
    the log holds at `epoch`), processes."""
    marker = _MARKER.search(script)
    if marker is None:
        raise ValueError("not cronops' probe: no marker")
    tag = f"@@{marker[1]}@@".encode()
    out: list[bytes] = []
    count = 0

    def section(header: str, body: bytes | None = None, end: str | None = None) -> None:
        nonlocal count
        count += 1
        out.append(tag + b" " + header.encode() + b"\n")
        if body is None:
            out.append(b"\n" + tag + b" end 0\n")
            return
        out.append(body + b"\n" + tag + b" end " + (end or str(len(body))).encode() + b"\n")

    facts = f"hostname={host.name}\nepoch={epoch}\noffset=+0000\nzone={host.zone}\nuid=0\nuser=root"
    section("meta", facts.encode() + b"\n")
    for path, (kind, owner, text) in host.crontabs.items():
        section(f"file {kind} {owner} {host.mtime} {path}", text)
    size = host.size_at(epoch)
    for call, args in _LOG_CALL.findall(script):
        # autologs SINCE [FOLLOWED...]: a first read of each cron log not followed yet
        if call == "autologs" and SYSLOG in args.split()[1:]:
            continue
        path = SYSLOG if call == "autologs" else args.split()[0]
        offset = _cursor(host, script, size) if call == "readlog" else 0
        section(f"logfile {path}")
        sent = cron_lines(host.span(max(offset, host.size), size))
        if offset == 0:
            sent = host.cron_lines + sent
        header = f"log current {INODE} {offset} {host.head} - {path}"
        section(header, sent, f"{len(sent)} {size - offset} 0 {host.tail(size)}")
    ps = "\n".join(
        f"{pid:7d} {ppid:7d} {user:<32} {epoch - host.started:>7} {args}"
        for pid, ppid, user, args in SENT_PROCESSES
    )
    section("processes", ps.encode() + b"\n")
    out.append(tag + f" done {count}\n".encode())
    return b"".join(out)


def _cursor(host: HostFiles, script: str, size: int) -> int:
    """A rescan's `readlog PATH INODE OFFSET HEADLEN HEADSUM TAILLEN TAILSUM`: where the last scan
    stopped, once checked as the probe checks it (the same inode and first bytes, the same bytes
    before it). A log the bench never rewrites fails the check only by a bench bug: an error."""
    call = re.search(r"^readlog \S+ (\d+) (\d+) (\d+ \S+) (\d+ \S+)", script, re.MULTILINE)
    if call is None:
        raise ValueError("readlog without a cursor")
    inode, offset, head, tail = int(call[1]), int(call[2]), call[3], call[4]
    same = inode == INODE and offset <= size and head == host.head
    if not same or (not tail.startswith("0 ") and tail != host.tail(offset)):
        raise ValueError(f"{host.name}: the cursor {call[0]!r} does not match the log")
    return offset
