"""Rerun, pause, resume, edit and undo a crontab entry on its host: each checked, verified, recorded.

A crontab change is line surgery on the text cronops last read; the host refuses the write when its
crontab is no longer that text, keeps a backup, and what it then holds is read back and compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import re
import shlex
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cronops import probe
from cronops.analysis import SAME_PROCESS_S
from cronops.crontab import (
    CRON_PATH,
    SYSTEM,
    Crontab,
    Entry,
    PauseInfo,
    edit_line,
    line_text,
    parse_crontab,
    pause_line,
    replace_line,
    resume_line,
    split_percent,
)
from cronops.inventory import Host
from cronops.policy import PolicyBook
from cronops.runs import OUTPUT_LINES_KEPT
from cronops.scan import Clock, entry_matcher, scan_fleet, utc_now
from cronops.schedule import never_runs
from cronops.store import Store, from_iso, iso
from cronops.transport import Connector, OutputSink, Reply, shell_command
from cronops.transport.local import local_user

CRONTAB_ACTIONS = ("pause", "resume", "edit", "undo")
# A rerun's output is streamed, not kept: only its last lines, at most this many bytes of them.
OUTPUT_BYTES_KEPT = 64 * 1024
_USER_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*\$?")

# Replaces a crontab on the host, if it still is the text the change was made from.
#   sh -c WRITE cronops MARKER MODE PATH USER SHA256   (the new text on stdin)
# MODE: "file" (/etc/crontab, /etc/cron.d: a temp file beside it, renamed over it), "spool" (a
# user crontab read from the spool as root: `crontab -u USER -`), "crontab" (our own: `crontab -`).
_WRITE = r"""
set -u
M="@@$1@@" mode=$2 path=$3 user=$4 expect=$5
section() { printf '%s %s\n' "$M" "$*"; }
current() { if [ "$mode" = crontab ]; then crontab -l 2>/dev/null; else cat -- "$path"; fi; }
show() { current; printf '\n'; section end; }
fail() { section failed; printf '%s\n' "$1"; exit 4; }
sum=$(current | sha256sum); sum=${sum%% *}
if [ "$sum" != "$expect" ]; then section changed; show; exit 3; fi
if [ "$(id -u)" = 0 ]; then dir=/var/backups/cronops; else dir=${HOME:-/tmp}/.cronops/backups; fi
backup=$dir/$(printf '%s' "$path" | tr '/:' '__').$(date +%Y%m%dT%H%M%S).$$
(umask 077; mkdir -p "$dir" && current >"$backup") || fail "could not keep a backup in $dir"
section backup "$backup"
case $mode in
  file)
    t=$(mktemp "${path%/*}/.cronops.XXXXXX") || fail "could not create a file beside $path"
    if ! { cat >"$t" && chmod "$(stat -c %a "$path")" "$t" && chmod go-w "$t" &&
           { [ "$(id -u)" != 0 ] || chown root:root "$t"; } && mv -f "$t" "$path"; }; then
      rm -f "$t"; fail "could not replace $path"
    fi ;;
  spool) out=$(crontab -u "$user" - 2>&1) || fail "crontab -u $user - refused it: $out" ;;
  crontab) out=$(crontab - 2>&1) || fail "crontab - refused it: $out" ;;
esac
section after
show
"""

# Where a rerun's directory is made on the host (the login's own, as root's or anyone's).
_RERUNS = '"${HOME:-/tmp}/.cronops/reruns"'

# How the login acts as the entry's user (USER is quoted): as root ("runuser": root may also
# signal anyone), as that user itself, through passwordless sudo, or not at all ("refused LOGIN").
_RUNAS = r"""
section runas
if [ "$U" = 0 ]; then echo runuser
elif [ "$(id -un)" = @USER@ ]; then echo self
elif sudo -n -u @USER@ true 2>/dev/null; then echo sudo
else echo "refused $(id -un)"; fi
"""

# Before a rerun: how do we become its user, and is a rerun of it left running still there?
# (Whether cron runs it now, the probe's process list says.)  USER and ENTRY are quoted.
_RERUN_CHECK = (
    _RUNAS
    + r"""
getent passwd @USER@ | cut -d: -f6
section reruns
live() {  # PID DIR: the rerun's leader runs (not a zombie, nor a later process with its pid)
  began=$(cat "$2/began" 2>/dev/null)
  set -- $(cut -d' ' -f3,22 "/proc/$1/stat" 2>/dev/null)
  [ $# = 2 ] && [ "$1" != Z ] && [ "$2" = "$began" ]
}
for dir in @RERUNS@/run.*; do
  [ "$(cat "$dir/entry" 2>/dev/null)" = @ENTRY@ ] && [ ! -e "$dir/status" ] || continue
  pid=$(cat "$dir/pid" 2>/dev/null) && live "$pid" "$dir" && echo "$pid $dir"
done
section end
""".replace("@RERUNS@", _RERUNS)
)


class ActionError(Exception):
    """The action was not done and nothing changed; `detail` shows why (a diff, an error).

    `refused`: a check said no (the crontab changed, the job runs now); else something failed."""

    def __init__(
        self, message: str, detail: str = "", *, refused: bool = True, login: str | None = None
    ):
        super().__init__(message)
        self.detail = detail
        self.refused = refused
        self.login = login  # who cronops was logged in as on the host, when it got that far
        self.recorded = False  # in the audit trail already


class StillRunning(ActionError):
    """A rerun refused because the entry runs on its host right now: a forced rerun starts another."""


@dataclass
class Target:
    """An entry as cronops last read it, with the crontab it is in and the host it is on."""

    host: Host
    entry: Entry
    crontab: Crontab

    @property
    def where(self) -> str:
        return f"{self.host.name}:{self.entry.source}:{self.entry.line}"


@dataclass
class Change:
    """A crontab change ready to write: the file as read, and as it will be."""

    action: str
    host: Host
    entry_id: str
    crontab: Crontab
    line: int
    after: str  # the whole file after the change
    base: str = ""  # the file the change was made from (default: as cronops read it)
    undoes: str = ""  # an undo's: which change it takes back, in words

    def __post_init__(self) -> None:
        self.base = self.base or self.crontab.text

    @property
    def line_before(self) -> str:
        return line_text(self.base, self.line)

    @property
    def line_after(self) -> str:
        return line_text(self.after, self.line)

    def diff(self) -> str:
        return unified_diff(self.base, self.after, f"{self.host.name}:{self.crontab.source}")


@dataclass
class Done:
    """What an action did: the audit trail row, and what an operator needs next."""

    action_id: int
    message: str
    entry_id: str  # after an edit of the command, the entry's new id
    backup: str | None = None
    exit_status: int | None = None
    output: list[str] = field(default_factory=list)
    ending: str | None = None  # a rerun's: how it ended (Ending)
    pid: int | None = None  # a rerun's or a kill's process group on the host
    output_path: str | None = None  # where a rerun left running writes its output, on the host
    signal: int | None = None  # a kill's: the last signal sent to the run's process group
    result: str = "ok"  # as the audit trail says: ok, or failed


def actor() -> str:
    """Who acts, as the audit trail names them: the real user of this process at this machine."""
    return f"{local_user()}@{socket.gethostname()}"


def unified_diff(before: str, after: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"{name} (as read)",
            f"{name} (after)",
        )
    )


# -- finding the entry ----------------------------------------------------------------------


def find_target(store: Store, hosts: Sequence[Host], entry_id: str) -> Target:
    """The entry with this id (as `cronops jobs` lists it), re-read from the stored crontab."""
    known = store.entry(entry_id)
    if known is None or not known.present:
        raise ActionError(
            f"no entry {entry_id!r} in the history: `cronops jobs` lists the ids "
            "(`cronops scan` first if it is new)"
        )
    host = _host(hosts, known.host)
    stored = store.crontab(known.host, known.source)
    if stored is None:
        raise ActionError(f"the crontab {known.source} of {known.host} is not in the history")
    crontab = parse_crontab(
        stored["text"],
        host=known.host,
        source=known.source,
        kind=stored["kind"],
        owner=stored["owner"],
    )
    entry = next((e for e in crontab.entries if e.id == entry_id), None)
    if entry is None:
        raise ActionError(f"entry {entry_id} is no longer in {known.source}: scan again")
    return Target(host, entry, crontab)


def _host(hosts: Sequence[Host], name: str) -> Host:
    host = next((h for h in hosts if h.name == name), None)
    if host is None:
        raise ActionError(f"the entry is on host {name!r}, which is not in the inventory")
    return host


# -- planning a change (pure) ---------------------------------------------------------------


def plan_pause(
    target: Target, by: str, at: datetime, reason: str = "", until: datetime | None = None
) -> Change:
    entry = target.entry
    if entry.paused:
        raise ActionError(f"{entry.id} is already paused (by {entry.paused.by})")
    if entry.disabled:
        raise ActionError(f"{entry.id} is commented out in its crontab: cron does not run it")
    marker = PauseInfo(by=by, at=at, reason=reason, until=until)
    return _change("pause", target, pause_line(target.crontab.text, entry.line, marker))


def plan_resume(target: Target) -> Change:
    if not target.entry.paused:
        raise ActionError(f"{target.entry.id} is not paused by cronops")
    return _change("resume", target, resume_line(target.crontab.text, target.entry.line))


def plan_edit(target: Target, schedule: str | None = None, command: str | None = None) -> Change:
    entry = target.entry
    if entry.disabled:
        raise ActionError(f"{entry.id} is paused or commented out: resume it before editing")
    try:
        new_line = edit_line(entry.text, target.crontab.kind, schedule=schedule, command=command)
    except ValueError as exc:
        raise ActionError(str(exc)) from exc
    if schedule is not None and never_runs(schedule.strip()):
        raise ActionError(f"this schedule never runs: no date matches {schedule.strip()!r}")
    return _change("edit", target, replace_line(target.crontab.text, entry.line, new_line))


def plan_undo(store: Store, hosts: Sequence[Host], entry_id: str) -> Change:
    """Take back cronops' latest change to the entry that is still standing, if nobody changed
    the crontab since cronops last wrote it.

    Undo walks back through the entry's changes one at a time: each undo takes back the latest
    change not yet taken back, and is never itself taken back (that would be a redo)."""
    done = [
        a
        for a in reversed(store.actions(entry_id=entry_id, limit=-1))  # (-1: SQLite's no limit)
        if a["action"] in CRONTAB_ACTIONS and a["result"] == "ok"
    ]
    if not done:
        raise ActionError(f"cronops has not changed entry {entry_id}: nothing to undo")
    standing = _standing(done)
    if not standing:
        raise ActionError(
            f"nothing left to undo: each of cronops' changes to entry {entry_id} is undone"
        )
    undone, latest = standing[-1], done[-1]
    host = _host(hosts, undone["host"])
    stored = store.crontab(undone["host"], undone["path"])
    kind = stored["kind"] if stored else SYSTEM
    owner = stored["owner"] if stored else None
    crontab = parse_crontab(
        latest["crontab_after"], host=host.name, source=undone["path"], kind=kind, owner=owner
    )
    return Change(
        "undo",
        host,
        latest["new_entry_id"] or latest["entry_id"],
        crontab,
        undone["line"],
        after=undone["crontab_before"],
        undoes=f"the {undone['action']} of {undone['at'][:19].replace('T', ' ')} UTC "
        f"by {undone['actor']}",
    )


def _standing(done: list[dict]) -> list[dict]:
    """The changes not taken back, oldest first, from the entry's changes and undos in order."""
    standing: list[dict] = []
    for action in done:
        if action["action"] != "undo":
            standing.append(action)
        elif standing:
            standing.pop()
    return standing


def _change(action: str, target: Target, after: str) -> Change:
    return Change(action, target.host, target.entry.id, target.crontab, target.entry.line, after)


# -- writing a change ----------------------------------------------------------------------


async def apply(
    change: Change,
    connector: Connector,
    store: Store,
    who: str,
    clock: Clock = utc_now,
    policy: PolicyBook | None = None,
) -> Done:
    """Write the change if the host's crontab is still what it was based on; verify; record."""
    crontab = change.crontab
    mode = _write_mode(crontab)
    payload = _as_installed(change.after, mode, crontab.kind)
    marker = probe.new_marker()
    args = [marker, mode, crontab.source, crontab.owner or "", _sha256(change.base)]
    reply = await connector.run(
        change.host,
        shell_command(change.host, _sh_c(_WRITE, "cronops-write", args)),
        payload.encode("utf-8", "surrogateescape"),
    )
    trail = _trail(change, who, clock) | {"login": reply.login or change.host.user}
    try:
        sections = _sections(reply, marker)
        backup = _first_line(sections.get("backup", ""))
        if "changed" in sections:
            raise ActionError(
                f"{crontab.source} on {change.host.name} changed since cronops read it: "
                "nothing was written; scan again and retry",
                unified_diff(
                    change.base, sections["changed"], f"{change.host.name}:{crontab.source}"
                ),
            )
        if "failed" in sections:
            raise ActionError(f"nothing was written: {sections['failed'].strip()}", refused=False)
        written = sections.get("after")
        if written is None or _as_installed(written, mode, crontab.kind) != payload:
            raise ActionError(
                f"{crontab.source} on {change.host.name} does not read back as written; "
                f"the previous version is in {backup or 'the history'}",
                unified_diff(change.after, written or "", f"{change.host.name}:{crontab.source}"),
                refused=False,
            )
    except ActionError as exc:
        _record_failure(store, trail, exc)
        raise
    new_id = _entry_id_at(written, change)
    action_id = store.record_action(
        trail
        | {
            "new_entry_id": new_id if new_id != change.entry_id else None,
            "crontab_after": written,
            "result": "ok",
            "detail": f"took back {change.undoes}; backup {backup}"
            if change.undoes
            else f"backup {backup}",
        }
    )
    await _rescan(change.host, connector, store, clock, policy)
    return Done(
        action_id, f"{change.action}: {crontab.source} written and verified", new_id, backup
    )


def _write_mode(crontab: Crontab) -> str:
    if crontab.kind == SYSTEM:
        return "file"
    return "spool" if crontab.source.startswith("/") else "crontab"


def _as_installed(text: str, mode: str, kind: str) -> str:
    """What `crontab -` is given: the spool file without the header lines it adds itself."""
    if mode != "spool":
        return text
    header = parse_crontab(text, host="", source="", kind=kind).header_lines
    return text.split("\n", header)[-1] if header else text


def _entry_id_at(text: str, change: Change) -> str:
    crontab = change.crontab
    after = parse_crontab(
        text, host=change.host.name, source=crontab.source, kind=crontab.kind, owner=crontab.owner
    )
    found = next((e for e in after.entries if e.line == change.line), None)
    return found.id if found else change.entry_id


def record_refusal(
    store: Store, who: str, action: str, entry_id: str, exc: ActionError, clock: Clock = utc_now
) -> None:
    """An action refused or failed that is not in the audit trail yet (an unknown id, an entry
    gone, not paused, an invalid schedule, nothing to kill...) goes in too, with what is known of
    it (the login, once the host was reached)."""
    if exc.recorded:
        return
    known = store.entry(entry_id)
    row = _trail_row(who, clock, known.host if known else None, action, entry_id)
    where = (
        {"path": known.source, "line": known.line, "before": known.text}
        if known
        else {"path": None, "line": None, "before": None}
    )
    _record_failure(store, row | where | {"login": exc.login}, exc)


def _trail(change: Change, who: str, clock: Clock) -> dict:
    row = _trail_row(who, clock, change.host.name, change.action, change.entry_id)
    return row | {
        "new_entry_id": None,
        "path": change.crontab.source,
        "line": change.line,
        "before": change.line_before,
        "after": change.line_after,
        "crontab_before": change.base,
        "crontab_after": None,
    }


def _trail_row(who: str, clock: Clock, host: str | None, action: str, entry_id: str) -> dict:
    """What every row of the audit trail says: when, who, where, which entry, what."""
    return {
        "at": iso(clock()),
        "actor": who,
        "host": host,
        "entry_id": entry_id,
        "action": action,
    }


def _record_failure(store: Store, trail: dict, exc: ActionError) -> None:
    detail = f"{exc}\n{exc.detail}".strip()
    store.record_action(
        trail | {"result": "refused" if exc.refused else "failed", "detail": detail}
    )
    exc.recorded = True


# -- rerun ---------------------------------------------------------------------------------
#
# A rerun runs on its host in a session, and so a process group, of its own, its input and output
# in files there that cronops streams: closing the SSH channel cannot kill it, and cronops can stop
# exactly its group, or leave it running, whatever becomes of cronops itself.

# Starts the job:  sh -c START cronops-rerun MARKER ENTRY JOB...   (the job's % input on stdin)
# Prints "PID BEGAN DIR": its session leader's pid (= its process group), the leader's start
# time in /proc ("-" if it has ended; a later process given the same pid is not it) and its
# directory, where the leader writes `status` when the job ends (and `entry`, `began`: the check
# before a rerun looks for one left running). In the foreground `setsid -f` forks, so the job does
# not inherit the SIGINT and SIGQUIT a background job of sh ignores; busybox's setsid lacks -f.
_RERUN_START = r"""
set -u
M="@@$1@@" entry=$2; shift 2
fail() { printf '%s failed\n%s\n' "$M" "$1"; exit 4; }
base=@RERUNS@
dir=$(umask 077 && mkdir -p "$base" && mktemp -d "$base/run.XXXXXX") ||
  fail "could not make a directory in $base"
{ cat >"$dir/input" && : >"$dir/output" && echo "$entry" >"$dir/entry"; } ||
  fail "could not write in $dir"
lead='echo $$ >"$0/pid.new" && mv "$0/pid.new" "$0/pid"; "$@"
echo $? >"$0/status.new"; mv "$0/status.new" "$0/status"'
if setsid -f true 2>/dev/null; then
  setsid -f /bin/sh -c "$lead" "$dir" "$@" <"$dir/input" >"$dir/output" 2>&1
else
  setsid /bin/sh -c "$lead" "$dir" "$@" <"$dir/input" >"$dir/output" 2>&1 &
fi
n=0
while [ ! -s "$dir/pid" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -s "$dir/pid" ] || fail "the job did not start (is setsid installed?)"
pid=$(cat "$dir/pid") began=$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)
echo "${began:--}" >"$dir/began"
printf '%s started\n%s %s %s\n' "$M" "$pid" "${began:--}" "$dir"
""".replace("@RERUNS@", _RERUNS)

# Streams the job's output:  sh -c WATCH cronops-watch DIR PID BEGAN
# The output on stdout as it grows, until the job has ended and all of it is out; then how it
# ended on stderr ("exit N", or "no status" when its leader was killed), and its directory goes.
# While the job is quiet, a newline on stderr at each look: once cronops has gone (the job left
# running, or cronops killed), that write to the closed channel ends this loop.
_RERUN_WATCH = r"""
set -u
dir=$1 pid=$2 began=$3 off=0 idle=0
alive() {
  set -- $(cut -d' ' -f3,22 "/proc/$pid/stat" 2>/dev/null)
  [ $# = 2 ] && [ "$1" != Z ] && [ "$2" = "$began" ]
}
while :; do
  ended=
  if [ -e "$dir/status" ] || ! alive; then ended=1; fi
  size=$(wc -c <"$dir/output") || exit 4
  if [ "$size" -gt "$off" ]; then
    tail -c "+$((off + 1))" "$dir/output" | head -c "$((size - off))"
    off=$size idle=0
  elif [ -n "$ended" ]; then
    break
  else
    echo >&2 || exit 4
    if [ $idle -lt 25 ]; then idle=$((idle + 1)); sleep 0.2; else sleep 1; fi
  fi
done
if [ -e "$dir/status" ]; then echo "exit $(cat "$dir/status")" >&2; else echo "no status" >&2; fi
rm -rf -- "$dir"
"""

# Stops a process group: a rerun stopped, and a run killed.   stop_group PGID TENTHS AS
# TERM to the group, KILL after TENTHS tenths of a second if any of it is left; then says what it
# did ("signal none" when nothing of it ran) and what is left (zombies do not count: they are
# gone, only not yet reaped). AS ("sudo -n -u USER --", or nothing) signals once more as that
# user, for processes of a user the login is not. `kill` is the program, not the shell's builtin:
# the same command with or without AS (and one the demo hosts can stand in for). `kill -s TERM
# -- -PGID` is not used: procps-ng 4.0.2's kill reads a small -PGID there as a signal.
_STOP_GROUP = r"""
members() {
  ps -e -o pgid=,pid=,stat= 2>/dev/null | awk -v pg="$pg" '$1 == pg && $3 !~ /^Z/ { print $2 }'
}
send() {
  env kill -"$1" -- "-$pg" 2>/dev/null
  [ -z "$as" ] || $as kill -"$1" -- "-$pg" 2>/dev/null
}
gone_within() {
  n=0
  while [ -n "$(members)" ] && [ $n -lt "$1" ]; do sleep 0.1; n=$((n + 1)); done
}
stop_group() {
  pg=$1 as=$3 signal=none
  case $pg in ''|*[!0-9]*|0|1) echo "not a process group: $pg"; exit 4 ;; esac
  if [ -n "$(members)" ]; then
    signal=TERM; send TERM; gone_within "$2"
    if [ -n "$(members)" ]; then signal=KILL; send KILL; gone_within 50; fi
  fi
  echo "signal $signal"
  echo "left $(members | tr '\n' ' ')"
}
"""

# Stops a rerun's job:  sh -c STOP cronops-stop PGID TENTHS AS DIR
# As stop_group, then the job's exit status if its leader wrote one; its directory goes with it.
_RERUN_STOP = (
    "set -u\n"
    + _STOP_GROUP
    + r"""
stop_group "$1" "$2" "$3"
dir=$4
if [ -e "$dir/status" ]; then echo "status $(cat "$dir/status")"; fi
[ -n "$(members)" ] || rm -rf -- "$dir"
"""
)


@dataclass
class _Stopped:
    """What stop_group said it did on the host, or why it could not say (`failed`)."""

    said: dict[str, str]  # its lines, by their first word
    grace: float
    failed: str = ""

    @property
    def signum(self) -> int | None:
        """The last signal sent; None when nothing of the group ran (or nothing was sent)."""
        names = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
        found = names.get(self.said.get("signal", ""))
        return int(found) if found is not None else None

    @property
    def how(self) -> str:
        return (
            "TERM" if self.signum == signal.SIGTERM else f"TERM, then KILL after {self.grace:g} s"
        )

    @property
    def left(self) -> list[str]:
        return self.said.get("left", "").split()

    @property
    def status(self) -> int | None:
        value = self.said.get("status", "")
        return int(value) if value.isdigit() else None


async def _stop_group(
    connector: Connector,
    host: Host,
    script: str,
    group: int,
    grace: float,
    as_user: str,
    more: Sequence[str],
) -> _Stopped:
    """Run a script that stops process `group` with stop_group, KILL `grace` seconds after TERM."""
    args = [str(group), str(round(grace * 10)), as_user, *more]
    reply = await connector.run(
        host,
        shell_command(host, _sh_c(script, "cronops-stop", args)),
        timeout=grace + host.command_timeout,
    )
    out = reply.stdout.decode(errors="replace")
    said = dict(line.partition(" ")[::2] for line in out.splitlines())
    if not reply.ok:
        return _Stopped(said, grace, f"{reply.status}: {reply.error}")
    if "signal" not in said:
        return _Stopped(said, grace, out.strip() or f"exit {reply.exit_status}")
    return _Stopped(said, grace)


class Ending(StrEnum):
    """How a rerun ended, as the audit trail and the operator are told."""

    EXITED = "exited"  # it ran to its end
    STOPPED = "stopped"  # the operator had its process group stopped
    LEFT_RUNNING = "left running"  # the operator left it running on the host, detached
    TIMED_OUT = "timed out"  # stopped at the time limit
    LOST = "lost"  # the connection dropped while watching; stopped if it could be


# Asked when the operator interrupts a rerun: STOPPED, LEFT_RUNNING, or None to carry on watching.
Decide = Callable[[], Awaitable[Ending | None]]


@dataclass
class _Job:
    """A rerun started on its host: its session leader, which leads its process group, and the
    directory holding its input, output and (once it ends) exit status."""

    pid: int
    # The leader's start time in /proc: a later process given its pid is not taken for it.
    began: str
    directory: str
    login: str | None  # who cronops logged in as
    switch: list[str]  # how that login becomes the entry's user ([] when it is that user)
    started_at: datetime

    @property
    def output_path(self) -> str:
        return f"{self.directory}/output"


async def rerun(
    target: Target,
    connector: Connector,
    store: Store,
    who: str,
    *,
    force: bool = False,
    on_output: OutputSink | None = None,
    clock: Clock = utc_now,
    limit: float | None = None,
    interrupted: asyncio.Event | None = None,
    decide: Decide | None = None,
) -> Done:
    """Run the entry's command now, as its user, with its crontab environment, as cron would.

    Its output streams to `on_output`. When `interrupted` is set, `decide` (without one: stop it)
    says whether to stop the job, leave it running, or carry on; past `limit` seconds (default: the
    host's rerun_timeout) it is stopped. Each way it ends is recorded, as is a run cut short by
    this coroutine's own cancellation (the job is stopped first)."""
    host = target.host
    limit = host.rerun_timeout if limit is None else limit
    trail = _entry_trail(target, who, clock, "rerun")
    try:
        job = await _start_job(target, connector, force, clock)
    except ActionError as exc:
        _record_failure(store, trail | {"login": exc.login or host.user}, exc)
        raise
    run = _Rerun(target, connector, store, trail | {"login": job.login}, job, on_output, clock)
    watching = asyncio.ensure_future(run.watch(limit))
    try:
        ending = await _follow(watching, limit, interrupted, decide)
    except asyncio.CancelledError:
        # Whoever awaited this is going away (the TUI closing): the job must not be orphaned.
        await _cancel(watching)
        await run.stop(Ending.STOPPED, "stopped as cronops closed")
        raise
    if ending is Ending.EXITED:
        reply = watching.result()
        said, status = _watched_status(reply)
        return run.exited(status) if said else await run.stop(Ending.LOST, _lost_why(reply))
    await _cancel(watching)
    if ending is Ending.LEFT_RUNNING:
        return run.left_running()
    if ending is Ending.TIMED_OUT:
        return await run.stop(ending, f"time limit of {limit:g} s reached")
    return await run.stop(ending, f"stopped by {who}")


async def _start_job(target: Target, connector: Connector, force: bool, clock: Clock) -> _Job:
    entry, host = target.entry, target.host
    if not _USER_NAME.fullmatch(entry.user):
        raise ActionError(f"{entry.user!r} is not a user name cronops can switch to")
    switch, home, login = await _rerun_check(target, connector, force)
    command, stdin = split_percent(entry.command)
    argv = [
        *switch,
        "env",
        "-i",
        f"HOME={home}",
        f"LOGNAME={entry.user}",
        "SHELL=/bin/sh",
        f"PATH={CRON_PATH}",
        *(f"{name}={value}" for name, value in entry.env),
        "/bin/sh",
        "-c",
        'cd "$HOME" && exec "$SHELL" -c "$1"',
        "cronops-rerun",
        command,
    ]
    marker = probe.new_marker()
    reply = await connector.run(
        host,
        shell_command(host, _sh_c(_RERUN_START, "cronops-rerun", [marker, entry.id, *argv])),
        (stdin or "").encode("utf-8", "surrogateescape"),
    )
    started_at = clock()
    if not reply.ok:
        raise ActionError(f"{host.name}: {reply.status}: {reply.error}", refused=False, login=login)
    said = {
        header: body.decode("utf-8", "surrogateescape").strip()
        for header, body in probe.split_sections(reply.stdout, marker)
    }
    started = said.get("started", "").split(maxsplit=2)
    if len(started) != 3 or not started[0].isdigit() or int(started[0]) <= 1:
        why = said.get("failed") or reply.stderr.decode(errors="replace").strip()[-300:]
        raise ActionError(
            f"{host.name}: the job was not started: {why}", refused=False, login=login
        )
    pid, began, directory = started
    return _Job(int(pid), began, directory, login, switch, started_at)


async def _follow(
    watching: asyncio.Future[Reply],
    limit: float,
    interrupted: asyncio.Event | None,
    decide: Decide | None,
) -> Ending:
    """Wait for the job to end, the time limit, or the operator: how the rerun is to end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        nudge = asyncio.ensure_future(interrupted.wait()) if interrupted is not None else None
        # The job's reply and the operator's nudge: futures of different results.
        waiting: set[asyncio.Future[Any]] = {watching} if nudge is None else {watching, nudge}
        try:
            done, _ = await asyncio.wait(
                waiting,
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if nudge is not None:
                nudge.cancel()
        if watching in done:
            return Ending.EXITED
        if not done:
            return Ending.TIMED_OUT
        assert interrupted is not None
        interrupted.clear()
        # The output streams on while the operator decides; the job may end meanwhile.
        choice = await decide() if decide is not None else Ending.STOPPED
        if watching.done():
            return Ending.EXITED
        if choice is not None:
            return choice


def _watched_status(reply: Reply) -> tuple[bool, int | None]:
    """Whether the watch said how the job ended, and its exit status (None: it was killed)."""
    lines = reply.stderr.decode(errors="replace").strip().splitlines() if reply.ok else []
    last = lines[-1] if lines else ""
    if last == "no status":
        return True, None
    word, _, value = last.partition(" ")
    if word == "exit" and value.isdigit():
        return True, int(value)
    return False, None


def _lost_why(reply: Reply) -> str:
    if not reply.ok:
        return f"lost the connection while watching ({reply.status}: {reply.error})"
    said = reply.stderr.decode(errors="replace").strip()[-300:]
    return f"the watch on the host ended without saying how the job did ({said or 'no word'})"


async def _cancel(task: asyncio.Future) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class _Rerun:
    """A job started on its host: streamed, stopped or left running, and recorded as it ended."""

    def __init__(
        self,
        target: Target,
        connector: Connector,
        store: Store,
        trail: dict,
        job: _Job,
        on_output: OutputSink | None,
        clock: Clock,
    ):
        self.target, self.connector, self.store, self.trail = target, connector, store, trail
        self.job, self.output, self.clock = job, _Output(on_output), clock
        self.group = f"pid {job.pid}, process group {job.pid}"

    async def watch(self, limit: float) -> Reply:
        """Stream the job's output until it ends (cancelling this leaves the job as it is)."""
        host, job = self.target.host, self.job
        args = [job.directory, str(job.pid), job.began]
        return await self.connector.run(
            host,
            shell_command(host, _sh_c(_RERUN_WATCH, "cronops-watch", args)),
            on_output=self.output.add,
            # The time limit is the rerun's to enforce, by stopping the job: never the channel's.
            timeout=limit + host.kill_grace + host.command_timeout,
        )

    def exited(self, status: int | None) -> Done:
        said = f"exited {status}" if status is not None else "was killed (not by cronops)"
        return self._record(Ending.EXITED, "ok", f"the job {said}", status=status, ended=True)

    def left_running(self) -> Done:
        path = self.job.output_path
        who = self.trail["actor"]
        detail = f"left running detached by {who}: {self.group}; its output goes to {path}"
        return self._record(Ending.LEFT_RUNNING, "ok", detail, ended=False)

    async def stop(self, ending: Ending, reason: str) -> Done:
        """TERM to the job's process group, KILL after a grace, and what is left, verified."""
        host, job = self.target.host, self.job
        as_user = " ".join(job.switch) if job.switch[:1] == ["sudo"] else ""
        stopped = await _stop_group(
            self.connector, host, _RERUN_STOP, job.pid, host.kill_grace, as_user, [job.directory]
        )
        if stopped.failed:
            detail = (
                f"{reason}; could not stop it ({stopped.failed}): it may still run ({self.group})"
            )
            return self._record(ending, "failed", detail, ended=False)
        status = stopped.status
        if stopped.signum is None:
            how = f"exit {status}" if status is not None else "no exit status"
            detail = f"{reason}: it had ended already ({how})"
            return self._record(ending, "ok", detail, status=status, ended=True)
        how = f"{reason}: {stopped.how} to {self.group}"
        if stopped.left:
            detail = f"{how}; still running: pids {' '.join(stopped.left)}"
            return self._record(ending, "failed", detail, signum=stopped.signum, ended=False)
        result = "ok" if ending is Ending.STOPPED else "failed"
        detail = f"{how}; none of it is left"
        return self._record(ending, result, detail, signum=stopped.signum, ended=True)

    def _record(
        self,
        ending: Ending,
        result: str,
        detail: str,
        *,
        ended: bool,
        status: int | None = None,
        signum: int | None = None,
    ) -> Done:
        """The audit trail's row and the manual run, in one transaction; what to tell."""
        entry, host, job = self.target.entry, self.target.host.name, self.job
        started = iso(job.started_at)
        run = {
            "host": host,
            "entry_id": entry.id,
            "user": entry.user,
            "command": split_percent(entry.command)[0],
            "started_at": started,
            "ended_at": iso(self.clock()) if ended else None,
            "status": status,
            "signal": signum,
            "pid": job.pid,
            "source": "cronops",
            "dialect": "cronops",
            "trigger": "manual",
            "output_tail": "\n".join(self.output.tail()),
        }
        action_id = self.store.record_action(
            self.trail | {"result": result, "detail": detail}, [run]
        )
        return Done(
            action_id,
            f"rerun on {host}: {detail}",
            entry.id,
            result=result,
            exit_status=status,
            output=self.output.tail(),
            ending=ending,
            pid=job.pid,
            output_path=job.output_path if ending is Ending.LEFT_RUNNING else None,
        )


async def _rerun_check(
    target: Target, connector: Connector, force: bool
) -> tuple[list[str], str, str | None]:
    """How to become the entry's user on its host, their home, and who cronops logged in as;
    refuses when the entry runs now."""
    entry, host = target.entry, target.host
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=False, processes=True)
    script += _RERUN_CHECK.replace("@USER@", shlex.quote(entry.user)).replace(
        "@ENTRY@", shlex.quote(entry.id)
    )
    reply = await connector.run(host, shell_command(host, probe.PROBE_COMMAND), script.encode())
    if not reply.ok:
        raise ActionError(f"{host.name}: {reply.status}: {reply.error}", refused=False)
    result = probe.parse_output(reply, marker, host.timezone)
    sections = dict(probe.split_sections(reply.stdout, marker))
    how, home = _runas(sections, entry.user, host, reply.login)
    if not home:
        raise ActionError(f"no user {entry.user} on {host.name}", login=reply.login)
    if not force:
        _refuse_if_running(entry, host, result.processes or [], reply.login)
        _refuse_if_left_running(entry, host, sections.get("reruns", b""), reply.login)
    switch = {
        "runuser": ["runuser", "-u", entry.user, "--"],
        "sudo": ["sudo", "-n", "-u", entry.user, "--"],
    }
    return switch.get(how, []), home, reply.login


def _runas(sections: dict[str, bytes], user: str, host: Host, login: str | None) -> tuple[str, str]:
    """How the login becomes `user` (_RUNAS: runuser, self or sudo), and what the section says
    after that; refused when it may not."""
    how, _, rest = sections.get("runas", b"").decode("utf-8", "surrogateescape").partition("\n")
    if how.startswith("refused"):
        connected = how.removeprefix("refused").strip()
        raise ActionError(
            f"connected to {host.name} as {connected}, who may not run commands as {user} "
            f"without a password (`sudo -n -u {user}` is refused or sudo is missing)",
            login=login,
        )
    return how, rest.strip()


def _entry_jobs(entry: Entry, processes: list[probe.Process]) -> list[probe.JobProcess]:
    """The entry's runs in a process list: cron's children running its command."""
    _, jobs = probe.cron_processes(processes)
    match = entry_matcher([entry])
    return [job for job in jobs if match(job.user, job.command) == entry.id]


def _refuse_if_running(
    entry: Entry, host: Host, processes: list[probe.Process], login: str | None
) -> None:
    if jobs := _entry_jobs(entry, processes):
        raise StillRunning(
            f"{entry.id} is running right now on {host.name} (pid {jobs[0].pid}, for "
            f"{jobs[0].elapsed_s} s): not starting another; force it to run anyway",
            login=login,
        )


def _refuse_if_left_running(entry: Entry, host: Host, found: bytes, login: str | None) -> None:
    """A rerun left running is no child of cron, so not in the process list's cron jobs."""
    if lines := found.decode("utf-8", "surrogateescape").splitlines():
        pid, _, directory = lines[0].partition(" ")
        raise StillRunning(
            f"{entry.id} is running right now on {host.name}: a rerun left running (pid {pid}, "
            f"its output in {directory}/output): not starting another; force it to run anyway",
            login=login,
        )


def _entry_trail(target: Target, who: str, clock: Clock, action: str) -> dict:
    """The trail's row for an action on a run of the entry (a rerun, a kill): its line as read."""
    entry = target.entry
    row = _trail_row(who, clock, target.host.name, action, entry.id)
    return row | {"path": entry.source, "line": entry.line, "before": entry.text}


class _Output:
    """A run's output as it streams: handed on live, and only its tail kept for the history
    (bounded in bytes and lines, whatever the job prints)."""

    def __init__(self, sink: OutputSink | None):
        self.sink = sink
        self.kept = bytearray()
        self.cut = False  # the start of what is kept is not the start of the output

    def add(self, piece: bytes) -> None:
        if self.sink is not None:
            self.sink(piece)
        self.kept += piece
        # Trimmed once it is twice the tail: each byte is moved about once, not once per piece.
        if len(self.kept) > 2 * OUTPUT_BYTES_KEPT:
            del self.kept[: len(self.kept) - OUTPUT_BYTES_KEPT]
            self.cut = True

    def tail(self) -> list[str]:
        data = self.kept[-OUTPUT_BYTES_KEPT:]
        lines = data.decode(errors="replace").splitlines()
        if (self.cut or len(self.kept) > OUTPUT_BYTES_KEPT) and len(lines) > 1:
            lines = lines[1:]  # the first line kept lost its beginning
        return lines[-OUTPUT_LINES_KEPT:]


# -- kill ----------------------------------------------------------------------------------
#
# cron starts a job as `sh -c COMMAND` below a fork of its own, and that shell calls setsid: it
# leads a session and a process group of its own, which the job's processes share unless they
# leave it (a daemon's double fork and setsid). A kill signals that group.

# Before a kill: how the login may signal the entry's user's processes (USER is quoted), and
# every process with its group and session. ps's lstart is a process's start to the second:
# the kill checks it again, so a later process given the leader's pid is never signalled.
_KILL_CHECK = (
    _RUNAS
    + r"""
section groups
ps -e -o pid=,ppid=,pgid=,sid=,stat=,etimes=,user:32=,lstart=,args= 2>/dev/null
section end
"""
)

# Kills a run:  sh -c KILL cronops-kill PGID TENTHS AS LSTART
# As stop_group, unless the group's leader runs with another start than LSTART (then its pid is
# another process's now, and the run has ended); then the host's clock ("at EPOCH").
_KILL = (
    "set -u\n"
    + _STOP_GROUP
    + r"""
leader=$(echo $(ps -o lstart= -p "$1" 2>/dev/null))
if [ -n "$leader" ] && [ "$leader" != "$4" ]; then
  printf 'signal none\nleft \n'
else
  stop_group "$1" "$2" "$3"
fi
echo "at $(date +%s)"
"""
)
# ps's columns before the command line (lstart is five words: "Fri Dec  4 10:05:00 2026").
_PS_WORDS = 12


@dataclass(frozen=True)
class HostProcess:
    """One process of the host's list, with its process group and session."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str  # ps's STAT: Z is a zombie (ended, not yet reaped)
    elapsed_s: int
    user: str
    lstart: str  # when it started, as ps says it
    args: str

    @property
    def alive(self) -> bool:
        return not self.state.startswith("Z")


@dataclass
class LiveRun:
    """A run of the entry on its host now: the shell cron started, which leads a process group,
    the processes in that group (itself among them), and those of its session or descendants
    that left the group (`strays`: a kill does not reach them)."""

    leader: HostProcess
    started_at: datetime  # by the host's clock, in its zone
    members: list[HostProcess]
    strays: list[HostProcess]

    @property
    def pid(self) -> int:
        return self.leader.pid

    def describe(self) -> str:
        """pid, user, start, how long, and each process: what the operator sees before a kill."""
        leader = self.leader
        lines = [
            f"pid {leader.pid} as {leader.user}, started {_stamp(self.started_at)}, "
            f"running for {timedelta(seconds=leader.elapsed_s)}",
            f"its process group {leader.pid}:",
            *(f"  {p.pid:>7}  {p.args}" for p in self.members),
        ]
        if self.strays:
            lines.append("left its process group (a kill does not reach them):")
            lines += [f"  {p.pid:>7}  {p.args}" for p in self.strays]
        return "\n".join(lines)


@dataclass
class Kill:
    """A kill ready to send: the entry, its runs on its host now, and how the login signals
    processes of the entry's user ("sudo -n -u USER --", or "" as root or as that user)."""

    target: Target
    runs: list[LiveRun]
    signal_as: str
    login: str | None

    def choose(self, pid: int | None) -> LiveRun:
        """The run with this pid, or the only one."""
        entry, host = self.target.entry, self.target.host.name
        listing = "\n\n".join(run.describe() for run in self.runs)
        if pid is None and len(self.runs) == 1:
            return self.runs[0]
        if pid is None:
            raise ActionError(
                f"{len(self.runs)} runs of {entry.id} are running on {host}: choose one by its pid",
                listing,
            )
        found = next((run for run in self.runs if run.pid == pid), None)
        if found is None:
            raise ActionError(f"pid {pid} is not a run of {entry.id} on {host}", listing)
        return found

    def question(self, run: LiveRun, grace: float | None = None) -> str:
        """What a kill of `run` would do, for the operator to agree to."""
        grace = self.target.host.kill_grace if grace is None else grace
        return (
            f"{self.target.entry.command}\n{run.describe()}\n"
            f"TERM to process group {run.pid}, KILL {grace:g} s later if any of it is left"
        )


async def plan_kill(target: Target, connector: Connector) -> Kill:
    """The entry's runs on its host now (cron's children running its command) and how the login
    may signal them; refused when none runs, or when the login may not act as the entry's user."""
    entry, host = target.entry, target.host
    if not _USER_NAME.fullmatch(entry.user):
        raise ActionError(f"{entry.user!r} is not a user name cronops can act as")
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=False)
    script += _KILL_CHECK.replace("@USER@", shlex.quote(entry.user))
    reply = await connector.run(host, shell_command(host, probe.PROBE_COMMAND), script.encode())
    if not reply.ok:
        raise ActionError(f"{host.name}: {reply.status}: {reply.error}", refused=False)
    try:
        clock = probe.parse_output(reply, marker, host.timezone).facts.clock
    except probe.ProbeError as exc:
        raise ActionError(f"{host.name}: {exc}", refused=False, login=reply.login) from exc
    sections = dict(probe.split_sections(reply.stdout, marker))
    how, _ = _runas(sections, entry.user, host, reply.login)
    runs = live_runs(entry, host_processes(sections.get("groups", b"")), clock)
    if not runs:
        raise ActionError(
            f"{entry.id} is not running on {host.name}: cron runs no process of it now",
            login=reply.login,
        )
    signal_as = f"sudo -n -u {entry.user} --" if how == "sudo" else ""
    return Kill(target, runs, signal_as, reply.login)


def host_processes(listing: bytes) -> list[HostProcess]:
    """_KILL_CHECK's process list (a line that is not one is skipped)."""
    processes = []
    for line in listing.decode("utf-8", "surrogateescape").splitlines():
        words = line.split(None, _PS_WORDS)
        numbers = [*words[:4], words[5] if len(words) > 5 else ""]
        if len(words) < _PS_WORDS or not all(n.isdigit() for n in numbers):
            continue
        pid, ppid, pgid, sid = map(int, words[:4])
        args = words[_PS_WORDS] if len(words) > _PS_WORDS else ""
        lstart = " ".join(words[7:_PS_WORDS])
        processes.append(
            HostProcess(pid, ppid, pgid, sid, words[4], int(words[5]), words[6], lstart, args)
        )
    return processes


def live_runs(entry: Entry, processes: list[HostProcess], clock: datetime) -> list[LiveRun]:
    """The entry's runs among the host's processes, each with its group and its strays."""
    listed = [probe.Process(p.pid, p.ppid, p.user, p.elapsed_s, p.args) for p in processes]
    by_pid = {p.pid: p for p in processes}
    runs = []
    for job in _entry_jobs(entry, listed):
        leader = by_pid[job.pid]
        if not leader.alive:
            continue
        alive = [p for p in processes if p.alive]
        members = [p for p in alive if p.pgid == leader.pid]
        strays = [
            p
            for p in alive
            if p.pgid != leader.pid and (p.sid == leader.pid or _descends(p, leader.pid, by_pid))
        ]
        started = clock - timedelta(seconds=leader.elapsed_s)
        runs.append(LiveRun(leader, started, members, strays))
    return runs


def _descends(process: HostProcess, ancestor: int, by_pid: dict[int, HostProcess]) -> bool:
    seen = set()
    while process.ppid not in seen and process.ppid in by_pid:
        if process.ppid == ancestor:
            return True
        seen.add(process.pid)
        process = by_pid[process.ppid]
    return False


async def kill_run(
    kill: Kill,
    run: LiveRun,
    connector: Connector,
    store: Store,
    who: str,
    *,
    grace: float | None = None,
    clock: Clock = utc_now,
    policy: PolicyBook | None = None,
) -> Done:
    """TERM to the run's process group, KILL after `grace` seconds (default: the host's
    kill_grace) if any of it is left; checked gone; recorded in the audit trail and, on the run
    cron logged for it, as its outcome (the signal)."""
    target, host = kill.target, kill.target.host
    grace = host.kill_grace if grace is None else grace
    trail = _entry_trail(target, who, clock, "kill") | {"login": kill.login or host.user}
    stopped = await _stop_group(
        connector, host, _KILL, run.pid, grace, kill.signal_as, [run.leader.lstart]
    )
    count = len(run.members)
    group = f"process group {run.pid} ({count} process{'' if count == 1 else 'es'})"
    strays = (
        f"; pids {' '.join(str(p.pid) for p in run.strays)} had left it and were not signalled"
        if run.strays
        else ""
    )
    if stopped.failed:
        detail = f"could not signal {group} ({stopped.failed}): it may still run"
        return _killed(store, trail, "failed", detail, target, run)
    # Scanned first: the history then holds the run's start line, and no longer its process.
    await _rescan(host, connector, store, clock, policy)
    if stopped.signum is None:
        detail = f"pid {run.pid} had ended already: nothing was signalled"
        return _killed(store, trail, "ok", detail, target, run)
    sent = f"{stopped.how} to {group}{strays}"
    if stopped.left:
        detail = f"{sent}; still running: pids {' '.join(stopped.left)}"
        return _killed(store, trail, "failed", detail, target, run, stopped.signum)
    ended = stopped.said.get("at", "")
    ended_at = datetime.fromtimestamp(int(ended), UTC) if ended.isdigit() else clock()
    logged = store.run_of_process(
        host.name,
        run.pid,
        run.started_at - timedelta(seconds=SAME_PROCESS_S),
        run.started_at + timedelta(seconds=SAME_PROCESS_S),
    )
    if logged is None:
        outcome = (
            "no run in the history started with it (its start line not read?): "
            "the kill is recorded here only"
        )
        runs = []
    else:
        started = from_iso(logged["started_at"])
        assert started is not None
        when = _stamp(started.astimezone(run.started_at.tzinfo))
        outcome = f"its run started {when} is recorded as killed by signal {stopped.signum}"
        runs = [
            logged | {"signal": stopped.signum, "ended_at": logged["ended_at"] or iso(ended_at)}
        ]
    detail = f"{sent}; none of it is left; {outcome}"
    return _killed(store, trail, "ok", detail, target, run, stopped.signum, runs)


def _killed(
    store: Store,
    trail: dict,
    result: str,
    detail: str,
    target: Target,
    run: LiveRun,
    signum: int | None = None,
    runs: Sequence[dict] = (),
) -> Done:
    """The trail's row and the run's outcome, in one transaction; what to tell."""
    action_id = store.record_action(trail | {"result": result, "detail": detail}, runs)
    message = f"kill on {target.host.name}: {detail}"
    return Done(action_id, message, target.entry.id, pid=run.pid, signal=signum, result=result)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}"


# -- shared helpers ------------------------------------------------------------------------


async def _rescan(
    host: Host, connector: Connector, store: Store, clock: Clock, policy: PolicyBook | None
) -> None:
    """Scan the host again, so the history shows what the action changed there (and, with the
    inventory's policy, its stored findings: a pause resolves them)."""
    async for _ in scan_fleet([host], store, connector, 1, clock=clock, policy=policy):
        pass


def _sh_c(script: str, name: str, args: Sequence[str]) -> str:
    """`sh -c SCRIPT NAME ARGS...`: every value a separate, quoted word, never spliced into code."""
    return " ".join(shlex.quote(word) for word in ("sh", "-c", script, name, *args))


def _sections(reply: Reply, marker: str) -> dict[str, str]:
    if not reply.ok:
        raise ActionError(
            f"nothing was written: {reply.host.name}: {reply.status}: {reply.error}", refused=False
        )
    found = {}
    for header, body in probe.split_sections(reply.stdout, marker):
        kind, _, rest = header.partition(" ")
        found[kind] = rest or body.decode("utf-8", "surrogateescape")
    if not found:
        said = reply.stderr.decode(errors="replace").strip()[-300:]
        raise ActionError(
            f"nothing was written: the host answered exit {reply.exit_status} {said}",
            refused=False,
        )
    return found


def _first_line(text: str) -> str | None:
    return text.splitlines()[0] if text else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
