"""The fleet inventory: hosts.toml read with tomllib and validated into typed Host objects.

Every error names the file, the line, the host and the key; an inventory with any error is refused whole.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops import locations
from cronops.policy import JOB_MATCH_KEYS, POLICY_KEYS, PolicyBook, hint, keyed_problems

DEFAULT_CONCURRENCY = 32
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 60.0
# A rerun is an incident responder's job that may take hours; past this its process group is stopped.
DEFAULT_RERUN_TIMEOUT = 24 * 3600.0
# Stopping a job (a kill, a rerun stopped): seconds between TERM to its process group and KILL.
DEFAULT_KILL_GRACE = 5.0
TRANSPORTS = ("ssh", "local")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")


@dataclass(frozen=True)
class Host:
    """One cron host as the inventory describes it, with [defaults] already applied."""

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None
    tags: tuple[str, ...] = ()
    logs: tuple[str, ...] | None = None
    timezone: str | None = None
    proxy_jump: str | None = None
    sudo: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    rerun_timeout: float = DEFAULT_RERUN_TIMEOUT
    kill_grace: float = DEFAULT_KILL_GRACE
    transport: str = "ssh"

    @property
    def target(self) -> str:
        """How an operator would write this host on an ssh command line."""
        if self.transport == "local":
            return "local"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.address}{port}"


@dataclass
class Inventory:
    path: Path
    hosts: list[Host]
    concurrency: int = DEFAULT_CONCURRENCY
    policy: PolicyBook = field(default_factory=PolicyBook)

    def select(self, names: list[str] | None = None, tags: list[str] | None = None) -> list[Host]:
        """Hosts matching any of the names and carrying all of the tags; unknown names are an error."""
        hosts = self.hosts
        if names:
            known = {h.name for h in hosts}
            if missing := [n for n in names if n not in known]:
                raise InventoryError(self.path, [f"no host named {n!r}" for n in missing])
            hosts = [h for h in hosts if h.name in names]
        if tags:
            hosts = [h for h in hosts if set(tags) <= set(h.tags)]
        return hosts


class InventoryError(Exception):
    """The inventory cannot be used; carries every problem found, each naming where it is."""

    def __init__(self, path: Path | None, problems: list[str]):
        self.path = path
        self.problems = problems
        where = f"{path}: " if path else ""
        super().__init__("\n".join(f"{where}{p}" for p in problems))


# Each key a host (or [defaults]) may set, with the check its value must pass.
def _str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _port(v: Any) -> bool:
    return _int(v) and 0 < v < 65536


def _seconds(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v > 0


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(_str(x) for x in v)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _transport(v: Any) -> bool:
    return v in TRANSPORTS


def _positive_int(v: Any) -> bool:
    return _int(v) and v > 0


HOST_KEYS: dict[str, tuple[Any, str]] = {
    "name": (_str, "a non-empty string"),
    "address": (_str, "a non-empty string"),
    "port": (_port, "a port number (1-65535)"),
    "user": (_str, "a non-empty string"),
    "identity_file": (_str, "a path string"),
    "known_hosts": (_str, "a path string"),
    "tags": (_str_list, "a list of strings"),
    "logs": (_str_list, "a list of paths (or 'journal')"),
    "timezone": (_str, "an IANA zone name like 'Europe/Berlin'"),
    "proxy_jump": (_str, "a jump host like 'user@bastion:22'"),
    "sudo": (_bool, "true or false"),
    "connect_timeout": (_seconds, "a number of seconds > 0"),
    "command_timeout": (_seconds, "a number of seconds > 0"),
    "rerun_timeout": (_seconds, "a number of seconds > 0"),
    "kill_grace": (_seconds, "a number of seconds > 0"),
    "transport": (_transport, f"one of {', '.join(TRANSPORTS)}"),
    **POLICY_KEYS,
}
HOST_ONLY = {"name", "address"}
DEFAULTS_KEYS: dict[str, tuple[Any, str]] = {
    **{k: v for k, v in HOST_KEYS.items() if k not in HOST_ONLY},
    "concurrency": (_positive_int, "a whole number > 0"),
}
JOB_RULE_KEYS = {**JOB_MATCH_KEYS, **POLICY_KEYS}
TOP_LEVEL = {"defaults", "hosts", "tags", "jobs"}


def find_inventory(explicit: Path | None = None) -> Path:
    """The inventory to use: --inventory, else $CRONOPS_INVENTORY, ./hosts.toml, the XDG config dir."""
    if explicit is not None:
        if not explicit.exists():
            raise InventoryError(explicit, ["no such file"])
        return explicit
    candidates = locations.inventory_candidates()
    for path in candidates:
        if path.exists():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise InventoryError(
        None,
        [
            f"no inventory found (looked in {looked}). Copy hosts.example.toml to hosts.toml, "
            "pass --inventory PATH, or try `cronops demo`."
        ],
    )


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    return parse_inventory(text, path)


def parse_inventory(text: str, path: Path) -> Inventory:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(path, [f"not valid TOML: {exc}"]) from exc
    lines = _KeyLines(text)
    problems: list[str] = []

    for key in data.keys() - TOP_LEVEL:
        problems.append(
            f"line {lines.top_level(key)}: unknown table or key {key!r}{hint(key, TOP_LEVEL)}"
        )

    raw_defaults = data.get("defaults", {})
    if not isinstance(raw_defaults, dict):
        raise InventoryError(path, ["'defaults' must be a table: [defaults]"])
    problems += _check_table(
        raw_defaults, DEFAULTS_KEYS, "[defaults]", lambda k: lines.key("defaults", 0, k)
    )

    raw_hosts = data.get("hosts", [])
    if not isinstance(raw_hosts, list) or not all(isinstance(h, dict) for h in raw_hosts):
        raise InventoryError(path, ["'hosts' must be an array of tables: [[hosts]]"])
    if not raw_hosts:
        problems.append("no hosts: add at least one [[hosts]] table")

    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_hosts):
        label = f"host {raw.get('name')!r}" if _str(raw.get("name")) else f"[[hosts]] #{index + 1}"
        header = lines.header("hosts", index)
        problems += _check_table(raw, HOST_KEYS, label, lambda k, i=index: lines.key("hosts", i, k))
        merged = {**raw_defaults, **raw}
        if "name" not in raw:
            problems.append(f"line {header}: {label}: missing required key 'name'")
        elif _str(raw["name"]):
            name = raw["name"]
            if not NAME_PATTERN.match(name):
                problems.append(
                    f"line {lines.key('hosts', index, 'name')}: {label}: key 'name': "
                    "use letters, digits and . _ @ : - (it is typed on the command line)"
                )
            if name in seen:
                problems.append(
                    f"line {header}: {label}: duplicate name (first defined in [[hosts]] #{seen[name] + 1})"
                )
            seen.setdefault(name, index)
        if "address" not in raw and merged.get("transport", "ssh") != "local":
            problems.append(f"line {header}: {label}: missing required key 'address'")
        zone = merged.get("timezone")
        if _str(zone) and not _zone_exists(zone):
            where = lines.key("hosts", index, "timezone") if "timezone" in raw else header
            problems.append(f"line {where}: {label}: key 'timezone': unknown time zone {zone!r}")

    problems += _policy_table_problems(data, lines)
    if problems:
        raise InventoryError(path, problems)
    hosts = [_build_host({**raw_defaults, **raw}, path.parent) for raw in raw_hosts]
    return Inventory(
        path=path,
        hosts=hosts,
        concurrency=raw_defaults.get("concurrency", DEFAULT_CONCURRENCY),
        policy=PolicyBook.from_toml(data),
    )


def _policy_table_problems(data: dict[str, Any], lines: _KeyLines) -> list[str]:
    """[tags.NAME] tables hold policy keys; [[jobs]] tables say which jobs, then the policy."""
    problems = []
    tags = data.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(t, dict) for t in tags.values()):
        problems.append(f"line {lines.top_level('tags')}: 'tags' must be tables like [tags.batch]")
    else:
        for name, table in tags.items():
            where = f"tags.{name}"
            problems += _check_table(
                table, POLICY_KEYS, f"[{where}]", lambda k, w=where: lines.key(w, 0, k)
            )
    jobs = data.get("jobs", [])
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        return [*problems, "'jobs' must be an array of tables: [[jobs]]"]
    for index, table in enumerate(jobs):
        label = f"[[jobs]] #{index + 1}"
        problems += _check_table(
            table, JOB_RULE_KEYS, label, lambda k, i=index: lines.key("jobs", i, k)
        )
        if not table.keys() & JOB_MATCH_KEYS.keys():
            problems.append(
                f"line {lines.header('jobs', index)}: {label}: needs at least one of "
                f"{', '.join(JOB_MATCH_KEYS)} to say which jobs it is for"
            )
    return problems


def _check_table(
    table: dict, allowed: dict[str, tuple[Any, str]], label: str, line_of
) -> list[str]:
    return [
        f"line {line_of(key)}: {label}: {message}"
        for key, message in keyed_problems(table, allowed)
    ]


def _build_host(values: dict[str, Any], base: Path) -> Host:
    def path(key: str) -> Path | None:
        if key not in values:
            return None
        p = Path(values[key]).expanduser()
        return p if p.is_absolute() else base / p

    transport = values.get("transport", "ssh")
    return Host(
        name=values["name"],
        address=values.get("address", "localhost"),
        port=values.get("port"),
        user=values.get("user"),
        identity_file=path("identity_file"),
        known_hosts=path("known_hosts"),
        tags=tuple(values.get("tags", ())),
        logs=tuple(values["logs"]) if "logs" in values else None,
        timezone=values.get("timezone"),
        proxy_jump=values.get("proxy_jump"),
        sudo=values.get("sudo", False),
        connect_timeout=float(values.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
        command_timeout=float(values.get("command_timeout", DEFAULT_COMMAND_TIMEOUT)),
        rerun_timeout=float(values.get("rerun_timeout", DEFAULT_RERUN_TIMEOUT)),
        kill_grace=float(values.get("kill_grace", DEFAULT_KILL_GRACE)),
        transport=transport,
    )


def _zone_exists(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class _KeyLines:
    """Finds the line of a key in the TOML text, since tomllib does not report positions."""

    _header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _key = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")

    def __init__(self, text: str):
        # (table name, occurrence index, header line, {key: line})
        self.tables: list[tuple[str, int, int, dict[str, int]]] = [("", 0, 1, {})]
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if m := self._header.match(line):
                name = m.group(1)
                index = counts.get(name, 0)
                counts[name] = index + 1
                self.tables.append((name, index, number, {}))
            elif m := self._key.match(line):
                self.tables[-1][3].setdefault(m.group(1).strip('"'), number)

    def _table(self, name: str, index: int):
        for table in self.tables:
            if table[0] == name and table[1] == index:
                return table
        return None

    def header(self, name: str, index: int) -> int:
        table = self._table(name, index)
        return table[2] if table else 1

    def key(self, name: str, index: int, key: str) -> int:
        table = self._table(name, index)
        if table is None:
            return 1
        return table[3].get(key, table[2])

    def top_level(self, key: str) -> int:
        for name, _, number, _ in self.tables:
            if name == key:
                return number
        return self.tables[0][3].get(key, 1)
