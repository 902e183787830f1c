"""OpenMetrics for dashboards and Prometheus alert rules: the history (read only) as gauges, for
`cronops metrics` (node_exporter's textfile format) and `cronops watch --metrics-port` (/metrics).

Times are Unix timestamps (`_timestamp_seconds`), so a textfile written by a timer stays true
between writes: an age is `time() - cronops_..._timestamp_seconds` in PromQL. Labels are few and
bounded: host, entry (its id), user, a command cut to COMMAND_WIDTH, kind, severity. Never
`job`: Prometheus gives each scraped target a `job` label and would rename ours `exported_job`.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cronops.analysis import entry_zone
from cronops.inventory import Host
from cronops.labels import short_command
from cronops.records import HostFacts, JobEntry, LatestRuns
from cronops.schedule import REBOOT, next_runs, typical_interval
from cronops.store import History
from cronops.visible import visible

COMMAND_WIDTH = 80  # a command label's characters: long enough to tell jobs apart, never a script
JOB_LABELS = ("host", "entry", "user", "command")
OPEN, ACKNOWLEDGED = "open", "acknowledged"


def registry(history_path: Path, hosts: Sequence[Host] | None = None) -> CollectorRegistry:
    """A registry whose every collection reads the history anew (these hosts; None: every host
    the history holds)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(HistoryCollector(history_path, hosts))
    return found


def exposition(history_path: Path, hosts: Sequence[Host] | None = None) -> bytes:
    """The metrics in Prometheus' text format, as node_exporter's textfile collector reads it."""
    return generate_latest(registry(history_path, hosts))


def write_textfile(path: Path, text: bytes) -> None:
    """Write `path` whole or not at all (a temp file beside it, then a rename): node_exporter
    may read it at any moment."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide it from node_exporter's user
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass
class MetricsServer:
    """`/metrics` served from a thread of its own until `close()`."""

    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(
    port: int,
    history_path: Path,
    *,
    hosts: Sequence[Host] | None = None,
    address: str = "127.0.0.1",
) -> MetricsServer:
    """Serve the history's metrics at http://ADDRESS:PORT/metrics (port 0: a free one) in a
    daemon thread. Loopback by default: the metrics name hosts and commands."""
    server, thread = start_http_server(port, address, registry(history_path, hosts))
    return MetricsServer(server.server_port, server, thread)


class HistoryCollector(Collector):
    """Reads the history read-only at each collection, on its own connection (a scrape runs
    in the server's thread while the watch writes)."""

    def __init__(self, history_path: Path, hosts: Sequence[Host] | None):
        self.history_path = history_path
        self.hosts = hosts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        history = History.open(self.history_path)
        try:
            yield from fleet_metrics(history, self.hosts, datetime.now(UTC))
        finally:
            history.close()


def fleet_metrics(
    history: History, hosts: Sequence[Host] | None, now: datetime
) -> list[GaugeMetricFamily]:
    if hosts is None:  # every host the history holds, in the zones they reported
        hosts = [Host(name=name, address=name) for name in history.host_names()]
    facts = history.host_facts(hosts)
    names = [host.name for host in hosts]
    return [
        *host_metrics(list(facts.values()), now),
        *job_metrics(history.entries(names), history.latest_runs(names), facts, now),
        *incident_metrics(incident_counts(history, hosts, now)),
    ]


def host_metrics(facts: Sequence[HostFacts], now: datetime) -> list[GaugeMetricFamily]:
    ok = _gauge("cronops_host_scan_ok", "1 when the host's last scan read it, else 0", ["host"])
    scanned = _gauge(
        "cronops_host_last_scan_timestamp_seconds", "the host's last scan, read or not", ["host"]
    )
    read = _gauge(
        "cronops_host_last_ok_scan_timestamp_seconds",
        "the host's last scan that read it: what is known of it ends here",
        ["host"],
    )
    age = _gauge(
        "cronops_host_scan_age_seconds",
        "seconds since the host's last scan that read it, at collection",
        ["host"],
    )
    for host in facts:
        if host.scanned_at is None:
            continue  # never scanned: nothing to say yet
        ok.add_metric([host.name], float(host.status == "ok"))
        scanned.add_metric([host.name], host.scanned_at.timestamp())
        if host.ok_at is not None:
            read.add_metric([host.name], host.ok_at.timestamp())
            age.add_metric([host.name], (now - host.ok_at).total_seconds())
    return [ok, scanned, read, age]


def job_metrics(
    entries: Sequence[JobEntry],
    latest: dict[str, LatestRuns],
    facts: dict[str, HostFacts],
    now: datetime,
) -> list[GaugeMetricFamily]:
    started = _gauge(
        "cronops_job_last_start_timestamp_seconds", "the entry's latest run started", JOB_LABELS
    )
    succeeded = _gauge(
        "cronops_job_last_success_timestamp_seconds",
        "the entry's latest run that the log says exited 0 ended (absent: none known; "
        "Debian cron logs no exit status below -L 4)",
        JOB_LABELS,
    )
    duration = _gauge(
        "cronops_job_last_duration_seconds",
        "how long the entry's latest ended run took",
        JOB_LABELS,
    )
    upcoming = _gauge(
        "cronops_job_next_run_timestamp_seconds",
        "when cron runs the entry next, in its host's zone (absent: paused, disabled, @reboot)",
        JOB_LABELS,
    )
    interval = _gauge(
        "cronops_job_interval_seconds",
        "the gap between the entry's expected runs around now (for 'no success in N intervals')",
        JOB_LABELS,
    )
    # A fleet's entries share a few schedules and zones: 10k entries cost 2.5 s computed one by one.
    plans: dict[tuple[str, tzinfo], tuple[datetime | None, timedelta | None]] = {}
    for entry in entries:
        labels = [entry.host, entry.id, visible(entry.user), _command(entry.command)]
        runs = latest.get(entry.id)
        if runs is not None:
            started.add_metric(labels, runs.started.started_at.timestamp())
            if runs.succeeded is not None and runs.succeeded.ended_at is not None:
                succeeded.add_metric(labels, runs.succeeded.ended_at.timestamp())
            if runs.ended is not None and runs.ended.ended_at is not None:
                took = runs.ended.ended_at - runs.ended.started_at
                duration.add_metric(labels, max(took, timedelta(0)).total_seconds())
        if entry.disabled or entry.paused or entry.schedule == REBOOT:
            continue
        zone = entry_zone(entry, facts[entry.host])
        key = (entry.schedule, zone)
        if key not in plans:
            plans[key] = _plan(entry.schedule, zone, now)
        following, gap = plans[key]
        if following is not None:
            upcoming.add_metric(labels, following.timestamp())
        if gap is not None:
            interval.add_metric(labels, gap.total_seconds())
    return [started, succeeded, duration, upcoming, interval]


def _plan(schedule: str, zone: tzinfo, now: datetime) -> tuple[datetime | None, timedelta | None]:
    """A schedule's next run and interval around now (None, None for a line cron rejects:
    `cronops lint` says why)."""
    try:
        following = next_runs(schedule, zone, now, 1)
        return (following[0] if following else None), typical_interval(schedule, zone, now)
    except ValueError:  # ScheduleError among them
        return None, None


def incident_metrics(counts: Counter[tuple[str, str, str]]) -> list[GaugeMetricFamily]:
    """Counts by (state, kind, severity); every kind and severity seen is a series."""
    families = {
        OPEN: _gauge(
            "cronops_incidents_open",
            "open incidents (an expired ack is open)",
            ["kind", "severity"],
        ),
        ACKNOWLEDGED: _gauge(
            "cronops_incidents_acknowledged", "acknowledged incidents", ["kind", "severity"]
        ),
    }
    for (state, kind, severity), count in sorted(counts.items()):
        if state in families:
            families[state].add_metric([kind, severity], count)
    return list(families.values())


def incident_counts(
    history: History, hosts: Sequence[Host], now: datetime
) -> Counter[tuple[str, str, str]]:
    """How many standing incidents the hosts have, by (state, kind, severity), as read at now."""
    standing = history.incidents((OPEN, ACKNOWLEDGED), [host.name for host in hosts], now)
    return Counter((incident.state, incident.kind, incident.severity) for incident in standing)


def _gauge(name: str, documentation: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _command(command: str) -> str:
    return short_command(visible(command), COMMAND_WIDTH)
