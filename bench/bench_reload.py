"""Memory of a long-running TUI: RSS and the collector's frozen objects over many reloads.

Run from the repo root: `python bench/bench_reload.py [--reloads 3600] [--every 300]` reads the demo
fleet's history again and again through the app's own reload path (load -> show_fleet ->
show_audit), or `python bench/bench_reload.py --minutes 5` runs the app on the demo fleet with a
rescan every second (as `--rescan-every 1`). Prints RSS, gc.get_freeze_count() and the objects the
collector tracks, every `--every` reloads (or 30 s). Target: after the first reloads, flat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from textual.worker import WorkerState  # noqa: E402

from cronops.demo import build_demo  # noqa: E402
from cronops.tui import CronopsApp  # noqa: E402

NOW = datetime(2026, 3, 4, 10, 42, 17, tzinfo=UTC)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample(label: str) -> tuple[float, int]:
    rss, frozen = rss_mb(), gc.get_freeze_count()
    print(
        f"{label:>14}  rss {rss:7.1f} MB  frozen {frozen:>9,}  tracked {len(gc.get_objects()):>9,}",
        flush=True,
    )
    return rss, frozen


async def idle(app: CronopsApp) -> None:
    busy = (WorkerState.PENDING, WorkerState.RUNNING)
    while any(w.state in busy for w in app.workers):
        await asyncio.sleep(0.005)


async def reloads(root: Path, count: int, every: int) -> list[tuple[float, int]]:
    demo = build_demo(root, NOW)
    await demo.scan(lambda: NOW)
    app = CronopsApp.on_demo(demo, lambda: NOW, scan_on_start=False, rescan_every=None)
    figures = []
    started = time.perf_counter()
    async with app.run_test(size=(160, 50)) as pilot:
        await idle(app)
        await pilot.pause()
        figures.append(sample("start"))
        for done in range(1, count + 1):
            app.load()
            await idle(app)
            await pilot.pause()
            if done % every == 0:
                figures.append(sample(f"{done} reloads"))
    print(f"{count} reloads in {time.perf_counter() - started:.0f} s")
    return figures


async def rescans(root: Path, minutes: float) -> list[tuple[float, int]]:
    demo = build_demo(root, datetime.now(UTC))
    app = CronopsApp.on_demo(demo, rescan_every=1.0)
    figures = []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        figures.append(sample("start"))
        for tick in range(1, int(minutes * 2) + 1):
            await asyncio.sleep(30)
            figures.append(sample(f"{tick * 30} s"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=3600)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--minutes", type=float, help="rescan every second for this long instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cronops-bench-reload-") as tmp:
        if args.minutes:
            figures = asyncio.run(rescans(Path(tmp), args.minutes))
        else:
            figures = asyncio.run(reloads(Path(tmp), args.reloads, args.every))
    # The first samples include what the first reloads create once (caches, widgets).
    (rss_a, frozen_a), (rss_b, frozen_b) = figures[1 if len(figures) > 2 else 0], figures[-1]
    print(
        f"from the second sample to the last: rss {rss_b - rss_a:+.1f} MB, frozen {frozen_b - frozen_a:+,}"
    )


if __name__ == "__main__":
    main()
