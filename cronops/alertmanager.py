"""Alertmanager: stored incidents pushed to its v2 API (`POST /api/v2/alerts`) as alerts, and
resolved there when they recover, for teams that route, group and silence alerts at scale.

An alert's identity in Alertmanager is its set of labels, so the labels say only what stays put
while an incident is open (host, job, kind, severity, tier, tags); what changes from round to
round (the streak, the evidence) goes in the annotations.

Firing incidents are sent again every round with `endsAt` a while ahead (`expires_after`), as
Prometheus does: Alertmanager keeps an alert firing until its `endsAt`, so an alert whose
sender stopped (the watch died) resolves itself then instead of firing forever, and
Alertmanager's own `resolve_timeout` (5m by default, shorter than a watch round may be) never
applies. A recovery is sent once with `endsAt` = when it was resolved.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cronops.records import Incident, IncidentContext

SCHEMES = {"alertmanager": "http", "alertmanagers": "https"}
API = "/api/v2/alerts"
# Host text goes as it is (JSON carries any text), but no crontab line may make an alert huge:
# a label is an alert's identity and shown in every list, an annotation is read in full.
LABEL_MAX = 200
ANNOTATION_MAX = 4000
# How long a firing alert lasts unless sent again: a watch round must come well within it.
DEFAULT_EXPIRY = timedelta(hours=1)
# What an operator runs about a job's incident, by kind (`rerun` for the others).
ACTIONS = {"hung": "kill", "pause_expired": "resume"}
ELLIPSIS = "…"
MIN_SPAN = timedelta(milliseconds=1)  # Alertmanager keeps milliseconds


class DeliveryError(Exception):
    """The alerts did not reach Alertmanager, or it refused them; the message says which."""


async def push(
    url: str,
    firing: Sequence[Incident],
    resolved: Sequence[Incident],
    *,
    now: datetime,
    timeout: float,
    contexts: Mapping[int, IncidentContext] | None = None,
    expires_after: timedelta = DEFAULT_EXPIRY,
) -> None:
    """Post `firing` (every open incident, each round) and `resolved` (the recoveries) to the
    Alertmanager at `url` (`alertmanager://host:9093[/path]`, `alertmanagers://` for https) in
    one request; `contexts` by incident id. Raises DeliveryError within `timeout` seconds."""
    target, headers = endpoint(url)
    contexts = contexts or {}
    body = [alert(i, contexts.get(i.id, IncidentContext()), now + expires_after) for i in firing]
    body += [
        alert(i, contexts.get(i.id, IncidentContext()), i.resolved_at or now) for i in resolved
    ]
    if not body:
        return
    data = json.dumps(body).encode()
    try:
        # urllib's timeout is per socket operation; this bounds the whole exchange.
        await asyncio.wait_for(asyncio.to_thread(_post, target, data, headers, timeout), timeout)
    except TimeoutError:
        raise DeliveryError(
            f"Alertmanager at {_shown(target)}: no answer in {timeout:g} s"
        ) from None


def endpoint(url: str) -> tuple[str, dict[str, str]]:
    """The v2 alerts address an `alertmanager://` URL means, and the request's headers (basic
    auth from `user:password@`). Raises DeliveryError for a URL that is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DeliveryError(f"not an Alertmanager URL: {exc}") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise DeliveryError(
            "an Alertmanager URL is alertmanager://HOST:PORT[/PATH] (alertmanagers:// for https)"
        )
    if parts.query or parts.fragment:
        raise DeliveryError("an Alertmanager URL takes no ?query or #fragment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    where = f"{host}:{port}" if port else host
    target = f"{SCHEMES[parts.scheme]}://{where}{parts.path.rstrip('/')}{API}"
    headers = {"Content-Type": "application/json"}
    if parts.username is not None:
        login = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
    return target, headers


def alert(incident: Incident, context: IncidentContext, ends_at: datetime) -> dict[str, Any]:
    """One incident as a v2 alert: it started when its current episode opened."""
    # Alertmanager refuses the whole request when one alert ends before it starts: an episode
    # resolved in the second it opened must not keep every other alert from going out.
    ends_at = max(ends_at, incident.opened_at + MIN_SPAN)
    return {
        "labels": alert_labels(incident, context),
        "annotations": alert_annotations(incident),
        "startsAt": _stamp(incident.opened_at),
        "endsAt": _stamp(ends_at),
    }


def alert_labels(incident: Incident, context: IncidentContext) -> dict[str, str]:
    found = {
        "alertname": alert_name(incident.kind),
        "host": incident.host,
        "entry": incident.entry_id or "",
        "job": context.job,
        "kind": incident.kind,
        "severity": incident.severity,
        "tier": context.tier or "",
        "tags": ",".join(context.tags),
    }
    # An empty label is no label to Alertmanager: leave it out rather than send "".
    return {name: _bounded(value, LABEL_MAX) for name, value in found.items() if value}


def alert_name(kind: str) -> str:
    """`failed` -> CronopsFailed, `cron_not_running` -> CronopsCronNotRunning."""
    return "Cronops" + "".join(word.capitalize() for word in kind.split("_"))


def alert_annotations(incident: Incident) -> dict[str, str]:
    found = {
        "summary": incident.summary,
        "description": incident.detail,
        "evidence": incident.evidence,
        "runbook": incident.runbook or "",
        "action": act_command(incident),
        "acknowledge": f"cronops ack {incident.id}",
        "jobs": " ".join(incident.jobs),
    }
    return {name: _bounded(value, ANNOTATION_MAX) for name, value in found.items() if value}


def act_command(incident: Incident) -> str:
    """The cronops command that acts on a job's incident ("" for a host's own)."""
    if incident.entry_id is None:
        return ""
    return f"cronops {ACTIONS.get(incident.kind, 'rerun')} {incident.entry_id}"


def _post(target: str, data: bytes, headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(target, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        said = exc.read(300).decode("utf-8", "replace").strip()
        raise DeliveryError(
            f"Alertmanager at {_shown(target)} refused the alerts: HTTP {exc.code} {said}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise TimeoutError from None  # said once, by push
        raise DeliveryError(f"Alertmanager at {_shown(target)}: {reason}") from None


def _shown(target: str) -> str:
    """The address without its API path, as the operator wrote it (never a password: those
    travel in a header)."""
    return target.removesuffix(API)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
