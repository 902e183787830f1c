"""A command with control characters or 8-bit bytes, as each cron family logs it: the runs read
from those lines pair with the entry that wrote the command.

The Debian lines are what Debian 12's cron 3.0pl1-162 (-L 15 and -L 1) and rsyslog 8.2302 wrote
on the test fleet for the crontab below. cronie logs through the same mkprints routine; busybox
logs the command raw, and rsyslog escapes it as it did here for `logger`: control characters as
`#ooo` (not DEL), 8-bit bytes as they are, or as `#ooo` with escape8BitCharactersOnReceive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cronops.crontab import parse_crontab
from cronops.logs import ClockContext, parse_lines
from cronops.logs.rendering import as_logged, mkprints, rsyslog_escaped
from cronops.scan import entry_matcher

CRONTAB = (
    b"* * * * * echo caf\xe9 \x01 \x7f tab\there > /dev/null\n"
    b"* * * * * echo utf8 caf\xc3\xa9 \x1b[1m x > /dev/null\n"
    b"* * * * * echo pct \\% a\x01 \xe9 %input\xe9\n"
    b"* * * * * echo hash #012 x \\#011 > /dev/null\n"
)
LATIN1, UTF8, PERCENT, HASH = range(4)
# (entry, line as it arrived in /var/log/syslog)
DEBIAN = [
    (PERCENT, b"Dec  4 09:37:01 trad CRON[26]: (root) CMD ([29] echo pct % a^A \\351 )"),
    (HASH, b"Dec  4 09:37:01 trad CRON[25]: (root) CMD ([31] echo hash #012 x \\#011 > /dev/null)"),
    (
        LATIN1,
        b"Dec  4 09:37:01 trad CRON[28]: (root) CMD ([32] echo caf\\351 ^A ^? tab^Ihere > /dev/null)",
    ),
    (
        UTF8,
        b"Dec  4 09:37:01 trad CRON[27]: (root) END ([33] echo utf8 caf\\303\\251 ^[[1m x > /dev/null)",
    ),
    (
        LATIN1,
        b"2026-12-04T09:37:01.181571+00:00 iso CRON[29]: (root) CMD "
        b"(echo caf\\351 ^A ^? tab^Ihere > /dev/null)",
    ),
    (
        PERCENT,
        b"2026-12-04T09:38:01.249601+00:00 iso CRON[55]: (root) CMD (echo pct % a^A \\351 )",
    ),
]
CRONIE = [
    (
        LATIN1,
        b"Dec  4 09:37:01 rocky CROND[812]: (root) CMD (echo caf\\351 ^A ^? tab^Ihere > /dev/null)",
    ),
    (
        UTF8,
        b"Dec  4 09:37:01 rocky CROND[811]: (root) CMDEND (echo utf8 caf\\303\\251 ^[[1m x > /dev/null)",
    ),
]
BUSYBOX = [
    (LATIN1, b"Dec  4 09:37:00 alpine crond[90]: USER root pid  91 cmd echo caf\xe9 #001 \x7f tab#011here > /dev/null"),
    (UTF8, b"Dec  4 09:37:00 alpine crond[90]: USER root pid  92 cmd echo utf8 caf\xc3\xa9 #033[1m x > /dev/null"),
    (LATIN1, b"Dec  4 09:37:00 alpine crond[90]: USER root pid  93 cmd echo caf#351 #001 \x7f tab#011here > /dev/null"),
    (UTF8, b"Dec  4 09:37:00 alpine crond[90]: USER root pid  94 cmd echo utf8 caf#303#251 #033[1m x > /dev/null"),
]  # fmt: skip


def entries():
    text = CRONTAB.decode("utf-8", "surrogateescape")
    source = "/var/spool/cron/crontabs/root"
    return parse_crontab(text, host="h", source=source, kind="user", owner="root").entries


@pytest.mark.parametrize("family, lines", [("debian", DEBIAN), ("cronie", CRONIE), ("busybox", BUSYBOX)])  # fmt: skip
def test_each_run_read_from_the_log_pairs_with_its_entry(family, lines):
    crontab = entries()
    match = entry_matcher(crontab)
    clock = ClockContext(zone=UTC, now=datetime(2026, 12, 4, 10, tzinfo=UTC))
    parsed = parse_lines([line for _, line in lines], clock)
    assert parsed.garbage == 0 and len(parsed.events) == len(lines)
    for (index, line), event in zip(lines, parsed.events, strict=True):
        assert event.dialect == family
        assert event.command in as_logged(crontab[index].command), line
        assert match("root", event.command) == crontab[index].id, line
        assert match("alice", event.command) is None


def test_mkprints_is_vixie_crons_mkprint_byte_for_byte():
    assert mkprints(b"ok ~ 09") == "ok ~ 09"
    assert mkprints(b"\x00\x01\x09\x1b\x1f") == "^@^A^I^[^_"
    assert mkprints(b"\x7f\x80\xe9\xff") == "^?\\200\\351\\377"
    assert mkprints("café".encode()) == "caf\\303\\251"


def test_rsyslog_escapes_control_characters_and_only_optionally_8_bit_bytes():
    assert rsyslog_escaped(b"a\tb\x01\x7f\xe9") == b"a#011b#001\x7f\xe9"
    assert rsyslog_escaped(b"a\tb\x7f\xe9", eight_bit=True) == b"a#011b\x7f#351"


def test_a_plain_command_is_its_only_logged_form():
    assert as_logged("/usr/local/bin/backup --full > /var/log/backup.log 2>&1") == {
        "/usr/local/bin/backup --full > /var/log/backup.log 2>&1"
    }
    assert as_logged('echo "a #1" \\% done%stdin') >= {'echo "a #1" % done'}


def test_a_logged_command_cut_short_still_finds_its_entry_and_an_unknown_one_none():
    crontab = entries()
    match = entry_matcher(crontab)
    truncated = "echo caf\\351 ^A ^? tab^Ihe"
    assert match("root", truncated) == crontab[LATIN1].id
    for _ in range(2):  # the second answer is the one remembered
        assert match("root", "/usr/bin/unknown") is None
        assert match("root", "echo") is None  # the start of several: no guess
    assert match("root", None) is None
