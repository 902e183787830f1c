"""The SSH transport against a real sshd: what a command answers is read whole, whatever the timing."""

from __future__ import annotations

import asyncio
import time

import pytest

from cronops.inventory import load_inventory
from cronops.transport import HostStatus, connector

pytestmark = pytest.mark.fleet


def test_a_command_that_answers_without_reading_its_input_is_read_whole(inventory):
    """A crontab write refuses (the crontab changed) before it reads the new text it is given.
    When its exit, EOF and close arrive with the exec's reply, as a busy controller reads them,
    sending that text found the channel closed, and the refusal read as 'connection lost:
    Channel not open for sending'."""
    (host,) = load_inventory(inventory(["alpha"])).hosts

    async def busy_controller() -> None:
        while True:
            time.sleep(0.05)  # the loop blocked, as by storing a big scan's runs
            await asyncio.sleep(0)

    async def answers():
        fleet = connector()
        busy = asyncio.create_task(busy_controller())
        try:
            return [await fleet.run(host, "echo refused; exit 3", b"new text\n") for _ in range(5)]
        finally:
            busy.cancel()
            await fleet.close()

    for reply in asyncio.run(answers()):
        assert (reply.status, reply.stdout, reply.exit_status) == (
            HostStatus.OK,
            b"refused\n",
            3,
        ), reply.error
