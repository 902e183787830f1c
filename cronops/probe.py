"""The one script a scan runs on each host (POSIX sh, LC_ALL=C), and the parser of what it prints.

Output is split into sections behind a random marker line, so file contents pass through byte for byte;
each section ends with its length and the answer with its number of sections, so a cut answer is an error.
"""

from __future__ import annotations

import functools
import math
import os
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.logs import CRON_TAGS
from cronops.records import LogCursor
from cronops.transport.base import Reply

# The answer: sections, each `$M KIND FIELDS...`, its body, then `\n$M end LENGTH [MORE...]` where
# LENGTH is the body's size in bytes; after the last, `$M done SECTIONS`. `counted CMD` and `copy FILE`
# print a body and its end line; `note KIND...` is a section without a body. A command's output is
# counted in the shell (${#c} is bytes with LC_ALL=C); a file's is how far `cat` read the one open
# file (its offset, from /proc/self/fdinfo): a crontab replaced meanwhile cannot make the two differ,
# and a read that fails leaves no count, so the answer is refused.
_PRELUDE = r"""
M='@@{marker}@@' S=0
exec 3>&1
section() {{ S=$((S + 1)); printf '%s %s\n' "$M" "$*"; }}
ends() {{ printf '\n%s end %s\n' "$M" "$*"; }}
note() {{ section "$@"; ends 0; }}
counted() {{ c=$("$@" 2>/dev/null); printf '%s\n' "$c"; ends $((${{#c}} + 1)); }}
copy() {{
  n=-
  {{ cat <&4 && while read -r k v; do [ "$k" = pos: ] && n=$v; done </proc/self/fdinfo/4; }} 4<"$1"
  ends "$n"
}}
zone() {{
  if [ -n "${{TZ:-}}" ]; then echo "${{TZ#:}}"; return; fi
  if [ -r /etc/timezone ]; then head -n 1 /etc/timezone; return; fi
  l=$(readlink /etc/localtime 2>/dev/null) && case "$l" in *zoneinfo/*) echo "${{l#*zoneinfo/}}"; return;; esac
  date +%Z
}}
facts() {{
  echo "hostname=$(uname -n)"
  date +'epoch=%s%noffset=%z'
  echo "zone=$(zone)"
  echo "uid=$U"
  echo "user=$(id -un)"
  echo "booted=$(awk '$1 == "btime" {{ print $2 }}' /proc/stat 2>/dev/null)"
}}
emit() {{
  if [ -f "$3" ] && [ -r "$3" ]; then
    section file "$1" "$2" "$(stat -c %Y "$3" 2>/dev/null || echo -)" "$3"
    copy "$3"
  else
    note unreadable "$1" "$2" - "$3"
  fi
}}
U=$(id -u)
section meta
counted facts
"""

# Nothing the probe starts outlives its time limit (a log that blocks, a hung mount): a watchdog kills
# the probe's process group then (an SSH session, like the local transport, is a group of its own).
# It counts the time down a second at a time, so the probe stops it, once done, by killing it alone
# (no trap to race); it holds no copy of the answer's stream, or the answer would end only with it.
_WATCHDOG = r"""
( t={seconds}; while [ "$t" -gt 0 ]; do sleep 1; t=$((t - 1)); done; kill -KILL 0 ) \
  >/dev/null 2>&1 </dev/null 3>&- &
W=$!
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
    section file user "$me" - "crontab:$me"; copy "$t"
  elif ! grep -q '^no crontab' "$t.err"; then
    note unreadable user "$me" - "crontab:$me"
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
# The journal's cron records: those whose syslog tag is one a family reads (SYSLOG_IDENTIFIER, or
# _COMM for a record without one, as journald.read does), whichever unit logged them. A unit match
# (`-u cron`) misses what the `crontab` program logs from the user's session, and brings a job's
# own `logger` lines from inside the cron unit; journalctl cannot OR a `-u` with a field match.
# `journal CURSOR SINCE` (in _LOGS) reads them from SINCE (a first read: the window), else from
# CURSOR with `--cursor`, dropping the record at the cursor itself: systemd 252's `--after-cursor`
# also skips the first match after a cursor whose own record the matches leave out (a cursor kept
# from another match). PAM's session lines stay on the host as a file's do (PAM_LINES), bar the
# last one read when nothing came after it: it carries the cursor past them. A cursor journalctl
# refuses (garbled: it fails before reading) would leave the host's journal unread for good: the
# window is read again after a `journal-cursor-refused` note (its runs and edits are stored once).
JOURNAL_MATCHES = " ".join(
    shlex.quote(match)
    for match in [
        *(f"SYSLOG_IDENTIFIER={tag}" for tag in sorted(CRON_TAGS)),
        "+",
        *(f"_COMM={tag}" for tag in sorted(CRON_TAGS) if tag.isalpha() and tag.islower()),
    ]
)
JOURNAL_FIELDS = "MESSAGE,SYSLOG_IDENTIFIER,SYSLOG_PID,_PID,_COMM,__REALTIME_TIMESTAMP"
AUTO_LOGS = ("/var/log/cron.log", "/var/log/cron", "/var/log/syslog", "/var/log/messages")
# How much of a host's logs one scan takes: bytes of log read on the host (across its files, archives
# counted decompressed), and bytes of cron lines sent back. A first scan of a big log so finishes
# within the command timeout and a bounded memory; what is left waits for the next scans (the host
# says so), each starting where the one before stopped.
LOG_READ_BYTES = 64 << 20
LOG_SEND_BYTES = 8 << 20

# Incremental log reading, decided on the host so a scan stays one exec. Only regular files are read
# (a FIFO or a device could block the probe). Each log's pieces follow a `logfile PATH` section.
#   readlog PATH INODE OFFSET HEADLEN HEADSUM TAILLEN TAILSUM
# reads PATH from OFFSET when it is still the file we read before: the same inode, not shorter, the
# same first bytes and the same TAILLEN bytes before OFFSET (a log rewritten in place can keep the
# first three). Otherwise it was rotated or rewritten: the rest of the old file is read where
# rotation put it (PATH.1 or PATH.0, found by inode or by its first bytes), then PATH from 0.
#   firstlog PATH SINCE [INODE OFFSET]
# reads a log never read before: its rotated files changed since SINCE, oldest first, then PATH from 0.
# When an earlier scan stopped inside a rotated file, the read goes on from OFFSET in it: the file
# with INODE (those before it are done), else (recompressed since) the first whose mtime is SINCE,
# that file's mtime, which gzip keeps.
# One awk per piece filters the cron lines (`keep`) and counts the bytes of whole lines only: a line
# still being written is left for the next scan, and a whole piece (B bytes) without a line end is
# skipped (one line longer than a piece would stop every scan there). All pieces together read at
# most L bytes and send at most Q; once one piece reaches a limit, the rest waits (`log-waits`). A
# piece's end line says what it sent and read, whether more is left, and the checksum of the last
# bytes read (up to 1 KiB).
_LOGS = r"""
export R={cron_lines} P={pam_lines}
K='function keep(s) {{
  if (ENVIRON["ALL"] != "") return 1
  s = tolower(s); return s ~ ENVIRON["R"] && s !~ ENVIRON["P"]
}}'
A='
function take(s) {{
  if (keep(s)) {{
    if (sent && sent + length(s) + 1 > room) return 0
    print s; sent += length(s) + 1
  }}
  n += length(s) + 1; return 1
}}
NR > 1 && !take(prev) {{ full = 1; exit }}
{{ prev = $0; seen += length($0) + 1 }}
END {{
  if (!full) {{
    if (cut == "?") cut = seen >= len
    if (NR && n + length(prev) + 1 <= len) full = !take(prev)
    else if (cut && !n && len == piece) n = len
  }}
  printf "%d %d %d\n", sent, n, (full || cut) > "/dev/stderr"
}}'
L={read_bytes} Q={send_bytes} B={read_bytes}
sums() {{
  s=$(if [ "$2" = 0 ]; then head -c "$3" "$1"; else tail -c +$(($2 + 1)) "$1" | head -c "$3"; fi | cksum)
  echo "${{s%% *}}"
}}
spent() {{ Q=$((Q - $1)) L=$((L - $2)); [ "$3" = 0 ] && [ "$Q" -gt 0 ] || L=0; }}
usable() {{
  if [ ! -e "$1" ]; then note log-missing "$1"
  elif [ ! -f "$1" ]; then note log-not-file "$1"
  elif [ ! -r "$1" ]; then note log-unreadable "$1"
  elif [ "$L" -le 0 ]; then note log-waits "$1"
  else note "${{LOGKIND:-logfile}}" "$1"; return 0
  fi
  return 1
}}
chunk() {{
  cf=$1 cs=$3 known_tail=${{7:-}}
  ch=$(($4 < 1024 ? $4 : 1024)) ask=$(($4 - $3)) cut=0
  [ "$ask" -le "$L" ] || {{ ask=$L cut=1; }}
  section log "$5" "$2" "$3" "$ch" "${{6:-$(sums "$1" 0 "$ch")}}" - "$1"
  r=$(tail -c +$(($3 + 1)) "$1" | head -c "$ask" |
      awk -v len="$ask" -v cut="$cut" -v room="$Q" -v piece="$B" "$K$A" 2>&1 >&3)
  set -- $r
  spent "$@"
  e=$((cs + $2)); t=$((e < 1024 ? e : 1024))
  [ "$2" = 0 ] && [ -n "$known_tail" ] || known_tail=$(sums "$cf" $((e - t)) "$t")
  ends "$@" "$t" "$known_tail"
}}
archive() {{
  section log archive "$2" "$3" 0 - "$4" "$1"
  r=$(case "$1" in *.gz) gzip -dc "$1" 2>/dev/null ;; *) cat "$1" ;; esac | tail -c +$(($3 + 1)) |
      head -c "$L" | awk -v len="$L" -v cut='?' -v room="$Q" -v piece="$B" "$K$A" 2>&1 >&3)
  set -- $r
  spent "$@"
  ends "$@" 0 -
}}
readlog() {{
  usable "$1" || return
  f=$1
  set -- "$@" $(stat -L -c '%i %s' "$f")
  off=$3 known= tail=
  if [ "$8" != "$2" ] || [ "$9" -lt "$3" ] || [ "$(sums "$f" 0 "$4")" != "$5" ] ||
     {{ [ "$6" != 0 ] && [ "$(sums "$f" $(($3 - $6)) "$6")" != "$7" ]; }}; then
    for r in "$f.1" "$f.0"; do
      [ -f "$r" ] && [ -r "$r" ] || continue
      read -r ri rs <<EOF
$(stat -L -c '%i %s' "$r")
EOF
      if [ "$ri" = "$2" ] || [ "$(sums "$r" 0 "$4")" = "$5" ]; then
        chunk "$r" "$ri" "$3" "$rs" rotated
        break
      fi
    done
    off=0
  else
    [ "$4" = "$(($9 < 1024 ? $9 : 1024))" ] && known=$5  # the same first bytes: their sum is known
    [ "$6" = "$(($3 < 1024 ? $3 : 1024))" ] && tail=$7  # and the same last ones (none before v5)
  fi
  if [ "$L" -gt 0 ]; then chunk "$f" "$8" "$off" "$9" current "$known" "$tail"; else note log-waits "$f"; fi
}}
firstlog() {{
  usable "$1" || return
  f=$1 since=$2 at=${{3:-}} ao=${{4:-0}}
  if [ -n "$at" ]; then
    case " $(stat -L -c %i "$f".[0-9]* 2>/dev/null | tr '\n' ' ') " in
      *" $at "*) since=0 ;;
      *) at=mtime ;;
    esac
  fi
  for r in $(ls -1 "$f".[0-9]* 2>/dev/null | sort -t. -k2 -n -r); do
    [ -f "$r" ] && [ -r "$r" ] || continue
    set -- $(stat -L -c '%i %Y' "$r")
    skip=0
    case $at in
      '') [ "$2" -ge "$since" ] || continue ;;
      mtime) [ "$2" -ge "$since" ] || continue; [ "$2" != "$since" ] || {{ skip=$ao at=; }} ;;
      *) [ "$1" = "$at" ] || continue; skip=$ao at= ;;
    esac
    if [ "$L" -le 0 ]; then note log-waits "$f"; return; fi
    archive "$r" "$1" "$skip" "$2"
  done
  if [ "$L" -le 0 ]; then note log-waits "$f"; return; fi
  set -- $(stat -L -c '%i %s' "$f")
  chunk "$f" "$1" 0 "$2" current
}}
journal() {{
  if ! command -v journalctl >/dev/null 2>&1; then note log-missing journal; return; fi
  if [ "$L" -le 0 ]; then note log-waits journal; return; fi
  section journal
  jsince=$2
  if [ "$1" = - ]; then from="--since=@$2" at=; else from="--cursor=$1" at="\"__CURSOR\":\"$1\""; fi
  r=$({{ journalctl -q --no-pager --all -o json --output-fields={fields} "$from" {matches} 2>/dev/null ||
        echo @@refused; }} |
      awk -v room="$Q" -v at="$at" '
        $0 == "@@refused" {{ refused = 1; next }}
        NR == 1 && at != "" && index($0, at) {{ next }}
        index($0, "\"MESSAGE\":\"pam_") {{ pam = $0; next }}
        sent && sent + length($0) + 1 > room {{ full = 1; exit }}
        {{ print; sent += length($0) + 1; pam = "" }}
        END {{
          if (!full && pam != "" && sent + length(pam) + 1 <= room) {{ print pam; sent += length(pam) + 1 }}
          printf "%d %d %d %d\n", sent, sent, full, refused > "/dev/stderr"
        }}' 2>&1 >&3)
  set -- $r
  spent "$@"
  ends "$1" "$3"
  if [ "$4" = 1 ] && [ -n "$at" ]; then note journal-cursor-refused; journal - "$jsince"; fi
}}
autologs() {{
  s=$1; shift; n=$#
  for f in {auto}; do
    case " $* " in *" $f "*) continue ;; esac
    if [ -e "$f" ]; then firstlog "$f" "$s"; n=1; fi
  done
  [ "$n" -gt 0 ] || journal - "$s"
}}
"""

# The local mailboxes, read as logs are (new bytes only, each from its cursor) but whole: every
# line kept (ALL), each behind a `mailbox PATH` section instead of `logfile PATH`.
_MAILBOXES = r"""
export ALL=1 LOGKIND=mailbox
for f in {folder}/*; do
  [ -f "$f" ] || continue
  case "$f" in
{known}    *) firstlog "$f" 0 ;;
  esac
done
ALL= LOGKIND=logfile
"""

# Whether the commands cron would start exist on cron's PATH: one clean shell per PATH looks up
# its words as cron's /bin/sh would (a builtin counts), printing 1 or 0 for each, in order.
_LOOKUP = """env -i PATH={path} /bin/sh -c 'for w; do command -v -- "$w" >/dev/null 2>&1 && echo 1 || echo 0; done' sh {words}"""
MAX_LOOKUPS = 200  # (PATH, command) pairs a scan checks on one host

# Only what probe.cron_processes reads of the process list is sent: every line that says cron
# (in any case: a superset of cron's own processes, whose program is cron or crond) and the
# children of those (the jobs). The rest of a host's list (hundreds of lines) cost the controller
# more to parse than the rest of an unchanged host's answer. Without awk, the whole list. ([c]:
# awk's own command line does not say cron.)
_PROCESSES = r"""
cronps() {
  if command -v awk >/dev/null 2>&1; then
    ps -eo pid=,ppid=,user:32=,etimes=,args= | awk '
      { line[NR] = $0; ppid[NR] = $2; said[NR] = tolower($0) ~ /[c]ron/ }
      said[NR] { parent[$1] = 1 }
      END { for (i = 1; i <= NR; i++) if (said[i] || (ppid[i] in parent)) print line[i] }'
  else
    ps -eo pid=,ppid=,user:32=,etimes=,args=
  fi
}
section processes
counted cronps
"""

PROBE_COMMAND = "sh -s"


@functools.cache
def _log_readers(read_bytes: int, send_bytes: int) -> str:
    """The shell functions that read logs: the same in every probe, so formatted once (for
    the limits they are given)."""
    return _LOGS.format(
        cron_lines=shlex.quote(CRON_LINES),
        pam_lines=shlex.quote(PAM_LINES),
        matches=JOURNAL_MATCHES,
        fields=JOURNAL_FIELDS,
        auto=" ".join(AUTO_LOGS),
        read_bytes=read_bytes,
        send_bytes=send_bytes,
    )


@dataclass
class LogRequest:
    """Which logs a scan reads on one host, and from where (and which commands of the entries
    known so far it looks up on cron's PATH)."""

    since: datetime  # the history window: how far back a first read goes
    files: tuple[str, ...] = ()  # empty: detect the cron log on the host
    cursors: dict[str, LogCursor] = field(default_factory=dict)
    journal_cursor: str | None = None
    lookups: tuple[tuple[str, str], ...] = ()  # (PATH, command), at most MAX_LOOKUPS
    # The cron mail delivered to these local mailboxes (a folder: /var/mail), and where each
    # mailbox read before was left; None: no mail is read
    mail_folder: str | None = None
    mailboxes: dict[str, LogCursor] = field(default_factory=dict)


def mailbox_script(folder: str, cursors: dict[str, LogCursor]) -> str:
    """Reads every mailbox in `folder`: the new bytes of those with a cursor, others whole."""
    known = "".join(
        f"    {shlex.quote(path)}) {_read_again(path, cursor)} ;;\n"
        for path, cursor in cursors.items()
    )
    return _MAILBOXES.format(folder=shlex.quote(folder), known=known)


def lookup_script(lookups: Sequence[tuple[str, str]]) -> str:
    """The lookups section: a 1 or a 0 per (PATH, command), in the order given (one shell for
    each run of pairs with the same PATH: sort them by PATH for the fewest)."""
    calls = [
        _LOOKUP.format(path=shlex.quote(path), words=" ".join(shlex.quote(w) for _, w in pairs))
        for path, pairs in groupby(lookups, key=itemgetter(0))
    ]
    body = "\n".join(f"  {call}" for call in calls)
    return f"lookups() {{\n{body}\n}}\nsection lookups\ncounted lookups"


@dataclass
class ProbeFacts:
    """What the probe found about the host it ran on (records.HostFacts is the host as stored)."""

    hostname: str
    clock: datetime  # the host's clock when the probe started
    zone: tzinfo
    zone_name: str
    user: str
    uid: int
    skew: timedelta  # host clock minus ours (zero when within the round trip)
    booted_at: datetime | None = None  # the kernel's boot time; None where /proc/stat has none


@dataclass
class CrontabFile:
    path: str
    kind: str  # "user" or "system"
    owner: str | None
    mtime: datetime | None
    text: str  # decoded with surrogateescape: encoding it back gives the original bytes


@dataclass
class LogChunk:
    """Cron lines from one piece of a log: new bytes of its current file, of the file it was rotated
    to, or of an older rotated file (an archive, read on a first scan)."""

    log: str  # the log this piece belongs to
    path: str  # the file it was read from
    mode: str  # "current", "rotated" or "archive"
    lines: bytes
    start: int = 0
    read: int = 0  # bytes of the file read from `start`, whole lines only
    more: bool = False  # the file has more than this scan could take
    inode: int | None = None
    head_len: int = 0
    head_sum: str = ""
    tail_len: int = 0
    tail_sum: str = ""
    mtime: int | None = None  # archives only

    @property
    def cursor(self) -> LogCursor:
        """Where the next scan starts, when this is the last piece read of its log."""
        end = self.start + self.read
        if self.mode == "archive":
            return LogCursor(self.log, self.inode or 0, end, 0, "", archive_mtime=self.mtime)
        return LogCursor(
            self.log,
            self.inode or 0,
            end,
            self.head_len,
            self.head_sum,
            self.tail_len,
            self.tail_sum,
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
    facts: ProbeFacts
    crontabs: list[CrontabFile] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # paths the probe could not read
    logs: list[LogChunk] = field(default_factory=list)
    missing_logs: dict[str, str] = field(default_factory=dict)  # log -> why it was not read
    more_logs: list[str] = field(default_factory=list)  # logs with more than this scan took
    journal: bytes | None = None  # `journalctl -o json` lines, when the journal was read
    processes: list[Process] | None = None  # None: the host could not list them
    mail: list[LogChunk] = field(default_factory=list)  # new bytes of the local mailboxes
    # (PATH, command) -> found there, for the lookups asked for; None: none answered
    on_path: dict[tuple[str, str], bool] | None = None

    def wait(self, log: str) -> None:
        """`log` has more than this scan took: the next scan goes on."""
        if log not in self.more_logs:
            self.more_logs.append(log)


# Why a log was not read, by the section that says so.
LOG_PROBLEMS = {
    "log-missing": "missing",
    "log-unreadable": "unreadable",
    "log-not-file": "not a regular file",
}


class ProbeError(ValueError):
    """The host answered, but not with the probe's whole output (a broken shell, a login banner
    only, an answer cut short...)."""


MARKER_BYTES = 8  # of randomness in a marker: no host guesses the next scan's
MARKERS_DRAWN = 256  # markers drawn from the OS at once


def new_marker() -> str:
    """A new marker, never used before. Drawn from the OS MARKERS_DRAWN at a time: each draw
    lets go of the GIL, and a scan's event loop then waited for the storing thread, once a host."""
    while True:
        try:
            return _MARKERS.pop()
        except IndexError:  # none left (or another thread took the last): draw more
            pool = secrets.token_hex(MARKER_BYTES * MARKERS_DRAWN)
            step = 2 * MARKER_BYTES
            _MARKERS.extend(pool[i : i + step] for i in range(0, len(pool), step))


_MARKERS: list[str] = []
# A forked process must not use the markers its parent will.
os.register_at_fork(after_in_child=_MARKERS.clear)


def build_script(
    marker: str,
    *,
    crontabs: bool = True,
    logs: LogRequest | None = None,
    processes: bool = False,
    time_limit: float | None = None,
) -> str:
    """The probe for one host. Facts always; crontabs, logs and processes when asked (a scan
    that reads logs always lists processes too). With a time limit (seconds), whatever the
    probe started is killed on the host once it has passed."""
    parts = ["set +e", _PRELUDE.format(marker=marker)]
    if time_limit is not None:
        parts.append(_WATCHDOG.format(seconds=math.ceil(time_limit)))
    if crontabs:
        parts.append(_CRONTABS)
    if logs is not None:
        parts.append(_log_readers(LOG_READ_BYTES, LOG_SEND_BYTES))
        parts.extend(_log_calls(logs))
        if logs.mail_folder is not None:
            parts.append(mailbox_script(logs.mail_folder, logs.mailboxes))
    if logs is not None and logs.lookups:
        parts.append(lookup_script(logs.lookups))
    if processes or logs is not None:
        parts.append(_PROCESSES)
    if time_limit is not None:
        parts.append('kill "$W"')
    parts.append('printf \'%s done %s\\n\' "$M" "$S"')
    return "\n".join(parts)


def _log_calls(request: LogRequest) -> list[str]:
    """The calls that read the host's logs: the files asked for, or, with none asked for,
    every cron log the host has (AUTO_LOGS), the ones already followed from their cursors.

    Cron's lines are often in more than one of them (rsyslog writing cron.log beside syslog,
    cron.log enabled later, syslog told `cron.none` after that): reading them all keeps the
    history whole, and a run read twice is one run (store.RUN_IDENTITY: its host, start to the
    second, pid, user and command; the journal's copy too). The journal is read where no file
    is (autologs), or once a cursor says so."""
    since = str(int(request.since.timestamp()))
    files = request.files or tuple(request.cursors)
    calls = []
    if not request.files and request.journal_cursor is None:
        followed = [path for path in request.cursors if path in AUTO_LOGS]
        calls.append(" ".join(["autologs", since, *map(shlex.quote, followed)]))
    if request.journal_cursor is not None and "journal" not in files:
        files = (*files, "journal")
    for path in files:
        if path == "journal":
            calls.append(f"journal {shlex.quote(request.journal_cursor or '-')} {since}")
            continue
        known = request.cursors.get(path)
        if known is None:
            calls.append(f"firstlog {shlex.quote(path)} {since}")
        else:
            calls.append(_read_again(path, known))
    return calls


def _read_again(path: str, known: LogCursor) -> str:
    """The call that reads a log (or a mailbox) on from where `known` says the last read stopped."""
    args: list[str | int]
    if known.archive_mtime is not None:
        args = ["firstlog", path, known.archive_mtime, known.inode, known.offset]
    else:
        args = ["readlog", path, known.inode, known.offset, known.head_len, known.head_hash]
        args += [known.tail_len, known.tail_hash or "-"]
    return " ".join(shlex.quote(str(a)) for a in args)


def parse_output(
    reply: Reply,
    marker: str,
    zone_override: str | None = None,
    lookups: Sequence[tuple[str, str]] = (),
) -> ProbeResult:
    """The probe's answer; ProbeError when it holds no facts or is not whole. `lookups` are
    the ones the probe was built with (its answer is a 1 or a 0 for each)."""
    sections = read_sections(reply, marker)
    if not sections or sections[0].kind != "meta":
        stderr = reply.stderr.decode(errors="replace").strip()[-300:]
        raise ProbeError(
            f"the probe printed no facts (exit {reply.exit_status}){': ' + stderr if stderr else ''}"
        )
    result = ProbeResult(facts=_facts(sections[0].body, reply, zone_override))
    log = ""  # the log (or mailbox) the next pieces belong to, and where they go
    pieces = result.logs
    for section in sections[1:]:
        kind, rest = section.kind, section.rest
        if kind == "file":
            result.crontabs.append(_crontab_file(rest.split(" ", 3), section.body))
        elif kind == "unreadable":
            result.unreadable.append(rest.split(" ", 3)[-1])
        elif kind in ("logfile", "mailbox"):
            log, pieces = rest, result.logs if kind == "logfile" else result.mail
        elif kind == "log":
            chunk = _log_chunk(log, rest.split(" ", 6), section.body, section.end)
            pieces.append(chunk)
            if chunk.more:
                result.wait(log)
        elif kind in LOG_PROBLEMS:
            result.missing_logs[rest] = LOG_PROBLEMS[kind]
        elif kind == "log-waits":
            result.wait(rest)
        elif kind == "journal":
            result.journal = section.body
            if section.end[-1:] == ["1"]:
                result.wait("journal")
        elif kind == "processes":
            result.processes = _processes(section.body)
        elif kind == "lookups":
            answers = section.body.split()
            if len(answers) == len(lookups):
                result.on_path = {pair: a == b"1" for pair, a in zip(lookups, answers, strict=True)}
    return result


@dataclass
class Section:
    kind: str
    rest: str  # the header after the kind
    body: bytes
    end: list[str]  # what its end line says after the body's length


def read_sections(reply: Reply, marker: str) -> list[Section]:
    """Every section of a probe's answer up to its `done` line, each checked against the length
    its end line gives, and their number against the one `done` gives: ProbeError when the answer
    is not whole. [] when there is no section at all. Text before the first section (a motd, a
    chatty .bashrc) is skipped."""
    stdout, tag = reply.stdout, f"@@{marker}@@ ".encode()
    separator = b"\n" + tag
    if stdout.startswith(tag):
        pos = 0
    elif (found := stdout.find(separator)) >= 0:
        pos = found + 1
    else:
        return []
    cut = ProbeError(
        f"the probe's answer was cut short after {len(stdout)} bytes (exit {reply.exit_status})"
    )
    sections: list[Section] = []
    while True:
        eol = stdout.find(b"\n", pos)
        if eol < 0 or not stdout.startswith(tag, pos):
            raise cut
        kind, _, rest = stdout[pos + len(tag) : eol].decode(errors="replace").partition(" ")
        if kind == "done":
            if rest != str(len(sections)):
                raise ProbeError(f"the probe's answer has {len(sections)} of its {rest} sections")
            return sections
        body_end = stdout.find(separator, eol + 1)
        end_eol = stdout.find(b"\n", body_end + 1)
        if body_end < 0 or end_eol < 0:
            raise cut
        word, _, said = (
            stdout[body_end + 1 + len(tag) : end_eol].decode(errors="replace").partition(" ")
        )
        length, *end = said.split(" ")
        body = stdout[eol + 1 : body_end]
        if word != "end" or length != str(len(body)):
            raise ProbeError(
                f"the probe's answer is incomplete: a {kind} section has {len(body)} bytes, "
                f"its end line says {length or 'nothing'}"
            )
        sections.append(Section(kind, rest, body, end))
        pos = end_eol + 1


def split_sections(stdout: bytes, marker: str) -> list[tuple[str, bytes]]:
    """(header, body) per section of a script that prints them as the probe does, unchecked (the
    actions' scripts): text before the first marker is dropped, and so are the end lines."""
    chunks = (b"\n" + stdout).split(f"\n@@{marker}@@ ".encode())[1:]
    sections = []
    for chunk in chunks:
        header, _, body = chunk.partition(b"\n")
        if header.split(b" ", 1)[0] != b"end":
            sections.append((header.decode(errors="replace"), body))
    return sections


def _facts(body: bytes, reply: Reply, zone_override: str | None) -> ProbeFacts:
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
    return ProbeFacts(
        hostname=values.get("hostname", ""),
        clock=datetime.fromtimestamp(epoch, zone),
        zone=zone,
        zone_name=zone_name,
        user=values.get("user", ""),
        uid=int(values["uid"]) if values.get("uid", "").isdigit() else -1,
        skew=clock_skew(epoch, reply.sent_at, reply.received_at),
        booted_at=(
            datetime.fromtimestamp(int(values["booted"]), UTC)
            if values.get("booted", "").isdigit()
            else None
        ),
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


def _log_chunk(log: str, fields: list[str], body: bytes, end: list[str]) -> LogChunk:
    mode, inode, start, head_len, head_sum, mtime, path = fields
    read, more, tail_len, tail_sum = end
    return LogChunk(
        log=log,
        path=path,
        mode=mode,
        lines=body,
        start=int(start),
        read=int(read),
        more=more == "1",
        inode=int(inode) if inode.isdigit() else None,
        head_len=int(head_len),
        head_sum=head_sum,
        tail_len=int(tail_len),
        tail_sum=tail_sum,
        mtime=int(mtime) if mtime.isdigit() else None,
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
class JobProcess:
    """A job's process as the host's process list shows it (records.RunningJob is it stored,
    with its entry and start)."""

    pid: int
    user: str
    elapsed_s: int
    command: str  # as cron handed it to the shell


def cron_processes(processes: list[Process]) -> tuple[Process | None, list[JobProcess]]:
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
            jobs.append(JobProcess(p.pid, p.user, p.elapsed_s, command))
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
