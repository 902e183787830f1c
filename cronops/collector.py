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


def freeze() -> None:
    """What exists now lives on (loaded modules, a fleet's reading): full collections stop
    walking it. Refcounting still frees any of it that is dropped, as long as it has no cycles."""
    gc.freeze()
