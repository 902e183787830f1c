"""Reading a table of settings as an operator wrote it: each value checked and turned into what the
code uses in the same step, and every problem named by its key.

A Key pairs a reader with the words for what it accepts. A reader takes the value as written
(from tomllib, or from the command line) and returns it ready to use, or raises ValueError; a value
with problems of its own to name (each of a list of maintenance windows) raises Refused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

DURATION_TEXT = "a duration like '90s', '5m', '2h', '1d' (or '1h30m'), or whole seconds"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class Key(NamedTuple):
    read: Callable[[Any], Any]
    expected: str  # completes "key 'x' must be ..."


class Problem(NamedTuple):
    key: str | None  # None: the problem is the table's own (a key it lacks)
    message: str


class Refused(ValueError):
    """A value with problems to name in words of its own, each put after "key 'x': "."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def read_table(
    table: Mapping[str, Any], keys: Mapping[str, Key]
) -> tuple[dict[str, Any], list[Problem]]:
    """Every key of `table` read by its Key: the values read, and a Problem for each that is not
    acceptable or not known (with a "did you mean")."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in table.items():
        if key not in keys:
            problems.append(Problem(key, f"unknown key {key!r}{hint(key, keys)}"))
            continue
        try:
            values[key] = keys[key].read(value)
        except Refused as refused:
            problems += [Problem(key, f"key {key!r}: {p}") for p in refused.problems]
        except ValueError:
            problems.append(
                Problem(key, f"key {key!r} must be {keys[key].expected}, not {value!r}")
            )
    return values, problems


def hint(key: str, known: Iterable[str]) -> str:
    """A "did you mean" for a mistyped key."""
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_duration(value: Any) -> timedelta:
    """'90s', '5m', '2h', '1d', '1h30m', or a number of seconds; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        match = _DURATION.fullmatch(text)
        if text and match:
            days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"not {DURATION_TEXT}: {value!r}")


def positive_duration(value: Any) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"not above zero: {value!r}")
    return duration


def text(value: Any) -> str:
    """A non-empty string."""
    if isinstance(value, str) and value != "":
        return value
    raise ValueError(f"not a non-empty string: {value!r}")


def number(value: Any) -> int | float:
    """An int or a float as TOML writes them (true and false are not numbers)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ValueError(f"not a number: {value!r}")


def one_of(choices: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(choices)

    def read(value: Any) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        raise ValueError(f"not one of {allowed}: {value!r}")

    return read
