"""Tests for cronops.crontab: parsing real-world crontabs and editing them by line surgery.

The corpus in tests/data/crontabs/ is read as bytes so CRLF and missing final newlines survive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronops.crontab import (
    CACHED_CRONTAB_CHARS,
    NO_FINAL_NEWLINE,
    SYSTEM,
    USER,
    Crontab,
    PauseInfo,
    cron_d_file_ignored,
    entry_id,
    line_text,
    parse_crontab,
    pause_line,
    paused_info,
    replace_line,
    resume_line,
    split_percent,
)

CORPUS = Path(__file__).parent / "data" / "crontabs"
CORPUS_FILES = sorted(path for path in CORPUS.glob("*/*") if path.parent.name in (USER, SYSTEM))
MARKER = PauseInfo(
    by="alice",
    at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    reason="disk full on db1 # 100% used",
    until=datetime(2026, 3, 8, tzinfo=UTC),
)


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # read_text() would turn CRLF into LF


def parse_corpus(path: Path) -> Crontab:
    kind = path.parent.name
    if kind == USER:
        source = f"/var/spool/cron/crontabs/{path.name}"
        return parse_crontab(read(path), host="web1", source=source, kind=USER, owner=path.name)
    return parse_crontab(read(path), host="web1", source=f"/etc/cron.d/{path.name}", kind=SYSTEM)


def parse_corpus_text(text: str, like: Crontab) -> Crontab:
    return parse_crontab(text, host=like.host, source=like.source, kind=like.kind, owner=like.owner)


def parse_user(text: str, owner: str = "alice") -> Crontab:
    source = f"/var/spool/cron/crontabs/{owner}"
    return parse_crontab(text, host="web1", source=source, kind=USER, owner=owner)


def parse_system(text: str) -> Crontab:
    return parse_crontab(text, host="web1", source="/etc/cron.d/ops", kind=SYSTEM)


def corpus(name: str) -> Crontab:
    return parse_corpus(next(path for path in CORPUS_FILES if path.name == name))


def assert_every_line_accounted_for(crontab: Crontab) -> None:
    """Each line is blank, a comment, an env setting, an entry or a problem: exactly one of them."""
    lines = crontab.text.split("\n")
    if lines[-1] == "":
        lines.pop()
    entries = {entry.line: entry for entry in crontab.entries}
    settings = {setting.line for setting in crontab.settings}
    problems = {problem.line for problem in crontab.problems}
    assert len(entries) == len(crontab.entries)
    for number, content in enumerate(lines, start=1):
        body = content.lstrip(" \t")
        kinds = [number in entries, number in settings, number in problems]
        if not body or body.startswith("#"):
            assert not (kinds[1] or kinds[2]), (number, content)
            assert number not in entries or entries[number].disabled, (number, content)
        else:
            assert kinds.count(True) == 1, (number, content, kinds)
        if number in entries:
            assert entries[number].text == content


# --- the corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_nothing_is_dropped(path: Path) -> None:
    assert_every_line_accounted_for(parse_corpus(path))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_ids_are_short_unique_and_stable(path: Path) -> None:
    first, second = parse_corpus(path), parse_corpus(path)
    ids = [entry.id for entry in first.entries]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z2-7]{8}", entry_id) for entry_id in ids)
    assert ids == [entry.id for entry in second.entries]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_pause_then_resume_restores_every_job_line(path: Path) -> None:
    crontab = parse_corpus(path)
    for entry in crontab.entries:
        if entry.paused:
            resumed = resume_line(crontab.text, entry.line)
            assert pause_line(resumed, entry.line, entry.paused) == crontab.text
            continue
        paused = pause_line(crontab.text, entry.line, MARKER)
        assert resume_line(paused, entry.line) == crontab.text
        again = parse_corpus_text(paused, crontab)
        twin = next(other for other in again.entries if other.line == entry.line)
        assert twin.disabled and twin.paused == MARKER
        assert (twin.id, twin.schedule, twin.command) == (entry.id, entry.schedule, entry.command)


def test_debian_etc_crontab() -> None:
    crontab = corpus("debian12-etc-crontab")
    assert [(entry.line, entry.user, entry.schedule) for entry in crontab.entries] == [
        (19, "root", "17 * * * *"),
        (20, "root", "25 6 * * *"),
        (21, "root", "47 6 * * 7"),
        (22, "root", "52 6 1 * *"),
    ]
    # The "# *  *  *  *  * user-name command to be executed" example is documentation.
    assert not any(entry.disabled for entry in crontab.entries)
    assert (
        crontab.entries[0].text == "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly"
    )
    assert crontab.entries[0].command == "cd / && run-parts --report /etc/cron.hourly"
    assert crontab.entries[0].env == (("SHELL", "/bin/sh"),)
    assert crontab.problems == []


def test_debian_spool_file_header_and_template() -> None:
    crontab = corpus("alice")
    assert crontab.header_lines == 3
    assert [entry.command for entry in crontab.entries] == [
        "/home/alice/bin/sync-mail >/dev/null 2>&1",
        "/home/alice/bin/nightly.sh",
        "/home/alice/bin/heavy-report",
    ]
    assert all(entry.user == "alice" for entry in crontab.entries)
    assert crontab.entries[0].env_dict == {"MAILTO": "alice@example.com"}


def test_header_lines_only_count_debians_header() -> None:
    assert (
        parse_user("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n").header_lines == 1
    )
    assert parse_user("# my own notes\n# DO NOT EDIT THIS FILE\n").header_lines == 0
    assert corpus("root").header_lines == 0


def test_paused_line_in_the_corpus_is_a_paused_entry() -> None:
    entry = corpus("alice").entries[-1]
    assert entry.disabled
    assert entry.paused == PauseInfo(
        by="bob",
        at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        reason="disk full on db1",
        until=datetime(2026, 3, 8, tzinfo=UTC),
    )
    assert paused_info(entry) == entry.paused
    assert entry.schedule == "0 4 * * *"


def test_ansible_and_puppet_managed_crontab() -> None:
    crontab = corpus("root")
    assert [(entry.line, entry.disabled) for entry in crontab.entries] == [
        (7, False),
        (9, False),
        (11, True),
        (13, False),
        (14, False),
        (15, False),
    ]
    twins = crontab.entries[3:5]
    assert twins[0].id != twins[1].id
    assert twins[0].id == entry_id(
        "web1", "/var/spool/cron/crontabs/root", "root", twins[0].command
    )
    assert twins[1].id == entry_id(
        "web1", "/var/spool/cron/crontabs/root", "root", twins[1].command, occurrence=1
    )
    assert crontab.entries[-1].log_off


def test_ugly_system_file_environment() -> None:
    crontab = corpus("ops-backup")
    settings = {setting.name: setting.value for setting in crontab.settings}
    assert settings == {
        "MAILTO": "",  # set twice; the second, empty, one wins
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BACKUP_DIR": "/srv/backup dir",
        "CRON_TZ": "Europe/Berlin",
        "TZ": "UTC",
        "EMPTY": "",
        "QUOTED_EMPTY": "",
        "HASHED": "value # not a comment: cron keeps it",
    }
    dump = crontab.entries[0]
    assert dump.env_dict["MAILTO"] == "ops@example.com"
    assert [name for name, _ in dump.env][:2] == ["MAILTO", "PATH"]
    assert dump.cron_tz == "Europe/Berlin"
    assert dump.user == "postgres"
    assert dump.command == "pg_dumpall | gzip > /srv/backup/db-$(date +\\%F).sql.gz"
    last = next(entry for entry in crontab.entries if entry.line == 33)
    assert last.env_dict["MAILTO"] == ""
    assert last.command == "/usr/local/bin/trailing-spaces   "


def test_ugly_system_file_entries_and_problems() -> None:
    crontab = corpus("ops-backup")
    disabled = [entry.line for entry in crontab.entries if entry.disabled and not entry.paused]
    assert disabled == [13, 14, 15]
    by_line = {entry.line: entry for entry in crontab.entries}
    assert by_line[15].schedule == "15 2 * * sun"
    assert by_line[16].is_reboot
    assert by_line[18].command.endswith("# a hash inside the command stays in the command")
    assert by_line[19].schedule == "0 9-17/2 * JAN-mar Mon-Fri"
    assert by_line[19].command == 'echo "weekday morning%line two%line three"'
    assert by_line[22].log_off and by_line[22].schedule == "*/10 * * * *"
    assert by_line[37].paused is not None and by_line[37].paused.reason == "maintenance window"
    problems = {problem.line: problem.message for problem in crontab.problems}
    assert sorted(problems) == list(range(23, 32))
    assert "'L' (last)" in problems[23]
    assert "'?' is Quartz syntax" in problems[24]
    assert "'#' (nth weekday)" in problems[25]
    assert "bad hour '30'" in problems[26]  # "0 30 8 * * *": cron reads the 30 as the hour
    assert "6 time fields" in problems[27]
    assert "a step needs a range" in problems[28]
    assert "is the user field missing?" in problems[29]
    assert problems[30] == "missing user and command"
    assert "unknown nickname '@every'" in problems[31]


def test_hand_written_user_crontab() -> None:
    crontab = corpus("carol")
    schedules = [entry.schedule for entry in crontab.entries]
    assert schedules[:7] == [
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@midnight",
        "@reboot",
    ]
    assert "0 8 * * mon-FRI" in schedules
    assert crontab.entries[0].text == "  @daily      /home/carol/bin/daily.sh"
    assert crontab.entries[0].cron_tz == "America/New_York"
    mail = next(entry for entry in crontab.entries if entry.command.startswith("mail"))
    assert mail.command == 'mail -s "weekly" carol%Here is your weekly reminder.%Bye.'
    assert any(
        entry.command == "printf '\\%s\\n' done >> /tmp/carol.log" for entry in crontab.entries
    )
    assert crontab.entries[-1].command == "/home/carol/bin/café-résumé --lang=日本語"
    # cronie lets only root turn logging off.
    assert [problem.line for problem in crontab.problems] == [16]
    assert "only root" in crontab.problems[0].message


def test_rejected_user_crontab_lines_are_reported() -> None:
    crontab = corpus("dave")
    problems = {problem.line: problem.message for problem in crontab.problems}
    assert "6 time fields" in problems[2]
    assert 4 in problems  # the line after a trailing backslash: cron has no continuation lines
    assert "'~' (random) is cronie-only" in problems[5]
    assert "unknown nickname '@Daily'" in problems[7]
    assert "61 is outside 0-59" in problems[8]
    assert "write fri-7" in problems[10]
    assert "step must be a number above 0" in problems[11]
    assert problems[12] == "missing command"
    # Accepted by cron: Feb 31 never comes, and "root" is just the command's first word here.
    assert {entry.line for entry in crontab.entries} == {3, 6, 9}


def test_crlf_line_endings_are_kept_and_reported_as_cron_sees_them() -> None:
    crontab = corpus("windows-crlf")
    (entry,) = crontab.entries
    assert entry.text == "15 1 * * * root /usr/local/bin/report.sh\r"
    assert entry.command == "/usr/local/bin/report.sh\r"  # what cron runs, and why it fails
    assert crontab.settings[0].value == "/bin/bash"  # cron trims the "\r" from an unquoted value
    (problem,) = crontab.problems
    assert problem.line == 3 and "carriage return" in problem.message


def test_binary_data_is_a_problem_where_debian_cron_rejects_it() -> None:
    """As Debian cron 3.0pl1 does on the test fleet: a NUL byte outside a comment ends the line
    and what follows reads as a bad minute, so the file is ignored; other bytes pass through."""
    raw = (
        b"# caf\xe9 \x00\xff a comment may hold anything\n"
        b"* * * * * root echo caf\xe9\n"
        b"* * * * * root echo a\x00b\n"
        b"\x00\x01\x02\xff\xfe\n"
        b"FOO=a\x00b\n"
        b"\x1a\x89\x07 x\n"
        b"* * * * * root echo \x01 still runs\n"
    )
    crontab = parse_system(raw.decode("utf-8", "surrogateescape"))
    problems = {problem.line: problem.message for problem in crontab.problems}
    assert sorted(problems) == [3, 4, 5, 6]
    assert all(message.startswith("binary data") for message in problems.values())
    assert "NUL" in problems[3] and "bad minute" in problems[3]
    assert "control bytes" in problems[6] and "cron rejects" in problems[6]
    assert [(e.line, e.command.encode("utf-8", "surrogateescape")) for e in crontab.entries] == [
        (2, b"echo caf\xe9"),
        (7, b"echo \x01 still runs"),
    ]
    assert crontab.text.encode("utf-8", "surrogateescape") == raw


@pytest.mark.parametrize("name", ["no-final-newline", "grace"])
def test_last_job_line_without_newline_is_rejected(name: str) -> None:
    crontab = corpus(name)
    assert [problem.line for problem in crontab.problems] == [2]
    assert "no newline" in crontab.problems[0].message
    assert [entry.line for entry in crontab.entries] == [1]


@pytest.mark.parametrize(
    ("last", "rejected"),
    [
        ("MAILTO=ops", True),  # cron ignores the whole file for a setting as much as for a job
        ("# the end", False),
        ("#0 4 * * * /bin/disabled", False),
        ("   ", False),
    ],
)
def test_only_a_last_job_or_setting_needs_a_newline(last: str, rejected: bool) -> None:
    crontab = parse_crontab(
        f"0 3 * * * /bin/backup\n{last}", host="h", source="/x", kind="user", owner="alice"
    )
    assert [(p.line, p.message) for p in crontab.problems] == (
        [(2, NO_FINAL_NEWLINE)] if rejected else []
    )
    assert [e.line for e in crontab.entries] == [1] + ([2] if last.startswith("#0") else [])


def test_empty_and_comment_only_files() -> None:
    for name in ("erin", "frank", "rhel9-etc-crontab"):
        crontab = corpus(name)
        assert crontab.entries == [] and crontab.problems == []


# --- line by line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("A=b", "A", "b"),
        ("A = b c  ", "A", "b c"),
        ('A="  b "', "A", "  b "),
        ("A='b'  ", "A", "b"),
        ('"A B"=c', "A B", "c"),
        ("A=", "A", ""),
        ("A = ", "A", ""),
        ('A=""', "A", ""),
        ('A=b"c', "A", 'b"c'),
        ("A=b # c", "A", "b # c"),
        ("A=b\r", "A", "b"),
        ("  A=b", "A", "b"),
        ("A=b=c ", "A", "b=c"),
        ('A = "b=c" ', "A", "b=c"),
    ],
)
def test_env_lines_follow_crons_load_env(line: str, name: str, value: str) -> None:
    crontab = parse_user(line + "\n")
    assert [(setting.name, setting.value) for setting in crontab.settings] == [(name, value)]


@pytest.mark.parametrize("line", ['A="b" c', 'A="b', "A B=c", '"A=B"=c'])
def test_lines_cron_does_not_take_as_env_are_problems(line: str) -> None:
    crontab = parse_user(line + "\n")
    assert crontab.settings == [] and len(crontab.problems) == 1


@pytest.mark.parametrize(
    "comment",
    ["#0 3 * * * cmd", "# 0 3 * * * cmd", "##\t0 3 * * * cmd", "  # 0 3 * * * cmd", "#@daily cmd"],
)
def test_commented_out_job_lines_are_disabled_entries(comment: str) -> None:
    (entry,) = parse_user(comment + "\n").entries
    assert entry.disabled and entry.paused is None and entry.text == comment


@pytest.mark.parametrize(
    "comment",
    [
        "# m h  dom mon dow   command",
        "# run the backup at 5 every morning",
        "#PATH=/usr/bin:/bin",
        "# 0 5 * * 1 tar -zcf /var/backups/home.tgz /home/",
        "#0 3 * * 7-1 reversed range",
        "#",
    ],
)
def test_prose_and_broken_comments_are_not_entries(comment: str) -> None:
    crontab = parse_user(comment + "\n")
    assert crontab.entries == [] and crontab.problems == []


def test_commented_job_in_a_system_file_needs_a_user_field() -> None:
    assert parse_system("#0 3 * * * /bin/true\n").entries == []
    (entry,) = parse_system("#0 3 * * * root /bin/true\n").entries
    assert entry.user == "root" and entry.disabled


def test_user_is_the_owner_or_the_spool_file_name() -> None:
    text = "0 3 * * * /bin/true\n"
    assert parse_user(text, owner="bob").entries[0].user == "bob"
    unnamed = parse_crontab(text, host="h", source="/var/spool/cron/crontabs/carl", kind=USER)
    assert unnamed.entries[0].user == "carl"


def test_identical_lines_get_distinct_stable_ids_and_editing_the_schedule_keeps_the_id() -> None:
    text = "0 3 * * * /bin/backup\n0 3 * * * /bin/backup\n"
    first, second = parse_user(text).entries
    assert first.id != second.id
    moved = parse_user(replace_line(text, 1, "30 4 * * * /bin/backup")).entries[0]
    assert moved.id == first.id


def test_kind_must_be_known() -> None:
    with pytest.raises(ValueError, match="kind"):
        parse_crontab("", host="h", source="/etc/crontab", kind="cron.d")


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("certbot", False),
        ("e2scrub_all", False),
        ("php8-2", False),
        ("0hourly", False),
        ("backup.sh", True),
        ("certbot.dpkg-old", True),
        ("certbot.dpkg-dist", True),
        ("backup~", True),
        (".placeholder", True),
        ("#backup#", True),
        ("my backup", True),
        ("", True),
    ],
)
def test_cron_d_file_ignored(name: str, ignored: bool) -> None:
    assert cron_d_file_ignored(name) is ignored


# --- line surgery -------------------------------------------------------------------------


def test_replace_line_keeps_terminators_and_other_bytes() -> None:
    lines = ["A=1\r\n", "0 3 * * * /bin/x\n", "\t# note  \n", "30 4 * * * /bin/last"]
    text = "".join(lines)
    assert replace_line(text, 2, "5 3 * * * /bin/x") == text.replace("0 3", "5 3")
    assert replace_line(text, 4, "@daily /bin/last") == "".join([*lines[:3], "@daily /bin/last"])
    # The "\r" of a CRLF line is part of the line's text, as cron reads it.
    assert replace_line(text, 1, "A=2") == "".join(["A=2\n", *lines[1:]])


def test_replace_line_refuses_bad_input() -> None:
    with pytest.raises(IndexError):
        replace_line("a\nb\n", 3, "c")
    with pytest.raises(IndexError):
        replace_line("a\n", 0, "c")
    with pytest.raises(ValueError, match="single line"):
        replace_line("a\n", 1, "b\nc")


def test_pause_marker_reads_well_and_round_trips() -> None:
    text = "0 3 * * * /bin/backup\n"
    paused = pause_line(text, 1, MARKER)
    assert paused == (
        "#cronops:paused by=alice at=2026-03-01T10:00:00Z until=2026-03-08T00:00:00Z "
        "reason=disk%20full%20on%20db1%20%23%20100%25%20used #0 3 * * * /bin/backup\n"
    )
    assert paused_info(line_text(paused, 1)) == MARKER
    assert paused_info(paused) == MARKER
    assert resume_line(paused, 1) == text


def test_pause_and_resume_refuse_the_wrong_state() -> None:
    paused = pause_line("0 3 * * * /bin/x\n", 1, MARKER)
    with pytest.raises(ValueError, match="already paused"):
        pause_line(paused, 1, MARKER)
    with pytest.raises(ValueError, match="not paused"):
        resume_line("0 3 * * * /bin/x\n", 1)
    assert paused_info("#0 3 * * * /bin/x") is None


def test_hand_edited_marker_still_resumes() -> None:
    text = "#cronops:paused by=bob at=yesterday #0 3 * * * /bin/x\n"
    (entry,) = parse_user(text).entries
    assert entry.paused == PauseInfo(by="bob", at=None)
    assert resume_line(text, 1) == "0 3 * * * /bin/x\n"


def test_paused_entry_keeps_its_id_env_and_line() -> None:
    text = "MAILTO=ops\n0 3 * * * /bin/backup\n"
    before = parse_user(text).entries[0]
    after = parse_user(pause_line(text, 2, MARKER)).entries[0]
    assert (after.id, after.line, after.env, after.schedule) == (
        before.id,
        before.line,
        before.env,
        before.schedule,
    )
    assert after.disabled and not before.disabled


# --- properties ---------------------------------------------------------------------------

CRONTAB_ALPHABET = st.sampled_from(list(" \t\r#*/-,@=\"'%\\~?LW0123456789abcmonjanroot:é"))
CORPUS_LINES = sorted({line for path in CORPUS_FILES for line in read(path).split("\n")})
LINES = st.one_of(
    st.sampled_from(CORPUS_LINES),
    st.text(CRONTAB_ALPHABET, max_size=40),
    st.text(st.characters(exclude_characters="\n"), max_size=30),
)
CRONTAB_TEXT = st.one_of(
    st.lists(LINES, max_size=12).map("\n".join),
    st.lists(LINES, max_size=12).map(lambda lines: "\n".join(lines) + "\n"),
    st.text(),
    # any bytes at all, read as the probe reads a file
    st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)


@given(CRONTAB_TEXT, st.sampled_from([USER, SYSTEM]))
def test_parse_never_raises_and_drops_nothing(text: str, kind: str) -> None:
    crontab = parse_crontab(text, host="h", source="/etc/cron.d/x", kind=kind, owner="root")
    assert crontab.text == text
    assert_every_line_accounted_for(crontab)


@given(CRONTAB_TEXT, st.data())
def test_resume_inverts_pause_on_any_line(text: str, data: st.DataObject) -> None:
    count = len(text.split("\n")) - (text.endswith("\n") or text == "")
    if count == 0:
        return
    line = data.draw(st.integers(1, count))
    if paused_info(line_text(text, line)):
        return
    paused = pause_line(text, line, MARKER)
    assert resume_line(paused, line) == text
    assert paused.split("\n")[: line - 1] == text.split("\n")[: line - 1]


@given(CRONTAB_TEXT, st.text(st.characters(exclude_characters="\n")), st.data())
def test_replace_line_changes_exactly_one_line(text: str, new: str, data: st.DataObject) -> None:
    old_lines = text.split("\n")
    count = len(old_lines) - (text.endswith("\n") or text == "")
    if count == 0:
        return
    line = data.draw(st.integers(1, count))
    new_lines = replace_line(text, line, new).split("\n")
    assert len(new_lines) == len(old_lines)
    assert new_lines[line - 1] == new
    assert new_lines[: line - 1] + new_lines[line:] == old_lines[: line - 1] + old_lines[line:]


@given(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text(max_size=40).filter(lambda original: "\n" not in original),
)
def test_any_marker_round_trips(by: str, reason: str, original: str) -> None:
    marker = PauseInfo(by=by, at=datetime(2026, 1, 1, tzinfo=UTC), reason=reason)
    if not original or paused_info(original):
        return
    paused = pause_line(original, 1, marker)
    assert paused_info(paused) == marker
    assert resume_line(paused, 1) == original


def test_cronie_no_logging_prefix() -> None:
    (entry,) = parse_system("-*/10 * * * * root /bin/poll\n").entries
    assert entry.log_off and entry.schedule == "*/10 * * * *" and entry.command == "/bin/poll"
    assert parse_user("-0 5 * * * /bin/x\n", owner="root").entries[0].log_off
    unnamed = parse_crontab(
        "-0 5 * * * /bin/x\n", host="h", source="/var/spool/cron/bob", kind=USER
    )
    assert "only root" in unnamed.problems[0].message
    assert "bad minute" in parse_system("--0 5 * * * root /bin/x\n").problems[0].message


def test_a_line_seen_before_is_read_again_for_its_kind_and_owner() -> None:
    # Lines are read through a cache: the same text must still depend on the kind and the owner.
    line = "-0 5 * * * root /bin/x\n"
    for _ in range(2):
        assert parse_user(line, owner="root").entries[0].command == "root /bin/x"
        assert "only root" in parse_user(line, owner="bob").problems[0].message
        assert parse_system(line).entries[0].user == "root"
        assert parse_user(line, owner="root") == parse_user(line, owner="root")


@pytest.mark.parametrize(
    ("command", "as_run", "stdin"),
    [
        ("date +%Y", "date +", "Y\n"),
        (r"date +\%Y", "date +%Y", None),
        ('echo "a #1" \\% done', 'echo "a #1" % done', None),
        ("mail -s hi root%line one%line two", "mail -s hi root", "line one\nline two\n"),
        ("printf '\\\\%'", "printf '\\\\", "'\n"),  # an escaped backslash does not escape the %
        ("no percent at all", "no percent at all", None),
        # the input: \% is a %, other backslashes stay, no second newline after a final %
        (r"cat%100\% sure%a\b%", "cat", "100% sure\na\\b\n"),
        ("cat%", "cat", ""),
        ("cat%x\\", "cat", "x\\\n"),
    ],
)
def test_split_percent_as_cron_does(command, as_run, stdin):
    assert split_percent(command) == (as_run, stdin)


@pytest.mark.parametrize("size", [0, CACHED_CRONTAB_CHARS])
def test_hosts_with_the_same_crontab_each_get_their_own(size):
    """What cron makes of a text is read once for every host holding it: each host still gets
    its own entries (its name, its ids) and lists of its own, a big crontab as a small one."""
    job = "0 3 * * * root /bin/job"
    text = f"# {'x' * size}\nMAILTO=ops\n{job}\n{job}\n61 * * * * root bad\n"
    one, two = (
        parse_crontab(text, host=host, source="/etc/cron.d/app", kind="system")
        for host in ("one", "two")
    )
    assert [p.line for p in one.problems] == [5] and one.problems == two.problems
    assert [s.name for s in one.settings] == ["MAILTO"] and one.settings == two.settings
    for crontab in (one, two):
        assert [(e.host, e.user, e.command, e.line) for e in crontab.entries] == [
            (crontab.host, "root", "/bin/job", 3),
            (crontab.host, "root", "/bin/job", 4),
        ]
        assert [e.id for e in crontab.entries] == [
            entry_id(crontab.host, "/etc/cron.d/app", "root", "/bin/job", n) for n in (0, 1)
        ]
    one.entries.clear()
    one.problems.clear()
    again = parse_crontab(text, host="one", source="/etc/cron.d/app", kind="system")
    assert len(again.entries) == 2 and again.problems == two.problems
