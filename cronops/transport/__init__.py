"""The only door to the hosts: run one command per host over SSH (or locally) and say how it went.

Every failure becomes the host's status; nothing raised for one host ever stops the rest of the fleet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar, cast

from cronops.inventory import Host
from cronops.transport.base import HostStatus, OutputSink, Reply, Transport, shell_command
from cronops.transport.local import LocalTransport

__all__ = [
    "Connector",
    "HostStatus",
    "OutputSink",
    "Reply",
    "Transport",
    "connector",
    "run_on_fleet",
    "shell_command",
]

# sshd's MaxStartups 10:30:100 starts dropping unauthenticated connections past 10 at once:
# everything behind one jump host counts against that one target.
PER_JUMP_HOST = 8

T = TypeVar("T")


async def run_on_fleet(
    hosts: Iterable[Host], target: Callable[[Host], Awaitable[T]], concurrency: int
) -> AsyncIterator[T]:
    """Run `target` for every host, at most `concurrency` at once, yielding results as they arrive.

    `target` must turn its own failures into a result: one host must never stop the others.
    A result is handed over, never kept: a finished task holding its host's answer until the
    whole fleet was done held most of a 1,000-host first scan's answers at once (351 MB)."""
    limit = asyncio.Semaphore(concurrency)
    per_jump: dict[str, asyncio.Semaphore] = {}
    arrived: asyncio.Queue[tuple[T | None, BaseException | None]] = asyncio.Queue()

    async def run(host: Host) -> T:
        if not host.proxy_jump:
            async with limit:
                return await target(host)
        jump = per_jump.setdefault(host.proxy_jump, asyncio.Semaphore(PER_JUMP_HOST))
        async with limit, jump:
            return await target(host)

    async def one(host: Host) -> None:
        try:
            arrived.put_nowait((await run(host), None))
        except Exception as exc:  # a target that broke its promise: raised where results go
            arrived.put_nowait((None, exc))

    tasks = [asyncio.ensure_future(one(h)) for h in hosts]
    try:
        for _ in tasks:
            result, failure = await arrived.get()
            if failure is not None:
                raise failure
            yield cast(T, result)  # None only with a failure
    finally:
        for task in tasks:
            task.cancel()


class Connector:
    """Sends each host's command through the transport its inventory entry names."""

    def __init__(self, transports: dict[str, Transport]):
        self.transports = transports

    async def run(
        self,
        host: Host,
        command: str,
        stdin: bytes = b"",
        *,
        on_output: OutputSink | None = None,
        timeout: float | None = None,
    ) -> Reply:
        transport = self.transports[host.transport]
        return await transport.run(host, command, stdin, on_output=on_output, timeout=timeout)

    async def close(self) -> None:
        for transport in self.transports.values():
            await transport.close()


def connector(accept_new_host_keys: bool = False) -> Connector:
    # asyncssh is imported here, on the way to the hosts, not with the package: it is cronops'
    # costliest import, and what only needs HostStatus or Reply (reports, the demo) need not pay it.
    from cronops.transport.ssh import SSHTransport

    return Connector({"ssh": SSHTransport(accept_new_host_keys), "local": LocalTransport()})
