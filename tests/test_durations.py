"""Tests for cronops.durations: the robust baseline a run is judged against."""

from __future__ import annotations

import pytest

from cronops.durations import MAD_SCALE, around, baseline, percentile


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
