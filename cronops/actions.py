"""Rerun, pause, resume, edit and undo a crontab entry on its host: each checked, verified, recorded.

A crontab change is line surgery on the text cronops last read; the host refuses the write when its
crontab is no longer that text, keeps a backup, and what it then holds is read back and compared.
"""

from __future__ import annotations

import difflib
import getpass
import hashlib
import re
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cronops import probe
from cronops.crontab import (
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
from cronops.runs import OUTPUT_LINES_KEPT
from cronops.scan import Clock, entry_matcher, scan_fleet, utc_now
from cronops.store import Store, iso, run_key
from cronops.transport import Connector, OutputSink, Reply, shell_command

CRONTAB_ACTIONS = ("pause", "resume", "edit", "undo")
# A rerun is an incident responder's job that may take hours: only they stop it (Ctrl-C).
RERUN_TIMEOUT_S = 24 * 3600.0
# The environment cron starts a job with (Debian's PATH); the crontab's own settings come after.
CRON_PATH = "/usr/bin:/bin"
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

# Before a rerun: is the entry running now, and how do we become its user?
_RERUN_CHECK = r"""
section runas
if [ "$U" = 0 ]; then echo runuser
elif [ "$(id -un)" = {user} ]; then echo self
elif sudo -n -u {user} true 2>/dev/null; then echo sudo
else echo "refused $(id -un)"; fi
getent passwd {user} | cut -d: -f6
section end
"""


class ActionError(Exception):
    """The action was not done and nothing changed; `detail` shows why (a diff, an error).

    `refused`: a check said no (the crontab changed, the job runs now); else something failed."""

    def __init__(self, message: str, detail: str = "", *, refused: bool = True):
        super().__init__(message)
        self.detail = detail
        self.refused = refused


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


def actor() -> str:
    """Who acts, as the audit trail names them: the local user at this machine."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


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
    rows = store.rows("select * from entries where id = ? and present = 1", [entry_id])
    if not rows:
        raise ActionError(
            f"no entry {entry_id!r} in the history: `cronops jobs` lists the ids "
            "(`cronops scan` first if it is new)"
        )
    row = rows[0]
    host = _host(hosts, row["host"])
    stored = store.crontab(row["host"], row["source"])
    if stored is None:
        raise ActionError(f"the crontab {row['source']} of {row['host']} is not in the history")
    crontab = parse_crontab(
        stored["text"],
        host=row["host"],
        source=row["source"],
        kind=stored["kind"],
        owner=stored["owner"],
    )
    entry = next((e for e in crontab.entries if e.id == entry_id), None)
    if entry is None:
        raise ActionError(f"entry {entry_id} is no longer in {row['source']}: scan again")
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
    return _change("edit", target, replace_line(target.crontab.text, entry.line, new_line))


def plan_undo(store: Store, hosts: Sequence[Host], entry_id: str) -> Change:
    """Put back the crontab as it was before the entry's last change, if nobody changed it since."""
    last = next(
        (
            a
            for a in store.actions(entry_id=entry_id)
            if a["action"] in CRONTAB_ACTIONS and a["result"] == "ok"
        ),
        None,
    )
    if last is None:
        raise ActionError(f"cronops has not changed entry {entry_id}: nothing to undo")
    host = _host(hosts, last["host"])
    stored = store.crontab(last["host"], last["path"])
    kind = stored["kind"] if stored else SYSTEM
    owner = stored["owner"] if stored else None
    crontab = parse_crontab(
        last["crontab_after"], host=host.name, source=last["path"], kind=kind, owner=owner
    )
    return Change(
        "undo",
        host,
        last["new_entry_id"] or last["entry_id"],
        crontab,
        last["line"],
        after=last["crontab_before"],
    )


def _change(action: str, target: Target, after: str) -> Change:
    return Change(action, target.host, target.entry.id, target.crontab, target.entry.line, after)


# -- writing a change ----------------------------------------------------------------------


async def apply(
    change: Change, connector: Connector, store: Store, who: str, clock: Clock = utc_now
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
    trail = _trail(change, who, clock)
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
        store.record_action(trail | _result(exc))
        raise
    new_id = _entry_id_at(written, change)
    action_id = store.record_action(
        trail
        | {
            "new_entry_id": new_id if new_id != change.entry_id else None,
            "crontab_after": written,
            "result": "ok",
            "detail": f"backup {backup}",
        }
    )
    async for _ in scan_fleet([change.host], store, connector, 1, clock=clock):
        pass
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


def _trail(change: Change, who: str, clock: Clock) -> dict:
    row = _trail_row(who, clock, change.host, change.action, change.entry_id)
    return row | {
        "new_entry_id": None,
        "path": change.crontab.source,
        "line": change.line,
        "before": change.line_before,
        "after": change.line_after,
        "crontab_before": change.base,
        "crontab_after": None,
    }


def _trail_row(who: str, clock: Clock, host: Host, action: str, entry_id: str) -> dict:
    """What every row of the audit trail says: when, who, where, which entry, what."""
    return {
        "at": iso(clock()),
        "actor": who,
        "host": host.name,
        "entry_id": entry_id,
        "action": action,
    }


def _result(exc: ActionError) -> dict:
    detail = f"{exc}\n{exc.detail}".strip()
    return {"result": "refused" if exc.refused else "failed", "detail": detail}


# -- rerun ---------------------------------------------------------------------------------


async def rerun(
    target: Target,
    connector: Connector,
    store: Store,
    who: str,
    *,
    force: bool = False,
    on_output: OutputSink | None = None,
    clock: Clock = utc_now,
) -> Done:
    """Run the entry's command now, as its user, with its crontab environment, as cron would."""
    entry, host = target.entry, target.host
    if not _USER_NAME.fullmatch(entry.user):
        raise ActionError(f"{entry.user!r} is not a user name cronops can switch to")
    trail = _rerun_trail(target, who, clock)
    try:
        switch, home = await _rerun_check(target, connector, force)
    except ActionError as exc:
        store.record_action(trail | _result(exc))
        raise
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
    output = _Output(on_output)
    started = clock()
    reply = await connector.run(
        host,
        shell_command(host, " ".join(shlex.quote(a) for a in argv)),
        (stdin or "").encode("utf-8", "surrogateescape"),
        on_output=output.add,
        timeout=RERUN_TIMEOUT_S,
    )
    ended = clock()
    if not reply.ok:
        exc = ActionError(f"{host.name}: {reply.status}: {reply.error}", refused=False)
        store.record_action(trail | _result(exc))
        raise exc
    status = reply.exit_status if reply.exit_status is not None and reply.exit_status >= 0 else None
    run = {
        "id": run_key(host.name, iso(started), None, entry.user, f"rerun by {who}"),
        "host": host.name,
        "entry_id": entry.id,
        "user": entry.user,
        "command": command,
        "started_at": iso(started),
        "ended_at": iso(ended),
        "status": status,
        "signal": None,
        "pid": None,
        "source": "cronops",
        "dialect": "cronops",
        "trigger": "manual",
        "output_tail": "\n".join(output.tail()),
    }
    said = "exited 0" if status == 0 else f"exited {status}" if status is not None else "was killed"
    action_id = store.record_action(trail | {"result": "ok", "detail": f"the run {said}"}, [run])
    return Done(
        action_id, f"rerun on {host.name}: the job {said}", entry.id, None, status, output.tail()
    )


async def _rerun_check(target: Target, connector: Connector, force: bool) -> tuple[list[str], str]:
    """How to become the entry's user on its host, and their home; refuses when it runs now."""
    entry, host = target.entry, target.host
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=False, processes=True)
    script += _RERUN_CHECK.format(user=shlex.quote(entry.user))
    reply = await connector.run(host, shell_command(host, probe.PROBE_COMMAND), script.encode())
    if not reply.ok:
        raise ActionError(f"{host.name}: {reply.status}: {reply.error}", refused=False)
    result = probe.parse_output(reply, marker, host.timezone)
    runas = dict(probe.split_sections(reply.stdout, marker)).get("runas", b"").decode()
    how, _, home = runas.partition("\n")
    home = home.strip()
    if how.startswith("refused"):
        connected = how.removeprefix("refused").strip()
        raise ActionError(
            f"connected to {host.name} as {connected}, who may not run commands as {entry.user} "
            f"without a password (`sudo -n -u {entry.user}` is refused or sudo is missing)"
        )
    if not home:
        raise ActionError(f"no user {entry.user} on {host.name}")
    if not force:
        _refuse_if_running(entry, host, result.processes or [])
    switch = {
        "runuser": ["runuser", "-u", entry.user, "--"],
        "sudo": ["sudo", "-n", "-u", entry.user, "--"],
    }
    return switch.get(how, []), home


def _refuse_if_running(entry: Entry, host: Host, processes: list[probe.Process]) -> None:
    _, jobs = probe.cron_processes(processes)
    match = entry_matcher([entry])
    for job in jobs:
        if match(job.user, job.command) == entry.id:
            raise StillRunning(
                f"{entry.id} is running right now on {host.name} (pid {job.pid}, for "
                f"{job.elapsed_s} s): not starting another; force it to run anyway"
            )


def _rerun_trail(target: Target, who: str, clock: Clock) -> dict:
    entry = target.entry
    row = _trail_row(who, clock, target.host, "rerun", entry.id)
    return row | {"path": entry.source, "line": entry.line, "before": entry.text}


class _Output:
    """A run's output as it streams: handed on live, and its last lines kept for the history."""

    def __init__(self, sink: OutputSink | None):
        self.sink = sink
        self.data = bytearray()

    def add(self, piece: bytes) -> None:
        self.data += piece
        if self.sink is not None:
            self.sink(piece)

    def tail(self) -> list[str]:
        return self.data.decode(errors="replace").splitlines()[-OUTPUT_LINES_KEPT:]


# -- shared helpers ------------------------------------------------------------------------


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
