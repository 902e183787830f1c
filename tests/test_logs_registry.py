"""parse_lines as a whole: styles switching midway, what is ignored or garbage, robustness."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronops.logs import ClockContext, parse_journal, parse_lines
from cronops.logs.events import KINDS

ZONE = ZoneInfo("Europe/Berlin")
CTX = ClockContext(ZONE, datetime(2026, 11, 23, tzinfo=ZONE))
CMD = "web1 CRON[100]: (root) CMD ([101] /bin/job)"


def test_the_timestamp_style_may_change_midway_through_a_file():
    # Debian 12 upgraded in place: rsyslog switches from the traditional format to RFC 3339
    lines = [
        f"Nov 22 09:43:01 {CMD}",
        f"2026-11-22T09:44:01.5+01:00 {CMD}",
        f"2026-11-22T09:45:01.5+01:00 {CMD}",
        f"Nov 22 09:46:01 {CMD}",
    ]
    result = parse_lines(lines, CTX)
    assert [event.at.minute for event in result.events] == [43, 44, 45, 46]
    assert (result.ignored, result.garbage) == (0, 0)


def test_counts_add_up():
    lines = [
        f"Nov 22 09:43:01 {CMD}",
        "Nov 22 09:43:01 web1 sshd[7]: Accepted publickey for deploy",
        "Nov 22 09:43:02 web1 last message repeated 3 times",
        "Nov 22 09:43:03 web1 CRON[100]: (root) FROBNICATE (x)",
        "",
        "\x00\x01\xff binary junk",
        "Nov 22 09:43:03 web1 CRON[100] no colon after the tag",
    ]
    result = parse_lines(lines, CTX)
    assert (result.lines, len(result.events), result.ignored, result.garbage) == (7, 1, 2, 4)


def test_lines_with_newlines_crlf_and_bytes():
    lines = [
        f"Nov 22 09:43:01 {CMD}\n",
        f"Nov 22 09:43:02 {CMD}\r\n",
        f"Nov 22 09:43:03 {CMD}".encode(),
    ]
    result = parse_lines(lines, CTX)
    assert [event.command for event in result.events] == ["/bin/job"] * 3
    assert result.garbage == 0


@pytest.mark.parametrize(
    "stamp",
    [
        "Feb 30 09:43:01",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:59:59.999999-01:00",
        "0001-01-01T00:30:00",
        "2026-13-01T00:00:00Z",
    ],
)
def test_an_impossible_or_unrepresentable_date_is_garbage(stamp):
    assert parse_lines([f"{stamp} {CMD}"], CTX).garbage == 1


def test_the_collector_is_enabled_again_after_a_read():
    import gc

    parse_lines([f"Nov 22 09:43:01 {CMD}"], CTX)
    assert gc.isenabled()


_SYSLOG_LIKE = st.builds(
    "{} {} {}: {}".format,
    st.sampled_from(["Nov 22 09:43:01", "Feb 29 00:00:00", "2026-11-22T09:43:01.5+0100", "x"]),
    st.sampled_from(["h", ""]),
    st.sampled_from(["CRON[1]", "CROND[2]", "crond", "crontab[3]", "cron", "sshd[4]"]),
    st.text(alphabet=st.sampled_from("()[]#0123: CMDENDabUSERpid"), max_size=40),
)


@given(st.lists(st.one_of(st.text(), _SYSLOG_LIKE), max_size=20))
def test_parse_lines_never_raises_and_accounts_for_every_line(lines):
    result = parse_lines(lines, CTX)
    assert result.lines == len(lines) == len(result.events) + result.ignored + result.garbage
    assert all(event.kind in KINDS and event.at.tzinfo is not None for event in result.events)


@given(st.lists(st.one_of(st.text(), st.binary()), max_size=10))
def test_parse_journal_never_raises(lines):
    result, _ = parse_journal(lines, CTX)
    assert result.lines == len(lines) == len(result.events) + result.ignored + result.garbage


def test_deeply_nested_json_is_garbage():
    result, _ = parse_journal(["[" * 100_000], CTX)
    assert result.garbage == 1


def test_parsers_use_the_standard_library_only():
    code = """
import sys, sysconfig
before = set(sys.modules)
import cronops.logs, cronops.runs
paths = sysconfig.get_paths()
stdlib = (paths["stdlib"], paths["platstdlib"])
installed = (paths["purelib"], paths["platlib"])  # site-packages, inside the stdlib directory
def third_party(module):
    path = getattr(module, "__file__", None) or ""  # built-in and frozen modules have none
    return path.startswith(installed) or (path != "" and not path.startswith(stdlib))
print(sorted(name for name in set(sys.modules) - before
             if not name.startswith("cronops") and third_party(sys.modules[name])))
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
