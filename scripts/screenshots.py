"""Writes screenshots/*.svg: each screen of the TUI on the built-in demo fleet, the clock pinned,
and the audit as a terminal shows it.

Run with `.venv/bin/python scripts/screenshots.py`; the README shows the files it writes.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerState

from cronops import tables
from cronops.audit import run_audit
from cronops.demo import build_demo
from cronops.store import Store
from cronops.tui import CronopsApp

NOW = datetime(2026, 11, 20, 9, 41, tzinfo=UTC)
SIZE = (140, 40)
OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def settle(pilot: Pilot) -> None:
    """Until no worker runs, then a few repaints."""
    for _ in range(2000):
        if not any(
            w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers
        ):
            break
        await asyncio.sleep(0.01)
    for _ in range(5):
        await pilot.pause()


async def problems(pilot: Pilot) -> None:
    await pilot.press("1")


async def expanded(pilot: Pilot) -> None:
    """The stopped cron's jobs shown under it."""
    await pilot.press("1", "slash", *"cron_not", "enter", "enter", "escape")


async def jobs(pilot: Pilot) -> None:
    await pilot.press("2")


async def hosts(pilot: Pilot) -> None:
    await pilot.press("3")


async def detail(pilot: Pilot) -> None:
    await pilot.press("2", "slash", *"invoice", "enter", "enter")


async def edit(pilot: Pilot) -> None:
    await pilot.press("2", "slash", *"pg-vacuum", "enter", "e")
    await pilot.pause()
    pilot.app.screen.query_one("#schedule", Input).value = "15 4 * * 1-5"


async def filtered(pilot: Pilot) -> None:
    await pilot.press("2", "slash", *"db-", "enter")


async def help_screen(pilot: Pilot) -> None:
    await pilot.press("question_mark")


async def light(pilot: Pilot) -> None:
    pilot.app.theme = "textual-light"
    await pilot.press("1")


SHOTS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "problems": problems,
    "problems-expanded": expanded,
    "jobs": jobs,
    "hosts": hosts,
    "job-detail": detail,
    "edit": edit,
    "filter": filtered,
    "help": help_screen,
    "problems-light": light,
}


async def shoot(demo, name: str, steps: Callable[[Pilot], Awaitable[None]]) -> None:
    app = CronopsApp.on_demo(demo, lambda: NOW, scan_on_start=False, rescan_every=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await steps(pilot)
        await settle(pilot)
        app.save_screenshot(f"{name}.svg", str(OUT))


def audit(demo) -> None:
    """`cronops audit` at a terminal of SIZE's width, one line a finding."""
    store = Store(demo.db_path)
    try:
        hosts = demo.inventory.hosts
        result = run_audit(store, demo.inventory.policy, hosts, NOW - timedelta(hours=24), NOW)
    finally:
        store.close()
    out = Console(width=SIZE[0], record=True, file=io.StringIO(), highlight=False)
    out.print("$ cronops audit", style="bold")
    for part in tables.audit_tables(result, SIZE[0]):
        out.print(part)
    out.save_svg(str(OUT / "audit.svg"), title="cronops audit")


async def main() -> None:
    os.environ["TZ"] = "UTC"
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cronops-shots-") as tmp:
        demo = build_demo(Path(tmp), NOW)
        await demo.scan(lambda: NOW)
        for name, steps in SHOTS.items():
            await shoot(demo, name, steps)
            print(f"screenshots/{name}.svg")
        audit(demo)
        print("screenshots/audit.svg")


if __name__ == "__main__":
    asyncio.run(main())
