"""SSH with asyncssh: strict host keys, keys loaded once, timeouts, one connection per host per command.

An unknown host key is refused unless trust-on-first-use was asked for; a changed one is always refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from cronops import locations
from cronops.inventory import Host
from cronops.transport.base import HostStatus, OutputSink, Reply, stopwatch

DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")
CHUNK = 65536
# AES-GCM first: asyncssh builds a new ChaCha20 context for every packet, which made the cipher
# a third of a scan's CPU; AES-GCM keeps one context per direction (and every OpenSSH has it).
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    *(c.decode() for c in get_default_encryption_algs() if b"gcm" not in c),
)


class _HostKeyCheck(asyncssh.SSHClient):
    """Consulted by asyncssh only for a key that known_hosts does not trust: decide unknown vs changed."""

    def __init__(self, known: asyncssh.SSHKnownHosts, accept_new: bool):
        self.known = known
        self.accept_new = accept_new
        self.verdict: HostStatus | None = None
        self.offered: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.offered = key
        trusted_keys = self.known.match(host, addr, port)[0]
        if trusted_keys:
            self.verdict = HostStatus.HOST_KEY_CHANGED
            return False
        self.verdict = HostStatus.HOST_KEY_UNKNOWN
        return self.accept_new


class SSHTransport:
    def __init__(self, accept_new_host_keys: bool = False):
        self.accept_new_host_keys = accept_new_host_keys
        self._keys: dict[Path | None, Sequence[asyncssh.SSHKeyPair]] = {}
        self._known: dict[Path, asyncssh.SSHKnownHosts] = {}
        self._record_lock = asyncio.Lock()
        self._tunnels: dict[str, asyncio.Task[asyncssh.SSHClientConnection]] = {}

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
        elapsed = stopwatch()
        check = _HostKeyCheck(self._known_hosts(host), self.accept_new_host_keys)
        try:
            conn = await asyncio.wait_for(self._connect(host, check), host.connect_timeout)
        except Exception as exc:  # every way a connection fails maps to a host status
            status, error = _connect_failure(exc, host, check)
            return Reply(host, status, error=error, latency_ms=elapsed())
        latency = elapsed()
        try:
            if check.verdict is HostStatus.HOST_KEY_UNKNOWN and check.offered is not None:
                await self._record_new_key(host, check.offered)
            sent_at = time.time()
            try:
                stdout, stderr, exit_status = await asyncio.wait_for(
                    _execute(conn, command, stdin, on_output), limit
                )
            except TimeoutError:
                return Reply(
                    host,
                    HostStatus.TIMEOUT,
                    error=f"no answer to the command within {limit:g}s",
                    latency_ms=latency,
                )
            return Reply(
                host,
                HostStatus.OK,
                latency_ms=latency,
                stdout=stdout,
                stderr=stderr,
                exit_status=exit_status,
                sent_at=sent_at,
                received_at=time.time(),
                login=conn.get_extra_info("username"),
            )
        except (asyncssh.Error, OSError) as exc:
            return Reply(
                host, HostStatus.ERROR, error=f"connection lost: {exc}", latency_ms=latency
            )
        finally:
            conn.close()

    async def close(self) -> None:
        for task in self._tunnels.values():
            if task.done() and not task.exception():
                task.result().close()
            else:
                task.cancel()
        self._tunnels.clear()

    async def _connect(self, host: Host, check: _HostKeyCheck) -> asyncssh.SSHClientConnection:
        tunnel = await self._tunnel(host) if host.proxy_jump else ()
        return await asyncssh.connect(
            host.address,
            port=host.port or (),
            username=host.user or (),
            tunnel=tunnel,
            known_hosts=check.known,
            client_keys=self._client_keys(host.identity_file),
            client_factory=lambda: check,
            connect_timeout=host.connect_timeout,
            encryption_algs=CIPHERS,
        )

    async def _tunnel(self, host: Host) -> asyncssh.SSHClientConnection:
        """One shared connection per jump host, so a fleet behind a bastion costs it one login."""
        jump = host.proxy_jump or ""
        if jump not in self._tunnels:
            user, _, rest = jump.rpartition("@")
            address, _, port = rest.partition(":")
            self._tunnels[jump] = asyncio.ensure_future(
                asyncssh.connect(
                    address,
                    port=int(port) if port else (),
                    username=user or (),
                    known_hosts=self._known_hosts(host),
                    client_keys=self._client_keys(host.identity_file),
                    connect_timeout=host.connect_timeout,
                )
            )
        task = self._tunnels[jump]
        try:
            return await asyncio.shield(task)
        except Exception:
            self._tunnels.pop(jump, None)  # the next host tries the jump host afresh
            raise

    def _client_keys(self, identity_file: Path | None) -> Sequence[asyncssh.SSHKeyPair]:
        """Private keys, read from disk (and ~/.ssh looked at) once per scan rather than once
        per connection.

        Without an identity_file, when there is an agent or an ~/.ssh/config (whose IdentityFile
        may differ per host), asyncssh picks the keys as ssh would."""
        if identity_file not in self._keys:
            self._keys[identity_file] = _load_keys(identity_file)
        return self._keys[identity_file]

    def _known_hosts(self, host: Host) -> asyncssh.SSHKnownHosts:
        path = _known_hosts_path(host)
        if path not in self._known:
            self._known[path] = (
                asyncssh.read_known_hosts(str(path))
                if path.exists()
                else asyncssh.import_known_hosts("")
            )
        return self._known[path]

    async def _record_new_key(self, host: Host, key: asyncssh.SSHKey) -> None:
        """Trust on first use: remember the key the way ssh would, so the next change is caught."""
        path = _known_hosts_path(host)
        algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
        line = f"{_known_hosts_name(host)} {algorithm} {blob}\n"
        async with self._record_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(line)
            self._known[path] = asyncssh.read_known_hosts(str(path))


def _load_keys(identity_file: Path | None) -> Sequence[asyncssh.SSHKeyPair]:
    ssh_dir = Path("~/.ssh").expanduser()
    if identity_file is None and (os.environ.get("SSH_AUTH_SOCK") or (ssh_dir / "config").exists()):
        return ()
    if identity_file is not None:
        paths = [identity_file]
    else:
        paths = [ssh_dir / n for n in DEFAULT_KEY_NAMES if (ssh_dir / n).exists()]
    return asyncssh.load_keypairs([str(p) for p in paths]) if paths else ()


async def _execute(
    conn: asyncssh.SSHClientConnection, command: str, stdin: bytes, on_output: OutputSink | None
) -> tuple[bytes, bytes, int | None]:
    """Run one command; with `on_output`, hand it each piece of stdout as it arrives, keeping none."""
    process = await conn.create_process(command, encoding=None)
    try:
        _send(process, stdin)
        stdout = process.stdout.read() if on_output is None else _stream(process, on_output)
        out, err = await asyncio.gather(stdout, process.stderr.read())
        await process.wait()
        return out, err, process.exit_status
    finally:
        # Not `async with`, which waits for the channel to close: a command still running when
        # this is cancelled may not close it soon, and the caller closes the connection anyway.
        process.close()


async def _stream(process: asyncssh.SSHClientProcess[bytes], on_output: OutputSink) -> bytes:
    while piece := await process.stdout.read(CHUNK):
        on_output(piece)
    return b""


def _send(process: asyncssh.SSHClientProcess[bytes], stdin: bytes) -> None:
    """Give the command its input, then end it (a command reading stdin waits for the end). A
    command that answers without reading it (a refusal) may have closed the channel already:
    its answer is still there to be read, and a lost connection shows when reading it."""
    with contextlib.suppress(BrokenPipeError):
        if stdin:
            process.stdin.write(stdin)
        process.stdin.write_eof()


def _known_hosts_path(host: Host) -> Path:
    return host.known_hosts or locations.default_known_hosts()


def _known_hosts_name(host: Host) -> str:
    if host.port and host.port != 22:
        return f"[{host.address}]:{host.port}"
    return host.address


def _connect_failure(exc: Exception, host: Host, check: _HostKeyCheck) -> tuple[HostStatus, str]:
    if (
        isinstance(exc, asyncssh.HostKeyNotVerifiable)
        or check.verdict is HostStatus.HOST_KEY_CHANGED
    ):
        if check.verdict is HostStatus.HOST_KEY_CHANGED:
            return check.verdict, (
                f"HOST KEY CHANGED for {_known_hosts_name(host)}: the server offered "
                f"{_fingerprint(check.offered)}, which does not match {_known_hosts_path(host)}. "
                "This can be a reinstalled host or a man-in-the-middle; verify it, then replace the old key "
                f"(ssh-keygen -R '{_known_hosts_name(host)}' -f {_known_hosts_path(host)})."
            )
        return HostStatus.HOST_KEY_UNKNOWN, (
            f"unknown host key {_fingerprint(check.offered)} for {_known_hosts_name(host)} "
            f"(not in {_known_hosts_path(host)}); verify it and rerun with --accept-new-host-keys"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        who = f" as {host.user}" if host.user else ""
        return HostStatus.AUTH_FAILED, f"authentication failed{who}: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return HostStatus.TIMEOUT, f"no SSH answer within {host.connect_timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return HostStatus.UNREACHABLE, f"connection refused by {host.target}"
    if isinstance(exc, socket.gaierror):
        return HostStatus.UNREACHABLE, f"cannot resolve {host.address}: {exc.strerror}"
    if isinstance(exc, asyncssh.Error):
        return HostStatus.ERROR, f"SSH error: {exc.reason}"
    if isinstance(exc, OSError):
        return HostStatus.UNREACHABLE, f"cannot connect to {host.target}: {exc.strerror or exc}"
    return HostStatus.ERROR, f"{type(exc).__name__}: {exc}"


def _fingerprint(key: asyncssh.SSHKey | None) -> str:
    return key.get_fingerprint() if key is not None else "(no key)"
