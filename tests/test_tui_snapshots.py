"""Snapshot tests: what the operator sees, pinned to a fixed clock and a small fixed history.

Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_textual_snapshot

from tests.test_tui import (
    HeldFleet,
    acknowledge_sync,
    app_for,
    build_history,
    build_stopped_history,
    settle,
    wait_until,
)

_normalize_svg = pytest_textual_snapshot.normalize_svg
_STYLE_RULE = re.compile(r"^\.(terminal-r\d+) \{[^}]*\}\n", re.MULTILINE)


def _without_unused_styles(svg: str) -> str:
    """The SVG without the style rules no element uses. Rich writes a rule for the style of
    every segment, blank ones included, though it draws no text for those: a blank's colour
    (the same pixels either way) followed the timing of the first reading and failed these
    tests under load."""
    svg = _normalize_svg(svg)
    used = set(re.findall(r'class="(terminal-r\d+)"', svg))
    return _STYLE_RULE.sub(lambda rule: rule[0] if rule[1] in used else "", svg)


# The plugin normalises both the stored and the new SVG through this module attribute.
pytest_textual_snapshot.normalize_svg = _without_unused_styles


@pytest.fixture
def history(tmp_path):
    return build_history(tmp_path / "history.db")


def test_problems_wide(snap_compare, history):
    assert snap_compare(app_for(history), terminal_size=(140, 24), run_before=settle)


def test_problems_acknowledged_light_theme(snap_compare, history):
    """The ack's ✓, who and until when, readable on a light background."""
    acknowledge_sync(history[0])

    async def light(pilot):
        pilot.app.theme = "textual-light"
        await settle(pilot)

    assert snap_compare(app_for(history), terminal_size=(140, 16), run_before=light)


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


def test_scan_progress_light_80x24(snap_compare, history):
    # Mid-scan: alpha has refused, bravo and charlie have not answered yet.
    fleet = HeldFleet()

    async def scanning(pilot):
        pilot.app.theme = "textual-light"
        await settle(pilot)
        pilot.app.action_scan()
        progress = pilot.app.query_one("#scan-progress")
        await wait_until(pilot, lambda: progress.bar.progress == 1)
        # The scan reads the history again once alpha is stored: wait for that reading.
        await wait_until(
            pilot,
            lambda: not any(w.group == "load" and not w.is_finished for w in pilot.app.workers),
        )
        await pilot.pause()

    app = app_for(history, connector_factory=lambda: fleet)
    assert snap_compare(app, terminal_size=(80, 24), run_before=scanning)


def test_stopped_cron_expanded(snap_compare, tmp_path):
    async def expanded(pilot):
        await settle(pilot)
        await pilot.press("enter")

    app = app_for(build_stopped_history(tmp_path / "history.db"))
    assert snap_compare(app, terminal_size=(140, 12), run_before=expanded)


def test_every_snapshot_belongs_to_a_test():
    """syrupy fails a run that leaves a snapshot unused, but not on pytest-xdist workers (which
    scripts/test uses): a snapshot whose test was renamed or removed is caught here instead."""
    folder = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
    tests = {name for name in globals() if name.startswith("test_")}
    assert {path.stem.split("[")[0] for path in folder.glob("*.svg")} <= tests
