"""`cronops watch`: a scan of the fleet every interval (which updates the stored incidents), then
each [[notify]] route told what changed; one line per round, and a clean stop between steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cronops import notify
from cronops.scan import scan_fleet

if TYPE_CHECKING:
    from cronops.inventory import Host, Inventory
    from cronops.records import Incident
    from cronops.scan import HostScan
    from cronops.store import Store
    from cronops.transport import Connector

JITTER = 0.1  # each wait is the interval give or take this share: many watches do not align


@dataclass
class Round:
    """What one round did, for its one line of output."""

    number: int
    started: datetime
    scans: list[HostScan] = field(default_factory=list)
    scan_seconds: float = 0.0
    open_incidents: int = 0
    opened: list[Incident] = field(default_factory=list)  # this round's scan opened them
    resolved: list[Incident] = field(default_factory=list)  # ...and resolved these
    routes: list[notify.RouteRound] = field(default_factory=list)

    def line(self) -> str:
        failed = sum(1 for scan in self.scans if not scan.ok)
        hosts = f"{len(self.scans)} hosts" + (f" ({failed} failed)" if failed else "")
        parts = [
            f"{self.started:%Y-%m-%d %H:%M:%S}Z round {self.number}: scanned {hosts} in "
            f"{self.scan_seconds:.1f}s, {self.open_incidents} open incidents",
            *(route.line() for route in self.routes),
        ]
        return "; ".join(parts)

    def json(self) -> dict[str, Any]:
        """The round for a script (`--format json`, one object a round): the hosts scanned,
        the incidents opened and resolved, and what each route was told or why it failed."""
        from cronops.report import incident_json

        return {
            "round": self.number,
            "started": self.started.isoformat(),
            "scan_seconds": round(self.scan_seconds, 3),
            "hosts": [
                {"name": s.host.name, "status": str(s.status), "error": s.error} for s in self.scans
            ],
            "open_incidents": self.open_incidents,
            "opened": [incident_json(i) for i in self.opened],
            "resolved": [incident_json(i) for i in self.resolved],
            "routes": [
                {
                    "route": r.route.shown,
                    "told": dict(r.told),
                    "error": r.error,
                    "attempts": r.attempts,
                    "retry_at": r.retry_at.isoformat() if r.retry_at else None,
                }
                for r in self.routes
            ],
        }


class Stop:
    """SIGTERM or Ctrl-C asks the watch to stop after the step it is in (a scan's hosts are
    stored, a route's result recorded); a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._asked, signum)

    def _asked(self, signum: int) -> None:
        self.event.set()
        # The next one acts at once (asyncio gives SIGINT back to KeyboardInterrupt).
        asyncio.get_running_loop().remove_signal_handler(signum)

    @property
    def asked(self) -> bool:
        return self.event.is_set()

    async def sleep(self, seconds: float) -> None:
        """Wait, unless asked to stop before the time is up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)


async def watch(
    inventory: Inventory,
    hosts: Sequence[Host],
    store: Store,
    connect: Callable[[], Connector],
    *,
    every: timedelta,
    window: timedelta,
    once: bool,
    report: Callable[[Round], None],
    stop: Stop,
) -> None:
    """Rounds until stopped (or one, with `once`)."""
    number = 0
    while not stop.asked:
        number += 1
        await one_round(inventory, hosts, store, connect, window, number, report, stop)
        if once or stop.asked:
            return
        await stop.sleep(every.total_seconds() * random.uniform(1 - JITTER, 1 + JITTER))


async def one_round(
    inventory: Inventory,
    hosts: Sequence[Host],
    store: Store,
    connect: Callable[[], Connector],
    window: timedelta,
    number: int,
    report: Callable[[Round], None],
    stop: Stop,
) -> Round:
    """Scan, then notify (skipped when asked to stop in between)."""
    done = Round(number, datetime.now(UTC))
    loop = asyncio.get_running_loop()
    began = loop.time()
    fleet = connect()
    try:
        scans = scan_fleet(
            hosts, store, fleet, inventory.concurrency, window, policy=inventory.policy
        )
        async for outcome in scans:  # each host's incidents updated as it is stored
            done.scans.append(outcome)
    finally:
        await fleet.close()
    done.scan_seconds = loop.time() - began
    if not stop.asked:
        now = datetime.now(UTC)
        incidents = store.incidents(hosts=[host.name for host in hosts])
        done.open_incidents = sum(1 for i in incidents if i.state == "open")
        # One opened and resolved at once (over when first judged) is neither: nobody hears.
        done.opened = [
            i for i in incidents if i.state != "resolved" and i.opened_at >= done.started
        ]
        done.resolved = [
            i
            for i in incidents
            if i.state == "resolved"
            and i.resolved_at is not None
            and i.resolved_at >= done.started > i.opened_at
        ]
        if inventory.routes:
            found = notify.contexts(store, inventory, incidents, now)
            done.routes = await notify.notify_round(store, inventory.routes, incidents, found, now)
    report(done)
    return done
