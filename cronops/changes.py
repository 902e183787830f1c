"""What changed in the fleet's crontabs: a timeline per crontab file and per entry.

Pure: the crontab versions the history kept, the lines the hosts' `crontab` program logged and
cronops' own audit trail in; changes out, each with who and when wherever something says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from itertools import groupby

from cronops.crontab import USER, Entry, EnvSetting, StoredCrontab

# What a change did, to a file or to one entry or setting of it.
FILE_ADDED = "file added"
FILE_REMOVED = "file removed"
REWRITTEN = "rewritten"  # written again with the same jobs and settings (comments, a header)
ADDED = "added"
REMOVED = "removed"
SCHEDULE = "schedule changed"
COMMAND = "command changed"
PAUSED = "paused"
RESUMED = "resumed"
DISABLED = "disabled"  # commented out by hand
ENABLED = "enabled"
SETTING = "setting changed"
REPLACED = "replaced"  # the host's log says so, and no version cronops read differs
# How `at` is known: cronops' audit trail or the host's log say when; else the file's
# modification time; else only that the scan at `seen_at` found it, and it happened before.
BY_CRONOPS, BY_LOG, BY_MTIME, BY_SCAN = "cronops", "log", "mtime", "scan"

# The lines of Debian's and cronie's `crontab` program.
REPLACE, DELETE, BEGIN_EDIT = "REPLACE", "DELETE", "BEGIN EDIT"
# A cronops action and the `crontab -` it ran are seconds apart.
SAME_WRITE = timedelta(minutes=1)
# Syslog stamps whole seconds: a line stamped 10:16:10 may come after a scan at 10:16:10.4.
LOG_GRAIN = timedelta(seconds=1)


@dataclass(frozen=True)
class CrontabEdit:
    """A line the host's `crontab` program logged: `crontab[pid]: (actor) REPLACE (user)`."""

    host: str
    at: datetime
    pid: int | None
    actor: str  # who ran `crontab`
    user: str  # whose crontab it is
    action: str  # REPLACE, DELETE, BEGIN EDIT or END EDIT


@dataclass(frozen=True)
class CronopsEdit:
    """A crontab change cronops wrote (pause, resume, edit, undo), from its audit trail."""

    host: str
    path: str
    at: datetime
    actor: str  # the local user@host who ran cronops
    action: str
    entry_id: str | None
    crontab_after: str  # the file as cronops read it back


@dataclass(frozen=True)
class Change:
    at: datetime  # when it happened, as well as `known_by` tells
    known_by: str  # BY_CRONOPS, BY_LOG, BY_MTIME or BY_SCAN
    host: str
    path: str
    kind: str
    entry_id: str | None = None  # the entry as it is after the change (before, if removed)
    previous_id: str | None = None  # its id before, when the change gave it a new one
    line: int | None = None
    before: str | None = None  # the line (or NAME=value) before and after
    after: str | None = None
    who: str | None = None  # as cronops or the host's log says; None when nothing says
    via: str | None = None  # "cronops edit", "crontab -e", "crontab -", "crontab -r"
    seen_at: datetime | None = None  # the scan that found it
    not_before: datetime | None = None  # the scan before, which had not seen it yet

    def concerns(self, entry_id: str) -> bool:
        return entry_id in (self.entry_id, self.previous_id)


@dataclass
class _Invocation:
    """One run of the `crontab` program: its lines share a pid."""

    host: str
    pid: int | None
    actor: str
    user: str
    edits: list[CrontabEdit] = field(default_factory=list)

    @property
    def writes(self) -> list[CrontabEdit]:
        return [edit for edit in self.edits if edit.action in (REPLACE, DELETE)]

    @property
    def at(self) -> datetime:
        return (self.writes or self.edits)[-1].at

    @property
    def via(self) -> str:
        actions = {edit.action for edit in self.edits}
        if DELETE in actions:
            return "crontab -r"
        return "crontab -e" if BEGIN_EDIT in actions else "crontab -"


def timeline(
    versions: Sequence[StoredCrontab],
    edits: Iterable[CrontabEdit],
    actions: Iterable[CronopsEdit],
    first_scans: Mapping[str, datetime],
    since: datetime,
) -> list[Change]:
    """The changes found since `since`, in time order.

    `versions` are each file's versions by host and path, oldest first, starting with the one
    before `since` where there is one; `edits` and `actions` reach back as far (they say who
    made a version found after `since`). A host's first successful scan (`first_scans`) found
    what was already there: no change."""
    invocations = _invocations(edits)
    actions = list(actions)
    claimed: set[int] = set()  # ids of the invocations that made a version
    changes: list[Change] = []
    for _, group in groupby(versions, key=lambda v: (v.host, v.path)):
        previous: StoredCrontab | None = None
        for version in group:
            seen = version.seen_at
            first = first_scans.get(version.host)
            baseline = previous is None and first is not None and seen is not None and seen <= first
            if not baseline and seen is not None and seen >= since:
                made = _made_by(previous, version, seen, invocations, actions, claimed)
                changes += [replace(made, **item) for item in _what_changed(previous, version)]
            previous = version
    changes += _unseen_writes(invocations, claimed, versions, since)
    return sorted(changes, key=lambda c: (c.at, c.host, c.path, c.line or 0))


def _invocations(edits: Iterable[CrontabEdit]) -> list[_Invocation]:
    """The log's lines by `crontab` run: a pid's lines in a row, until an action repeats."""
    found: list[_Invocation] = []
    open_ones: dict[tuple, _Invocation] = {}
    for edit in sorted(edits, key=lambda e: e.at):
        key = (edit.host, edit.pid, edit.actor, edit.user)
        current = open_ones.get(key)
        if current is None or edit.pid is None or edit.action in {e.action for e in current.edits}:
            current = _Invocation(edit.host, edit.pid, edit.actor, edit.user)
            open_ones[key] = current
            found.append(current)
        current.edits.append(edit)
    return found


def _made_by(
    previous: StoredCrontab | None,
    version: StoredCrontab,
    seen: datetime,  # version.seen_at, which a version with changes has
    invocations: list[_Invocation],
    actions: list[CronopsEdit],
    claimed: set[int],
) -> Change:
    """Who made this version and when, as far as the audit trail, the log or the file tell;
    the change without its kind, to be completed per item."""
    after = previous.seen_at if previous else None
    made = Change(
        at=seen,
        known_by=BY_SCAN,
        host=version.host,
        path=version.path,
        kind="",
        seen_at=seen,
        not_before=after,
    )
    mtime = version.mtime
    if version.text is not None and mtime and (after is None or after < mtime) and mtime <= seen:
        made = replace(made, at=mtime, known_by=BY_MTIME)

    def between(moment: datetime, grain: timedelta = timedelta(0)) -> bool:
        return (after is None or after < moment + grain) and moment <= seen

    writes = [
        run
        for run in invocations
        if id(run) not in claimed
        and version.kind == USER
        and run.host == version.host
        and run.user == version.owner
        and run.writes
        and between(run.at, LOG_GRAIN)
        and (DELETE in {e.action for e in run.writes}) == (version.text is None)
    ]
    ours = [
        action
        for action in actions
        if action.host == version.host
        and action.path == version.path
        and action.crontab_after == version.text
        and between(action.at)
    ]
    if ours:
        action = ours[-1]
        # cronops installs a user crontab with `crontab -`: that line is this action too.
        claimed.update(id(run) for run in writes if abs(run.at - action.at) <= SAME_WRITE)
        return replace(
            made,
            at=action.at,
            known_by=BY_CRONOPS,
            who=action.actor,
            via=f"cronops {action.action}",
        )
    if writes:
        run = writes[-1]
        claimed.add(id(run))
        return replace(made, at=run.at, known_by=BY_LOG, who=run.actor, via=run.via)
    return made


def _what_changed(previous: StoredCrontab | None, version: StoredCrontab) -> list[dict]:
    """The items of one version step: the file added or removed, and each entry and setting
    added, removed or changed; a step that changed none of them rewrote the file."""
    if previous is None or previous.text is None:
        return [{"kind": FILE_ADDED}] + [_entry_item(ADDED, e) for e in version.parsed().entries]
    if version.text is None:
        entries = previous.parsed().entries
        return [{"kind": FILE_REMOVED}] + [_entry_item(REMOVED, e) for e in entries]
    old, new = previous.parsed(), version.parsed()
    items = _entry_changes(old.entries, new.entries, _rewritten_blocks(old.text, new.text))
    items += _setting_changes(old.settings, new.settings)
    return items or [{"kind": REWRITTEN}]


def _rewritten_blocks(old: str, new: str) -> list[tuple[range, range]]:
    """The old and new line numbers of each block a diff of the two texts rewrote in place."""
    matcher = SequenceMatcher(None, old.split("\n"), new.split("\n"), autojunk=False)
    return [
        (range(old_start + 1, old_end + 1), range(new_start + 1, new_end + 1))
        for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes()
        if tag == "replace"
    ]


def _entry_changes(
    old: list[Entry], new: list[Entry], rewritten: list[tuple[range, range]]
) -> list[dict]:
    before = {entry.id: entry for entry in old}
    after = {entry.id: entry for entry in new}
    gone = [entry for entry in old if entry.id not in after]
    came = [entry for entry in new if entry.id not in before]
    items = []
    for entry in new:
        if entry.id in before:
            items += _entry_edits(before[entry.id], entry)
    # An entry's id is its command: in a block of lines rewritten in place, the entries gone
    # and come, in order, for the same user, are entries whose command changed.
    for old_lines, new_lines in rewritten:
        pairs = zip(
            [e for e in gone if e.line in old_lines],
            [e for e in came if e.line in new_lines],
            strict=False,
        )
        for was, entry in pairs:
            if was.user == entry.user:
                gone.remove(was)
                came.remove(entry)
                items.append(_entry_item(COMMAND, entry, was) | {"previous_id": was.id})
    items += [_entry_item(REMOVED, entry) for entry in gone]
    items += [_entry_item(ADDED, entry) for entry in came]
    return sorted(items, key=lambda item: item["line"])


def _entry_edits(was: Entry, now: Entry) -> list[dict]:
    items = []
    if was.schedule != now.schedule:
        items.append(_entry_item(SCHEDULE, now, was))
    if (was.paused is None) != (now.paused is None):
        items.append(_entry_item(RESUMED if now.paused is None else PAUSED, now, was))
    elif was.disabled != now.disabled:
        items.append(_entry_item(DISABLED if now.disabled else ENABLED, now, was))
    return items


def _entry_item(kind: str, entry: Entry, was: Entry | None = None) -> dict:
    removed = kind == REMOVED
    return {
        "kind": kind,
        "entry_id": entry.id,
        "line": entry.line,
        "before": entry.text if removed else was.text if was else None,
        "after": None if removed else entry.text,
    }


def _setting_changes(old: Sequence[EnvSetting], new: Sequence[EnvSetting]) -> list[dict]:
    """NAME=value lines whose value changed, came or went (the last value of a name counts)."""
    was = {setting.name: setting for setting in old}
    now = {setting.name: setting for setting in new}
    return [
        {
            "kind": SETTING,
            "line": (now.get(name) or was[name]).line,
            "before": was[name].text if name in was else None,
            "after": now[name].text if name in now else None,
        }
        for name in dict.fromkeys([*was, *now])
        if (was[name].value if name in was else None) != (now[name].value if name in now else None)
    ]


def _unseen_writes(
    invocations: list[_Invocation],
    claimed: set[int],
    versions: Sequence[StoredCrontab],
    since: datetime,
) -> list[Change]:
    """`crontab` runs that wrote a crontab but made no version cronops read: the file was
    installed again as it was, or changed and changed back between two scans."""
    spool = {(v.host, v.owner): v.path for v in versions if v.kind == USER}
    return [
        Change(
            at=run.at,
            known_by=BY_LOG,
            host=run.host,
            path=spool.get((run.host, run.user), f"crontab of {run.user}"),
            kind=FILE_REMOVED if run.via == "crontab -r" else REPLACED,
            who=run.actor,
            via=run.via,
        )
        for run in invocations
        if run.writes and id(run) not in claimed and run.at >= since
    ]
