"""The demo world on disk: each host's tree (accounts, zone, scripts, crontabs) and its history.

cron.py's simulated cron runs each host through its history, meeting its edits and planted runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from cronops.crontab import PauseInfo
from cronops.demo.catalog import (
    ACCOUNTS,
    BASE_PASSWD,
    CRONTABS_AGE,
    DAY,
    HISTORY,
    HOSTS,
    ROTATED,
    SCRIPT_PATH,
    SCRIPTS,
    SPOOL,
    DemoHost,
)
from cronops.demo.cron import DemoCron, traditional_stamp
from cronops.demo.tree import host_zone, level_options, parse_crontabs, write
from cronops.schedule import DAY_NAMES, previous_run
from cronops.transport.demo import DOWN_DIR, HOSTS_DIR, install_shims


def build_world(world: Path, now: datetime) -> None:
    """Every demo host's tree under `world` as it is at `now`, and the shims its commands run."""
    install_shims(world)
    cron = DemoCron(world)
    for spec in HOSTS:
        _build_host(world, cron, spec, now)


def _build_host(world: Path, cron: DemoCron, spec: DemoHost, now: datetime) -> None:
    tree = world / HOSTS_DIR / spec.name
    zone = ZoneInfo(spec.zone)
    crontabs = crontab_texts(spec, now)
    _write_system(tree, spec, crontabs, now - CRONTABS_AGE)
    for path, text in crontabs.items():
        _write_crontab(tree, path, text, now - CRONTABS_AGE)
    cron.start(
        spec.name,
        now - HISTORY,
        level=spec.level,
        plants=_planted(spec, crontabs, zone, now),
        stopped=now - spec.cron_stopped if spec.cron_stopped else None,
    )
    # The history happens in order: cron runs until each change, then the change is made.
    changes: list[tuple[datetime, Callable[[datetime], None]]] = [
        (now - ROTATED, partial(cron.rotate, spec.name))
    ]
    for edit in spec.edits:
        changes.append((now - edit.ago, partial(_write_crontab, tree, edit.path, edit.text)))
    for at, change in sorted(changes, key=lambda item: item[0]):
        cron.advance(spec.name, at)
        change(at)
    cron.advance(spec.name, now)
    if not spec.reachable:
        (world / DOWN_DIR).mkdir(exist_ok=True)
        (world / DOWN_DIR / spec.name).write_text("sshd is down: connections are refused\n")


def crontab_texts(spec: DemoHost, now: datetime) -> dict[str, str]:
    """The host's crontabs (path -> text) as built at `now`, before the edits of its history."""
    zone = ZoneInfo(spec.zone)
    return {path: _filled(text, now, zone) for path, text in spec.crontabs.items()}


def _filled(text: str, now: datetime, zone: ZoneInfo) -> str:
    """A crontab with its moment-dependent parts filled in from `now`: a pause marker dated
    yesterday, and an hour five hours back (db-02's daily export must have started hours ago
    today, whenever `now` is, to be hung past its 2h limit without its next run due yet)."""
    five_hours_ago = (now.astimezone(zone) - timedelta(hours=5)).hour
    pause = PauseInfo(by="alice", at=now - DAY, reason="noisy until the disk is replaced")
    return text.replace("{five_hours_ago}", str(five_hours_ago)).replace("{paused}", pause.marker())


def _planted(
    spec: DemoHost, crontabs: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> dict[str, dict]:
    """The planted anomalies as cron's state keeps them: command -> failing status, and the
    special runs by their due time (POSIX seconds, as text: JSON keys)."""
    entries = [e for tab in parse_crontabs(spec.name, crontabs) for e in tab.entries]
    plants: dict[str, dict] = {}
    for plant in spec.plants:
        entry = next(e for e in entries if plant.script in SCRIPT_PATH.findall(e.command))
        record = plants.setdefault(entry.command, {"at": {}})
        if plant.status:
            record |= {"fails_since": (now - plant.ago).timestamp(), "status": plant.status}
            continue
        due = previous_run(entry.schedule, zone, now - plant.ago)
        if due is None:
            raise ValueError(f"{spec.name}: '{entry.schedule}' never runs: nothing to plant on")
        special = {
            "seconds": plant.seconds,
            "delay": plant.delay or None,
            "signal": plant.signal,
            "hang": plant.hang or None,
        }
        record["at"][str(int(due.timestamp()))] = {k: v for k, v in special.items() if v}
    return plants


# -- a host's files -----------------------------------------------------------------------------


def _write_system(
    tree: Path, spec: DemoHost, crontabs: Mapping[str, str], installed: datetime
) -> None:
    """Everything but the crontabs and the logs: accounts, zone, daemon settings, job scripts,
    dated as installed long ago (so two builds at one `now` are the same, mtimes included)."""
    users = {e.user for tab in parse_crontabs(spec.name, crontabs) for e in tab.entries}
    passwd = BASE_PASSWD + "".join(ACCOUNTS[u] + "\n" for u in sorted(users) if u in ACCOUNTS)
    rsyslog = "" if spec.rfc3339 else "$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat\n"
    files = {
        "etc/passwd": passwd,
        "etc/group": "".join(f"{f[0]}:x:{f[3]}:\n" for f in _fields(passwd)),
        "etc/hostname": spec.name + "\n",
        "etc/timezone": spec.zone + "\n",
        "etc/rsyslog.conf": "# rsyslog configuration file (cronops demo)\n" + rsyslog,
        "etc/default/cron": f'EXTRA_OPTS="{level_options(spec.level)}"\n',
        "var/log/syslog": "",
    }
    for relative, text in files.items():
        write(tree / relative, text, installed)
    for name in ("hourly", "daily", "weekly", "monthly"):
        write(tree / f"etc/cron.{name}/.placeholder", "# DO NOT EDIT OR REMOVE\n", installed)
    for directory in ("var/spool/cron/crontabs", "run", "tmp", "srv", "opt"):
        (tree / directory).mkdir(parents=True, exist_ok=True)
    for account in _fields(passwd):  # homes of accounts that log in or own data
        if account[5].startswith(("/root", "/home", "/var", "/srv")):
            (tree / account[5].lstrip("/")).mkdir(parents=True, exist_ok=True)
    texts = "\n".join(crontabs.values())
    for name in sorted(set(SCRIPT_PATH.findall(texts))):
        _write_script(tree / "usr/local/bin" / name, name, installed)
    # Where jobs send their output must exist, or a rerun fails on the redirection alone.
    for target in re.findall(r">>?\s*(/[^\s;|&)]+)", texts):
        (tree / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)


def _write_script(path: Path, name: str, installed: datetime) -> None:
    script = SCRIPTS[name]
    says = [f"echo '{line}'" for line in script.says]
    if script.status:
        says[-1] += " >&2"  # a failing job's last word is its error
    lines = [
        "#!/bin/sh",
        f"# {name}: a job of the cronops demo fleet. It only prints and sleeps.",
        f'echo "{name} $*"',
        *says,
        f"sleep {1 + int(script.seconds >= 300)}",
        f"exit {script.status}",
    ]
    write(path, "\n".join(lines) + "\n", installed)
    path.chmod(0o755)


def _write_crontab(tree: Path, path: str, text: str, at: datetime) -> None:
    """A crontab as it would be on disk: spool files with the header `crontab -` adds."""
    if path.startswith(SPOOL):
        installed = _ctime(at.astimezone(host_zone(tree)))
        text = (
            "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
            f"# (/tmp/crontab.x8JpHq/crontab installed on {installed})\n"
            "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n" + text
        )
    target = tree / path.lstrip("/")
    write(target, text, at)


def _fields(passwd: str) -> list[list[str]]:
    return [line.split(":") for line in passwd.splitlines() if line]


def _ctime(moment: datetime) -> str:
    """C's ctime(), which Debian's crontab writes into its header: `Mon Mar  2 10:00:00 2026`."""
    day = DAY_NAMES[moment.isoweekday() % 7].title()
    return f"{day} {traditional_stamp(moment)} {moment.year}"
