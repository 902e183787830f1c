"""The cyclic garbage collector, kept out of the way of big readings.

A scan or a reading of the fleet builds hundreds of thousands of objects without cycles (events,
runs, rows): refcounting frees them, and the collector's passes over them free nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No collection while the block builds; nested or concurrent pauses leave the collector
    enabled at the end if it was enabled before the first."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# Frozen objects are never collected: those that later become garbage in a cycle (a table's
# replaced caches, a finished worker) stay until an unfreeze. Measured on the demo TUI, every
# reload froze ~7,500 such objects for good (+0.8 MB RSS a reload, bench/bench_reload.py).
# So a freeze that finds the frozen set grown this much since its last clean-up first collects
# everything once: a full pass, paid once per such growth instead of at every reload.
REGROWTH = 1.5
_clean_size = 0  # frozen objects just after the last clean-up (or the first freeze)


def freeze(clean: bool = True) -> None:
    """What exists now lives on (loaded modules, a fleet's reading): full collections stop
    walking it. Refcounting still frees any of it that is dropped; what dies in a cycle is
    collected at the first freeze after the frozen set has grown by half.

    Not `clean`: what grew is known to be alive (a reading just made, the TUI's first of a big
    fleet), so no full pass walks it (a second for 100k entries), and growth counts from here."""
    global _clean_size
    cleaning = clean and gc.get_freeze_count() > REGROWTH * _clean_size
    if cleaning:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    if cleaning:
        _clean_size = gc.get_freeze_count()
    elif not clean:
        _clean_size = max(_clean_size, gc.get_freeze_count())
