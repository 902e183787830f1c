"""`journalctl -o json` records: text, byte-array and null MESSAGEs, identifiers, the cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cronops.logs import ClockContext, parse_journal

DATA = Path(__file__).parent / "data" / "logs"
CTX = ClockContext(ZoneInfo("UTC"), datetime(2025, 11, 23, tzinfo=UTC))


def record(message: object, identifier: str = "CRON", pid: str = "8001", **fields: str) -> str:
    return json.dumps(
        {
            "__CURSOR": "s=1;i=2",
            "__REALTIME_TIMESTAMP": "1763822581622592",
            "SYSLOG_IDENTIFIER": identifier,
            "_PID": pid,
            "MESSAGE": message,
            **fields,
        }
    )


def test_text_message():
    result, cursor = parse_journal([record("(root) CMD ([8002] /usr/local/sbin/backup)")], CTX)
    event = result.events[0]
    assert (event.kind, event.command, event.pid, event.process_pid) == (
        "start",
        "/usr/local/sbin/backup",
        8002,
        8001,
    )
    assert (event.source, event.dialect) == ("journald", "debian")
    assert event.at == datetime(2025, 11, 22, 14, 43, 1, 622592, tzinfo=UTC)
    assert cursor == "s=1;i=2"


def test_byte_array_message_is_decoded_with_replacement():
    message = list(b"(root) CMD ([8011] echo caf\xe9)")
    result, _ = parse_journal([record(message)], CTX)
    assert result.events[0].command == "echo caf\ufffd"


def test_null_message_is_garbage_but_its_cursor_counts():
    result, cursor = parse_journal([record(None, __CURSOR="s=9")], CTX)
    assert (result.events, result.garbage, cursor) == ([], 1, "s=9")


def test_real_newline_at_the_end_of_a_journal_message():
    result, _ = parse_journal(
        [record("(root) MAIL (mailed 12 bytes of output; but got status 0x004b, \n)\n")], CTX
    )
    assert result.events[0].detail == "mailed 12 bytes of output; but got status 0x004b,"


def test_other_units_are_ignored_and_junk_is_garbage():
    lines = [record("Started cron.service.", identifier="systemd"), "not json", "[1, 2]", ""]
    result, _ = parse_journal(lines, CTX)
    assert (result.lines, result.ignored, result.garbage) == (4, 1, 3)


def test_identifier_from_comm_when_syslog_identifier_is_missing():
    line = json.dumps(
        {"__REALTIME_TIMESTAMP": "1763822581000000", "_COMM": "CROND", "_PID": "5", "MESSAGE":
         "(root) CMD (/bin/true)"}
    )  # fmt: skip
    result, cursor = parse_journal([line], CTX)
    assert (result.events[0].dialect, cursor) == ("cronie", None)


def test_a_journal_export_read_as_bytes():
    with (DATA / "journal.jsonl").open("rb") as lines:
        result, cursor = parse_journal(lines, CTX)
    assert [event.kind for event in result.events] == [
        "start",
        "failed",
        "mail",
        "end",
        "start",
        "start",
        "end",
        "start",
    ]
    assert [event.dialect for event in result.events][-3:] == ["cronie", "cronie", "busybox"]
    # a PAM session line and systemd are ignored; the null MESSAGE is garbage
    assert (result.lines, result.ignored, result.garbage) == (11, 2, 1)
    assert cursor == "s=4b1c0e2a;i=1a0a;b=9f2e;m=3f2;t=6442a1;x=77aa10"
