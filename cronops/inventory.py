"""The fleet inventory: hosts.toml read with tomllib and validated into typed Host objects.

Every error names the file, the line, the host and the key; an inventory with any error is refused whole.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops import locations
from cronops.policy import (
    POLICY_KEYS,
    JobRule,
    PolicyBook,
    policy_settings,
    read_job_rule,
)
from cronops.routes import Route, read_route
from cronops.settings import (
    DURATION_TEXT,
    Key,
    Problem,
    Refused,
    hint,
    number,
    one_of,
    parse_duration,
    read_table,
    text,
)

DEFAULT_CONCURRENCY = 32
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 60.0
# A rerun is an incident responder's job that may take hours; past this its process group is stopped.
DEFAULT_RERUN_TIMEOUT = 24 * 3600.0
# Stopping a job (a kill, a rerun stopped): seconds between TERM to its process group and KILL.
DEFAULT_KILL_GRACE = 5.0
# Runs are kept whole this long, then folded into daily counts kept for the second (retention.py).
DEFAULT_RETENTION = timedelta(days=35)
DEFAULT_ROLLUP_RETENTION = timedelta(days=365)
# The default scan window: a run a scan may still read from the host's logs is never folded
# (folded and read again, it would be counted twice).
MIN_RETENTION = timedelta(days=8)
DEFAULT_OUTPUT_TAIL = 4096  # bytes: the end of a job's output, from its mail
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
    # bytes of a job's output kept with its run, from the mail cron delivered to the host's
    # local mailboxes (/var/mail); 0: its mailboxes are not read
    output_tail: int = DEFAULT_OUTPUT_TAIL

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
    retention: timedelta = DEFAULT_RETENTION  # runs kept whole; older ones folded into days
    rollup_retention: timedelta = DEFAULT_ROLLUP_RETENTION  # the days folded
    routes: list[Route] = field(default_factory=list)  # [[notify]]: where `cronops watch` tells

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


# -- readers for the keys a host (or [defaults]) may set; policy keys come from policy.py.


def _port(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise ValueError(f"not a port: {value!r}")


def _seconds(value: Any) -> float:
    if number(value) > 0:
        return float(value)
    raise ValueError(f"not above zero: {value!r}")


def _positive_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"not a whole number above zero: {value!r}")


def _retention(value: Any) -> timedelta:
    """A scan reads the logs 8 days back: a shorter retention would fold runs it reads again."""
    kept = parse_duration(value)
    if kept < MIN_RETENTION:
        raise ValueError(f"shorter than {MIN_RETENTION.days} days: {value!r}")
    return kept


def _byte_count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"not a whole number of bytes: {value!r}")


def _texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(text(item) for item in value)
    raise ValueError(f"not a list: {value!r}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"not true or false: {value!r}")


def _zone_name(value: Any) -> str:
    try:
        ZoneInfo(text(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Refused([f"unknown time zone {value!r}"]) from exc
    return value


HOST_KEYS: dict[str, Key] = {
    "name": Key(text, "a non-empty string"),
    "address": Key(text, "a non-empty string"),
    "port": Key(_port, "a port number (1-65535)"),
    "user": Key(text, "a non-empty string"),
    "identity_file": Key(text, "a path string"),
    "known_hosts": Key(text, "a path string"),
    "tags": Key(_texts, "a list of strings"),
    "logs": Key(_texts, "a list of paths (or 'journal')"),
    "timezone": Key(_zone_name, "an IANA zone name like 'Europe/Berlin'"),
    "proxy_jump": Key(text, "a jump host like 'user@bastion:22'"),
    "sudo": Key(_flag, "true or false"),
    "connect_timeout": Key(_seconds, "a number of seconds > 0"),
    "command_timeout": Key(_seconds, "a number of seconds > 0"),
    "rerun_timeout": Key(_seconds, "a number of seconds > 0"),
    "kill_grace": Key(_seconds, "a number of seconds > 0"),
    "transport": Key(one_of(TRANSPORTS), f"one of {', '.join(TRANSPORTS)}"),
    "output_tail": Key(_byte_count, "a whole number of bytes (0: read no mail)"),
    **POLICY_KEYS,
}
HOST_ONLY = {"name", "address"}
DEFAULTS_KEYS: dict[str, Key] = {
    **{k: v for k, v in HOST_KEYS.items() if k not in HOST_ONLY},
    "concurrency": Key(_positive_int, "a whole number > 0"),
    "retention": Key(_retention, f"{DURATION_TEXT}, of {MIN_RETENTION.days} days at least"),
    "rollup_retention": Key(_retention, f"{DURATION_TEXT}, of {MIN_RETENTION.days} days at least"),
}
TOP_LEVEL = {"defaults", "hosts", "tags", "jobs", "notify"}


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
        data = path.read_bytes()
    except OSError as exc:
        raise InventoryError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    return parse_inventory(_decoded(data, path), path)


def _decoded(data: bytes, path: Path) -> str:
    """TOML is UTF-8: a file saved in another encoding is refused at its first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise InventoryError(
            path,
            [
                f"line {line}: byte 0x{data[exc.start]:02x} at column {column} (byte {exc.start} "
                f"of the file) is not UTF-8 ({exc.reason}): a TOML file is UTF-8 text; "
                "save it as UTF-8"
            ],
        ) from exc


def parse_inventory(text: str, path: Path) -> Inventory:
    """hosts.toml's text read in one pass: each value checked and typed where it is read."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(path, [f"not valid TOML: {exc}"]) from exc
    reading = _Reading(_Lines(text))
    for key in data.keys() - TOP_LEVEL:
        reading.problem((key,), f"unknown table or key {key!r}{hint(key, TOP_LEVEL)}")

    raw_defaults = data.get("defaults", {})
    if not isinstance(raw_defaults, dict):
        reading.problem(("defaults",), "'defaults' must be a table: [defaults]")
        raise InventoryError(path, reading.problems)
    defaults = reading.table(("defaults",), "[defaults]", raw_defaults, DEFAULTS_KEYS)
    if defaults.get("rollup_retention", DEFAULT_ROLLUP_RETENTION) < defaults.get(
        "retention", DEFAULT_RETENTION
    ):
        reading.problem(
            ("defaults", "rollup_retention"),
            "[defaults]: key 'rollup_retention' must not be shorter than 'retention' "
            "(the days folded would be dropped as soon as they are made)",
        )

    raw_hosts = data.get("hosts", [])
    if not isinstance(raw_hosts, list) or not all(isinstance(h, dict) for h in raw_hosts):
        reading.problem(("hosts",), "'hosts' must be an array of tables: [[hosts]]")
        raise InventoryError(path, reading.problems)
    if not raw_hosts:
        reading.problems.append("no hosts: add at least one [[hosts]] table")
    hosts = [reading.host(index, raw, defaults) for index, raw in enumerate(raw_hosts)]
    tags = reading.tags(data.get("tags", {}))
    rules = reading.job_rules(data.get("jobs", []))
    routes = reading.routes(data.get("notify", []))

    if reading.problems:
        raise InventoryError(path, reading.problems)
    return Inventory(
        path=path,
        hosts=[_build_host({**defaults, **values}, path.parent) for values in hosts],
        concurrency=defaults.get("concurrency", DEFAULT_CONCURRENCY),
        retention=defaults.get("retention", DEFAULT_RETENTION),
        rollup_retention=defaults.get("rollup_retention", DEFAULT_ROLLUP_RETENTION),
        policy=PolicyBook(
            defaults=policy_settings(defaults),
            tags=tags,
            hosts={values["name"]: policy_settings(values) for values in hosts},
            rules=rules,
        ),
        routes=routes,
    )


class _Reading:
    """The inventory's tables read one by one, each problem put with its line when that is known."""

    def __init__(self, lines: _Lines):
        self.lines = lines
        self.problems: list[str] = []
        self.names: dict[str, int] = {}  # host name -> index of the first [[hosts]] with it

    def problem(self, where: tuple[str | int, ...], message: str) -> None:
        line = self.lines.of(*where)
        self.problems.append(f"line {line}: {message}" if line else message)

    def table(
        self,
        where: tuple[str | int, ...],
        label: str,
        table: Mapping[str, Any],
        keys: Mapping[str, Key],
    ) -> dict[str, Any]:
        values, found = read_table(table, keys)
        self.report(where, label, found)
        return values

    def report(self, where: tuple[str | int, ...], label: str, found: list[Problem]) -> None:
        for key, message in found:
            self.problem(where if key is None else (*where, key), f"{label}: {message}")

    def host(self, index: int, raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        name = raw.get("name")
        label = f"host {name!r}" if isinstance(name, str) and name else f"[[hosts]] #{index + 1}"
        where: tuple[str | int, ...] = ("hosts", index)
        values = self.table(where, label, raw, HOST_KEYS)
        if "name" not in raw:
            self.problem(where, f"{label}: missing required key 'name'")
        elif "name" in values:
            self._name(where, label, values["name"], index)
        if "address" not in raw and {**defaults, **values}.get("transport", "ssh") != "local":
            self.problem(where, f"{label}: missing required key 'address'")
        return values

    def _name(self, where: tuple[str | int, ...], label: str, name: str, index: int) -> None:
        if not NAME_PATTERN.match(name):
            self.problem(
                (*where, "name"),
                f"{label}: key 'name': use letters, digits and . _ @ : - "
                "(it is typed on the command line)",
            )
        if name in self.names:
            self.problem(
                where,
                f"{label}: duplicate name (first defined in [[hosts]] #{self.names[name] + 1})",
            )
        self.names.setdefault(name, index)

    def tags(self, raw: Any) -> dict[str, dict[str, Any]]:
        """[tags.NAME] tables hold policy keys."""
        if not isinstance(raw, dict) or not all(isinstance(t, dict) for t in raw.values()):
            self.problem(("tags",), "'tags' must be tables like [tags.batch]")
            return {}
        return {
            name: self.table(("tags", name), f"[tags.{name}]", table, POLICY_KEYS)
            for name, table in raw.items()
        }

    def job_rules(self, raw: Any) -> list[JobRule]:
        """[[jobs]] tables say which jobs (JOB_MATCH_KEYS), then the policy for them."""
        if not isinstance(raw, list) or not all(isinstance(j, dict) for j in raw):
            self.problem(("jobs",), "'jobs' must be an array of tables: [[jobs]]")
            return []
        rules = []
        for index, table in enumerate(raw):
            rule, found = read_job_rule(table)
            self.report(("jobs", index), f"[[jobs]] #{index + 1}", found)
            rules.append(rule)
        return rules

    def routes(self, raw: Any) -> list[Route]:
        """[[notify]] tables: where `cronops watch` sends what; a route may name only hosts the
        inventory has."""
        if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
            self.problem(("notify",), "'notify' must be an array of tables: [[notify]]")
            return []
        routes = []
        for index, table in enumerate(raw):
            route, found = read_route(index + 1, table)
            where: tuple[str | int, ...] = ("notify", index)
            self.report(where, f"[[notify]] #{index + 1}", found)
            if route is None:
                continue
            for name in sorted((route.hosts or set()) - set(self.names)):
                self.problem(
                    (*where, "hosts"),
                    f"[[notify]] #{index + 1}: key 'hosts': no host named {name!r}",
                )
            routes.append(route)
        return routes


def _build_host(values: dict[str, Any], base: Path) -> Host:
    def path(key: str) -> Path | None:
        if key not in values:
            return None
        p = Path(values[key]).expanduser()
        return p if p.is_absolute() else base / p

    return Host(
        name=values["name"],
        address=values.get("address", "localhost"),
        port=values.get("port"),
        user=values.get("user"),
        identity_file=path("identity_file"),
        known_hosts=path("known_hosts"),
        tags=values.get("tags", ()),
        logs=values.get("logs"),
        timezone=values.get("timezone"),
        proxy_jump=values.get("proxy_jump"),
        sudo=values.get("sudo", False),
        connect_timeout=values.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        command_timeout=values.get("command_timeout", DEFAULT_COMMAND_TIMEOUT),
        rerun_timeout=values.get("rerun_timeout", DEFAULT_RERUN_TIMEOUT),
        kill_grace=values.get("kill_grace", DEFAULT_KILL_GRACE),
        transport=values.get("transport", "ssh"),
        output_tail=values.get("output_tail", DEFAULT_OUTPUT_TAIL),
    )


class _Unsure(Exception):
    """The scan met text it cannot follow: no line is then given rather than a wrong one."""


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Lines:
    """The line where each table and key of a TOML text is written, since tomllib does not say.

    Only what is certain: the text is followed statement by statement, so `key = ...` or
    `[[hosts]]` inside a multi-line string or array is not taken for a key or a table; a key
    inside an inline table ({...}) has no line. Paths are as tomllib nests the data, with the
    index of each array-of-tables element: ("hosts", 2, "port"), ("tags", "batch", "tier").
    """

    def __init__(self, text: str):
        self._at: dict[tuple[str | int, ...], int] = {}
        try:
            self._scan(text)
        except (_Unsure, IndexError):
            self._at = {}

    def of(self, *path: str | int) -> int | None:
        return self._at.get(path)

    def _scan(self, text: str) -> None:
        arrays: dict[tuple[str | int, ...], int] = {}  # array of tables -> its last index
        table: tuple[str | int, ...] = ()
        pos, line = 0, 1
        while pos < len(text):
            char = text[pos]
            if char == "\n":
                line += 1
                pos += 1
            elif char in " \t\r":
                pos += 1
            elif char == "#":
                pos = _line_end(text, pos)
            elif char == "[":
                is_array = text.startswith("[[", pos)
                keys, pos = _key(text, pos + (2 if is_array else 1))
                close = "]]" if is_array else "]"
                if not text.startswith(close, pos):
                    raise _Unsure
                pos += len(close)
                table = self._record((), keys, line, arrays if is_array else None, arrays)
            else:
                keys, pos = _key(text, pos)
                if not text.startswith("=", pos):
                    raise _Unsure
                self._record(table, keys, line, None, arrays)
                pos, line = _value_end(text, pos + 1, line)

    def _record(
        self,
        base: tuple[str | int, ...],
        keys: list[str],
        line: int,
        new_element: dict[tuple[str | int, ...], int] | None,
        arrays: dict[tuple[str | int, ...], int],
    ) -> tuple[str | int, ...]:
        """Each table the dotted `keys` name below `base` is written on `line` (if not before):
        its full path, with the current index of each array of tables it passes through."""
        path = base
        for position, key in enumerate(keys):
            path = (*path, key)
            if new_element is not None and position == len(keys) - 1:
                new_element[path] = new_element.get(path, -1) + 1
            if path in arrays:
                self._at.setdefault(path, line)
                path = (*path, arrays[path])
            self._at.setdefault(path, line)
        return path


def _key(text: str, pos: int) -> tuple[list[str], int]:
    """A (dotted) key starting at pos: its parts, and where the text after it starts."""
    keys = []
    while True:
        pos = _spaces(text, pos)
        if text[pos] == '"':
            end = _string_end(text, pos, '"')
            keys.append(tomllib.loads(f"k = {text[pos:end]}")["k"])  # its escapes, decoded
            pos = end
        elif text[pos] == "'":
            end = _string_end(text, pos, "'")
            keys.append(text[pos + 1 : end - 1])
            pos = end
        elif match := _BARE_KEY.match(text, pos):
            keys.append(match.group())
            pos = match.end()
        else:
            raise _Unsure
        pos = _spaces(text, pos)
        if text[pos] != ".":
            return keys, pos
        pos += 1


def _value_end(text: str, pos: int, line: int) -> tuple[int, int]:
    """Where the value starting at pos ends (the newline after it), and the line that is on:
    strings, arrays and comments may hold anything, newlines included."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if text.startswith('"""', pos) or text.startswith("'''", pos):
            end = _multiline_end(text, pos)
            line += text.count("\n", pos, end)
            pos = end
        elif char in "\"'":
            pos = _string_end(text, pos, char)
        elif char == "#":
            pos = _line_end(text, pos)
        elif char == "\n" and depth == 0:
            return pos, line
        else:
            depth += char in "[{"
            depth -= char in "]}"
            line += char == "\n"
            pos += 1
    return pos, line


def _string_end(text: str, pos: int, quote: str) -> int:
    """Just after the one-line string opened at pos (basic strings have backslash escapes)."""
    pos += 1
    while text[pos] != quote:
        if text[pos] == "\n":
            raise _Unsure
        pos += 2 if quote == '"' and text[pos] == "\\" else 1
    return pos + 1


def _multiline_end(text: str, pos: int) -> int:
    """Just after the multi-line string opened at pos (up to two quotes may end its content)."""
    delimiter = text[pos : pos + 3]
    pos += 3
    while not text.startswith(delimiter, pos):
        if pos >= len(text):
            raise _Unsure
        pos += 2 if delimiter == '"""' and text[pos] == "\\" else 1
    pos += 3
    for _ in range(2):
        if text.startswith(delimiter[0], pos):
            pos += 1
    return pos


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _spaces(text: str, pos: int) -> int:
    while text[pos] in " \t":
        pos += 1
    return pos
