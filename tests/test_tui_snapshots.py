"""Snapshot tests: what the operator sees, pinned to a fixed clock and a small fixed history.

Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change."""

from __future__ import annotations

import pytest

from tests.test_tui import app_for, build_history, settle


@pytest.fixture
def history(tmp_path):
    return build_history(tmp_path / "history.db")


def test_problems_wide(snap_compare, history):
    assert snap_compare(app_for(history), terminal_size=(140, 24), run_before=settle)


def test_jobs_80x24(snap_compare, history):
    async def jobs(pilot):
        await settle(pilot)
        await pilot.press("2")

    assert snap_compare(app_for(history), terminal_size=(80, 24), run_before=jobs)


def test_hosts_light_theme(snap_compare, history):
    async def hosts(pilot):
        pilot.app.theme = "textual-light"
        await settle(pilot)
        await pilot.press("3")

    assert snap_compare(app_for(history), terminal_size=(120, 16), run_before=hosts)


def test_job_detail(snap_compare, history):
    async def detail(pilot):
        await settle(pilot)
        await pilot.press("2", "enter")
        await pilot.pause()

    assert snap_compare(app_for(history), terminal_size=(100, 44), run_before=detail)


def test_help(snap_compare, history):
    async def help_(pilot):
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app_for(history), terminal_size=(80, 24), run_before=help_)
