"""The demo transport: each demo host is a directory tree, and its commands run here under /bin/sh.

Host paths in a command are moved into that tree, a few shims stand in for root-only tools, and the
tree's path is taken back out of the output, so everything above the transport sees a real host.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cronops.inventory import Host
from cronops.transport.base import HostStatus, OutputSink, Reply
from cronops.transport.local import LocalTransport

# A demo host's own directories: a command naming one of them is moved into the host's tree.
# /tmp, /run and /root are moved too, so nothing a demo command writes lands outside the world.
HOST_DIRS = ("etc", "var", "usr/local", "home", "srv", "opt", "root", "tmp", "run")
_HOST_PATH = re.compile(
    # Only where a path starts: not /usr/bin, not the /var inside /usr/local/var or $HOME/var.
    r"(?<![\w.~$}/-])/(?=(?:" + "|".join(HOST_DIRS) + r")(?![\w.-]))"
)
# The probe is sent as `sh -s` with its script on stdin: that script holds host paths too. Any other
# command's stdin is data (a crontab being installed) and passes untouched.
_SCRIPT_ON_STDIN = re.compile(r"(?:^|\s)(?:/bin/)?sh -s\s*$")

# World layout, shared with cronops.demo which builds it.
HOSTS_DIR = "hosts"
SHIMS_DIR = "bin"
DOWN_DIR = "down"  # down/<name> exists: the host refuses connections

# Called with the host's name and the time before each of its commands: lets its cron catch up.
Advance = Callable[[str, datetime], None]


class DemoTransport:
    """Runs each command for real, inside the host's tree under `world`, at the time `clock` says."""

    def __init__(
        self,
        world: Path,
        clock: Callable[[], datetime],
        *,
        advance: Advance | None = None,
    ):
        if shlex.quote(str(world)) != str(world):
            raise ValueError(f"the demo world's path must need no shell quoting: {world}")
        self.world = world
        self.clock = clock
        self.advance = advance
        self._local = LocalTransport()

    async def run(
        self,
        host: Host,
        command: str,
        stdin: bytes = b"",
        *,
        on_output: OutputSink | None = None,
        timeout: float | None = None,
    ) -> Reply:
        if (self.world / DOWN_DIR / host.name).exists():
            return Reply(host, HostStatus.UNREACHABLE, error=f"connection refused by {host.target}")
        root = self.world / HOSTS_DIR / host.name
        if not root.is_dir():
            return Reply(host, HostStatus.UNREACHABLE, error=f"cannot resolve {host.address}")
        now = self.clock()
        if self.advance is not None:
            self.advance(host.name, now)
        unroot = Unrooter(root, on_output)
        if _SCRIPT_ON_STDIN.search(command):
            stdin = into_host(stdin, root)
        reply = await self._local.run(
            host,
            self._environment(host, root, now) + into_host(command, root),
            stdin,
            on_output=unroot.feed if on_output else None,
            timeout=timeout,
        )
        unroot.flush()
        reply.stdout, reply.stderr = unroot.text(reply.stdout), unroot.text(reply.stderr)
        # The host's clock is the demo's clock: a pinned clock must not read as clock skew.
        reply.sent_at = reply.received_at = now.timestamp()
        return reply

    async def close(self) -> None:
        await self._local.close()

    def _environment(self, host: Host, root: Path, now: datetime) -> str:
        """Exports before the command: the shims first on PATH, the host's zone, name and clock."""
        values = {
            "PATH": f"{self.world / SHIMS_DIR}:$PATH",
            "TZ": _zone(root),
            "HOME": f"{root}/root",  # connected as root, whose home is in the tree too
            "USER": "root",
            "LOGNAME": "root",
            "TMPDIR": f"{root}/tmp",
            "CRONOPS_DEMO_HOST": host.name,
            "CRONOPS_DEMO_ROOT": str(root),
            "CRONOPS_DEMO_EPOCH": str(int(now.timestamp())),
        }
        pairs = " ".join(
            f"{name}={value if name == 'PATH' else shlex.quote(value)}"
            for name, value in values.items()
        )
        return f"export {pairs}; "


def into_host(text: str | bytes, root: Path) -> str | bytes:
    """`text` with each absolute host path (/etc/..., /var/..., ...) moved under `root`."""
    if isinstance(text, bytes):
        return _HOST_PATH.sub(lambda _: f"{root}/", text.decode("latin-1")).encode("latin-1")
    return _HOST_PATH.sub(lambda _: f"{root}/", text)


class Unrooter:
    """Takes the host's tree back out of output, also when its path is split across two pieces."""

    def __init__(self, root: Path, sink: OutputSink | None):
        self.root = str(root).encode()
        self.pattern = re.compile(re.escape(self.root) + rb"/?")
        self.sink = sink
        self.held = b""

    def text(self, data: bytes) -> bytes:
        return self.pattern.sub(b"/", data)

    def feed(self, piece: bytes) -> None:
        data = self.held + piece
        keep = self._partial_root_at_end(data)
        self.held = data[len(data) - keep :] if keep else b""
        if self.sink is not None and len(data) > keep:
            self.sink(self.text(data[: len(data) - keep]))

    def flush(self) -> None:
        if self.held and self.sink is not None:
            self.sink(self.text(self.held))
        self.held = b""

    def _partial_root_at_end(self, data: bytes) -> int:
        """How many bytes at the end of `data` may begin the root's path (0: none)."""
        for size in range(min(len(self.root), len(data)), 0, -1):
            if data.endswith(self.root[:size]):
                return size
        return 0


def _zone(root: Path) -> str:
    try:
        return (root / "etc/timezone").read_text().strip() or "UTC"
    except OSError:
        return "UTC"
