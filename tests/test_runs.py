"""Pairing log events into runs, and saying "ok" only when the log would have shown a failure."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from cronops.logs import ClockContext, LogEvent, parse_lines
from cronops.logs.events import new_event
from cronops.runs import OUTPUT_LINES_KEPT, Outcome, Run, pair_events

ZONE = ZoneInfo("UTC")
CTX = ClockContext(ZONE, datetime(2026, 11, 3, tzinfo=ZONE))


def events(*lines: str) -> list[LogEvent]:
    result = parse_lines([f"Nov  2 {line}" for line in lines], CTX)
    assert result.garbage == 0
    return result.events


def at(clock: str) -> datetime:
    hour, minute, second = (int(part) for part in clock.split(":"))
    return datetime(2026, 11, 2, hour, minute, second, tzinfo=UTC)


# Debian -L 15: the parent (CRON[100]) logs CMD and END with "[jobpid]" and the failure line first.


def test_level_15_success_is_ok_once_failures_are_known_to_be_logged():
    runs, still_open = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)",
            "04:17:09 h CRON[100]: (root) END ([101] /bin/backup)",
        ),
        failures_logged=True,
    )
    (run,) = runs
    assert (run.user, run.command, run.pid, run.process_pid) == ("root", "/bin/backup", 101, 100)
    assert (run.started_at, run.ended_at, run.status) == (at("04:17:01"), at("04:17:09"), 0)
    assert run.outcome == Outcome.OK
    assert run.duration == timedelta(seconds=8)
    assert still_open == []


def test_level_15_failure():
    (run,), _ = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)",
            "04:17:05 h CRON[100]: (CRON) error (grandchild #101 failed with exit status 2)",
            "04:17:05 h CRON[100]: (root) END ([101] /bin/backup)",
        )
    )
    assert (run.status, run.outcome, run.ended_at) == (2, Outcome.FAILED, at("04:17:05"))


def test_level_15_signal_with_core_dump():
    (run,), _ = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)",
            "04:17:05 h CRON[100]: (CRON) error "
            "(grandchild #101 terminated by signal 11, dumped core)",
            "04:17:06 h CRON[100]: (root) END ([101] /bin/backup)",
        )
    )
    assert (run.signal, run.core_dumped, run.status, run.outcome) == (
        11,
        True,
        None,
        Outcome.KILLED,
    )
    assert run.ended_at == at("04:17:06")


def test_a_failure_line_elsewhere_in_the_read_shows_failures_are_logged():
    runs, _ = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)",
            "04:17:01 h CRON[102]: (root) CMD ([103] /bin/report)",
            "04:17:02 h CRON[102]: (CRON) error (grandchild #103 failed with exit status 1)",
            "04:17:02 h CRON[102]: (root) END ([103] /bin/report)",
            "04:17:03 h CRON[100]: (root) END ([101] /bin/backup)",
        )
    )
    assert [(run.command, run.outcome) for run in runs] == [
        ("/bin/backup", Outcome.OK),
        ("/bin/report", Outcome.FAILED),
    ]


def test_end_without_any_failure_evidence_is_unknown_not_ok():
    # -L 3 (start and end only) and -L 15 on a host whose jobs never fail look the same.
    (run,), _ = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)",
            "04:17:09 h CRON[100]: (root) END ([101] /bin/backup)",
        )
    )
    assert (run.ended_at, run.status, run.outcome) == (at("04:17:09"), None, Outcome.UNKNOWN)


def test_end_in_a_later_read_closes_the_open_run():
    first, still_open = pair_events(
        events("04:17:01 h CRON[100]: (root) CMD ([101] /bin/backup)"), ends_logged=True
    )
    assert [run.outcome for run in first] == [Outcome.RUNNING]
    assert still_open == first
    second, still_open = pair_events(
        events(
            "05:02:11 h CRON[100]: (CRON) error (grandchild #101 failed with exit status 3)",
            "05:02:11 h CRON[100]: (root) END ([101] /bin/backup)",
        ),
        open_runs=still_open,
    )
    assert second == first  # the same run, updated in place
    assert (second[0].status, second[0].started_at, second[0].ended_at) == (
        3,
        at("04:17:01"),
        at("05:02:11"),
    )
    assert still_open == []


def test_an_open_run_learns_from_a_later_read_that_failures_are_logged():
    _, still_open = pair_events(
        events("04:17:01 h CRON[100]: (root) CMD ([101] /bin/long)"), ends_logged=True
    )
    runs, _ = pair_events(
        events(
            "05:00:01 h CRON[110]: (root) CMD ([111] /bin/short)",
            "05:00:02 h CRON[110]: (CRON) error (grandchild #111 failed with exit status 1)",
            "05:00:02 h CRON[110]: (root) END ([111] /bin/short)",
            "05:10:00 h CRON[100]: (root) END ([101] /bin/long)",
        ),
        open_runs=still_open,
    )
    assert [(run.command, run.outcome) for run in runs] == [
        ("/bin/short", Outcome.FAILED),
        ("/bin/long", Outcome.OK),
    ]


def test_a_failure_in_a_later_read_than_its_start_and_its_end_in_the_next():
    _, still_open = pair_events(
        events("04:17:01 h CRON[100]: (root) CMD ([101] /bin/x)"), ends_logged=True
    )
    (run,), still_open = pair_events(
        events("04:20:00 h CRON[100]: (CRON) error (grandchild #101 failed with exit status 1)"),
        open_runs=still_open,
    )
    assert (run.outcome, still_open) == (Outcome.FAILED, [run])  # its END is still to come
    (same,), still_open = pair_events(
        events("04:20:01 h CRON[100]: (root) END ([101] /bin/x)"), open_runs=still_open
    )
    assert (same is run, run.ended_at, run.outcome, still_open) == (
        True,
        at("04:20:01"),
        Outcome.FAILED,
        [],
    )


def test_failure_line_after_the_end_is_still_paired():
    (run,), _ = pair_events(
        events(
            "04:17:01 h CRON[100]: (root) CMD ([101] /bin/x)",
            "04:17:03 h CRON[100]: (root) END ([101] /bin/x)",
            "04:17:03 h CRON[100]: (CRON) error (grandchild #101 failed with exit status 7)",
        )
    )
    assert (run.status, run.outcome) == (7, Outcome.FAILED)


def test_interleaved_concurrent_runs_of_the_same_command_pair_by_pid():
    runs, _ = pair_events(
        events(
            "04:00:01 h CRON[100]: (root) CMD ([101] /bin/sync)",
            "04:01:01 h CRON[110]: (root) CMD ([111] /bin/sync)",
            "04:01:30 h CRON[110]: (root) END ([111] /bin/sync)",
            "04:02:01 h CRON[100]: (CRON) error (grandchild #101 terminated by signal 15)",
            "04:02:01 h CRON[100]: (root) END ([101] /bin/sync)",
        ),
        failures_logged=True,
    )
    assert [(run.pid, run.started_at, run.ended_at, run.outcome) for run in runs] == [
        (101, at("04:00:01"), at("04:02:01"), Outcome.KILLED),
        (111, at("04:01:01"), at("04:01:30"), Outcome.OK),
    ]


# Debian below -L 8: CMD comes from the job's own pid, END from its parent's.


def test_level_3_end_pairs_with_the_nearest_child_of_the_same_command():
    runs, _ = pair_events(
        events(
            "04:00:01 h CRON[201]: (root) CMD (/bin/sync)",
            "04:01:01 h CRON[211]: (root) CMD (/bin/sync)",
            "04:01:30 h CRON[210]: (root) END (/bin/sync)",
            "04:02:01 h CRON[200]: (root) END (/bin/sync)",
        )
    )
    assert [(run.pid, run.process_pid, run.ended_at) for run in runs] == [
        (201, 200, at("04:02:01")),
        (211, 210, at("04:01:30")),
    ]
    assert {run.outcome for run in runs} == {Outcome.UNKNOWN}  # -L 3 logs no failures


def test_level_7_failure_pairs_by_the_job_pid():
    (run,), _ = pair_events(
        events(
            "04:00:01 h CRON[201]: (root) CMD (/bin/sync)",
            "04:00:02 h CRON[200]: (CRON) error (grandchild #201 failed with exit status 1)",
            "04:00:02 h CRON[200]: (root) END (/bin/sync)",
        )
    )
    assert (run.status, run.outcome, run.process_pid) == (1, Outcome.FAILED, 200)


def test_level_1_runs_have_no_end_and_stay_unknown():
    runs, still_open = pair_events(
        events(
            "04:00:01 h CRON[201]: (root) CMD (/bin/sync)",
            "04:01:01 h CRON[211]: (root) CMD (/bin/sync)",
        )
    )
    assert [(run.ended_at, run.status, run.outcome) for run in runs] == [
        (None, None, Outcome.UNKNOWN),
        (None, None, Outcome.UNKNOWN),
    ]
    assert still_open == []  # nothing will ever close them: they are not carried along


def test_level_1_even_when_told_failures_are_logged_never_says_ok():
    (run,), _ = pair_events(
        events("04:00:01 h CRON[201]: (root) CMD (/bin/sync)"), failures_logged=True
    )
    assert run.outcome == Outcome.UNKNOWN


def test_a_reused_pid_ends_the_older_run_as_missing_its_end():
    runs, still_open = pair_events(
        events(
            "04:00:01 h CRON[100]: (root) CMD ([101] /bin/a)",
            "09:00:01 h CRON[100]: (root) CMD ([101] /bin/b)",
        ),
        ends_logged=True,
    )
    assert [(run.command, run.end_missing, run.outcome) for run in runs] == [
        ("/bin/a", True, Outcome.UNKNOWN),
        ("/bin/b", False, Outcome.RUNNING),
    ]
    assert [run.command for run in still_open] == ["/bin/b"]


def test_an_end_whose_start_was_not_read_is_a_run_without_start():
    (run,), still_open = pair_events(
        events("04:17:09 h CRON[100]: (root) END ([101] /bin/backup)"), failures_logged=True
    )
    assert (run.started_at, run.ended_at, run.pid, run.outcome) == (
        None,
        at("04:17:09"),
        101,
        Outcome.UNKNOWN,  # its failure line may have been before the read, too
    )
    assert still_open == []


def test_a_failure_whose_start_was_not_read_is_still_failed():
    (run,), _ = pair_events(
        events("04:17:09 h CRON[100]: (CRON) error (grandchild #101 failed with exit status 1)")
    )
    assert (run.started_at, run.pid, run.outcome) == (None, 101, Outcome.FAILED)


# cronie: CMD from the job (CROND[jobpid]), CMDOUT and CMDEND from its parent; no exit status.


def test_cronie_cmd_and_cmdend_pair_although_their_pids_differ():
    (run,), still_open = pair_events(
        events(
            "04:01:01 h CROND[899752]: (root) CMD (run-parts /etc/cron.hourly)",
            "04:01:03 h CROND[899751]: (root) CMDEND (run-parts /etc/cron.hourly)",
        ),
        failures_logged=True,  # cronie never logs an exit status, whatever the caller says
    )
    assert (run.pid, run.process_pid, run.ended_at, run.status) == (
        899752,
        899751,
        at("04:01:03"),
        None,
    )
    assert (run.outcome, run.dialect, still_open) == (Outcome.UNKNOWN, "cronie", [])


def test_cronie_concurrent_runs_of_one_command():
    runs, _ = pair_events(
        events(
            "04:00:01 h CROND[301]: (root) CMD (/bin/sync)",
            "04:01:01 h CROND[306]: (root) CMD (/bin/sync)",
            "04:01:09 h CROND[305]: (root) CMDEND (/bin/sync)",
            "04:02:09 h CROND[300]: (root) CMDEND (/bin/sync)",
        )
    )
    assert [(run.pid, run.ended_at) for run in runs] == [
        (301, at("04:02:09")),
        (306, at("04:01:09")),
    ]


def test_cronie_output_lines_join_their_run():
    (run,), _ = pair_events(
        events(
            "04:02:01 h CROND[801]: (study) CMD (/home/study/report.sh)",
            "04:02:01 h CROND[800]: (study) CMDOUT (rows#011123)",
            "04:02:01 h CROND[800]: (study) CMDOUT (done)",
            "04:02:02 h CROND[800]: (study) CMDEND (/home/study/report.sh)",
        )
    )
    assert (run.output, run.process_pid, run.ended_at) == (
        ("rows\t123", "done"),
        800,
        at("04:02:02"),
    )


def test_cronie_output_keeps_the_last_lines_even_without_cmdend():
    # cronie before 1.5.6 writes CMDOUT lines (crond -s) but no CMDEND
    lines = [f"04:02:01 h CROND[800]: (u) CMDOUT (line {n})" for n in range(OUTPUT_LINES_KEPT + 5)]
    (run,), _ = pair_events(events("04:02:01 h CROND[801]: (u) CMD (/bin/chatty)", *lines))
    assert len(run.output) == OUTPUT_LINES_KEPT
    assert run.output[-1] == f"line {OUTPUT_LINES_KEPT + 4}"


def test_cronie_without_cmdend_runs_are_unknown_and_not_kept_open():
    # cronie before 1.5.6 (RHEL 7 and 8) logs no CMDEND
    (run,), still_open = pair_events(events("04:01:01 h CROND[5]: (root) CMD (/bin/x)"))
    assert (run.outcome, still_open) == (Outcome.UNKNOWN, [])


# busybox: starts only.


def test_busybox_runs_are_start_only_and_unknown():
    runs, still_open = pair_events(
        events(
            "04:30:01 a crond[2727]: crond: USER root pid 2762 cmd /usr/bin/sync",
            "04:31:01 a crond[2727]: crond: user root: process already running: /usr/bin/sync",
        ),
        ends_logged=True,
        failures_logged=True,
    )
    assert [(run.pid, run.command, run.outcome) for run in runs] == [
        (2762, "/usr/bin/sync", Outcome.UNKNOWN)
    ]
    assert still_open == []


def test_runs_of_different_hosts_never_pair():
    (a, b), _ = pair_events(
        events(
            "04:17:01 one CRON[100]: (root) CMD ([101] /bin/x)",
            "04:17:02 two CRON[100]: (root) END ([101] /bin/x)",
        )
    )
    assert (a.host, a.ended_at, b.host, b.started_at) == ("one", None, "two", None)


def test_outcome_rules_on_bare_runs():
    start = at("04:00:00")
    assert Run("u", "c", start, ended_at=start, status=0).outcome == Outcome.OK
    assert Run("u", "c", start, ended_at=start).outcome == Outcome.UNKNOWN
    assert Run("u", "c", start, status=1).outcome == Outcome.FAILED
    assert Run("u", "c", start, signal=9).outcome == Outcome.KILLED
    assert Run("u", "c", start, ends_logged=True).outcome == Outcome.RUNNING
    assert Run("u", "c", start).outcome == Outcome.UNKNOWN


_KINDS = st.sampled_from(["start", "end", "failed", "signal", "output", "mail", "daemon"])


@given(
    st.lists(
        st.tuples(
            _KINDS,
            st.sampled_from(["debian", "cronie", "busybox"]),
            st.integers(1, 6),
            st.integers(1, 6),
            st.sampled_from(["/bin/a", "/bin/b"]),
        ),
        max_size=30,
    )
)
def test_pairing_never_raises_and_never_claims_ok_without_evidence(specs):
    stream = [
        new_event(
            at("04:00:00") + timedelta(seconds=n),
            kind,
            "root",
            command,
            pid,
            status=1 if kind == "failed" else None,
            signal=9 if kind == "signal" else None,
            source=dialect,
            dialect=dialect,
            process_pid=process_pid,
        )
        for n, (kind, dialect, pid, process_pid, command) in enumerate(specs)
    ]
    runs, still_open = pair_events(stream)
    # pairing sets each field of a run itself, not through Run's __init__: none is left unset
    assert all(hasattr(run, field.name) for run in runs for field in fields(Run))
    failure_dialects = {e.dialect for e in stream if e.kind in ("failed", "signal")}
    for run in runs:
        if run.outcome == Outcome.OK:
            assert run.dialect == "debian" and run.dialect in failure_dialects
            assert run.started_at is not None and run.ended_at is not None
    assert all(run.ends_logged for run in still_open)
