"""The one script a scan runs on each host (POSIX sh, LC_ALL=C), and the parser of what it prints.

Output is split into sections behind a random marker line, so file contents pass through byte for byte.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.transport.base import Reply

# Sections every probe prints. `emit KIND OWNER PATH` prints one file as a section, with its mtime.
_PRELUDE = r"""
M='@@{marker}@@'
section() {{ printf '%s %s\n' "$M" "$*"; }}
zone() {{
  if [ -n "${{TZ:-}}" ]; then echo "${{TZ#:}}"; return; fi
  if [ -r /etc/timezone ]; then head -n 1 /etc/timezone; return; fi
  l=$(readlink /etc/localtime 2>/dev/null) && case "$l" in *zoneinfo/*) echo "${{l#*zoneinfo/}}"; return;; esac
  date +%Z
}}
emit() {{
  if [ -r "$3" ]; then
    section file "$1" "$2" "$(stat -c %Y "$3" 2>/dev/null || echo -)" "$3"
    cat "$3"; printf '\n'; section end
  else
    section unreadable "$1" "$2" - "$3"
  fi
}}
U=$(id -u)
section meta
echo "hostname=$(uname -n)"
date +'epoch=%s%noffset=%z'
echo "zone=$(zone)"
echo "uid=$U"
echo "user=$(id -un)"
"""

_CRONTABS = r"""
[ -e /etc/crontab ] && emit system - /etc/crontab
for f in /etc/cron.d/*; do [ -f "$f" ] && emit system - "$f"; done
if [ "$U" = 0 ]; then
  for d in /var/spool/cron/crontabs /var/spool/cron /var/spool/cron/tabs; do
    for f in "$d"/*; do [ -f "$f" ] && emit user "${f##*/}" "$f"; done
  done
else
  me=$(id -un); t=$(mktemp)
  if crontab -l >"$t" 2>"$t.err"; then
    section file user "$me" - "crontab:$me"; cat "$t"; printf '\n'; section end
  elif ! grep -q '^no crontab' "$t.err"; then
    section unreadable user "$me" - "crontab:$me"
  fi
  rm -f "$t" "$t.err"
fi
"""

# Lines worth sending home: anything a cron daemon or the crontab command logged (lower case:
# awk has no case-insensitive match, so lines are lowered before matching).
CRON_LINES = r" (/usr/sbin/)?(cron|crond|crontab)(\[[0-9]+\])?: "
# ...except PAM's session lines: two per job on Debian and cronie, they say nothing a run needs
# (the parsers skip them), and they would be half of what travels and is parsed.
PAM_LINES = r" (/usr/sbin/)?(cron|crond)(\[[0-9]+\])?: pam_"
JOURNAL_UNITS = "-u cron -u crond -u cronie -u cron.service -u crond.service"
JOURNAL_FIELDS = "MESSAGE,SYSLOG_IDENTIFIER,SYSLOG_PID,_PID,_COMM,__REALTIME_TIMESTAMP"
AUTO_LOGS = ("/var/log/cron.log", "/var/log/cron", "/var/log/syslog", "/var/log/messages")

# Incremental log reading, decided on the host so a scan stays one exec:
#   readlog PATH INODE OFFSET HEADLEN HEADSUM SINCE
# reads PATH from OFFSET when it is still the file we read before (same inode, same first bytes,
# not shorter); otherwise it was rotated or truncated: the rest of the old file is read where
# rotation put it (PATH.1 or PATH.0, found by inode or by its first bytes), then PATH from 0.
# With no earlier read (INODE "-"), rotated files younger than SINCE are read first, oldest first.
# One awk per file filters the cron lines (`keep`) and counts the bytes of whole lines only: a line still
# being written is left for the next scan ("read N" says where the next scan starts).
_LOGS = r"""
export R={cron_lines} P={pam_lines}
K='function keep(s) {{ s = tolower(s); return s ~ ENVIRON["R"] && s !~ ENVIRON["P"] }}'
headsum() {{ s=$(head -c "$2" "$1" | cksum); echo "${{s%% *}}"; }}
chunk() {{
  hl=$(($4 < 1024 ? $4 : 1024))
  section log "$5" "$2" "$3" "$hl" "${{6:-$(headsum "$1" "$hl")}}" "$1"
  tail -c +$(($3 + 1)) "$1" | head -c $(($4 - $3)) | awk -v len=$(($4 - $3)) -v m="$M" "$K"'
    NR > 1 {{ n += length(prev) + 1; if (keep(prev)) print prev }}
    {{ prev = $0 }}
    END {{
      if (NR && n + length(prev) + 1 <= len) {{
        n += length(prev) + 1; if (keep(prev)) print prev
      }}
      print m " read " n + 0
    }}'
}}
archive() {{
  section log archive - 0 0 - "$1"
  case "$1" in *.gz) gzip -dc "$1" 2>/dev/null ;; *) cat "$1" ;; esac |
    awk "$K"'{{ if (keep($0)) print }}'
  section end
}}
readlog() {{
  f=$1
  if [ ! -e "$f" ]; then section log-missing "$f"; return; fi
  if [ ! -r "$f" ]; then section log-unreadable "$f"; return; fi
  set -- "$@" $(stat -L -c '%i %s' "$f")
  off=$3 known=
  if [ "$2" = - ]; then
    for r in $(ls -1 "$f".[0-9]* 2>/dev/null | sort -t. -k2 -n -r); do
      [ "$(stat -L -c %Y "$r")" -ge "$6" ] && archive "$r"
    done
    off=0
  elif [ "$7" != "$2" ] || [ "$8" -lt "$3" ] || [ "$(headsum "$f" "$4")" != "$5" ]; then
    for r in "$f.1" "$f.0"; do
      [ -r "$r" ] || continue
      read -r ri rs <<EOF
$(stat -L -c '%i %s' "$r")
EOF
      if [ "$ri" = "$2" ] || [ "$(headsum "$r" "$4")" = "$5" ]; then
        chunk "$r" "$ri" "$3" "$rs" rotated
        break
      fi
    done
    off=0
  elif [ "$4" = "$(($8 < 1024 ? $8 : 1024))" ]; then
    known=$5  # the same first bytes as last time: their checksum is already known
  fi
  chunk "$f" "$7" "$off" "$8" current $known
}}
journal() {{
  if ! command -v journalctl >/dev/null 2>&1; then section log-missing journal; return; fi
  section journal
  if [ "$1" = - ]; then
    journalctl -q --no-pager --all {units} -o json --output-fields={fields} --since "@$2" 2>/dev/null
  else
    journalctl -q --no-pager --all {units} -o json --output-fields={fields} --after-cursor="$1" 2>/dev/null
  fi
  section end
}}
autologs() {{
  for f in {auto}; do
    if [ -e "$f" ]; then readlog "$f" - 0 0 - "$1"; return; fi
  done
  journal - "$1"
}}
"""

_PROCESSES = r"""
section processes
ps -eo pid=,ppid=,user:32=,etimes=,args= 2>/dev/null
section end
"""

PROBE_COMMAND = "sh -s"


@dataclass(frozen=True)
class LogCursor:
    """Where the last scan stopped in one log file, and how to recognise that file again."""

    path: str
    inode: int
    offset: int
    head_len: int
    head_hash: str


@dataclass
class LogRequest:
    """Which logs a scan reads on one host, and from where."""

    since: datetime  # the history window: how far back a first read goes
    files: tuple[str, ...] = ()  # empty: detect the cron log on the host
    cursors: dict[str, LogCursor] = field(default_factory=dict)
    journal_cursor: str | None = None


@dataclass
class HostFacts:
    hostname: str
    clock: datetime  # the host's clock when the probe started
    zone: tzinfo
    zone_name: str
    user: str
    uid: int
    skew: timedelta  # host clock minus ours (zero when within the round trip)


@dataclass
class CrontabFile:
    path: str
    kind: str  # "user" or "system"
    owner: str | None
    mtime: datetime | None
    text: str  # decoded with surrogateescape: encoding it back gives the original bytes


@dataclass
class LogChunk:
    """Cron lines from one file: new bytes of a current file, the tail of a rotated one, or an archive."""

    path: str
    mode: str  # "current", "rotated" or "archive"
    lines: bytes
    start: int = 0
    inode: int | None = None
    head_len: int = 0
    head_sum: str = ""
    cursor: LogCursor | None = (
        None  # where the next scan starts, once the host said how far it read
    )


@dataclass
class Process:
    pid: int
    ppid: int
    user: str
    elapsed_s: int
    args: str


@dataclass
class ProbeResult:
    facts: HostFacts
    crontabs: list[CrontabFile] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # paths the probe could not read
    logs: list[LogChunk] = field(default_factory=list)
    missing_logs: list[str] = field(default_factory=list)
    journal: bytes | None = None  # `journalctl -o json` lines, when the journal was read
    processes: list[Process] | None = None  # None: the host could not list them


class ProbeError(ValueError):
    """The host answered, but not with the probe's output (a broken shell, a login banner only...)."""


def new_marker() -> str:
    return secrets.token_hex(8)


def build_script(
    marker: str,
    *,
    crontabs: bool = True,
    logs: LogRequest | None = None,
    processes: bool = False,
) -> str:
    """The probe for one host. Facts always; crontabs, logs and processes when asked (a scan
    that reads logs always lists processes too)."""
    parts = ["set +e", _PRELUDE.format(marker=marker)]
    if crontabs:
        parts.append(_CRONTABS)
    if logs is not None:
        parts.append(
            _LOGS.format(
                cron_lines=shlex.quote(CRON_LINES),
                pam_lines=shlex.quote(PAM_LINES),
                units=JOURNAL_UNITS,
                fields=JOURNAL_FIELDS,
                auto=" ".join(AUTO_LOGS),
            )
        )
        parts.extend(_log_calls(logs))
    if processes or logs is not None:
        parts.append(_PROCESSES)
    return "\n".join(parts)


def _log_calls(request: LogRequest) -> list[str]:
    since = str(int(request.since.timestamp()))
    files = request.files or tuple(request.cursors)
    if not files and request.journal_cursor is None:
        return [f"autologs {since}"]
    calls = []
    if request.journal_cursor is not None and "journal" not in files:
        files = (*files, "journal")
    for path in files:
        if path == "journal":
            calls.append(f"journal {shlex.quote(request.journal_cursor or '-')} {since}")
            continue
        known = request.cursors.get(path)
        args = (
            [path, "-", "0", "0", "-"]
            if known is None
            else [path, str(known.inode), str(known.offset), str(known.head_len), known.head_hash]
        )
        calls.append("readlog " + " ".join(shlex.quote(a) for a in [*args, since]))
    return calls


def parse_output(reply: Reply, marker: str, zone_override: str | None = None) -> ProbeResult:
    sections = split_sections(reply.stdout, marker)
    if not sections or sections[0][0] != "meta":
        stderr = reply.stderr.decode(errors="replace").strip()[-300:]
        raise ProbeError(
            f"the probe printed no facts (exit {reply.exit_status}){': ' + stderr if stderr else ''}"
        )
    result = ProbeResult(facts=_facts(sections[0][1], reply, zone_override))
    for header, body in sections[1:]:
        kind, _, rest = header.partition(" ")
        if kind == "file":
            result.crontabs.append(_crontab_file(rest.split(" ", 3), body))
        elif kind == "unreadable":
            result.unreadable.append(rest.split(" ", 3)[-1])
        elif kind == "log":
            result.logs.append(_log_chunk(rest.split(" ", 5), body))
        elif kind == "read" and result.logs and rest.isdigit():
            chunk = result.logs[-1]
            chunk.cursor = LogCursor(
                chunk.path,
                chunk.inode or 0,
                chunk.start + int(rest),
                chunk.head_len,
                chunk.head_sum,
            )
        elif kind in ("log-missing", "log-unreadable"):
            result.missing_logs.append(rest)
        elif kind == "journal":
            result.journal = body
        elif kind == "processes":
            result.processes = _processes(body)
    return result


def split_sections(stdout: bytes, marker: str) -> list[tuple[str, bytes]]:
    """(header, body) per section; text before the first marker (a motd, a chatty .bashrc) is dropped."""
    chunks = (b"\n" + stdout).split(f"\n@@{marker}@@ ".encode())[1:]
    sections = []
    for chunk in chunks:
        header, _, body = chunk.partition(b"\n")
        if header != b"end":
            sections.append((header.decode(errors="replace"), body))
    return sections


def _facts(body: bytes, reply: Reply, zone_override: str | None) -> HostFacts:
    values = dict(
        line.split("=", 1) for line in body.decode(errors="replace").splitlines() if "=" in line
    )
    try:
        epoch = int(values["epoch"])
    except (KeyError, ValueError) as exc:
        raise ProbeError(f"the probe reported no clock: {values.get('epoch')!r}") from exc
    zone, zone_name = resolve_zone(
        zone_override or values.get("zone", ""), values.get("offset", "")
    )
    return HostFacts(
        hostname=values.get("hostname", ""),
        clock=datetime.fromtimestamp(epoch, zone),
        zone=zone,
        zone_name=zone_name,
        user=values.get("user", ""),
        uid=int(values["uid"]) if values.get("uid", "").isdigit() else -1,
        skew=clock_skew(epoch, reply.sent_at, reply.received_at),
    )


def resolve_zone(name: str, offset: str) -> tuple[tzinfo, str]:
    """The host's zone: an IANA name when it has one, else the fixed offset `date +%z` printed."""
    name = name.strip()
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if len(offset) == 5 and offset[0] in "+-" and offset[1:].isdigit():
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
        return timezone(delta), f"UTC{offset}"
    return UTC, "UTC"


def clock_skew(remote_epoch: int, sent_at: float, received_at: float) -> timedelta:
    """Remote minus local, counted only beyond the round trip (and `date +%s`'s one-second grain)."""
    if not sent_at:
        return timedelta(0)
    if remote_epoch + 1 < sent_at:
        return timedelta(seconds=remote_epoch + 1 - sent_at)
    if remote_epoch > received_at:
        return timedelta(seconds=remote_epoch - received_at)
    return timedelta(0)


def _log_chunk(fields: list[str], body: bytes) -> LogChunk:
    mode, inode, start, head_len, head_sum, path = fields
    lines = body + b"\n" if body else body  # the next marker took the last line's newline
    return LogChunk(
        path=path,
        mode=mode,
        lines=lines,
        start=int(start),
        inode=int(inode) if inode.isdigit() else None,
        head_len=int(head_len),
        head_sum=head_sum,
    )


def _processes(body: bytes) -> list[Process]:
    processes = []
    for line in body.decode(errors="replace").splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and fields[0].isdigit() and fields[3].isdigit():
            pid, ppid, user, elapsed = fields[:4]
            processes.append(Process(int(pid), int(ppid), user, int(elapsed), "".join(fields[4:])))
    return processes


# Debian's per-job fork renames itself CRON; the daemon keeps its lowercase name.
CRON_DAEMONS = {"cron", "crond"}


def _program(args: str) -> str:
    first = args.split(" ", 1)[0]
    return first.rsplit("/", 1)[-1]


@dataclass
class RunningJob:
    pid: int
    user: str
    elapsed_s: int
    command: str  # as cron handed it to the shell


def cron_processes(processes: list[Process]) -> tuple[Process | None, list[RunningJob]]:
    """The cron daemon (None when none runs), and the jobs it started that still run.

    A job is the first process below cron's own per-job fork that is not cron itself
    (normally `/bin/sh -c COMMAND`).
    """
    by_pid = {p.pid: p for p in processes}
    is_cron = {p.pid for p in processes if _program(p.args).lower() in CRON_DAEMONS}
    daemon = next(
        (
            by_pid[pid]
            for pid in sorted(is_cron)
            if _program(by_pid[pid].args) in CRON_DAEMONS and by_pid[pid].ppid not in is_cron
        ),
        None,
    )
    jobs = []
    for p in processes:
        if p.pid not in is_cron and p.ppid in is_cron:
            command = p.args.split(" -c ", 1)[1] if " -c " in p.args else p.args
            jobs.append(RunningJob(p.pid, p.user, p.elapsed_s, command))
    return daemon, jobs


def debian_log_level(daemon: Process) -> int | None:
    """Debian cron's -L level from its command line (1 when absent); None for other crons.

    The level is what the log can tell: 2 adds END lines, 4 failure lines, 8 job pids.
    """
    words = daemon.args.split()
    if _program(daemon.args) != "cron":
        return None
    for index, word in enumerate(words):
        if word.startswith("-L"):
            value = word[2:] or (words[index + 1] if index + 1 < len(words) else "")
            return int(value) if value.isdigit() else None
    return 1


def _crontab_file(fields: list[str], body: bytes) -> CrontabFile:
    kind, owner, mtime, path = fields
    return CrontabFile(
        path=path,
        kind=kind,
        owner=None if owner == "-" else owner,
        mtime=datetime.fromtimestamp(int(mtime), UTC) if mtime.isdigit() else None,
        text=body.decode("utf-8", errors="surrogateescape"),
    )
