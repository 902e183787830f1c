"""The one script a scan runs on each host (POSIX sh, LC_ALL=C), and the parser of what it prints.

Output is split into sections behind a random marker line, so file contents pass through byte for byte.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.transport.base import Reply

# Sections every probe prints. `emit KIND OWNER PATH` prints one file as a section, with its mtime.
_PRELUDE = r"""
M='@@{marker}@@'
section() {{ printf '%s %s\n' "$M" "$*"; }}
zone() {{
  if [ -n "${{TZ:-}}" ]; then echo "${{TZ#:}}"; return; fi
  if [ -r /etc/timezone ]; then head -n 1 /etc/timezone; return; fi
  l=$(readlink /etc/localtime 2>/dev/null) && case "$l" in *zoneinfo/*) echo "${{l#*zoneinfo/}}"; return;; esac
  date +%Z
}}
emit() {{
  if [ -r "$3" ]; then
    section file "$1" "$2" "$(stat -c %Y "$3" 2>/dev/null || echo -)" "$3"
    cat "$3"; printf '\n'; section end
  else
    section unreadable "$1" "$2" - "$3"
  fi
}}
section meta
echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "epoch=$(date +%s)"
echo "offset=$(date +%z)"
echo "zone=$(zone)"
echo "uid=$(id -u)"
echo "user=$(id -un)"
"""

_CRONTABS = r"""
[ -e /etc/crontab ] && emit system - /etc/crontab
for f in /etc/cron.d/*; do [ -f "$f" ] && emit system - "$f"; done
if [ "$(id -u)" = 0 ]; then
  for d in /var/spool/cron/crontabs /var/spool/cron /var/spool/cron/tabs; do
    for f in "$d"/*; do [ -f "$f" ] && emit user "${f##*/}" "$f"; done
  done
else
  me=$(id -un); t=$(mktemp)
  if crontab -l >"$t" 2>"$t.err"; then
    section file user "$me" - "crontab:$me"; cat "$t"; printf '\n'; section end
  elif ! grep -q '^no crontab' "$t.err"; then
    section unreadable user "$me" - "crontab:$me"
  fi
  rm -f "$t" "$t.err"
fi
"""

PROBE_COMMAND = "sh -s"


@dataclass
class HostFacts:
    hostname: str
    clock: datetime  # the host's clock when the probe started
    zone: tzinfo
    zone_name: str
    user: str
    uid: int
    skew: timedelta  # host clock minus ours (zero when within the round trip)


@dataclass
class CrontabFile:
    path: str
    kind: str  # "user" or "system"
    owner: str | None
    mtime: datetime | None
    text: str  # decoded with surrogateescape: encoding it back gives the original bytes


@dataclass
class ProbeResult:
    facts: HostFacts
    crontabs: list[CrontabFile] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # paths the probe could not read


class ProbeError(ValueError):
    """The host answered, but not with the probe's output (a broken shell, a login banner only...)."""


def new_marker() -> str:
    return secrets.token_hex(8)


def build_script(marker: str, *, crontabs: bool = True) -> str:
    parts = ["set +e", _PRELUDE.format(marker=marker)]
    if crontabs:
        parts.append(_CRONTABS)
    return "\n".join(parts)


def parse_output(reply: Reply, marker: str, zone_override: str | None = None) -> ProbeResult:
    sections = _split(reply.stdout, marker)
    if not sections or sections[0][0] != "meta":
        stderr = reply.stderr.decode(errors="replace").strip()[-300:]
        raise ProbeError(
            f"the probe printed no facts (exit {reply.exit_status}){': ' + stderr if stderr else ''}"
        )
    result = ProbeResult(facts=_facts(sections[0][1], reply, zone_override))
    for header, body in sections[1:]:
        kind, *fields = header.split(" ", 4)
        if kind == "file" and len(fields) == 4:
            result.crontabs.append(_crontab_file(fields, body))
        elif kind == "unreadable" and len(fields) == 4:
            result.unreadable.append(fields[3])
    return result


def _split(stdout: bytes, marker: str) -> list[tuple[str, bytes]]:
    """(header, body) per section; text before the first marker (a motd, a chatty .bashrc) is dropped."""
    chunks = (b"\n" + stdout).split(f"\n@@{marker}@@ ".encode())[1:]
    sections = []
    for chunk in chunks:
        header, _, body = chunk.partition(b"\n")
        if header != b"end":
            sections.append((header.decode(errors="replace"), body))
    return sections


def _facts(body: bytes, reply: Reply, zone_override: str | None) -> HostFacts:
    values = dict(
        line.split("=", 1) for line in body.decode(errors="replace").splitlines() if "=" in line
    )
    try:
        epoch = int(values["epoch"])
    except (KeyError, ValueError) as exc:
        raise ProbeError(f"the probe reported no clock: {values.get('epoch')!r}") from exc
    zone, zone_name = resolve_zone(
        zone_override or values.get("zone", ""), values.get("offset", "")
    )
    return HostFacts(
        hostname=values.get("hostname", ""),
        clock=datetime.fromtimestamp(epoch, zone),
        zone=zone,
        zone_name=zone_name,
        user=values.get("user", ""),
        uid=int(values["uid"]) if values.get("uid", "").isdigit() else -1,
        skew=clock_skew(epoch, reply.sent_at, reply.received_at),
    )


def resolve_zone(name: str, offset: str) -> tuple[tzinfo, str]:
    """The host's zone: an IANA name when it has one, else the fixed offset `date +%z` printed."""
    name = name.strip()
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if len(offset) == 5 and offset[0] in "+-" and offset[1:].isdigit():
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
        return timezone(delta), f"UTC{offset}"
    return UTC, "UTC"


def clock_skew(remote_epoch: int, sent_at: float, received_at: float) -> timedelta:
    """Remote minus local, counted only beyond the round trip (and `date +%s`'s one-second grain)."""
    if not sent_at:
        return timedelta(0)
    if remote_epoch + 1 < sent_at:
        return timedelta(seconds=remote_epoch + 1 - sent_at)
    if remote_epoch > received_at:
        return timedelta(seconds=remote_epoch - received_at)
    return timedelta(0)


def _crontab_file(fields: list[str], body: bytes) -> CrontabFile:
    kind, owner, mtime, path = fields
    return CrontabFile(
        path=path,
        kind=kind,
        owner=None if owner == "-" else owner,
        mtime=datetime.fromtimestamp(int(mtime), UTC) if mtime.isdigit() else None,
        text=body.decode("utf-8", errors="surrogateescape"),
    )
