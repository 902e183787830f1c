"""Telling people: from the stored incidents and what each [[notify]] route was already told, the
one message a round owes each route, sent through apprise (or to an Alertmanager) exactly once.

Exactly once, as far as a network allows: each transition a route must hear of (an incident
opened, got worse, is still open and critical, recovered) is a deliveries row with a unique key,
committed as "pending" before anything is sent, and marked "sent" or "failed" after. A watch
killed at any moment and started again finds its pending rows and sends them; a transition
already decided is never decided again. The one window left: a receiver that took the message
while the watch died before committing "sent" (milliseconds, between the receiver's answer and
the COMMIT) gets that message again after the restart; a recovery is never lost. A transition
decided and not sent yet whose incident someone acknowledged meanwhile is dropped, with why.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cronops import alertmanager
from cronops.alertmanager import act_command
from cronops.kinds import CRITICAL, SEVERITIES
from cronops.labels import span
from cronops.records import Delivery, Incident, IncidentContext, JobEntry
from cronops.routes import Route, quiet_apprise
from cronops.schedule import describe
from cronops.visible import visible

if TYPE_CHECKING:
    from cronops.inventory import Inventory
    from cronops.store import History, Store

OPENED, WORSE, REMIND, RESOLVED = "opened", "worse", "remind", "resolved"
FIRING = "firing"  # an Alertmanager route's re-sent alert: not a transition, not in a message
# A delivery's states besides "sent"; a dropped one will not be sent (its error says why).
PENDING, FAILED, DROPPED = "pending", "failed", "dropped"
UNSENT = (PENDING, FAILED)
RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}  # 0 is the worst
# A failing route is tried again at its next round after 15 s, 30 s, 1 min ... up to 30 min.
BACKOFF_FIRST = timedelta(seconds=15)
BACKOFF_MAX = timedelta(minutes=30)
ERROR_CHARS = 300
HEADINGS = {OPENED: "new", WORSE: "worse", REMIND: "still open", RESOLVED: "recovered"}


class DeliveryError(Exception):
    """A message did not reach its route's receiver; the text says why (never the URL)."""


@dataclass(frozen=True)
class Event:
    """One transition a route must hear of: its deliveries key is (route, incident, episode,
    event)."""

    incident: Incident
    event: str  # "opened", "worse:critical", "remind:2", "resolved"

    @property
    def what(self) -> str:
        return self.event.split(":", 1)[0]


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    severity: str  # the worst it carries; "" for recoveries only


@dataclass
class RouteRound:
    """What a round did for one route, for the one line a round prints."""

    route: Route
    told: Counter[str] = field(default_factory=Counter)  # what -> incidents in the message
    error: str | None = None
    attempts: int = 0
    retry_at: datetime | None = None  # set while the route is failing

    def line(self) -> str:
        if self.error is not None:
            retry = f", next try {self.retry_at:%H:%M:%S}" if self.retry_at else ""
            return f"{self.route.shown}: FAILING (attempt {self.attempts}{retry}): {self.error}"
        if not self.told:
            return f"{self.route.shown}: nothing new"
        parts = ", ".join(f"{n} {HEADINGS[what]}" for what, n in sorted(self.told.items()))
        return f"{self.route.shown}: sent 1 message ({parts})"


# -- deciding -------------------------------------------------------------------------------


def decide(
    route: Route,
    incidents: Sequence[Incident],
    contexts: Mapping[int, IncidentContext],
    told: Mapping[int, Sequence[Delivery]],
    now: datetime,
) -> list[Event]:
    """The transitions `route` has not been told of yet (`told`: its deliveries, by incident)."""
    explained = _explained_by_hosts(incidents)
    events = []
    for incident in incidents:
        context = contexts.get(incident.id, IncidentContext())
        if not matches(route, incident, context):
            continue
        if incident.id in explained and incident.state != "resolved":
            continue  # its host's incident lists it: one alert, not one per job
        event = _transition(route, incident, context, told.get(incident.id, ()), now)
        if event is not None:
            events.append(Event(incident, event))
    return events


def matches(route: Route, incident: Incident, context: IncidentContext) -> bool:
    """The route's filters, besides severity (a recovery goes where its opening went)."""
    if route.kinds is not None and incident.kind not in route.kinds:
        return False
    if route.hosts is not None and incident.host not in route.hosts:
        return False
    if route.tags is not None and not route.tags & set(context.tags):
        return False
    # A host's own incident (its cron stopped, it is unreachable) is about every job on it.
    return route.tiers is None or context.tier is None or context.tier in route.tiers


def _transition(
    route: Route,
    incident: Incident,
    context: IncidentContext,
    rows: Sequence[Delivery],
    now: datetime,
) -> str | None:
    episode = [row for row in rows if row.episode == incident.opened_at]
    told = [row for row in episode if row.event.startswith((OPENED, WORSE))]
    if incident.state == "resolved":
        recovered = any(row.event == RESOLVED for row in episode)
        return RESOLVED if told and not recovered else None
    if incident.state != "open" or context.quiet:
        return None  # acknowledged, or in a maintenance window: silence
    if RANK[incident.severity] > RANK[route.severity]:
        return None
    if not told:
        return OPENED if _may_open(route, incident, rows, now) else None
    if RANK[incident.severity] < min(RANK[row.severity] for row in told):
        return f"{WORSE}:{incident.severity}"
    last = max(row.decided_at for row in episode)
    if route.remind and incident.severity == CRITICAL and now - last >= route.remind:
        return f"{REMIND}:{sum(row.event.startswith(REMIND) for row in episode) + 1}"
    return None


def _may_open(route: Route, incident: Incident, rows: Sequence[Delivery], now: datetime) -> bool:
    """A new episode is told when it reached the route's threshold, unless it is a flap (it
    reopened within `flap` of the recovery the route was told of) or in the route's cooldown."""
    needed = route.notify_after.get(incident.kind, 1)
    if (incident.streak if incident.kind == "failed" else incident.count) < needed:
        return False
    if not rows:
        return True
    last = rows[-1]
    if last.event == RESOLVED and now - last.decided_at < route.flap:
        return False
    return now - max(row.decided_at for row in rows) >= route.cooldown


def _explained_by_hosts(incidents: Sequence[Incident]) -> set[int]:
    """Job incidents whose entry an open host-level incident on their host lists."""
    stopped = {
        (incident.host, job)
        for incident in incidents
        if incident.entry_id is None and incident.state != "resolved"
        for job in incident.jobs
    }
    return {i.id for i in incidents if i.entry_id and (i.host, i.entry_id) in stopped}


def backoff(attempts: int) -> timedelta:
    """How long a route that failed `attempts` times in a row rests before the next try."""
    doublings = min(max(attempts - 1, 0), 20)  # past BACKOFF_MAX long before; no overflow
    return min(BACKOFF_FIRST * 2**doublings, BACKOFF_MAX)


# -- the round ------------------------------------------------------------------------------

Sender = Callable[[Route, Message], Awaitable[None]]


async def notify_round(
    store: Store,
    routes: Sequence[Route],
    incidents: Sequence[Incident],
    contexts: Mapping[int, IncidentContext],
    now: datetime,
    send: Sender | None = None,
) -> list[RouteRound]:
    """Each route told, at once, what it has not been told yet; a failing route is recorded
    and tried again later, and never keeps the others from their messages."""
    by_id = {incident.id: incident for incident in incidents}
    return list(
        await asyncio.gather(
            *(
                _route_round(store, route, by_id, contexts, now, send or send_apprise)
                for route in routes
            )
        )
    )


async def _route_round(
    store: Store,
    route: Route,
    incidents: Mapping[int, Incident],
    contexts: Mapping[int, IncidentContext],
    now: datetime,
    send: Sender,
) -> RouteRound:
    rows = store.deliveries(route.key, incidents)
    resting = [
        r for r in rows if r.state == FAILED and r.next_attempt_at and r.next_attempt_at > now
    ]
    if resting:
        last = resting[-1]
        return RouteRound(
            route, error=last.error, attempts=last.attempts, retry_at=last.next_attempt_at
        )
    told: dict[int, list[Delivery]] = {}
    for row in rows:
        # What the route heard of: not a transition dropped unsent, nor an alert re-sent.
        if row.state != DROPPED and row.event != FIRING:
            told.setdefault(row.incident_id, []).append(row)
    events = decide(route, list(incidents.values()), contexts, told, now)
    firing = _firing(route, incidents, contexts) if route.alertmanager else []
    # An Alertmanager hears of each open incident every round: a row per episode holds how
    # the latest push went, so a failed one is recorded, shown and retried like a message.
    events += [Event(incident, FIRING) for incident in firing]
    store.intend(_intent(route, event, now) for event in events)
    rows = [r for r in store.deliveries(route.key, incidents) if r.incident_id in incidents]
    stale = {r.id: why for r in rows if r.state in UNSENT and (why := _stale(r, incidents))}
    if stale:
        store.delivery_dropped(stale)
    due = [r for r in rows if r.state in UNSENT and r.id not in stale]
    if not due and not firing:
        return RouteRound(route)
    try:
        if route.alertmanager:
            recovered = [incidents[r.incident_id] for r in due if r.event == RESOLVED]
            await push_alertmanager(route, firing, recovered, contexts, now)
        else:
            await send(route, compose([(incidents[r.incident_id], r.event) for r in due], contexts))
    except DeliveryError as exc:
        attempts = max((r.attempts for r in due if r.state == FAILED), default=0) + 1
        retry_at = now + backoff(attempts)
        error = visible(str(exc))[:ERROR_CHARS]
        alerts = {(i.id, i.opened_at) for i in firing}
        pushed = [r for r in rows if r.event == FIRING and (r.incident_id, r.episode) in alerts]
        failed = {r.id for r in due} | {r.id for r in pushed}
        store.delivery_failed(sorted(failed), error, retry_at, attempts)
        return RouteRound(route, error=error, attempts=attempts, retry_at=retry_at)
    store.delivered([r.id for r in due], now)
    told_now = Counter(r.event.split(":", 1)[0] for r in due if r.event != FIRING)
    return RouteRound(route, told=told_now)


def _stale(row: Delivery, incidents: Mapping[int, Incident]) -> str | None:
    """Why a transition decided earlier (a watch killed before sending it, a route failing
    since) must no longer be sent: someone acknowledged the incident meanwhile."""
    incident = incidents[row.incident_id]
    if row.event == RESOLVED or incident.state != "acknowledged":
        return None
    at = f" at {_when(incident.ack_at)}" if incident.ack_at else ""
    return (
        f"not sent: acknowledged by {visible(incident.ack_by or 'someone')}{at} before it went out"
    )


def _intent(route: Route, event: Event, now: datetime) -> dict[str, object]:
    from cronops.store import iso

    return {
        "route": route.key,
        "shown": route.shown,
        "incident_id": event.incident.id,
        "episode": iso(event.incident.opened_at),
        "event": event.event,
        "severity": event.incident.severity,
        "state": PENDING,
        "attempts": 0,
        "decided_at": iso(now),
        "next_attempt_at": iso(now),
    }


def _firing(
    route: Route, incidents: Mapping[int, Incident], contexts: Mapping[int, IncidentContext]
) -> list[Incident]:
    """What an Alertmanager must see firing this round: every open incident the route takes
    (sent again each round: Alertmanager forgets an alert that is not)."""
    return [
        incident
        for incident in incidents.values()
        if incident.state == "open"
        and RANK[incident.severity] <= RANK[route.severity]
        and not contexts.get(incident.id, IncidentContext()).quiet
        and matches(route, incident, contexts.get(incident.id, IncidentContext()))
    ]


# -- sending --------------------------------------------------------------------------------


async def send_apprise(route: Route, message: Message) -> None:
    """One message through apprise, within the route's timeout; DeliveryError if it failed."""
    apprise = quiet_apprise()
    service = apprise.Apprise()
    if not service.add(route.url):
        raise DeliveryError("apprise does not understand the route's URL")
    kind = {CRITICAL: apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING}
    try:
        result = await asyncio.wait_for(
            service.async_notify(
                body=message.body,
                title=message.title,
                notify_type=kind.get(message.severity, apprise.NotifyType.INFO)
                if message.severity
                else apprise.NotifyType.SUCCESS,
                # Plain text: apprise escapes it for each medium (HTML mail, Markdown chats).
                body_format=apprise.NotifyFormat.TEXT,
                timeout=route.timeout,
            ),
            route.timeout + 1,
        )
    except TimeoutError:
        raise DeliveryError(f"no answer within {route.timeout:g} s") from None
    if not result:
        said = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
        raise DeliveryError("; ".join(said[-2:]) or f"apprise: {result.status.name.lower()}")


async def push_alertmanager(
    route: Route,
    firing: Sequence[Incident],
    resolved: Sequence[Incident],
    contexts: Mapping[int, IncidentContext],
    now: datetime,
) -> None:
    """An `alertmanager://` route: its alerts go to Alertmanager's v2 API, labelled with each
    incident's job, tier and host tags."""
    try:
        await alertmanager.push(
            route.url, firing, resolved, now=now, timeout=route.timeout, contexts=contexts
        )
    except alertmanager.DeliveryError as exc:
        raise DeliveryError(str(exc)) from None


# -- writing --------------------------------------------------------------------------------


def compose(
    items: Sequence[tuple[Incident, str]], contexts: Mapping[int, IncidentContext]
) -> Message:
    """One message for a route's round: every transition in it, worst first, recoveries last."""
    ordered = sorted(
        items,
        key=lambda item: (item[1] == RESOLVED, RANK[item[0].severity], item[0].host, item[0].id),
    )
    blocks = [
        _block(incident, event, contexts.get(incident.id, IncidentContext()))
        for incident, event in ordered
    ]
    opened = [i for i, event in ordered if event != RESOLVED]
    severity = min((i.severity for i in opened), key=RANK.__getitem__, default="")
    if len(ordered) == 1:
        incident, event = ordered[0]
        title = f"{_label(incident, event)} {incident.host}: {visible(incident.summary or incident.kind)}"
    else:
        counts = Counter(HEADINGS[event.split(":", 1)[0]] for _, event in ordered)
        hosts = sorted({incident.host for incident, _ in ordered})
        shown_hosts = ", ".join(hosts[:3]) + (
            f" and {len(hosts) - 3} more" if len(hosts) > 3 else ""
        )
        title = (
            "cronops: "
            + ", ".join(f"{n} {what}" for what, n in counts.items())
            + f" on {shown_hosts}"
        )
    return Message(title=title, body="\n\n".join(blocks), severity=severity)


def _label(incident: Incident, event: str) -> str:
    if event == RESOLVED:
        return "[RECOVERED]"
    what = event.split(":", 1)[0]
    suffix = {WORSE: " (worse)", REMIND: " (still open)"}.get(what, "")
    return f"[{incident.severity.upper()}{suffix}]"


def _block(incident: Incident, event: str, context: IncidentContext) -> str:
    """What an engineer needs at 3 a.m. about one incident, as plain visible text."""
    lines = [
        f"{_label(incident, event)} {incident.kind} on {incident.host} (incident {incident.id})"
    ]
    if context.entry is not None:
        lines.append(f"Job: {_job(context.entry)}")
    if event == RESOLVED:
        broken = span(
            ((incident.resolved_at or incident.last_seen) - incident.opened_at).total_seconds()
        )
        why = f": {incident.resolved_why}" if incident.resolved_why else ""
        lines.append(f"Recovered after {broken} broken (since {_when(incident.opened_at)}){why}")
        return "\n".join(lines)
    since = (
        incident.streak_since
        if incident.kind == "failed" and incident.streak_since
        else incident.opened_at
    )
    lines.append(f"What: {visible(incident.detail or incident.summary)} (since {_when(since)})")
    if incident.jobs:
        lines.append(f"Jobs it stopped ({len(incident.jobs)}):")
        known = {entry.id: entry for entry in context.jobs}
        lines += [f"  - {_job(known[j]) if j in known else j}" for j in incident.jobs]
    if incident.evidence:
        lines.append(f"Evidence: {visible(incident.evidence)}")
    if incident.runbook:
        lines.append(f"Runbook: {visible(incident.runbook)}")
    acts = [act_command(incident), f"cronops ack {incident.id}"]
    lines.append("Act: " + "   ·   ".join(a for a in acts if a))
    return "\n".join(lines)


def _job(entry: JobEntry) -> str:
    return (
        f"{visible(entry.command)}  (as {visible(entry.user)}, {describe(entry.schedule)} "
        f"[{visible(entry.schedule)}], entry {entry.id})"
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# -- context --------------------------------------------------------------------------------


def contexts(
    history: History, inventory: Inventory, incidents: Sequence[Incident], now: datetime
) -> dict[int, IncidentContext]:
    """Each incident's context, by id: its job, tier and host tags, and whether a maintenance
    window covers it now."""
    hosts = {host.name: host for host in inventory.hosts}
    wanted = [hosts[name] for name in sorted({i.host for i in incidents}) if name in hosts]
    facts = history.host_facts(wanted)
    entries = {entry.id: entry for entry in history.entries([h.name for h in wanted])}
    found = {}
    for incident in incidents:
        host = hosts.get(incident.host)
        if host is None:
            found[incident.id] = IncidentContext()
            continue
        zone = facts[host.name].zone
        entry = None
        if incident.entry_id is not None:
            entry = entries.get(incident.entry_id) or history.entry(incident.entry_id)
        if entry is None:
            policy = inventory.policy.resolve_host(host)
            found[incident.id] = IncidentContext(
                tags=host.tags,
                quiet=policy.in_maintenance(now, zone),
                jobs=tuple(entries[j] for j in incident.jobs if j in entries),
            )
            continue
        policy = inventory.policy.resolve(entry, host)
        found[incident.id] = IncidentContext(
            tags=host.tags, tier=policy.tier, quiet=policy.in_maintenance(now, zone), entry=entry
        )
    return found
