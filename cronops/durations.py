"""A job's usual duration and output size from its own runs: a robust baseline (median and
spread) to judge one run against, and the high percentile a run still going is compared with.

Pure arithmetic on seconds and bytes; the rules that use it (too_fast, slow, hung) are analysis.py's.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from math import ceil
from operator import attrgetter, sub
from statistics import median

from cronops.records import CRON, RunRecord

# The median absolute deviation times this estimates a standard deviation for normal data, and
# unlike one, a few wild runs do not move it.
MAD_SCALE = 1.4826
NEIGHBOURS = 20  # a run is compared with up to this many runs each side of it


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a job's runs usually take, in seconds (or print, in bytes)."""

    runs: int  # how many runs it is made of
    usual: float  # their median
    spread: float  # their scaled median absolute deviation (0 when most took the same)
    folded: int = 0  # of those runs, days folded past the retention (each day's median)


def baseline(durations: Sequence[float]) -> Baseline | None:
    """The median and spread of `durations`; None when there are none."""
    if not durations:
        return None
    usual = median(durations)
    return Baseline(len(durations), usual, _spread(durations, usual))


def _spread(durations: Sequence[float], usual: float) -> float:
    # Mapped in C: a judge works out a spread of ~40 values for every run its median doubts.
    return MAD_SCALE * median(list(map(abs, map(sub, durations, repeat(usual)))))


def around(durations: Sequence[float], index: int, each_side: int = NEIGHBOURS) -> list[float]:
    """The other runs near run `index`, before and after it: one wild run is judged against
    its neighbours without counting itself, so a run 30x the usual stands out among a handful."""
    low, high = max(index - each_side, 0), index + each_side + 1
    return [*durations[low:index], *durations[index + 1 : high]]


class Around:
    """The values `around` each value of a sequence takes, for one index after another: kept
    sorted as the index moves on (one value in, one out), so their count and median cost a few
    bisections where `around` and `baseline` copy and sort ~40 values, for every run of a job's
    history. The median says whether a run may be off; `baseline` then works out the spread
    (a second median, of the deviations from the first) for the few that may be."""

    def __init__(self, values: Sequence[float], each_side: int = NEIGHBOURS, folded: int = 0):
        self.values = values
        self.each_side = each_side
        self.folded = folded  # the first this many values are folded days, not runs
        self.index = -1
        self.low = self.high = 0  # values[low:high], the index's own value among them...
        self.ordered: list[float] = []  # ...sorted
        self.own = 0  # a position of the index's own value in `ordered`

    def move_to(self, index: int) -> None:
        """Take the values around `index`; from one index to a later one, only the values that
        come in and go out of reach are moved."""
        values, ordered = self.values, self.ordered
        low, high = index - self.each_side, index + self.each_side + 1
        if low < 0:
            low = 0
        if high > len(values):
            high = len(values)
        if index < self.index or low >= self.high:
            self.ordered = ordered = sorted(values[low:high])
        elif index == self.index + 1:  # the next index, as a judge moves: one out, one in
            if low > self.low:
                del ordered[bisect_left(ordered, values[self.low])]
            if high > self.high:
                insort(ordered, values[self.high])
        else:
            for value in values[self.low : low]:
                del ordered[bisect_left(ordered, value)]
            for value in values[self.high : high]:
                insort(ordered, value)
        self.index, self.low, self.high = index, low, high
        self.own = bisect_left(ordered, values[index])

    def medians(self, indices: Iterable[int], least: int = 1) -> Iterator[float | None]:
        """For each of the ascending `indices` in turn, moved to it (as move_to), the median of
        the values around it, or None where they are fewer than `least`: a judge walks every
        run of a job's history, and a step of this loop costs a third of the calls of moving,
        counting and taking the median apart. `baseline` may be asked between the steps."""
        values, each_side = self.values, self.each_side
        size = len(values)
        for index in indices:
            if index != self.index + 1 or index == 0:
                self.move_to(index)
                ordered = self.ordered
            else:  # the next index, as a judge moves: one value out, one in (see move_to)
                ordered = self.ordered
                low, high = index - each_side, index + each_side + 1
                if low > self.low:
                    del ordered[bisect_left(ordered, values[self.low])]
                else:
                    low = self.low
                if high <= size:
                    insort(ordered, values[self.high])
                else:
                    high = size
                self.index, self.low, self.high = index, low, high
                self.own = bisect_left(ordered, values[index])
            count = len(ordered) - 1
            if count < least or count < 1:
                yield None
                continue
            own = self.own  # the median as `median` works it out, inline
            middle = count // 2
            upper = ordered[middle if middle < own else middle + 1]
            if count % 2:
                yield upper
            else:
                yield (ordered[middle - 1 if middle - 1 < own else middle] + upper) / 2

    @property
    def count(self) -> int:
        """How many values are around the index."""
        return len(self.ordered) - 1

    def median(self) -> float:
        """Their median, as `baseline` works it out (statistics.median: the middle value, or
        the mean of the middle two). There must be one value at least."""
        ordered, own = self.ordered, self.own
        middle = (len(ordered) - 1) // 2  # a rank among them: the index's own value is left out
        upper = ordered[middle if middle < own else middle + 1]
        if len(ordered) % 2 == 0:  # an odd count of values around it
            return upper
        return (ordered[middle - 1 if middle - 1 < own else middle] + upper) / 2

    def baseline(self) -> Baseline:
        """Their baseline, as `baseline` works it out. There must be one value at least."""
        usual = self.median()
        others = self.ordered[: self.own] + self.ordered[self.own + 1 :]
        if not self.folded:
            return Baseline(self.count, usual, _spread(others, usual))
        folded = max(min(self.high, self.folded) - self.low, 0) - (self.index < self.folded)
        return Baseline(self.count, usual, _spread(others, usual), folded)


_output = attrgetter("output")


def percentile(durations: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0.95 for p95) of a non-empty list."""
    ordered = sorted(durations)
    return ordered[max(ceil(share * len(ordered)) - 1, 0)]


def output_sizes(runs: Sequence[RunRecord]) -> list[tuple[int, int]]:
    """(index in `runs`, bytes printed) for each cron run of a job whose output size is known.

    Cron sends no mail, and logs no output line, for a run that printed nothing: a run with no
    output seen printed 0 B, but only between the job's first and latest runs whose output was
    seen: the mail of a later run came, so this one's would have too; after it, its output may
    not have been read yet (mail comes after the run), and before the first, the host's mail may
    not have been read at all. A job whose output is never seen (MAILTO="", a host whose mail
    is not read) has no sizes. Reruns capture their output otherwise."""
    if list(map(_output, runs)).count(None) == len(runs):  # most jobs: no output seen, in C
        return []
    cron = [(index, run) for index, run in enumerate(runs) if run.trigger == CRON]
    seen = [position for position, (_, run) in enumerate(cron) if run.output is not None]
    if not seen:
        return []
    sizes = []
    for index, run in cron[seen[0] : seen[-1] + 1]:
        if run.output is None:
            sizes.append((index, 0))
        elif run.output_size is not None:  # stored before sizes were, else unknown
            sizes.append((index, run.output_size))
    return sizes
