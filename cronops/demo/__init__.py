"""The built-in demo fleet: ~20 made-up Debian hosts, two weeks of cron history, every kind of problem.

Each host is a directory tree reached through the demo transport, so scans, judging and actions run
their real code; its cron is simulated in jumps at each contact, so a pause or an edit changes what
runs next. Everything follows from `now`, the transport's clock and fixed seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cronops.demo.catalog import HISTORY, HOSTS, POLICY, SCRIPTS, DemoHost, Edit, Plant, Script
from cronops.demo.confine import rerun_refusal
from cronops.demo.cron import DemoCron
from cronops.demo.world import build_world
from cronops.inventory import Host, Inventory
from cronops.scan import Clock, scan_fleet, utc_now
from cronops.store import Store
from cronops.transport import Connector
from cronops.transport.demo import DemoTransport

__all__ = [
    "HISTORY",
    "HOSTS",
    "POLICY",
    "SCRIPTS",
    "DemoCron",
    "DemoFleet",
    "DemoHost",
    "Edit",
    "Plant",
    "Script",
    "build_demo",
]

CONCURRENCY = 8


@dataclass
class DemoFleet:
    """A built demo world: its inventory, where its history goes, and how to reach its hosts."""

    root: Path  # the caller's directory; nothing is written outside it
    world: Path
    inventory: Inventory
    db_path: Path
    built_at: datetime
    window: timedelta = HISTORY  # the scan window that takes in all of the history

    def connector(self, clock: Callable[[], datetime] | None = None) -> Connector:
        """A Connector for the demo hosts, at the time `clock` says (the wall clock by default):
        give scan_fleet the same clock."""
        transport = DemoTransport(
            self.world,
            clock or utc_now,
            advance=DemoCron(self.world).advance,
            rerun_refusal=rerun_refusal,
        )
        return Connector({"demo": transport})

    async def scan(self, clock: Clock) -> None:
        """One scan of the whole demo fleet into its history, at the time `clock` says."""
        store = Store(self.db_path)
        try:
            hosts = self.inventory.hosts
            connector = self.connector(clock)
            async for _ in scan_fleet(
                hosts, store, connector, CONCURRENCY, self.window, clock, self.inventory.policy
            ):
                pass
        finally:
            store.close()


def build_demo(root: Path, now: datetime) -> DemoFleet:
    """Write the demo world under `root` as it is at `now` (aware): hosts, crontabs, two weeks
    of cron logs with their planted problems, and the process tables."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    world = root / "world"
    if world.exists():
        raise ValueError(f"{world} exists: build the demo in a new directory")
    build_world(world, now)
    hosts = [
        Host(name=spec.name, address=f"{spec.name}.demo", tags=spec.tags, transport="demo")
        for spec in HOSTS
    ]
    inventory = Inventory(path=world, hosts=hosts, concurrency=CONCURRENCY, policy=POLICY)
    return DemoFleet(root, world, inventory, root / "history.db", now)
