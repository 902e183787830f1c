"""A fleet of real cron hosts (OpenSSH sshd, Debian cron, rsyslog) on this one machine.
Integration tests and bench scripts start it to let cronops scan real hosts over SSH on 127.0.0.1.

How it works
------------
One host is `unshare --mount --uts --pid --fork --kill-child --mount-proc` running a generated
`init.sh` as PID 1 of its own namespaces. The script

* mounts an overlay over /etc (lower: the machine's /etc, upper: HOSTDIR/etc), so the host has
  its own /etc/crontab, /etc/cron.d and cron.{hourly,daily,weekly,monthly} (opaque: none of
  the machine's files), /etc/timezone, /etc/localtime (a symlink to /usr/share/zoneinfo/ZONE,
  as on Debian; a bind mount would follow the symlink and turn the machine's Etc/UTC file into
  ZONE inside the host) and /etc/hostname; temp-file-then-rename edits of /etc/crontab work as
  on a real host (a file bind-mounted there would refuse the rename with EBUSY);
* mounts an overlay over /usr/sbin whose only change is /usr/sbin/sendmail: a stand-in MTA
  that appends to the host's /var/mail, or nothing at all (HostSpec.mta), so cron's mail
  behaves the same whatever MTA this machine has;
* bind-mounts HOSTDIR/spool over /var/spool/cron/crontabs, HOSTDIR/root over /root (none of
  the machine's dotfiles run in a fleet login), HOSTDIR/log over /var/log,
  HOSTDIR/mail over /var/mail, HOSTDIR/run over /run, HOSTDIR/backups over /var/backups
  (where cronops keeps a crontab's previous version) and the fleet's authorized_keys over
  /etc/ssh/fleet_authorized_keys (readable by non-root users, unlike the fleet workdir);
* with HostSpec.journal, gives the host its own /etc/machine-id and a systemd journal in
  /var/log/journal/MACHINE-ID/system.journal: a real journal file, written by Debian's
  systemd-journal-remote from the records in journald's export format (FleetHost.append_journal
  adds more), which the real `journalctl` reads (no journald runs);
* sets the hostname, optionally starts rsyslogd (imuxsock only, on the host's own /run/devlog,
  which the machine-wide /dev/log symlink points at) and `cron -L N`;
* finally execs `sshd -D`, which keeps the namespaces alive and reaps orphans.

Killing the `unshare` process kills the whole host (--kill-child). `Fleet.stop()`, an atexit
hook and a watchdog process (which notices through a pipe when the Python process dies) do that.

Machine-wide changes made once (idempotent): users alice and bob (password field `*`, because
sshd with `UsePAM no` refuses accounts locked with `!`), group crontab, and /dev/log as a
symlink to /run/devlog when /dev/log does not exist.

Paths: `FleetHost.path()` maps /var/log, /var/mail, /run and the crontab spool to HOSTDIR
(still readable after stop); every other path goes through /proc/PID/root, the host's own view.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEBIAN_SYSTEM_CRONTAB",
    "FLEET_USERS",
    "Fleet",
    "FleetError",
    "FleetHost",
    "HostCommandError",
    "HostSpec",
    "free_port",
    "generate_key",
    "require_fleet_tools",
    "silent_listener",
    "toml_value",
]

SSHD = "/usr/sbin/sshd"
CRON = "/usr/sbin/cron"
RSYSLOGD = "/usr/sbin/rsyslogd"
ZONEINFO = Path("/usr/share/zoneinfo")
SPOOL = "/var/spool/cron/crontabs"
AUTHORIZED_KEYS_IN_HOST = "/etc/ssh/fleet_authorized_keys"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FLEET_USERS = ("alice", "bob")
START_TIMEOUT = 15.0
# Debian's systemd-journal-remote: export format on stdin -> a journal file
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
JOURNAL_AGE = 30 * 86400  # how long before the fleet started a journal host booted, in seconds

DEBIAN_SYSTEM_CRONTAB = """\
# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
#
"""

_TOOLS = {
    "sshd": SSHD,
    "cron": CRON,
    "rsyslogd": RSYSLOGD,
    "crontab": "/usr/bin/crontab",
    "unshare": "/usr/bin/unshare",
    "nsenter": "/usr/bin/nsenter",
    "mount": "/usr/bin/mount",
    "runuser": "/usr/sbin/runuser",
    "useradd": "/usr/sbin/useradd",
    "ssh-keygen": "/usr/bin/ssh-keygen",
    "ssh": "/usr/bin/ssh",
    "pgrep": "/usr/bin/pgrep",
    "pkill": "/usr/bin/pkill",
}
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# host path -> HOSTDIR subdirectory bind-mounted there
_BOUND = (
    (SPOOL, "spool"),
    ("/var/log", "log"),
    ("/var/mail", "mail"),
    ("/run", "run"),
    ("/root", "root"),
    ("/var/backups", "backups"),
)

DMA = "dma"
DMA_BINARY = "/usr/sbin/dma"
DMA_SPOOL = "/var/spool/dma"
SENDMAIL_STUB = """\
#!/bin/sh
# cron test fleet: a stand-in MTA that keeps mail in this host's /var/mail (cron passes the
# recipient last)
for rcpt in "$@"; do :; done
case "$rcpt" in -* | "") rcpt=root ;; esac
rcpt=$(printf %s "$rcpt" | tr / _)
{ printf 'From MAILER-DAEMON %s\\n' "$(LC_ALL=C date)"; cat; printf '\\n'; } >>"/var/mail/$rcpt"
"""


class FleetError(RuntimeError):
    """The fleet could not be started or used."""


class HostCommandError(subprocess.CalledProcessError):
    """A command run inside a host failed; unlike CalledProcessError, str() shows stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout!r}\nstderr: {self.stderr!r}"


@dataclass
class HostSpec:
    """What one host looks like. Texts are written verbatim (no `crontab` header lines)."""

    name: str
    timezone: str = "UTC"
    # user -> spool file text; a user without a passwd entry gets a root-owned file (ORPHAN)
    crontabs: dict[str, str] = field(default_factory=dict)
    system_crontab: str | None = None  # /etc/crontab; None = DEBIAN_SYSTEM_CRONTAB
    cron_d: dict[str, str] = field(default_factory=dict)  # /etc/cron.d file name -> text
    cron: bool = False  # start the cron daemon
    cron_level: int = 1  # cron -L: 1 = Debian default (starts only), 15 = start/end/fail/pid
    syslog: str | None = None  # None (no rsyslogd), "traditional" or "rfc3339"
    # True: a stand-in /usr/sbin/sendmail that appends cron's mail to the host's /var/mail/RCPT;
    # False: no sendmail at all, so cron logs "No MTA installed, discarding output";
    # "dma": Debian's real dma (the machine's /usr/sbin/sendmail), delivering to the host's
    # /var/mail in mbox format through its setuid dma-mbox-create, spooling in its own
    # /var/spool/dma
    mta: bool | str = True
    log_files: dict[str, str] = field(default_factory=dict)  # /var/log relative name -> text
    sshd_config: tuple[str, ...] = ()  # extra sshd_config lines, after the fleet's own
    # The systemd journal's records, each field -> value (__REALTIME_TIMESTAMP, microseconds,
    # among them; journald's own _HOSTNAME, _MACHINE_ID, _BOOT_ID and __MONOTONIC_TIMESTAMP are
    # added); None: the host has no journal
    journal: Sequence[Mapping[str, str]] | None = None

    def __post_init__(self) -> None:
        if not _HOST_NAME.fullmatch(self.name):
            raise ValueError(f"host name {self.name!r} is not a valid hostname")
        if self.mta not in (True, False, DMA):
            raise ValueError(f"mta must be True, False or {DMA!r}: {self.mta!r}")
        if self.mta == DMA and os.path.realpath("/usr/sbin/sendmail") != DMA_BINARY:
            raise ValueError(
                "mta='dma' needs Debian's dma as /usr/sbin/sendmail (apt-get install dma)"
            )
        if self.syslog not in (None, "traditional", "rfc3339"):
            raise ValueError(f"syslog must be None, 'traditional' or 'rfc3339': {self.syslog!r}")
        if ".." in self.timezone.split("/") or not (ZONEINFO / self.timezone).is_file():
            raise ValueError(f"unknown time zone {self.timezone!r}")
        for name in self.cron_d:
            if not name or "/" in name:
                raise ValueError(f"bad /etc/cron.d file name {name!r}")
        for user in self.crontabs:
            if not user or "/" in user:
                raise ValueError(f"bad crontab user {user!r}")
        for name in self.log_files:
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"log file name must be relative to /var/log: {name!r}")
        for line in self.sshd_config:
            if "\n" in line:
                raise ValueError(f"one sshd_config line at a time: {line!r}")
        if self.journal is not None and not os.access(JOURNAL_REMOTE, os.X_OK):
            raise ValueError(
                "a journal needs Debian's systemd-journal-remote "
                "(apt-get install systemd-journal-remote)"
            )


@dataclass(eq=False)
class FleetHost:
    """A running host: sshd on 127.0.0.1:port, processes in their own namespaces."""

    spec: HostSpec
    port: int
    dir: Path  # HOSTDIR on the real filesystem
    host_public_key: str  # "ssh-ed25519 AAAA..."
    pid: int = 0  # the host's PID 1 (sshd) as the machine sees it
    started_at: float = 0.0  # time.time() when sshd answered
    machine_id: str = ""  # its own /etc/machine-id, for a host with a journal
    boot_id: str = ""  # the one boot its journal's records belong to
    booted_at: float = 0.0  # time.time() of that boot
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_key}"

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def path(self, p: str) -> Path:
        """Where the host's path `p` is on the real filesystem."""
        if not p.startswith("/"):
            raise ValueError(f"host path must be absolute: {p!r}")
        for inside, outside in _BOUND:
            if p == inside or p.startswith(inside + "/"):
                return self.dir / outside / p[len(inside) :].lstrip("/")
        return Path(f"/proc/{self.pid}/root") / p.lstrip("/")

    def run(
        self,
        cmd: Sequence[str] | str,
        user: str | None = None,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` (argv, or a string for sh -c) inside the host, as root or `user`."""
        if not self.alive:
            raise FleetError(f"host {self.name} is not running")
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        account = pwd.getpwnam(user or "root")
        # a clean environment: the caller's TZ, LANG or PATH must not leak into the host
        env = [
            f"PATH={HOST_PATH}",
            f"HOME={account.pw_dir}",
            f"USER={account.pw_name}",
            f"LOGNAME={account.pw_name}",
            f"SHELL={account.pw_shell or '/bin/sh'}",
            "LANG=C.UTF-8",
        ]
        full = ["nsenter", "-t", str(self.pid), "-m", "-u", "-p", "--wd=/", "--"]
        full += ["env", "-i", *env]
        if user is not None:
            full += ["runuser", "-u", user, "--"]
        result = subprocess.run(
            full + argv, input=input, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise HostCommandError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def append_journal(self, records: Iterable[Mapping[str, str]]) -> None:
        """Add records (none older than those already there) to the host's journal file."""
        if not self.machine_id:
            raise FleetError(f"host {self.name} has no journal (HostSpec.journal)")
        journal = self.path(f"/var/log/journal/{self.machine_id}/system.journal")
        ordered = sorted(records, key=lambda record: int(record["__REALTIME_TIMESTAMP"]))
        done = subprocess.run(
            [JOURNAL_REMOTE, f"--output={journal}", "-"],
            input=b"".join(self._journal_entry(record) for record in ordered),
            capture_output=True,
        )
        if done.returncode != 0:
            raise FleetError(f"{JOURNAL_REMOTE} failed: {done.stderr.decode(errors='replace')}")
        os.chown(journal, 0, _gid("systemd-journal"))

    def _journal_entry(self, record: Mapping[str, str]) -> bytes:
        """One record in journald's export format, with the fields journald adds to every one."""
        since_boot = int(record["__REALTIME_TIMESTAMP"]) - int(self.booted_at * 1_000_000)
        if since_boot < 0:
            raise ValueError(f"a journal record from before the host's boot: {record}")
        own = {"_HOSTNAME": self.name, "_MACHINE_ID": self.machine_id, "_BOOT_ID": self.boot_id}
        out = b""
        for name, value in {**own, "__MONOTONIC_TIMESTAMP": str(since_boot), **record}.items():
            data = value.encode()
            if b"\n" in data:  # the binary form: the name, then the size as 64-bit little endian
                out += name.encode() + b"\n" + len(data).to_bytes(8, "little") + data + b"\n"
            else:
                out += name.encode() + b"=" + data + b"\n"
        return out + b"\n"

    def install_crontab(self, user: str, text: str) -> None:
        """Install through the real `crontab -u USER -` (adds Debian's header lines)."""
        self.run(["crontab", "-u", user, "-"], input=text)

    def cron_running(self) -> bool:
        return self.run(["pgrep", "-x", "cron"], check=False).returncode == 0

    def stop_cron(self) -> None:
        self.run(
            "pkill -x cron; n=0; while pgrep -x cron >/dev/null; do"
            " n=$((n + 1)); [ $n -lt 500 ] || exit 1; sleep 0.01; done"
        )

    def start_cron(self, level: int | None = None) -> None:
        lvl = self.spec.cron_level if level is None else level
        self.run([CRON, "-L", str(lvl)])
        self._wait(self.cron_running, 5, "cron did not start")

    def stop(self) -> None:
        """Kill this host (sshd, cron, jobs: everything in its PID namespace)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        self._proc.wait()
        _wait_dead(self.pid)

    def _wait(self, ok: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise FleetError(f"{self.name}: {what}")
            time.sleep(0.02)


class Fleet:
    """Hosts sharing one client key, one authorized_keys and one known_hosts file."""

    def __init__(self, workdir: Path | str) -> None:
        self.workdir = Path(workdir).absolute()
        self.hosts: dict[str, FleetHost] = {}
        self.client_key = self.workdir / "client_key"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.known_hosts = self.workdir / "known_hosts"
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None
        if any(c in str(self.workdir) for c in ",:\n\t "):
            # overlayfs mount options cannot carry these characters
            raise ValueError(f"fleet workdir must not contain , : or whitespace: {self.workdir}")

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- starting ---------------------------------------------------------------------------

    def start(self, specs: Iterable[HostSpec]) -> list[FleetHost]:
        """Start hosts concurrently; returns once each sshd has answered with its banner."""
        specs = list(specs)
        names = [s.name for s in specs]
        dupes = {
            n for n in names if names.count(n) > 1 or (n in self.hosts and self.hosts[n].alive)
        }
        if dupes:
            raise ValueError(f"duplicate host names: {sorted(dupes)}")
        problem = require_fleet_tools()
        if problem:
            raise FleetError(problem)
        devlog = _prepare_machine()
        if any(s.syslog for s in specs) and devlog is None:
            raise FleetError(f"cannot run rsyslog in hosts: {_prepare_machine.reason}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._ensure_client_key()
        self._ensure_watchdog()
        _LIVE.add(self)

        hosts = [self._prepare_host(spec, devlog) for spec in specs]
        try:
            pending = hosts
            for _attempt in range(5):
                ports = _free_ports(len(pending))
                for host, port in zip(pending, ports, strict=True):
                    host.port = port
                    self._launch(host)
                pending = self._await_ready(pending)
                if not pending:
                    break
            else:
                raise FleetError(f"no free port found for {[h.name for h in pending]}")
        except BaseException:
            for host in hosts:
                host.stop()
            raise
        for host in hosts:
            self.hosts[host.name] = host
        self.write_known_hosts()
        return hosts

    def _ensure_client_key(self) -> None:
        if not self.client_key.exists():
            generate_key(self.client_key, comment="cronops-fleet-client")
        pub = self.client_key.with_name(self.client_key.name + ".pub").read_text()
        self.authorized_keys.write_text(pub)
        self.authorized_keys.chmod(0o644)

    def _ensure_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.poll() is None:
            return
        read_end, write_end = os.pipe()
        # The unshare processes join this process group; when our end of the pipe closes
        # (normally or because Python died), `kill 0` takes the whole group down.
        self._watchdog = subprocess.Popen(
            ["sh", "-c", "cat >/dev/null; kill -KILL 0"],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        os.close(read_end)
        self._lifeline = write_end

    def _prepare_host(self, spec: HostSpec, devlog: str | None) -> FleetHost:
        hd = self.workdir / "hosts" / spec.name
        if hd.exists():
            shutil.rmtree(hd)
        for sub in (
            "etc/cron.d",
            "etc/ssh",
            "sbin",
            "work/etc",
            "work/sbin",
            "log",
            "mail",
            "root",
            "backups",
        ):
            (hd / sub).mkdir(parents=True)
        for sub in ("run/sshd", "conf"):
            (hd / sub).mkdir(parents=True)
        # any job's user may get mail: the stub runs as that user, not setuid like a real MTA
        (hd / "mail").chmod(0o1777)
        (hd / "root").chmod(0o700)
        if spec.mta == DMA:
            # dma's own layout: a spool only group mail writes, a /var/mail as Debian has it
            mail_gid = grp.getgrnam("mail").gr_gid
            for sub, mode in (("dma", 0o2770), ("mail", 0o2775)):
                (hd / sub).mkdir(exist_ok=True)
                os.chown(hd / sub, 0, mail_gid)
                (hd / sub).chmod(mode)
        elif spec.mta:
            _write(hd / "sbin" / "sendmail", SENDMAIL_STUB, 0o755)
        else:
            # an overlayfs whiteout: /usr/sbin/sendmail does not exist in this host
            os.mknod(hd / "sbin" / "sendmail", stat.S_IFCHR, os.makedev(0, 0))
        etc = hd / "etc"
        # opaque: the machine's own cron.d files and run-parts scripts (logrotate, apt, dpkg)
        # must not show through and run in every host
        for sub in ("cron.d", "cron.hourly", "cron.daily", "cron.weekly", "cron.monthly"):
            (etc / sub).mkdir(exist_ok=True)
            os.setxattr(etc / sub, "trusted.overlay.opaque", b"y")
        _write(
            etc / "crontab",
            DEBIAN_SYSTEM_CRONTAB if spec.system_crontab is None else spec.system_crontab,
            0o644,
        )
        for name, text in spec.cron_d.items():
            _write(etc / "cron.d" / name, text, 0o644)
        _write(etc / "timezone", spec.timezone + "\n", 0o644)
        _write(etc / "hostname", spec.name + "\n", 0o644)
        (etc / "localtime").symlink_to(ZONEINFO / spec.timezone)
        _write(etc / "ssh" / "fleet_authorized_keys", "", 0o644)

        crontab_gid = grp.getgrnam("crontab").gr_gid
        spool = hd / "spool"
        spool.mkdir()
        os.chown(spool, 0, crontab_gid)
        spool.chmod(0o1730)
        for user, text in spec.crontabs.items():
            try:
                uid = pwd.getpwnam(user).pw_uid
            except KeyError:
                uid = 0
            _write(spool / user, text, 0o600, uid, crontab_gid)

        adm_gid = _gid("adm")
        for name, text in spec.log_files.items():
            (hd / "log" / name).parent.mkdir(parents=True, exist_ok=True)
            _write(hd / "log" / name, text, 0o640, 0, adm_gid)
        (hd / "run" / "lock").mkdir(mode=0o1777)
        (hd / "run" / "lock").chmod(0o1777)
        if devlog is not None and spec.syslog:
            (hd / "run" / Path(devlog).relative_to("/run")).parent.mkdir(
                parents=True, exist_ok=True
            )
            _write(hd / "conf" / "rsyslog.conf", _rsyslog_conf(spec, devlog), 0o644)

        key = hd / "conf" / "ssh_host_ed25519_key"
        generate_key(key, comment=f"root@{spec.name}")
        public = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
        init = _init_script(spec, hd, self.authorized_keys, devlog)
        _write(hd / "init.sh", init, 0o755)
        host = FleetHost(spec=spec, port=0, dir=hd, host_public_key=public)
        if spec.journal is not None:
            host.machine_id, host.boot_id = uuid.uuid4().hex, uuid.uuid4().hex
            host.booted_at = time.time() - JOURNAL_AGE
            _write(etc / "machine-id", host.machine_id + "\n", 0o444)
            # Debian's layout: group systemd-journal may read the journal
            folder = hd / "log" / "journal" / host.machine_id
            folder.mkdir(parents=True)
            for level in (folder.parent, folder):
                os.chown(level, 0, _gid("systemd-journal"))
                level.chmod(0o2755)
            host.append_journal(spec.journal)
        return host

    def _launch(self, host: FleetHost) -> None:
        hd = host.dir
        _write(hd / "conf" / "sshd_config", _sshd_config(host, self.authorized_keys), 0o644)
        for stale in (hd / "run" / "sshd.pid", hd / "sshd.log"):
            stale.unlink(missing_ok=True)
        self._ensure_watchdog()
        assert self._watchdog is not None
        with open(hd / "init.log", "ab") as log:
            host._proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--uts",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc",
                    "--propagation",
                    "private",
                    "sh",
                    str(hd / "init.sh"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={"PATH": HOST_PATH},
                cwd="/",
                process_group=self._watchdog.pid,
            )
        host.pid = 0

    def _await_ready(self, hosts: list[FleetHost]) -> list[FleetHost]:
        """Wait for every host; returns the ones whose port was taken meanwhile (to retry)."""
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(hosts)
        retry: list[FleetHost] = []
        while waiting:
            for host in list(waiting):
                assert host._proc is not None
                if not host.pid:
                    host.pid = _child_pid(host._proc.pid)
                if host._proc.poll() is not None:
                    waiting.remove(host)
                    if "Address already in use" in _tail(host.dir / "sshd.log"):
                        retry.append(host)
                        continue
                    raise FleetError(_failure(host, "its init process exited"))
                if (host.dir / "run" / "sshd.pid").exists() and _banner(host.port):
                    host.started_at = time.time()
                    waiting.remove(host)
            if waiting and time.monotonic() > deadline:
                raise FleetError(_failure(waiting[0], f"sshd not ready in {START_TIMEOUT}s"))
            if waiting:
                time.sleep(0.02)
        return retry

    # -- client side ------------------------------------------------------------------------

    def write_known_hosts(
        self, path: Path | None = None, overrides: Mapping[str, str] | None = None
    ) -> Path:
        """Write known_hosts for all hosts; `overrides` maps host name -> other public key."""
        path = path or self.known_hosts
        overrides = overrides or {}
        lines = [
            f"[127.0.0.1]:{h.port} {overrides.get(h.name, h.host_public_key)}"
            for h in self.hosts.values()
        ]
        path.write_text("".join(line + "\n" for line in lines))
        return path

    def ssh_command(
        self,
        host: FleetHost | str,
        *command: str,
        user: str = "root",
        known_hosts: Path | None = None,
    ) -> list[str]:
        """argv for the OpenSSH client to run `command` on `host` with the fleet's trust."""
        h = self.hosts[host] if isinstance(host, str) else host
        options = {
            "IdentitiesOnly": "yes",
            "BatchMode": "yes",
            "UserKnownHostsFile": str(known_hosts or self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "StrictHostKeyChecking": "yes",
            # the default post-quantum kex costs ~0.25 s of CPU per connection
            "KexAlgorithms": "curve25519-sha256",
            "ConnectTimeout": "5",
            "LogLevel": "ERROR",
        }
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.client_key), "-p", str(h.port)]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return [*argv, f"{user}@127.0.0.1", *command]

    def inventory_toml(
        self,
        hosts: Iterable[FleetHost | str] | None = None,
        extra_defaults: Mapping[str, Any] | None = None,
        extra_hosts: Iterable[Mapping[str, Any]] | None = None,
    ) -> str:
        """cronops hosts.toml text for `hosts` (default: all), plus extra [[hosts]] tables."""
        chosen = (
            list(self.hosts.values())
            if hosts is None
            else [self.hosts[h] if isinstance(h, str) else h for h in hosts]
        )
        defaults: dict[str, Any] = {
            "user": "root",
            "identity_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "connect_timeout": 5,
        }
        defaults.update(extra_defaults or {})
        tables = [{"name": h.name, "address": "127.0.0.1", "port": h.port} for h in chosen]
        tables += [dict(t) for t in extra_hosts or ()]
        out = ["[defaults]", *_toml_pairs(defaults)]
        for table in tables:
            out += ["", "[[hosts]]", *_toml_pairs(table)]
        return "\n".join(out) + "\n"

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Kill every host and the watchdog. Safe to call twice."""
        for host in self.hosts.values():
            with contextlib.suppress(ProcessLookupError):
                if host._proc is not None:
                    host._proc.kill()
        for host in self.hosts.values():
            host.stop()
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self._watchdog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=5)
            self._watchdog = None
        _LIVE.discard(self)


# -- helpers callers use ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return _free_ports(1)[0]


def silent_listener() -> tuple[int, Callable[[], None]]:
    """A listener on 127.0.0.1 that accepts connections and never sends a byte.

    Returns (port, close). SSH clients connecting to it time out waiting for the banner.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=serve, name="silent-listener", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        sock.close()

    return sock.getsockname()[1], close


def generate_key(path: Path, comment: str = "cronops-fleet") -> str:
    """Write a new ed25519 key pair at `path`; returns the public key "ssh-ed25519 AAAA..."."""
    path = Path(path)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def require_fleet_tools() -> str | None:
    """Why the fleet cannot run here (not root, a binary missing, no namespaces), or None."""
    if os.geteuid() != 0:
        return "the cron test fleet needs root (namespaces, bind mounts, sshd)"
    missing = [n for n, p in _TOOLS.items() if not os.access(p, os.X_OK) and not shutil.which(n)]
    if missing:
        return (
            f"the cron test fleet needs {', '.join(missing)}: apt-get install -y "
            "openssh-server openssh-client cron rsyslog procps util-linux passwd"
        )
    return _namespace_problem()


def toml_value(value: Any) -> str:
    """A TOML value for str, int, float, bool, list/tuple or dict (inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"no TOML for {value!r}")
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes; TOML also forbids raw DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(_toml_pairs(value)) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}: {value!r}")


# -- internals --------------------------------------------------------------------------------

_LIVE: set[Fleet] = set()


@atexit.register
def _stop_all() -> None:
    for fleet in list(_LIVE):
        with contextlib.suppress(Exception):
            fleet.stop()


def _toml_pairs(table: Mapping[str, Any]) -> list[str]:
    return [
        f"{k if _BARE_KEY.fullmatch(k) else json.dumps(k)} = {toml_value(v)}"
        for k, v in table.items()
    ]


def _write(path: Path, text: str, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.write_text(text)
    os.chown(path, uid, gid)
    path.chmod(mode)


def _gid(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return 0


def _free_ports(n: int) -> list[int]:
    # hold all sockets until every port is chosen so one call never returns a port twice
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(1)
            data = b""
            while b"\n" not in data and len(data) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"SSH-2.0"):
                # say hello back, so sshd logs a plain disconnect rather than a bad banner
                with contextlib.suppress(OSError):
                    s.sendall(b"SSH-2.0-fleet-probe\r\n")
                return True
    except OSError:
        pass
    return False


def _child_pid(ppid: int) -> int:
    try:
        children = Path(f"/proc/{ppid}/task/{ppid}/children").read_text().split()
        return int(children[0]) if children else 0
    except (OSError, ValueError):
        pass
    for proc_stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(proc_stat.read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                return int(proc_stat.parent.name)
    return 0


def _wait_dead(pid: int, timeout: float = 5) -> None:
    # the machine's init may never reap the host's PID 1: a zombie counts as dead, and a
    # dead PID 1 means the kernel has already killed everything else in its namespace
    if not pid:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _failure(host: FleetHost, what: str) -> str:
    return (
        f"fleet host {host.name} (port {host.port}, dir {host.dir}): {what}\n"
        f"--- init.log ---\n{_tail(host.dir / 'init.log')}\n"
        f"--- sshd.log ---\n{_tail(host.dir / 'sshd.log')}"
    )


@functools.cache
def _sshd_version() -> tuple[int, int]:
    out = subprocess.run([SSHD, "-V"], capture_output=True, text=True)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stdout + out.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _sshd_config(host: FleetHost, authorized_keys: Path) -> str:
    hd = host.dir
    lines = [
        f"# fleet host {host.name}",
        f"Port {host.port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {hd / 'conf' / 'ssh_host_ed25519_key'}",
        "PidFile /run/sshd.pid",
        f"AuthorizedKeysFile {AUTHORIZED_KEYS_IN_HOST}",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "MaxStartups 200",
        "MaxSessions 100",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
    ]
    if _sshd_version() >= (9, 8):
        # newer sshd would lock out 127.0.0.1 after tests that fail auth on purpose
        lines.append("PerSourcePenalties no")
    return "\n".join([*lines, *host.spec.sshd_config]) + "\n"


def _rsyslog_conf(spec: HostSpec, devlog: str) -> str:
    lines = [
        f"# fleet host {spec.name}: Debian 12's rules; imuxsock only (no imklog)",
        f'module(load="imuxsock" SysSock.Name="{devlog}" SysSock.RateLimit.Interval="0")',
    ]
    if spec.syslog == "traditional":
        lines.append("$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat")
    lines += [
        "$RepeatedMsgReduction off",
        "$FileOwner root",
        "$FileGroup adm",
        "$FileCreateMode 0640",
        "$DirCreateMode 0755",
        "$Umask 0022",
        "*.*;auth,authpriv.none\t\t-/var/log/syslog",
        "auth,authpriv.*\t\t\t/var/log/auth.log",
        "cron.*\t\t\t\t-/var/log/cron.log",
        "mail.*\t\t\t\t-/var/log/mail.log",
        "user.*\t\t\t\t-/var/log/user.log",
    ]
    return "\n".join(lines) + "\n"


def _init_script(spec: HostSpec, hd: Path, authorized_keys: Path, devlog: str | None) -> str:
    q = shlex.quote
    s = [
        "#!/bin/sh",
        f"# fleet host {spec.name}: PID 1 of its own mount, UTS and PID namespaces",
        "set -eu",
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={q(str(hd / 'etc'))},"
        f"workdir={q(str(hd / 'work' / 'etc'))} /etc",
        f"mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={q(str(hd / 'sbin'))},"
        f"workdir={q(str(hd / 'work' / 'sbin'))} /usr/sbin",
        f"mount --bind {q(str(authorized_keys))} {AUTHORIZED_KEYS_IN_HOST}",
        f"mount --bind {q(str(hd / 'spool'))} {SPOOL}",
        f"mount --bind {q(str(hd / 'log'))} /var/log",
        f"mount --bind {q(str(hd / 'mail'))} /var/mail",
        f"mount --bind {q(str(hd / 'run'))} /run",
        # Each host has its own root home: the machine's dotfiles (pyenv's rehash lock in
        # .bashrc, say) must not run, or hang, in every fleet login.
        f"mount --bind {q(str(hd / 'root'))} /root",
        f"mount --bind {q(str(hd / 'backups'))} /var/backups",
        *([f"mount --bind {q(str(hd / 'dma'))} {DMA_SPOOL}"] if spec.mta == DMA else []),
        f"hostname {q(spec.name)}",
        "cd /",
    ]
    if spec.syslog and devlog:
        s += [
            f"{RSYSLOGD} -f {q(str(hd / 'conf' / 'rsyslog.conf'))} -i /run/rsyslogd.pid",
            "n=0",
            f"until [ -S {q(devlog)} ]; do",
            f'  n=$((n + 1)); [ $n -lt 1000 ] || {{ echo "no {devlog} from rsyslogd" >&2; exit 1; }}',
            "  sleep 0.01",
            "done",
        ]
    if spec.cron:
        s.append(f"{CRON} -L {int(spec.cron_level)}")
    s.append(
        f"exec {SSHD} -D -f {q(str(hd / 'conf' / 'sshd_config'))} -E {q(str(hd / 'sshd.log'))}"
    )
    return "\n".join(s) + "\n"


@functools.cache
def _namespace_problem() -> str | None:
    with tempfile.TemporaryDirectory(prefix="fleet-probe-") as tmp:
        for sub in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(tmp, sub))
        script = (
            f"mount -t overlay overlay -o lowerdir={tmp}/lower,upperdir={tmp}/upper,"
            f"workdir={tmp}/work {tmp}/merged && hostname probe"
        )
        argv = ["unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc"]
        argv += ["--propagation", "private", "sh", "-c", script]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"cannot create namespaces for the cron test fleet: {e}"
        if r.returncode != 0:
            return (
                "cannot create mount/UTS/PID namespaces with an overlay for the cron test fleet "
                f"(unprivileged container?): {r.stderr.strip()}"
            )
    return None


class _MachineSetup:
    """Machine-wide preparation, done once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self.devlog: str | None = None
        self.reason = ""

    def __call__(self) -> str | None:
        with self._lock:
            if not self._done:
                self._ensure_group("crontab")
                for user in FLEET_USERS:
                    self._ensure_user(user)
                self.devlog = self._devlog()
                self._done = True
            return self.devlog

    @staticmethod
    def _retry(argv: list[str], done: Callable[[], bool]) -> None:
        # other test sessions may create the same user at the same moment
        for _ in range(20):
            if done():
                return
            r = subprocess.run(argv, capture_output=True, text=True)
            if r.returncode == 0 or done():
                return
            time.sleep(0.1)
        raise FleetError(f"{' '.join(argv)} failed: {r.stderr.strip()}")

    def _ensure_group(self, name: str) -> None:
        def exists() -> bool:
            try:
                grp.getgrnam(name)
                return True
            except KeyError:
                return False

        self._retry(["groupadd", "--system", name], exists)

    def _ensure_user(self, name: str) -> None:
        def exists() -> bool:
            try:
                pwd.getpwnam(name)
                return True
            except KeyError:
                return False

        self._retry(["useradd", "-m", "-s", "/bin/bash", name], exists)
        # sshd without PAM refuses accounts whose password field starts with "!"
        self._retry(["usermod", "-p", "*", name], lambda: not _shadow_locked(name))

    def _devlog(self) -> str | None:
        dev_log = Path("/dev/log")
        if not dev_log.exists() and not dev_log.is_symlink():
            with contextlib.suppress(FileExistsError):
                dev_log.symlink_to("/run/devlog")
        if dev_log.is_symlink():
            target = os.path.normpath(os.path.join("/dev", os.readlink(dev_log)))
            if target.startswith("/run/"):
                # e.g. systemd's /run/systemd/journal/dev-log: each host has its own /run
                return target
        self.reason = (
            "/dev/log is not a symlink into /run, so cron in a host cannot reach its own "
            "rsyslogd; make it a symlink to /run/devlog"
        )
        return None


def _shadow_locked(user: str) -> bool:
    try:
        for line in Path("/etc/shadow").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return fields[1].startswith("!")
    except OSError:
        pass
    return False


_prepare_machine = _MachineSetup()
