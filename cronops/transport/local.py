"""The local transport: the same probe, run by /bin/sh on this machine instead of over SSH.

For `transport = "local"` hosts (the machine cronops runs on) and for tests that need no network.
"""

from __future__ import annotations

import asyncio
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
        )
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), host.command_timeout)
        except TimeoutError:
            proc.kill()
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
