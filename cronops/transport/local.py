"""The local transport: the same probe, run by /bin/sh on this machine instead of over SSH.

For `transport = "local"` hosts (the machine cronops runs on) and for tests that need no network.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from cronops.inventory import Host
from cronops.transport.base import HostStatus, Reply


class LocalTransport:
    async def run(self, host: Host, command: str, stdin: bytes = b"") -> Reply:
        sent_at = time.time()
        proc = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), host.command_timeout)
        except TimeoutError:
            # The whole process group: a child left behind would hold the pipes open.
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return Reply(
                host,
                HostStatus.TIMEOUT,
                error=f"no answer to the command within {host.command_timeout:g}s",
            )
        return Reply(
            host,
            HostStatus.OK,
            stdout=stdout,
            stderr=stderr,
            exit_status=proc.returncode,
            sent_at=sent_at,
            received_at=time.time(),
        )

    async def close(self) -> None:
        return None
