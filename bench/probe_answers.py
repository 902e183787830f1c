"""Canned answers to cronops' probe, as a Debian host with the bench's crontabs and syslog prints them.

For benchmarks that must not pay a real shell per host: the in-process ingest profile and the
1,000-host fleet of asyncssh servers. The answer's format is the probe's own (cronops/probe.py)."""

from __future__ import annotations

import re
import zlib
from dataclasses import InitVar, dataclass, field

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


@dataclass
class HostFiles:
    """What one host holds: its crontabs (path -> (kind, owner, text)) and its syslog, of which
    only what the probe sends is kept (a thousand hosts' whole logs would not fit)."""

    name: str
    crontabs: dict[str, tuple[str, str, bytes]]
    syslog: InitVar[bytes]
    zone: str = "UTC"
    mtime: int = 1764800000
    cron_lines: bytes = field(init=False)  # the part of the syslog the probe sends
    size: int = field(init=False)
    head: str = field(init=False)  # the length and checksum of its first bytes, and its last
    tail: str = field(init=False)

    def __post_init__(self, syslog: bytes) -> None:
        self.cron_lines = b"".join(
            line
            for line in syslog.splitlines(keepends=True)
            if _CRON_LINE.search(line) and not _PAM_LINE.search(line)
        )
        self.size = len(syslog)
        self.head = f"{min(self.size, 1024)} {zlib.crc32(syslog[:1024])}"
        self.tail = f"{min(self.size, 1024)} {zlib.crc32(syslog[-1024:])}"


def answer(host: HostFiles, script: str, epoch: int) -> bytes:
    """The probe's answer to `script` (build_script's output) on this host, at host time `epoch`:
    its facts, crontabs, the syslog's cron lines (none past the cursor the script gives: the
    log does not grow), processes."""
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
    for call, args in _LOG_CALL.findall(script):
        # autologs SINCE [FOLLOWED...]: a first read of each cron log not followed yet
        if call == "autologs" and SYSLOG in args.split()[1:]:
            continue
        path = SYSLOG if call == "autologs" else args.split()[0]
        offset = _cursor_offset(script) if call == "readlog" else 0
        section(f"logfile {path}")
        sent = host.cron_lines if offset == 0 else b""
        header = f"log current {INODE} {offset} {host.head} - {path}"
        section(header, sent, f"{len(sent)} {host.size - offset} 0 {host.tail}")
    ps = "\n".join(
        f"{pid:7d} {ppid:7d} {user:<32} {3600:>7} {args}" for pid, ppid, user, args in PROCESSES
    )
    section("processes", ps.encode() + b"\n")
    out.append(tag + f" done {count}\n".encode())
    return b"".join(out)


def _cursor_offset(script: str) -> int:
    """A rescan's `readlog PATH INODE OFFSET ...`: where the last scan stopped."""
    call = re.search(r"^readlog \S+ (\d+) (\d+)", script, re.MULTILINE)
    return int(call[2]) if call else 0
