"""A rerun's pure parts: the bounded tail of its output, and how the wait for it ends (the job
ending, the time limit, or the operator's interrupt and answer)."""

from __future__ import annotations

import asyncio

from cronops.actions import OUTPUT_BYTES_KEPT, Ending, _follow, _Output
from cronops.runs import OUTPUT_LINES_KEPT


def test_only_a_bounded_tail_of_the_output_is_kept_and_all_of_it_is_handed_on():
    shown = 0

    def sink(piece: bytes) -> None:
        nonlocal shown
        shown += len(piece)

    output = _Output(sink)
    lines = [f"line {n}\n".encode() for n in range(1_000_000)]
    data = b"".join(lines)
    biggest = 0
    for start in range(0, len(data), 65536):
        output.add(data[start : start + 65536])
        biggest = max(biggest, len(output.kept))
    assert shown == len(data) > 10_000_000
    assert biggest <= 2 * OUTPUT_BYTES_KEPT + 65536
    assert output.tail() == [line.decode().rstrip("\n") for line in lines[-OUTPUT_LINES_KEPT:]]


def test_a_line_cut_short_by_the_byte_bound_is_not_kept():
    output = _Output(None)
    output.add(b"x" * (3 * OUTPUT_BYTES_KEPT) + b"\nlast\n")
    assert output.tail() == ["last"]


def test_one_endless_line_keeps_its_end():
    output = _Output(None)
    output.add(b"ab" * (2 * OUTPUT_BYTES_KEPT))
    (kept,) = output.tail()
    assert len(kept) == OUTPUT_BYTES_KEPT and kept.endswith("ab")


def test_a_short_output_is_kept_whole():
    output = _Output(None)
    output.add(b"one\ntwo")
    output.add(b"\nthree\n")
    assert output.tail() == ["one", "two", "three"]


async def never() -> None:
    await asyncio.Event().wait()


async def test_the_job_ending_ends_the_wait():
    watching = asyncio.ensure_future(asyncio.sleep(0.01))
    assert await _follow(watching, 10, asyncio.Event(), None) is Ending.EXITED


async def test_past_the_limit_the_job_is_to_be_stopped():
    watching = asyncio.ensure_future(never())
    assert await _follow(watching, 0.05, None, None) is Ending.TIMED_OUT
    watching.cancel()


async def test_an_interrupt_without_anyone_to_ask_stops_it():
    watching, interrupted = asyncio.ensure_future(never()), asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, interrupted.set)
    assert await _follow(watching, 10, interrupted, None) is Ending.STOPPED
    watching.cancel()


async def test_the_operator_may_carry_on_watching_then_leave_it_running():
    watching, interrupted = asyncio.ensure_future(never()), asyncio.Event()
    answers = iter([None, Ending.LEFT_RUNNING])
    asked = 0

    async def decide() -> Ending | None:
        nonlocal asked
        asked += 1
        if asked == 1:  # carry on; interrupted again a moment later
            asyncio.get_running_loop().call_later(0.01, interrupted.set)
        return next(answers)

    asyncio.get_running_loop().call_later(0.01, interrupted.set)
    assert await _follow(watching, 10, interrupted, decide) is Ending.LEFT_RUNNING
    assert asked == 2
    watching.cancel()


async def test_a_job_that_ends_while_the_operator_decides_has_simply_ended():
    watching, interrupted = asyncio.ensure_future(asyncio.sleep(0.05)), asyncio.Event()

    async def decide() -> Ending | None:
        await asyncio.sleep(0.1)
        return Ending.STOPPED

    interrupted.set()
    assert await _follow(watching, 10, interrupted, decide) is Ending.EXITED
