"""What every transport shares: the host statuses, the reply to one command, the remote command line.

Kept apart from the fleet runner so each transport module can import it without a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cronops.inventory import Host


class HostStatus(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    AUTH_FAILED = "auth_failed"
    HOST_KEY_UNKNOWN = "host_key_unknown"
    HOST_KEY_CHANGED = "host_key_changed"
    ERROR = "error"


@dataclass
class Reply:
    """What one host answered to one command, or why it could not."""

    host: Host
    status: HostStatus
    error: str | None = None
    latency_ms: float | None = None  # connect and authenticate
    stdout: bytes = b""
    stderr: bytes = b""
    exit_status: int | None = None
    sent_at: float = 0.0  # local clock (epoch seconds) when the command was sent
    received_at: float = 0.0  # ... and when its output was complete
    login: str | None = None  # the user the transport logged in as (the audit trail keeps it)

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK


# Called with each piece of stdout as it arrives. A command run with one streams its stdout there
# and nothing of it is kept in the Reply (a rerun's output may be gigabytes); stderr is kept.
OutputSink = Callable[[bytes], None]


class Transport(Protocol):
    async def run(
        self,
        host: Host,
        command: str,
        stdin: bytes = b"",
        *,
        on_output: OutputSink | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Run `command` on `host`; `timeout` (default: the host's command_timeout) bounds it."""
        ...

    async def close(self) -> None: ...


def shell_command(host: Host, argv: str) -> str:
    """The remote command line: under `env` so any login shell accepts it, under sudo when asked."""
    line = f"env LC_ALL=C LANG=C {argv}"
    return f"sudo -n {line}" if host.sudo else line


def stopwatch() -> Callable[[], float]:
    started = time.monotonic()
    return lambda: round((time.monotonic() - started) * 1000, 1)
