"""The local transport: the same probe, run by /bin/sh on this machine instead of over SSH.

For `transport = "local"` hosts (the machine cronops runs on) and for tests that need no network.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import time

from cronops.inventory import Host
from cronops.transport.base import HostStatus, OutputSink, Reply

CHUNK = 65536


class LocalTransport:
    async def run(
        self,
        host: Host,
        command: str,
        stdin: bytes = b"",
        *,
        on_output: OutputSink | None = None,
        timeout: float | None = None,
    ) -> Reply:
        limit = host.command_timeout if timeout is None else timeout
        sent_at = time.time()
        proc = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = await asyncio.wait_for(_communicate(proc, stdin, on_output), limit)
        except (TimeoutError, asyncio.CancelledError) as stopped:
            # The whole process group: a child left behind would hold the pipes open.
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            if isinstance(stopped, asyncio.CancelledError):
                raise
            return Reply(
                host, HostStatus.TIMEOUT, error=f"no answer to the command within {limit:g}s"
            )
        return Reply(
            host,
            HostStatus.OK,
            stdout=stdout,
            stderr=stderr,
            exit_status=proc.returncode,
            sent_at=sent_at,
            received_at=time.time(),
            login=local_user(),
        )

    async def close(self) -> None:
        return None


def local_user() -> str:
    """The real user of this process (not $USER or $LOGNAME, which anyone can set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry, as in some containers
        return str(uid)


async def _communicate(
    proc: asyncio.subprocess.Process, stdin: bytes, on_output: OutputSink | None
) -> tuple[bytes, bytes]:
    async def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command did not read all of its input: its business
        proc.stdin.close()

    async def drain(stream: asyncio.StreamReader | None, sink: OutputSink | None) -> bytes:
        """All of the stream, or, with a sink, each piece handed to it and none kept."""
        assert stream is not None
        pieces = []
        while piece := await stream.read(CHUNK):
            if sink is None:
                pieces.append(piece)
            else:
                sink(piece)
        return b"".join(pieces)

    _, stdout, stderr = await asyncio.gather(
        feed(), drain(proc.stdout, on_output), drain(proc.stderr, None)
    )
    await proc.wait()
    return stdout, stderr
