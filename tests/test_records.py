"""Tests for records built without their __init__ (records.record, records.copied): the same
records as their dataclasses make, every field set."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from cronops.records import Incident, copied, record
from tests import history

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# Every field set (none None or empty): a field left out or swapped shows.
INCIDENT = history.incident(
    jobs=("e2",),
    resolved_at=NOW,
    resolved_why="entry removed",
    ack_by="ops",
    ack_at=NOW,
    ack_note="looking",
    ack_until=NOW + timedelta(hours=2),
)


def test_a_record_from_its_values_is_the_one_its_init_makes():
    values = [getattr(INCIDENT, f.name) for f in fields(Incident)]
    built = record(Incident, values)
    assert built == INCIDENT and hash(built) == hash(INCIDENT)
    assert vars(built) == vars(INCIDENT)
    with pytest.raises(AttributeError):  # still frozen
        built.count = 3  # type: ignore[misc]


def test_a_value_too_many_or_too_few_is_refused():
    values = [getattr(INCIDENT, f.name) for f in fields(Incident)]
    with pytest.raises(TypeError):
        record(Incident, values[:-1])
    with pytest.raises(TypeError):
        record(Incident, [*values, None])


def test_a_copy_is_what_dataclasses_replace_makes():
    changes = {"state": "resolved", "resolved_at": NOW + timedelta(1), "resolved_why": "gone"}
    copy = copied(INCIDENT, **changes)
    assert copy == replace(INCIDENT, **changes)
    assert vars(copy) == vars(replace(INCIDENT, **changes))
    assert INCIDENT.state == "open"  # the original as it was
    with pytest.raises(TypeError):
        copied(INCIDENT, stat="resolved")


def test_a_record_of_slots_is_refused():
    from cronops.records import RunRecord

    with pytest.raises(AssertionError):
        record(RunRecord, [])
