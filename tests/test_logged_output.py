"""The output lines cron logs (cronie's CMDOUT, crond -s) go on the run, as its mail would.

tests/data/logs/journal-cronie.jsonl is what a real systemd-journald (252, Debian 12) stored and
`journalctl -o json` printed for lines in cronie's shapes (CMD from the job's pid, CMDOUT and
CMDEND from its parent's), sent to it with `logger`: cronie is not packaged for Debian 12, and
Debian's cron logs no output at all (it mails it, or logs "No MTA installed, discarding
output"). journald kept the line with an escape character as an array of bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronops.records import OUTPUT_FROM
from cronops.store import Store
from tests import history

JOURNAL = Path(__file__).parent / "data" / "logs" / "journal-cronie.jsonl"
REPORT = "/home/study/bin/report.sh"
CRONTABS = {"/var/spool/cron/crontabs/study": f"2 4 * * * {REPORT}\n"}
PRINTED = "rows 123\ncafé \x1b[2J done"


def captured() -> tuple[bytes, datetime]:
    """The captured journal, and a moment just after its last record."""
    data = JOURNAL.read_bytes()
    last = max(int(json.loads(line)["__REALTIME_TIMESTAMP"]) for line in data.splitlines())
    return data, datetime.fromtimestamp(last / 1e6, UTC) + timedelta(minutes=1)


def only_run(db: Path):
    store = Store(db)
    try:
        (entry,) = store.entries(["app3"])
        (run,) = store.entry_runs(entry.id, 5)
    finally:
        store.close()
    return run


def test_cronies_output_lines_in_the_journal_are_the_runs_output(tmp_path):
    journal, at = captured()
    history.scan(tmp_path / "h.db", "app3", CRONTABS, at, zone="UTC", journal=journal)
    run = only_run(tmp_path / "h.db")
    assert run.ended_at is not None and run.output == PRINTED
    assert run.output_size == len(PRINTED.encode())
    assert run.output_source == OUTPUT_FROM["log"] == "from the lines cron logged"


def test_the_logged_output_kept_is_bounded_by_output_tail(tmp_path):
    journal, at = captured()
    history.scan(
        tmp_path / "h.db", "app3", CRONTABS, at, zone="UTC", journal=journal, output_tail=9
    )
    run = only_run(tmp_path / "h.db")
    assert run.output == "\x1b[2J done" and len(run.output.encode()) == 9
    assert run.output_size == len(PRINTED.encode())  # the whole output's, not the tail's
    history.scan(
        tmp_path / "n.db", "app3", CRONTABS, at, zone="UTC", journal=journal, output_tail=0
    )
    assert only_run(tmp_path / "n.db").output is None  # 0: no output read, as for mail
