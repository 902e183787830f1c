"""Stored findings ("incidents"): each scan's verdicts open, update and resolve them, a person
acknowledges them; one row per identity (host, entry id or None for the host itself, kind).

`lifecycle` is pure (stored incidents and the judge's findings in, the incidents to write out);
`judge_scanned` runs it for the hosts a scan just stored, inside the scan's own transaction.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cronops.inventory import Host
from cronops.kinds import (
    CRONTAB_KINDS,
    ENTRY_CHANGED,
    ENTRY_PAUSED,
    ENTRY_REMOVED,
    HOST_ANSWERED,
    NO_LONGER_SEEN,
)
from cronops.policy import Policy, PolicyBook
from cronops.records import (
    Finding,
    HostFacts,
    Incident,
    JobEntry,
    Judged,
    RunRecord,
    Stored,
    copied,
)
from cronops.store import Store, iso

if TYPE_CHECKING:
    from cronops.audit import AuditResult, Evidence
    from cronops.due import Dues

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATES = (OPEN, ACKNOWLEDGED, RESOLVED)
STANDING = (OPEN, ACKNOWLEDGED)
# One host's facts, entries, processes, crontabs and crontab changes (_by_host).
HostEvidence = tuple[HostFacts, list, list, list, list]
# What judge_across judges, once every host of a scan is stored (judge_scanned leaves it).
ACROSS_HOSTS = ("drift",)
# The host findings a host that answers again no longer has.
CONNECTION_KINDS = ("unreachable", "auth", "host_key")

Identity = tuple[str, str | None, str]
# What to write: an incident (id 0 for a new one) and the finding it now shows (None: as stored).
Change = tuple[Incident, Finding | None]


def identity(item: Incident | Finding) -> Identity:
    return (item.host, item.entry_id, item.kind)


def lifecycle(
    stored: Sequence[Incident],
    findings: Sequence[Finding],
    entries: Mapping[str, JobEntry],
    hosts: Mapping[str, HostFacts],
    changed_at: Mapping[str, datetime],
    now: datetime,
) -> list[Change]:
    """The incidents of the judged hosts after a scan, given what they were (`stored`) and the
    judge's findings of those hosts now; unchanged incidents are not returned.

    A finding that stands opens its identity's incident (or reopens the resolved one: a new
    episode, unacknowledged), or updates the open one. A finding the judge says is over
    (Finding.over), or any finding of a paused entry, resolves it, and is stored over (born
    resolved when it was never stored), so that the stored findings hold all the judge said
    of the window: a resolved incident whose finding is over is one the judge still reports.
    An incident no finding matches any more is resolved by what became of its entry or host.
    `entries` holds the present entries of the hosts, `changed_at` when each entry's line last
    changed."""
    by_identity = {identity(incident): incident for incident in stored}
    changes: list[Change] = []
    judged: set[Identity] = set()
    for finding in findings:
        key = identity(finding)
        judged.add(key)
        incident = by_identity.get(key)
        over = finding.over or _paused(finding, entries)
        if over is not None:
            if finding.over != over:  # a paused entry's: over though the judge did not say so
                finding = replace(finding, over=over)
            change = _over(incident, finding, now)
            if change is not None:
                changes.append(change)
        elif incident is None:
            changes.append((_opened(finding, now), finding))
        else:
            changes.append((_seen(incident, finding, now), finding))
    for key, incident in by_identity.items():
        if key not in judged and incident.state != RESOLVED:
            why = _gone(incident, entries, hosts, changed_at)
            changes.append((_resolved(incident, why, now), None))
    return changes


def _over(incident: Incident | None, finding: Finding, now: datetime) -> Change | None:
    """A finding the judge reports as over (`finding.over` says why): its incident resolved
    with it, or opened and resolved at once (which tells no route: none was told it opened);
    None for a resolved one the judge says again as it was. A resolved one is kept resolved
    (since when it was), its finding and why as the judge says them now."""
    assert finding.over is not None
    resolved = _resolution(finding.over, now)
    if incident is None:
        return _opened(finding, now, **resolved), finding
    if incident.state != RESOLVED:
        return _copy(incident, **_verdict(finding, now), **resolved), finding
    same = _verdict(finding, incident.last_seen) == _verdict(incident, incident.last_seen)
    if same and incident.resolved_why == finding.over:
        return None
    return _copy(incident, resolved_why=finding.over, **_verdict(finding, now)), finding


def standing_state(incident: Incident, now: datetime) -> str:
    """The state as read now: an acknowledgement whose `until` has passed reads as open."""
    if incident.state == ACKNOWLEDGED and incident.ack_until and incident.ack_until <= now:
        return OPEN
    return incident.state


def judge_scanned(
    store: Store,
    db: sqlite3.Connection,
    hosts: Sequence[Host],
    policy: PolicyBook,
    since: datetime,
    now: datetime,
    stored: Mapping[str, Stored] | None = None,
    stored_runs: Mapping[str, list[RunRecord]] | None = None,
) -> list[Host]:
    """Judge the hosts a scan just stored and write their incidents, in the scan's transaction
    (`db`); other hosts' incidents stay as they are, and so do these hosts' drift incidents,
    which `judge_across` judges once the scan has stored all its hosts. Returns those judged.

    A host in `stored` (its scan stored no line of its cron daemon or `crontab` program, only
    runs or their output: Stored) is judged whole only when what its last judgement read has
    changed (its facts, entries, crontabs or policy: due.fingerprint) or when time alone can
    have changed a verdict of the host itself (due.Dues.host); else only the entries whose
    verdicts can have changed are (`_entries_to_judge`), with the host's own findings and its
    crontabs': judging every entry reads a month of each one's runs, for verdicts that nearly
    all stand. An incident of an entry not judged stays as it is. `stored_runs`: by host,
    every run the history holds of the hosts whose first scan this is (run_audit)."""
    from cronops import due
    from cronops.audit import read_evidence  # the judge: loaded by scans that judge

    stored = stored or {}
    evidence = read_evidence(store, hosts, since)
    grouped = _by_host(evidence)
    policies = {
        name: due.policies(policy, facts, entries) for name, (facts, entries, *_) in grouped.items()
    }
    inputs = _inputs(grouped, policies, now - since)
    last = store.judgements(list(stored))
    entries_due = store.entries_due(list(stored), since, now)
    whole: list[Host] = []
    parts: dict[str, set[str]] = {}
    for host in hosts:
        name = host.name
        judgement = last.get(name)
        if (
            name not in stored
            or judgement is None
            or judgement.inputs != inputs[name]["inputs"]
            or judgement.due is None
            or judgement.due.passed(since, now)
        ):
            whole.append(host)
            continue
        entries = _entries_to_judge(grouped[name], stored[name], entries_due.get(name))
        if entries is None:
            whole.append(host)
        elif entries:
            parts[name] = entries
    # Every host's print of what drift compares, as this scan read it (store.fleet_crontabs_read).
    rows = {
        name: {
            "host": name,
            "crontabs": read["crontabs"],
            "policy": read["policy"],
            "read_at": iso(now),
        }
        for name, read in inputs.items()
    }
    if whole:
        dues = _judge(store, db, policy, policies, evidence, whole, None, since, now, stored_runs)
        for name, host_dues in dues.items():
            due_at, due_start = host_dues.host
            rows[name] |= {
                "inputs": inputs[name]["inputs"],
                "due_at": iso(due_at),
                "due_start": iso(due_start),
            }
        store.write_entry_judgements(db, {n: d.entries for n, d in dues.items()}, list(dues))
    if parts:
        judged = set().union(*parts.values())
        partly = [host for host in hosts if host.name in parts]
        dues = _judge(store, db, policy, policies, evidence, partly, judged, since, now)
        store.write_entry_judgements(db, {n: d.entries for n, d in dues.items()}, ())
    store.write_judgements(db, list(rows.values()))
    return [host for host in hosts if host in whole or host.name in parts]


def _entries_to_judge(
    evidence: HostEvidence, stored: Stored, due: Mapping[str, bool] | None
) -> set[str] | None:
    """The entries of a host whose verdicts can have changed since its last judgement, which
    read what it reads now (its host's part not due): those its scan stored a run (or an
    output) of, those with a process running, those whose own moment has come (`due`, by
    entry: store.entries_due); None where every entry is to be judged: one never judged on its
    own, a run stored that started before the host's last boot or cron start (it can tell why
    another entry's run was missed: causes.py), any of them on a host whose cron daemon is
    stopped."""
    from cronops.causes import last_start_compared
    from cronops.due import NEAR_START

    facts, entries, running, _, _ = evidence
    if due is None or any(entry.id not in due for entry in entries):
        return None
    last_start = last_start_compared(facts)
    first = stored.first_start
    if first is not None and last_start is not None and first <= last_start + NEAR_START:
        return None
    busy = {process.entry_id for process in running}
    judged = {
        entry.id
        for entry in entries
        if entry.id in stored.entries or entry.id in busy or due[entry.id]
    }
    if judged and facts.cron_running is False:
        return None  # its jobs' missed runs are told together, under the stopped daemon's finding
    return judged


def _judge(
    store: Store,
    db: sqlite3.Connection,
    policy: PolicyBook,
    policies: Mapping[str, list[Policy]],
    evidence: Evidence,
    hosts: Sequence[Host],
    only: Collection[str] | None,
    since: datetime,
    now: datetime,
    stored_runs: Mapping[str, list[RunRecord]] | None = None,
) -> dict[str, Dues]:
    """Judge these hosts (`only` these entries of them; None: all) and write their incidents
    within what was judged; returns by host when each part is due again (of the entries
    judged alone). `policies`: each host's, then each entry's (due.policies); `stored_runs`:
    as run_audit reads them."""
    from cronops.audit import run_audit

    names = [host.name for host in hosts]
    mine = evidence.of(names)
    audit = run_audit(
        store,
        policy,
        hosts,
        since,
        now,
        drift=False,
        evidence=mine,
        only=only,
        stored_runs=stored_runs,
    )
    # A host's own findings and its crontabs' are judged with any of its entries.
    within = store.judged_incidents(names, now, only, CRONTAB_KINDS, ACROSS_HOSTS)
    facts = {facts.name: facts for facts in audit.hosts}
    _write(store, db, within, audit.findings, audit.entries, facts, now)
    return _dues(_by_host(mine), policies, audit, only, since, now)


def _inputs(
    grouped: Mapping[str, HostEvidence], policies: Mapping[str, list[Policy]], window: timedelta
) -> dict[str, dict[str, str | None]]:
    """By host, as judgements' columns: the fingerprint of what judging it over `window` reads
    besides runs and processes, of what drift compares of its crontabs, and of its policy (None: a
    maintenance window's, whose verdicts turn with the clock). `policies`: the host's, then
    each entry's (due.policies)."""
    from cronops import due  # with the judge

    found = {}
    for name, (facts, entries, _, crontabs, changes) in grouped.items():
        mine = policies[name]
        found[name] = {
            "inputs": due.fingerprint(facts, entries, crontabs, changes, mine, window),
            "crontabs": due.crontabs_print(facts, entries),
            "policy": None if any(p.maintenance for p in mine) else due.policies_print(mine),
        }
    return found


def _dues(
    grouped: Mapping[str, HostEvidence],
    policies: Mapping[str, list[Policy]],
    audit: AuditResult,
    only: Collection[str] | None,
    since: datetime,
    now: datetime,
) -> dict[str, Dues]:
    """By host judged (`grouped`): when its judgement is due again; of `only` these entries
    (None: every one, and the host's own part)."""
    from cronops import due
    from cronops.analysis import every_finding

    runs: dict[str, list[RunRecord]] = defaultdict(list)
    for run in audit.runs:
        runs[run.host].append(run)
    findings: dict[str, list[Finding]] = defaultdict(list)
    for finding in every_finding(audit.findings):
        findings[finding.host].append(finding)
    dues: dict[str, Dues] = {}
    for name, (facts, entries, running, _, _) in grouped.items():
        host, *mine = policies[name]
        if only is not None:
            judged = [(e, p) for e, p in zip(entries, mine, strict=True) if e.id in only]
            entries, mine = [e for e, _ in judged], [p for _, p in judged]
        dues[name] = due.judge_due(
            facts, entries, runs[name], running, findings[name], [host, *mine], since, now
        )
    return dues


def _by_host(evidence: Evidence) -> dict[str, HostEvidence]:
    """Each host's facts, entries, processes, crontabs and crontab changes."""
    grouped: dict[str, tuple[list, list, list, list]] = {
        name: ([], [], [], []) for name in evidence.facts
    }
    parts: tuple[Sequence[Any], ...] = (
        evidence.entries,
        evidence.running,
        evidence.crontabs,
        evidence.changes,
    )
    for position, items in enumerate(parts):
        for item in items:
            grouped[item.host][position].append(item)
    return {name: (evidence.facts[name], *lists) for name, lists in grouped.items()}


def judge_across(
    store: Store,
    db: sqlite3.Connection,
    hosts: Sequence[Host],
    policy: PolicyBook,
    since: datetime,
    now: datetime,
) -> list[Host]:
    """Judge the scan's hosts' drift against the fleet and write those incidents, once every
    host of the scan is stored: judged with each group of hosts, it read the whole fleet's
    entries once a group, and a group stored before the others (a first scan) had no peers.
    Returns the hosts judged.

    A host's drift is judged again only when what it compares has changed since: the fleet's
    crontabs (the hosts answering, their tags and entries: store.fleet_crontabs_read) or the
    host's policy; or JUDGED_AT_LEAST_EVERY after the last time. Reading every entry of a big
    fleet is most of the cost, for verdicts that nearly always stand."""
    from cronops.analysis import Peers, drift  # the judge: loaded by scans that store findings
    from cronops.audit import PEERS_ANSWERED
    from cronops.due import JUDGED_AT_LEAST_EVERY, digest

    names = [host.name for host in hosts]
    compared = store.fleet_crontabs_read(now - PEERS_ANSWERED)
    fleet = None if compared is None else digest(compared)
    last = store.judgements(names)
    read = {name: _drift_read(fleet, last.get(name)) for name in names}
    judged = [
        host
        for host in hosts
        if (judgement := last.get(host.name)) is None
        or read[host.name] is None
        or judgement.drift != read[host.name]
        or judgement.drift_due is None
        or judgement.drift_due <= now
    ]
    if not judged:
        return []
    names = [host.name for host in judged]
    facts = store.host_facts(judged)
    entries = store.entries(names)
    peers = Peers(*store.fleet_crontabs(now - PEERS_ANSWERED))
    findings = drift(facts.values(), entries, policy, now, since, peers)
    stored = store.incidents(hosts=names, now=now, kinds=ACROSS_HOSTS)
    _write(store, db, stored, findings, {e.id: e for e in entries}, facts, now)
    due_at = iso(now + JUDGED_AT_LEAST_EVERY)
    rows = [{"host": name, "drift": read[name], "drift_due": due_at} for name in names]
    store.write_judgements(db, rows)
    return judged


def _drift_read(fleet: str | None, judgement: Judged | None) -> str | None:
    """What a host's drift compares, as one fingerprint: the fleet's crontabs and the host's
    policy; None when not known (then it is judged)."""
    from cronops.due import digest

    if fleet is None or judgement is None or judgement.policy is None:
        return None
    return digest(fleet, judgement.policy)


def _write(
    store: Store,
    db: sqlite3.Connection,
    stored: Sequence[Incident],
    findings: Sequence[Finding],
    entries: Mapping[str, JobEntry],
    hosts: Mapping[str, HostFacts],
    now: datetime,
) -> None:
    changed_at = store.entry_changes(db, [i.entry_id for i in stored if i.entry_id])
    store.write_incidents(db, lifecycle(stored, findings, entries, hosts, changed_at, now))


def _opened(finding: Finding, now: datetime, **resolved: Any) -> Incident:
    """A new incident of the finding: open, or as `resolved` (_resolution) says."""
    return Incident(
        id=0,
        host=finding.host,
        entry_id=finding.entry_id,
        kind=finding.kind,
        first_seen=now,
        opened_at=now,
        ack_by=None,
        ack_at=None,
        ack_note=None,
        ack_until=None,
        **(resolved or {"state": OPEN, "resolved_at": None, "resolved_why": None}),
        **_verdict(finding, now),
    )


def _seen(incident: Incident, finding: Finding, now: datetime) -> Incident:
    """Seen again: still the same episode, or a new one of a resolved incident."""
    # One copy: a frozen incident's costs more than judging the finding.
    if incident.state == RESOLVED:
        episode: dict[str, Any] = {
            "state": OPEN,
            "opened_at": now,
            "ack_by": None,
            "ack_at": None,
            "ack_note": None,
            "ack_until": None,
        }
    else:
        episode = {"state": standing_state(incident, now)}
    return _copy(incident, **episode, **_verdict(finding, now))


def _verdict(finding: Finding | Incident, now: datetime) -> dict[str, Any]:
    """What the judge says of it now (or said, as an incident holds it)."""
    jobs = finding.jobs if isinstance(finding, Incident) else _job_ids(finding)
    return {
        "severity": finding.severity,
        "last_seen": now,
        "count": finding.count,
        "streak": finding.streak,
        "streak_since": finding.streak_since,
        "summary": finding.summary,
        "detail": finding.detail,
        "evidence": finding.evidence,
        "runbook": finding.runbook,
        "jobs": jobs,
    }


def _job_ids(finding: Finding) -> tuple[str, ...]:
    if not finding.jobs:  # nearly every finding: a job's own
        return ()
    return tuple(job.entry_id for job in finding.jobs if job.entry_id)


def _resolved(incident: Incident, why: str, now: datetime) -> Incident:
    return _copy(incident, **_resolution(why, now))


def _copy(incident: Incident, **changes: Any) -> Incident:
    """dataclasses.replace without its look at each field's kind nor a frozen __init__: a
    scan copies every standing incident of the hosts it judges."""
    return copied(incident, **changes)


def _resolution(why: str, now: datetime) -> dict[str, Any]:
    return {"state": RESOLVED, "resolved_at": now, "resolved_why": why}


def _paused(finding: Finding, entries: Mapping[str, JobEntry]) -> str | None:
    """A paused entry's findings are over (its expired pause is a finding about the pause)."""
    entry = entries.get(finding.entry_id or "")
    if entry is not None and entry.paused and finding.kind != "pause_expired":
        return ENTRY_PAUSED
    return None


def _gone(
    incident: Incident,
    entries: Mapping[str, JobEntry],
    hosts: Mapping[str, HostFacts],
    changed_at: Mapping[str, datetime],
) -> str:
    """Why the judge no longer finds it."""
    if incident.entry_id is None:
        facts = hosts.get(incident.host)
        answered = facts is not None and facts.status == "ok"
        return HOST_ANSWERED if answered and incident.kind in CONNECTION_KINDS else NO_LONGER_SEEN
    entry = entries.get(incident.entry_id)
    if entry is None:
        return ENTRY_REMOVED
    if entry.paused:
        return ENTRY_PAUSED
    if changed_at.get(entry.id, incident.last_seen - timedelta(1)) > incident.last_seen:
        return ENTRY_CHANGED
    return NO_LONGER_SEEN
