"""Asks the fleet: one connection and one probe exec per host, replies parsed as they arrive.

The scan of logs into the history builds on this; `cronops hosts` uses it with the facts section only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from cronops import probe
from cronops.inventory import Host
from cronops.transport import Connector, HostStatus, run_on_fleet, shell_command


@dataclass
class HostReport:
    """One host's answer: its status, and what the probe found when it got that far."""

    host: Host
    status: HostStatus
    error: str | None
    latency_ms: float | None
    result: probe.ProbeResult | None = None

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK


async def probe_fleet(
    hosts: Sequence[Host],
    connector: Connector,
    concurrency: int,
    *,
    crontabs: bool = True,
    logs: Callable[[Host], probe.LogRequest] | None = None,
) -> AsyncIterator[HostReport]:
    """Probe every host; `logs` says, per host, which logs to read and from where."""

    async def ask(host: Host) -> HostReport:
        try:
            request = logs(host) if logs else None
            return await probe_host(host, connector, crontabs=crontabs, logs=request)
        except Exception as exc:  # one host's surprise must never stop the fleet
            return HostReport(host, HostStatus.ERROR, f"{type(exc).__name__}: {exc}", None)

    async for report in run_on_fleet(hosts, ask, concurrency):
        yield report


async def probe_host(
    host: Host,
    connector: Connector,
    *,
    crontabs: bool = True,
    logs: probe.LogRequest | None = None,
) -> HostReport:
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=crontabs, logs=logs)
    reply = await connector.run(host, shell_command(host, probe.PROBE_COMMAND), script.encode())
    report = HostReport(host, reply.status, reply.error, reply.latency_ms)
    if reply.ok:
        try:
            report.result = probe.parse_output(reply, marker, host.timezone)
        except probe.ProbeError as exc:
            report.status, report.error = HostStatus.ERROR, str(exc)
    return report
