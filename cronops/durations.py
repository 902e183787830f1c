"""A job's usual duration from its own runs: a robust baseline (median and spread) to judge one
run against, and the high percentile a run still going is compared with.

Pure arithmetic on seconds; the rules that use it (too_fast, slow, hung) are analysis.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from statistics import median

# The median absolute deviation times this estimates a standard deviation for normal data, and
# unlike one, a few wild runs do not move it.
MAD_SCALE = 1.4826
NEIGHBOURS = 20  # a run is compared with up to this many runs each side of it


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a job's runs usually take, in seconds."""

    runs: int  # how many runs it is made of
    usual: float  # their median
    spread: float  # their scaled median absolute deviation (0 when most took the same)


def baseline(durations: Sequence[float]) -> Baseline | None:
    """The median and spread of `durations`; None when there are none."""
    if not durations:
        return None
    usual = median(durations)
    spread = MAD_SCALE * median(abs(d - usual) for d in durations)
    return Baseline(len(durations), usual, spread)


def around(durations: Sequence[float], index: int, each_side: int = NEIGHBOURS) -> list[float]:
    """The other runs near run `index`, before and after it: one wild run is judged against
    its neighbours without counting itself, so a run 30x the usual stands out among a handful."""
    low, high = max(index - each_side, 0), index + each_side + 1
    return [*durations[low:index], *durations[index + 1 : high]]


def percentile(durations: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0.95 for p95) of a non-empty list."""
    ordered = sorted(durations)
    return ordered[max(ceil(share * len(ordered)) - 1, 0)]
