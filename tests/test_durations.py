"""Tests for cronops.durations: the robust baseline a run is judged against, and which output
sizes it is made of."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from itertools import accumulate
from statistics import median

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronops.durations import MAD_SCALE, Around, around, baseline, output_sizes, percentile
from cronops.records import RunRecord


def test_no_durations_no_baseline():
    assert baseline([]) is None


def test_the_median_and_spread_ignore_one_wild_run():
    usual = baseline([300, 310, 290, 305, 9000])
    assert usual is not None
    assert (usual.runs, usual.usual) == (5, 305)
    assert usual.spread == pytest.approx(MAD_SCALE * 5)


def test_runs_that_all_took_the_same_have_no_spread():
    usual = baseline([60.0] * 4)
    assert usual is not None and (usual.usual, usual.spread) == (60.0, 0.0)


def test_a_run_is_compared_with_its_neighbours_on_both_sides_without_itself():
    durations = list(range(10))
    assert around(durations, 0, each_side=3) == [1, 2, 3]
    assert around(durations, 5, each_side=3) == [2, 3, 4, 6, 7, 8]
    assert around(durations, 9, each_side=3) == [6, 7, 8]
    assert around([42], 0) == []


def test_percentile_by_nearest_rank():
    assert percentile([5], 0.95) == 5
    assert percentile(list(range(1, 21)), 0.95) == 19
    assert percentile([75, 74, 76, 75, 75], 0.95) == 76


def printed(size: int | None, trigger: str = "cron") -> RunRecord:
    """A run whose output was seen (`size` bytes of it) or not (None)."""
    start = datetime(2026, 12, 4, 3, 0, 2, tzinfo=UTC)
    output = None if size is None else "x" * min(size, 10)
    return RunRecord("backup", "web1", start, None, None, None, trigger, output, size)


def test_a_run_with_no_output_seen_printed_nothing_between_runs_whose_output_was_seen():
    runs = [printed(None), printed(900), printed(None), printed(800), printed(None)]
    # Before the first mail seen the host's mail may not have been read; after the latest,
    # the run's mail may still be on its way: neither is known.
    assert output_sizes(runs) == [(1, 900), (2, 0), (3, 800)]


def test_a_job_whose_output_is_never_seen_has_no_sizes():
    assert output_sizes([printed(None)] * 6) == []


def test_reruns_and_outputs_stored_without_a_size_are_left_out():
    runs = [printed(900), printed(700, trigger="manual"), printed(None), printed(800)]
    runs.append(replace(printed(5), output_size=None))  # stored before sizes were
    runs.append(printed(600))
    assert output_sizes(runs) == [(0, 900), (2, 0), (3, 800), (5, 600)]


def test_the_output_size_baseline_is_the_duration_one():
    sizes = [14_000, 14_200, 13_900, 0, 14_100, 14_050]
    usual = baseline(around(sizes, 3))
    assert usual is not None and usual.usual == 14_050 and usual.runs == 5


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(0, 12) | st.floats(0, 1e6, allow_nan=False), max_size=120),
    each_side=st.integers(1, 25),
    steps=st.lists(st.integers(1, 60), max_size=40),
)
def test_the_sliding_window_is_the_plain_definition(values, each_side, steps):
    """Around, index after index (by steps of one and by jumps, as a judge skips the runs it
    does not judge), has the values `around` takes, their median and their baseline."""
    window = Around(values, each_side)
    indices = list(range(len(values))) + list(accumulate(steps, initial=0))
    for index in (i for i in indices if i < len(values)):
        if index < window.index:
            window = Around(values, each_side)  # a judge moves one way only; a new one to go back
        window.move_to(index)
        neighbours = around(values, index, each_side)
        assert window.count == len(neighbours)
        if neighbours:
            assert window.median() == median(neighbours)
            assert window.baseline() == baseline(neighbours)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(0, 400) | st.sampled_from([0.0, 1.0, 2.0, 61.0]), max_size=80),
    each_side=st.integers(0, 25),
    least=st.integers(1, 6),
    data=st.data(),
)
def test_medians_walk_as_moving_one_index_at_a_time(values, each_side, least, data):
    """Around.medians, over ascending indices (every one, or a judge's skipping few), gives
    the median `around` has where it has `least` values or more, else None; a baseline asked
    between its steps is the one moving there gives."""
    every = list(range(len(values)))
    indices = data.draw(
        st.sampled_from(
            [
                every,
                sorted(
                    set(
                        data.draw(
                            st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=len(values))
                        )
                    )
                    & set(every)
                ),
            ]
        )
    )
    window = Around(values, each_side)
    for index, found in zip(indices, window.medians(indices, least), strict=True):
        neighbours = around(values, index, each_side)
        if len(neighbours) < least or not neighbours:
            assert found is None
            continue
        assert found == median(neighbours)
        assert window.baseline() == baseline(neighbours)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(0, 12), min_size=2, max_size=60),
    folded=st.integers(0, 60),
    each_side=st.integers(1, 25),
)
def test_a_baseline_counts_the_folded_days_among_the_values_around(values, folded, each_side):
    """The first `folded` values stand in for runs (days folded past the retention): a
    baseline says how many of its values they are, its own value left out."""
    folded = min(folded, len(values))
    window = Around(values, each_side, folded=folded)
    for index in range(len(values)):
        window.move_to(index)
        if window.count:
            low, high = max(index - each_side, 0), index + each_side + 1
            days = [i for i in range(low, min(high, len(values))) if i < folded and i != index]
            assert window.baseline().folded == len(days)
