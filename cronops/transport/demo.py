"""The demo transport: each demo host is a directory tree, and its commands run here under /bin/sh.

Host paths in a command are moved into that tree, a few shims stand in for root-only tools, and the
tree's path is taken back out of the output, so everything above the transport sees a real host.
A rerun runs a job's command, whatever an edit made of it: the demo says which it may run.
"""

from __future__ import annotations

import re
import shlex
import shutil
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
_SCRIPT_ON_STDIN = re.compile(r"(?:^|\s)(?:/bin/)?sh -s(?:\s|$)")

# World layout, shared with cronops.demo which builds it.
HOSTS_DIR = "hosts"
SHIMS_DIR = "bin"
DOWN_DIR = "down"  # down/<name> exists: the host refuses connections

# Called with the host's name and the time before each of its commands: lets its cron catch up.
Advance = Callable[[str, datetime], None]
# Called with a rerun's job command: why it must not run here, or None when it may.
RerunRefusal = Callable[[str], str | None]

# actions.rerun starts a job with a command line that ends `... cronops-rerun COMMAND`: the one
# command line holding text that is not cronops' own. That $0 (its last, where the line names it
# more than once) followed by one last word is how a rerun and its job's command are known.
RERUN_NAME = "cronops-rerun"


def no_reruns(command: str) -> str | None:
    return "this demo transport was given no rule for reruns, so it runs none"


class DemoTransport:
    """Runs each command for real, inside the host's tree under `world`, at the time `clock` says."""

    def __init__(
        self,
        world: Path,
        clock: Callable[[], datetime],
        *,
        advance: Advance | None = None,
        rerun_refusal: RerunRefusal = no_reruns,
    ):
        if shlex.quote(str(world)) != str(world):
            raise ValueError(f"the demo world's path must need no shell quoting: {world}")
        self.world = world
        self.clock = clock
        self.advance = advance
        self.rerun_refusal = rerun_refusal
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
        job = rerun_job(command)
        if job is not None and (why := self.rerun_refusal(job)) is not None:
            return Reply(host, HostStatus.ERROR, error=f"refused on the demo fleet: {why}")
        now = self.clock()
        if self.advance is not None:
            self.advance(host.name, now)
        unroot = Unrooter(root, on_output)
        if _SCRIPT_ON_STDIN.search(command):
            # latin-1 maps each byte to one character and back: the script's bytes survive.
            stdin = into_host(stdin.decode("latin-1"), root).encode("latin-1")
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
        reply.login = "root"  # as the shims say: the demo hosts are reached as root
        return reply

    async def close(self) -> None:
        await self._local.close()

    def _environment(self, host: Host, root: Path, now: datetime) -> str:
        """What runs before the command: the shims first on PATH, the host's zone, name and clock."""
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
        # As an SSH session does, start in the home directory: a relative path stays in the tree.
        return f'export {pairs}; cd "$HOME" || exit 255; '


def rerun_job(command: str) -> str | None:
    """The job's command when `command` is a rerun's command line, else None. A line that names
    the rerun but not as `cronops-rerun COMMAND` at its end gives "", which no rule lets run."""
    if RERUN_NAME not in command:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return ""
    named = [index for index, word in enumerate(words) if word == RERUN_NAME]
    return words[-1] if named and named[-1] == len(words) - 2 else ""


def into_host(text: str, root: Path) -> str:
    """`text` with each absolute host path (/etc/..., /var/..., ...) moved under `root`."""
    return _HOST_PATH.sub(lambda _: f"{root}/", text)


class Unrooter:
    """Takes the host's tree back out of output, also when its path is split across two pieces."""

    def __init__(self, root: Path, sink: OutputSink | None):
        self.root = str(root).encode()
        # The root alone (`pwd` in it) is "/"; not the start of a longer name (web-01 in web-010).
        self.pattern = re.compile(re.escape(self.root) + rb"(?![\w.-])/?")
        # A path made a file name, / turned to _ (as actions name their backups): the root goes.
        self.flattened = re.compile(re.escape(self.root.replace(b"/", b"_")) + rb"(?=_)")
        self.sink = sink
        self.held = b""

    def text(self, data: bytes) -> bytes:
        return self.flattened.sub(b"", self.pattern.sub(b"/", data))

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


# -- shims: stand-ins for the tools whose real answers would give away that this is not a host ----
#
# Written into <world>/bin, first on PATH. {date}, {uname}, {ps} and {kill} are the real tools'
# paths.
SHIMS = {
    "id": r"""
# id: the demo hosts are reached as root; runuser and sudo change who that is.
me=${CRONOPS_DEMO_USER:-root}
uid_of() {
  awk -F: -v u="$1" '$1 == u { print $3; found = 1; exit } END { exit !found }' \
    "$CRONOPS_DEMO_ROOT/etc/passwd"
}
case "${1:-}" in
  -u) who=${2:-$me}; uid_of "$who" || { echo "id: '$who': no such user" >&2; exit 1; } ;;
  -un|-nu)
    who=${2:-$me}
    uid_of "$who" >/dev/null || { echo "id: '$who': no such user" >&2; exit 1; }
    echo "$who" ;;
  "") u=$(uid_of "$me"); echo "uid=$u($me) gid=$u($me) groups=$u($me)" ;;
  *) echo "id: only -u and -un are available on the demo fleet" >&2; exit 1 ;;
esac
""",
    "uname": r"""
# uname: the demo host's name; the rest as a Debian 12 host would say it.
case "${1:-}" in
  -n) echo "$CRONOPS_DEMO_HOST" ;;
  ""|-s) echo Linux ;;
  -r) echo 6.1.0-18-amd64 ;;
  -a) echo "Linux $CRONOPS_DEMO_HOST 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64 GNU/Linux" ;;
  *) exec {uname} "$@" ;;
esac
""",
    "hostname": r"""
# hostname: the demo host's name.
case "${1:-}" in
  -f|--fqdn) echo "$CRONOPS_DEMO_HOST.demo" ;;
  *) echo "$CRONOPS_DEMO_HOST" ;;
esac
""",
    "date": r"""
# date: the demo's clock (pinned for screenshots), unless the caller names its own date.
for arg in "$@"; do
  case "$arg" in -d*|--date*|-r*|--reference*|-s*|--set*|-f*|--file*) exec {date} "$@" ;; esac
done
if [ -n "${CRONOPS_DEMO_EPOCH:-}" ]; then exec {date} -d "@$CRONOPS_DEMO_EPOCH" "$@"; fi
exec {date} "$@"
""",
    "ps": r"""
# ps: the demo host's process table (run/ps: pid ppid user start-epoch args) with the columns
# cronops asks for (-e, -o, -p), less the jobs `kill` ended (run/killed, until cron's next look),
# plus the real processes of this host's reruns, which run on this machine. A row leads its own
# process group and session, but cron's per-job fork, which is in its daemon's.
cols= only=
while [ $# -gt 0 ]; do
  case "$1" in
    -e) ;;
    -eo|-o) cols=$2; shift ;;
    -p) only=$2; shift ;;
    *) echo "ps: $1 is not available on the demo fleet" >&2; exit 1 ;;
  esac
  shift
done
now=${CRONOPS_DEMO_EPOCH:-$({date} +%s)}
run=$CRONOPS_DEMO_ROOT/run
if [ -r "$run/ps" ]; then
  { cat "$run/killed" 2>/dev/null; echo --; cat "$run/ps"; } | awk -v now="$now" -v cols="$cols" -v only="$only" '
    $0 == "--" { table = 1; next }
    !table { gone[$1] = 1; next }
    only != "" && $1 != only { next }
    {
      args = $0
      for (i = 1; i <= 4; i++) sub(/^[ \t]*[^ \t]+[ \t]+/, "", args)
      group = args ~ /^\/usr\/sbin\/CRON / ? $2 : $1
      if (group in gone) next
      n = split(cols, col, ",")
      line = ""
      for (i = 1; i <= n; i++) {
        c = col[i]; sub(/[:=].*/, "", c)
        if (c == "pid") v = sprintf("%7d", $1)
        else if (c == "ppid") v = sprintf("%7d", $2)
        else if (c == "pgid" || c == "sid") v = sprintf("%7d", group)
        else if (c == "user") v = sprintf("%-32s", $3)
        else if (c == "etimes") v = sprintf("%10d", now > $4 ? now - $4 : 0)
        else if (c == "stat") v = "S"
        else if (c == "lstart") {
          date = "date -d @" $4 " \"+%a %b %e %H:%M:%S %Y\""
          date | getline v; close(date)
        }
        else if (c == "args") v = args
        else { print "ps: no column " c " on the demo fleet" > "/dev/stderr"; exit 1 }
        line = line (i > 1 ? " " : "") v
      }
      print line
    }'
fi
sessions=$(demo-reruns | tr '\n' ,)
[ -n "$sessions" ] || exit 0
if [ -z "$only" ]; then exec {ps} -o "$cols" --sid "${sessions%,}"; fi
case ",$sessions" in *,"$({ps} -o sid= -p "$only" | tr -d ' ')",*) exec {ps} -o "$cols" -p "$only" ;; esac
""",
    "kill": r"""
# kill -SIGNAL -- -PGID, as cronops stops a process group: a demo job's group is ended in the
# host's process table (run/killed; cron notices at its next look, and logs how the job ended);
# the real processes of this host's reruns, which run on this machine, get the signal; nothing
# else here is the demo host's: it is left alone.
sig=TERM
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -s) sig=$2; shift 2 ;;
    -*) sig=${1#-}; shift ;;
    *) break ;;
  esac
done
now=${CRONOPS_DEMO_EPOCH:-$({date} +%s)}
status=0
for target in "$@"; do
  group=${target#-}
  if demo-reruns | grep -qx -- "$group"; then
    {kill} -"$sig" -- "$target" || status=1
  elif awk -v group="$group" '$1 == group { found = 1 } END { exit !found }' \
      "$CRONOPS_DEMO_ROOT/run/ps" 2>/dev/null; then
    echo "$group $sig $now" >>"$CRONOPS_DEMO_ROOT/run/killed"
  else
    echo "kill: ($target): No such process" >&2; status=1
  fi
done
exit $status
""",
    "demo-reruns": r"""
# demo-reruns: the sessions of this host's reruns still running on this machine (the demo hosts
# are reached as root: the reruns are in root's home), each known by its leader's pid and start.
for dir in "$CRONOPS_DEMO_ROOT"/root/.cronops/reruns/run.*; do
  pid=$(cat "$dir/pid" 2>/dev/null) || continue
  set -- $(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)
  [ "${1:-}" = "$(cat "$dir/began" 2>/dev/null)" ] && echo "$pid"
done
exit 0
""",
    "crontab": r"""
# crontab: Debian's, on the demo host's spool: installs with its three header lines, lists
# without them, refuses a last line without a newline, and tells syslog as Debian's does.
spool=$CRONOPS_DEMO_ROOT/var/spool/cron/crontabs
me=${CRONOPS_DEMO_USER:-root}
user=$me action=replace file=-
while [ $# -gt 0 ]; do
  case "$1" in
    -u) [ "$me" = root ] || { echo "must be privileged to use -u" >&2; exit 1; }
        user=${2:-}; shift ;;
    -l) action=list ;;
    -r) action=delete ;;
    -i) ;;
    -e) echo "crontab: -e needs an editor: use crontab -l and crontab - on the demo fleet" >&2
        exit 1 ;;
    *) file=$1 ;;
  esac
  shift
done
grep -q "^$user:" "$CRONOPS_DEMO_ROOT/etc/passwd" || { echo "crontab: user \`$user' unknown" >&2; exit 1; }
log() {
  if grep -q TraditionalFileFormat "$CRONOPS_DEMO_ROOT/etc/rsyslog.conf" 2>/dev/null; then
    stamp=$(LC_ALL=C date '+%b %e %H:%M:%S')
  else
    stamp=$(date '+%Y-%m-%dT%H:%M:%S.%6N%:z')
  fi
  printf '%s %s crontab[%s]: (%s) %s (%s)\n' "$stamp" "$CRONOPS_DEMO_HOST" "$$" "$me" "$1" "$user" \
    >> "$CRONOPS_DEMO_ROOT/var/log/syslog"
}
tab=$spool/$user
case $action in
  list)
    [ -f "$tab" ] || { echo "no crontab for $user" >&2; exit 1; }
    log LIST
    skip=$(head -n 3 "$tab" | awk '!/^#/ { exit } { n++ } END { print n + 0 }')
    tail -n +$((skip + 1)) "$tab" ;;
  delete)
    [ -f "$tab" ] || { echo "no crontab for $user" >&2; exit 1; }
    rm -f "$tab"; log DELETE ;;
  replace)
    new=$(mktemp "$spool/tmp.XXXXXX") || exit 1
    if [ "$file" = - ]; then cat > "$new.body"
    elif ! cat "$file" > "$new.body"; then rm -f "$new" "$new.body"; exit 1
    fi
    if [ -s "$new.body" ] && [ "$(tail -c 1 "$new.body" | wc -l)" -eq 0 ]; then
      echo "new crontab file is missing newline before EOF, can't install." >&2
      rm -f "$new" "$new.body"; exit 1
    fi
    {
      echo "# DO NOT EDIT THIS FILE - edit the master and reinstall."
      echo "# ($file installed on $(LC_ALL=C date '+%a %b %e %H:%M:%S %Y'))"
      echo '# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)'
      cat "$new.body"
    } > "$new"
    rm -f "$new.body"; chmod 600 "$new"
    # The host's clock is the demo's: the spool file's mtime follows it, as on a real host.
    [ -z "${CRONOPS_DEMO_EPOCH:-}" ] || touch -d "@$CRONOPS_DEMO_EPOCH" "$new"
    mv "$new" "$tab"; log REPLACE ;;
esac
""",
    "runuser": r"""
# runuser -u USER -- COMMAND...: the demo does not run as root, so only who the shims say you
# are (and HOME, USER, LOGNAME, SHELL, as runuser sets them) changes.
if [ "${1:-}" != -u ] || [ -z "${2:-}" ]; then
  echo "runuser: only 'runuser -u USER -- COMMAND...' is available on the demo fleet" >&2; exit 1
fi
user=$2; shift 2
[ "${1:-}" != -- ] || shift
entry=$(getent passwd "$user") || {
  echo "runuser: user $user does not exist or the user entry does not contain all the required fields" >&2
  exit 1
}
home=$(echo "$entry" | cut -d: -f6); shell=$(echo "$entry" | cut -d: -f7)
export CRONOPS_DEMO_USER="$user" USER="$user" LOGNAME="$user" HOME="$home" SHELL="$shell"
exec "$@"
""",
    "sudo": r"""
# sudo -n [-u USER] [--] COMMAND...: as runuser (root needs no password).
user=root
while [ $# -gt 0 ]; do
  case "$1" in
    -n|-H|-E) shift ;;
    -u) user=${2:-}; shift 2 ;;
    --) shift; break ;;
    -*) echo "sudo: option $1 is not available on the demo fleet" >&2; exit 1 ;;
    *) break ;;
  esac
done
exec runuser -u "$user" -- "$@"
""",
    "getent": r"""
# getent passwd|group [KEY] from the host's own files; home directories given as their real
# paths in the host's tree, so `cd "$HOME"` lands there.
case "${1:-}" in
  passwd|group) ;;
  *) echo "Unknown database: ${1:-}" >&2; exit 1 ;;
esac
awk -F: -v OFS=: -v db="$1" -v key="${2:-}" -v root="$CRONOPS_DEMO_ROOT" '
  key == "" || $1 == key || $3 == key { if (db == "passwd") $6 = root $6; print; found = 1 }
  END { exit found ? 0 : 2 }' "$CRONOPS_DEMO_ROOT/etc/$1"
""",
    "chown": r"""
# chown: the demo does not run as root and every file is already the runner's: nothing to do.
exit 0
""",
    "journalctl": r"""
# journalctl: the demo hosts log to files (rsyslog), like a Debian host without a journal.
echo "No journal files were found." >&2
exit 1
""",
}


def install_shims(world: Path) -> Path:
    """Write the shims into <world>/bin (the first directory on a demo command's PATH)."""
    shims = world / SHIMS_DIR
    shims.mkdir(parents=True, exist_ok=True)
    real = {name: _real_tool(name) for name in ("date", "uname", "ps", "kill")}
    for name, body in SHIMS.items():
        text = body
        for tool, tool_path in real.items():
            text = text.replace(f"{{{tool}}}", tool_path)
        path = shims / name
        path.write_text("#!/bin/sh" + text)
        path.chmod(0o755)
    return shims


def _real_tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"the demo fleet needs {name} in /usr/bin or /bin")
    return found
