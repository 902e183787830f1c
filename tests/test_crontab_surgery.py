"""Properties of the line surgery (pause, resume, edit) over every entry of the crontab corpus.

Each edit must change exactly one line and leave every other byte, entry, setting and problem as
it was. The corpus is read as bytes with surrogateescape, as cronops reads crontabs from hosts.
"""

from __future__ import annotations

import operator
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cronops.crontab import (
    KINDS,
    PAUSE_PREFIX,
    SYSTEM,
    USER,
    Crontab,
    Entry,
    PauseInfo,
    edit_line,
    parse_crontab,
    pause_line,
    replace_line,
    resume_line,
)
from cronops.schedule import split_schedule, validate

CORPUS = Path(__file__).parent / "data" / "crontabs"
SURGERY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def corpus_files() -> list[Path]:
    """Both layouts: `KIND-OWNER-what` files at the top, and the older `KIND/NAME` folders."""
    flat = [path for path in CORPUS.iterdir() if path.name.startswith(("system-", "user-"))]
    nested = [path for path in CORPUS.glob("*/*") if path.parent.name in KINDS]
    return sorted(flat + nested)


def kind_and_owner(path: Path) -> tuple[str, str | None]:
    if path.parent != CORPUS:
        return path.parent.name, path.name if path.parent.name == USER else None
    kind, _, rest = path.name.partition("-")
    return kind, rest.split("-")[0] if kind == USER else None


def load(path: Path) -> Crontab:
    kind, owner = kind_and_owner(path)
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    source = f"/var/spool/cron/crontabs/{owner}" if owner else f"/etc/cron.d/{path.name}"
    return parse_crontab(text, host="web1", source=source, kind=kind, owner=owner)


def reparse(text: str, like: Crontab) -> Crontab:
    return parse_crontab(text, host=like.host, source=like.source, kind=like.kind, owner=like.owner)


CRONTABS = {str(path.relative_to(CORPUS)): load(path) for path in corpus_files()}
ENTRIES = [(name, entry.line) for name, crontab in CRONTABS.items() for entry in crontab.entries]
ACTIVE = [
    (name, entry.line)
    for name, crontab in CRONTABS.items()
    for entry in crontab.entries
    if not entry.disabled
]


def at_line(crontab: Crontab, line: int) -> Entry:
    (entry,) = [entry for entry in crontab.entries if entry.line == line]
    return entry


def others(crontab: Crontab, line: int) -> list[Entry]:
    return [entry for entry in crontab.entries if entry.line != line]


def assert_only_line_changed(before: str, after: str, line: int, new_line: str) -> None:
    """Line `line` is `new_line` now, and every byte before and after it is as it was."""
    old_lines, new_lines = before.split("\n"), after.split("\n")
    assert len(new_lines) == len(old_lines)
    assert new_lines[line - 1] == new_line
    assert new_lines[: line - 1] == old_lines[: line - 1]
    assert new_lines[line:] == old_lines[line:]
    start = sum(len(piece) + 1 for piece in old_lines[: line - 1])
    old_end = start + len(old_lines[line - 1])
    assert after[:start] == before[:start]
    assert after[start + len(new_line) :] == before[old_end:]
    # What goes back to the host is bytes: the edit must not add anything that cannot be written.
    assert after.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") == after


def test_the_corpus_has_both_kinds_and_plenty_of_entries() -> None:
    kinds = {crontab.kind for crontab in CRONTABS.values()}
    assert kinds == set(KINDS)
    assert len(CRONTABS) >= 30 and len(ACTIVE) >= 100
    assert any("\udcff" in crontab.text for crontab in CRONTABS.values())  # not UTF-8


# --- strategies ---------------------------------------------------------------------------

NASTY = st.sampled_from(
    [
        *(" ", "\t", "\n", "\r", "\r\n", "#", " #", "%", "%20", "\\%", "=", "a=b", '"', "'"),
        *(
            "`id`",
            "$(rm -rf /)",
            ";",
            "&&",
            "é",
            "日本",
            "🚀",
            "\x00",
            "\u2028",
            "\udcff",
            "\ud800",
        ),
        *(PAUSE_PREFIX, f"{PAUSE_PREFIX} by=x #", "reason=", "2026-01-01T00:00:00Z"),
    ]
)
ANY_TEXT = st.lists(st.one_of(st.characters(), NASTY), max_size=12).map("".join)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=9, minutes=30))]
)
MOMENTS = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=ZONES
)
PAUSE_INFOS = st.builds(PauseInfo, by=ANY_TEXT, at=MOMENTS, reason=ANY_TEXT, until=MOMENTS)

BLANKS = st.sampled_from([" ", "  ", "\t", " \t ", "\t\t"])
EDGES = st.sampled_from(["", " ", "\t", "  \t"])


def time_field(
    low: int, high: int, names: tuple[str, ...] = (), base: int = 0
) -> st.SearchStrategy:
    number = st.integers(low, high)
    bounds = st.tuples(number, number).map(sorted)
    step = st.integers(1, high + 1)
    elements = [
        st.just("*"),
        number.map(str),
        bounds.map(lambda pair: f"{pair[0]}-{pair[1]}"),
        step.map(lambda n: f"*/{n}"),
        st.tuples(bounds, step).map(lambda p: f"{p[0][0]}-{p[0][1]}/{p[1]}"),
    ]
    if names:
        spellings = st.sampled_from(names).flatmap(
            lambda name: st.sampled_from([name, name.upper(), name.title()])
        )
        elements.append(spellings)
    return st.lists(st.one_of(elements), min_size=1, max_size=3).map(",".join)


FIVE_FIELDS = st.tuples(
    time_field(0, 59),
    time_field(0, 23),
    time_field(1, 31),
    time_field(1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct")),
    time_field(0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
NICKNAMES = st.sampled_from(
    ["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]
)
SCHEDULES = st.one_of(
    st.tuples(EDGES, NICKNAMES, EDGES).map("".join),
    st.tuples(EDGES, FIVE_FIELDS, st.lists(BLANKS, min_size=4, max_size=4), EDGES).map(
        lambda p: p[0] + "".join(f + b for f, b in zip(p[1], [*p[2], ""], strict=True)) + p[3]
    ),
)

# A command's first word never looks like a time field or starts with "=": see test (c) for those.
COMMAND_HEADS = st.sampled_from(
    [
        *("/usr/local/bin/job", "echo ", "printf '%s\\n' ", 'sh -c "', "$(command -v backup)"),
        *("`which run`", "cd /tmp && ", "café", "日本語 ", "a", "[ -x /bin/x ] && ", "'quoted'"),
        *("\\%", "%stdin-only", "#shell-comment", "x\t"),
    ]
)
METACHARS = st.sampled_from(
    [
        *"\"'`$();&|<>%\\#*?~!{}[]=\t @",
        *("\\%", "$(date +%F)", "`id`", "&&", "||", " #", "2>&1"),
        *("日本語", "é", "🚀", "\u00a0", "\udcff", "\x0b", "\x0c"),
    ]
)
COMMAND_TAILS = st.lists(
    # A NUL is refused (test_edit_line_refuses): cron cuts the line there and rejects the rest.
    st.one_of(st.characters(exclude_characters="\n\r\0", exclude_categories=("Cs",)), METACHARS),
    max_size=30,
).map("".join)
COMMANDS = st.builds(operator.add, COMMAND_HEADS, COMMAND_TAILS)


# --- (a) pause and resume -----------------------------------------------------------------


def unpaused(crontab: Crontab, line: int) -> Crontab:
    """The crontab with this entry resumed if cronops had paused it, so it can be paused again."""
    if at_line(crontab, line).paused is None:
        return crontab
    return reparse(resume_line(crontab.text, line), crontab)


def check_pause(crontab: Crontab, line: int, info: PauseInfo) -> None:
    base = unpaused(crontab, line)
    entry = at_line(base, line)
    paused = pause_line(base.text, line, info)
    assert resume_line(paused, line) == base.text
    assert_only_line_changed(base.text, paused, line, info.marker() + entry.text)

    again = reparse(paused, base)
    twin = at_line(again, line)
    assert twin.paused == info and twin.disabled
    assert replace(twin, text=entry.text, disabled=entry.disabled, paused=None) == entry
    assert others(again, line) == others(base, line)
    assert (again.settings, again.problems) == (base.settings, base.problems)
    assert again.header_lines == base.header_lines


@SURGERY
@given(st.sampled_from(ENTRIES), PAUSE_INFOS)
def test_pause_then_resume_is_the_identity(where: tuple[str, int], info: PauseInfo) -> None:
    check_pause(CRONTABS[where[0]], where[1], info)


NASTY_PAUSE = PauseInfo(
    by="ops team\n#1",
    at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    reason='disk "full" # 100% \\% $(df -h) `id`\r\nnext line é 🚀 \udcff',
    until=datetime(2026, 3, 8, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
)


@pytest.mark.parametrize("name", sorted(CRONTABS))
def test_every_entry_pauses_and_resumes(name: str) -> None:
    for entry in CRONTABS[name].entries:
        check_pause(CRONTABS[name], entry.line, NASTY_PAUSE)


@SURGERY
@given(PAUSE_INFOS)
def test_a_marker_is_one_line_of_printable_ascii(info: PauseInfo) -> None:
    marker = info.marker()
    assert re.fullmatch(re.escape(PAUSE_PREFIX) + r"(?: [a-z]+=[!-~]*)* #", marker), marker


# --- (b) edit -----------------------------------------------------------------------------


def head_pattern(kind: str) -> re.Pattern[str]:
    """A job line less its command, read by a regex rather than by the parser's tokenizer."""
    fields = r"(?P<schedule>@[^ \t]+|(?:[^ \t]+[ \t]+){4}[^ \t]+)(?P<gap>[ \t]+)"
    user = r"(?P<user>[^ \t]+[ \t]+)" if kind == SYSTEM else r"(?P<user>)"
    return re.compile(r"(?P<lead>[ \t]*-?)" + fields + user)


def expected_line(entry: Entry, kind: str, schedule: str | None, command: str | None) -> str:
    head = head_pattern(kind).fullmatch(entry.text[: len(entry.text) - len(entry.command)])
    assert head, entry.text
    written = head["schedule"]
    if schedule is not None:
        new, old = split_schedule(schedule), re.split(r"([ \t]+)", written)
        if len(new) == len(old[::2]):
            old[::2] = new
            written = "".join(old)
        else:
            written = " ".join(new)
    tail = entry.command if command is None else command
    return head["lead"] + written + head["gap"] + head["user"] + tail


def check_edit(crontab: Crontab, line: int, schedule: str | None, command: str | None) -> None:
    entry = at_line(crontab, line)
    new_schedule = entry.schedule if schedule is None else " ".join(split_schedule(schedule))
    new_command = entry.command if command is None else command
    if (new_schedule, new_command) == (entry.schedule, entry.command):
        with pytest.raises(ValueError, match="nothing would change"):
            edit_line(entry.text, crontab.kind, schedule=schedule, command=command)
        return
    new_line = edit_line(entry.text, crontab.kind, schedule=schedule, command=command)
    assert new_line == expected_line(entry, crontab.kind, schedule, command)
    text = replace_line(crontab.text, line, new_line)
    assert_only_line_changed(crontab.text, text, line, new_line)

    again = reparse(text, crontab)
    edited = at_line(again, line)
    assert (edited.schedule, edited.command, edited.text) == (new_schedule, new_command, new_line)
    assert edited == replace(
        entry, id=edited.id, schedule=new_schedule, command=new_command, text=new_line
    )
    if new_command == entry.command:
        assert edited.id == entry.id  # a schedule edit keeps the entry's id
    # Other entries are untouched; only the ids of duplicates of the old or new command may shift.
    moved = {(entry.user, entry.command), (entry.user, new_command)}
    for before, after in zip(others(crontab, line), others(again, line), strict=True):
        assert replace(after, id=before.id) == before
        assert after.id == before.id or (before.user, before.command) in moved
    assert (again.settings, again.problems) == (crontab.settings, crontab.problems)
    assert again.header_lines == crontab.header_lines


@SURGERY
@given(st.sampled_from(ACTIVE), st.none() | SCHEDULES, st.none() | COMMANDS)
def test_edit_changes_exactly_the_schedule_and_command(
    where: tuple[str, int], schedule: str | None, command: str | None
) -> None:
    assume(schedule is not None or command is not None)
    assert schedule is None or validate(schedule) is None, schedule
    check_edit(CRONTABS[where[0]], where[1], schedule, command)


@pytest.mark.parametrize("name", sorted(CRONTABS))
def test_every_active_entry_takes_a_new_schedule_and_command(name: str) -> None:
    crontab = CRONTABS[name]
    for entry in crontab.entries:
        if entry.disabled:
            continue
        other_shape = "0 3 * * 1-5" if entry.schedule.startswith("@") else "@daily"
        check_edit(crontab, entry.line, other_shape, None)
        check_edit(crontab, entry.line, "5\t4\t*\t*\tsun", None)
        check_edit(crontab, entry.line, None, 'printf "%s\\n" \\% $(date +\\%F) `id` # é  ')
        check_edit(crontab, entry.line, " @hourly ", "/bin/true")


# --- (c) what edit_line refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "change", "message"),
    [
        ("", USER, {"command": "x"}, "blank"),
        (" \t ", USER, {"command": "x"}, "blank"),
        ("# nightly backups", USER, {"command": "x"}, "a comment, not a job"),
        ('MAILTO=""', USER, {"command": "x"}, "sets MAILTO; it is not a job"),
        ("#0 3 * * * /bin/x", USER, {"command": "x"}, "commented out"),
        ("#0 3 * * * root /bin/x", SYSTEM, {"command": "x"}, "commented out"),
        (f"{PAUSE_PREFIX} by=bob #0 3 * * * /bin/x", USER, {"command": "x"}, "paused by cronops"),
        ("0 0 L * * /bin/x", USER, {"command": "x"}, "no job to edit: bad day-of-month 'L'"),
        ("0 3 * * * /bin/x", SYSTEM, {"command": "x"}, "is the user field missing"),
        ("\r", USER, {"command": "x"}, "carriage return"),
        ("0 3 * * * /bin/x\n0 4 * * * /bin/y", USER, {"command": "x"}, "single line"),
        ("0 3 * * * /bin/x", "cron.d", {"command": "x"}, "kind must be one of"),
        ("0 3 * * * /bin/x", USER, {}, "nothing to change"),
        ("0 3 * * * /bin/x", USER, {"schedule": "0  3 * * *"}, "nothing would change"),
        ("0 3 * * * /bin/x", USER, {"schedule": "0 3 * * *", "command": "/bin/x"}, "nothing would"),
        ("0 3 * * * /bin/x", USER, {"schedule": ""}, "invalid schedule '': empty schedule"),
        ("0 3 * * * /bin/x", USER, {"schedule": "0 3 * * * *"}, "expected 5 time fields, got 6"),
        ("0 3 * * * /bin/x", USER, {"schedule": "0 0 L * *"}, "'L' \\(last\\)"),
        ("0 3 * * * /bin/x", USER, {"schedule": "@every 5m"}, "unknown nickname '@every'"),
        ("0 3 * * * /bin/x", USER, {"schedule": "@daily /bin/y"}, "nothing may follow"),
        ("0 3 * * * /bin/x", USER, {"schedule": "0 3\n* * *"}, "invalid schedule"),
        ("0 3 * * * /bin/x", USER, {"command": ""}, "the command is empty"),
        ("0 3 * * * /bin/x", USER, {"command": " \t "}, "the command is empty"),
        ("0 3 * * * /bin/x", USER, {"command": "a\nb"}, "single line"),
        ("0 3 * * * /bin/x", USER, {"command": "/bin/x\r"}, "single line"),
        ("0 3 * * * /bin/x", USER, {"command": " /bin/y"}, "starts with a blank"),
        ("0 3 * * * /bin/x", USER, {"command": "/bin/y\0z"}, "NUL byte"),
        ("0 3 * * * /bin/x", USER, {"command": "5 /bin/y"}, "6 time fields"),
        ("@daily /bin/x", USER, {"command": "mon /bin/y"}, "6 time fields"),
        ("@daily /bin/x", USER, {"command": "=y"}, "as the setting @daily=y, not a job"),
    ],
)
def test_edit_line_refuses(text: str, kind: str, change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        edit_line(text, kind, **change)


def test_a_system_line_takes_a_time_like_command_after_its_user() -> None:
    assert edit_line("0 3 * * * root /bin/x", SYSTEM, command="5 y") == "0 3 * * * root 5 y"


def test_edit_keeps_the_line_around_the_changed_fields() -> None:
    debian = "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly"
    assert edit_line(debian, SYSTEM, schedule="@hourly") == (
        "@hourly\troot    cd / && run-parts --report /etc/cron.hourly"
    )
    assert edit_line(debian, SYSTEM, schedule="5 *  * * 1") == (
        "5 *\t* * 1\troot    cd / && run-parts --report /etc/cron.hourly"
    )
    assert edit_line("  @daily \t /bin/x", USER, schedule="0\t3 * * *") == "  0 3 * * * \t /bin/x"
    assert edit_line(
        "-*/10 * * * * root /bin/poll", SYSTEM, command="/bin/poll -v %in\\%put  "
    ) == ("-*/10 * * * * root /bin/poll -v %in\\%put  ")
    # A CRLF line's "\r" is the end of its command: a new command drops it, a new schedule keeps it.
    assert edit_line("0 3 * * * /bin/x\r", USER, command="/bin/y") == "0 3 * * * /bin/y"
    assert edit_line("0 3 * * * /bin/x\r", USER, schedule="@daily") == "@daily /bin/x\r"


def test_every_line_that_is_not_an_active_job_is_refused() -> None:
    for crontab in CRONTABS.values():
        jobs = {entry.line: entry for entry in crontab.entries}
        for number, content in enumerate(crontab.text.split("\n"), start=1):
            entry = jobs.get(number)
            if entry is not None and not entry.disabled:
                continue
            if number == len(crontab.text.split("\n")) and entry is None and content:
                continue  # a last job line without "\n" is a problem only in its file
            if any("only root" in p.message for p in crontab.problems if p.line == number):
                # edit_line does not know the owner: it keeps cronie's "-" as it was.
                assert edit_line(content, crontab.kind, command="/bin/true").startswith("-")
                continue
            with pytest.raises(ValueError) as refused:
                edit_line(content, crontab.kind, command="/bin/true")
            message = str(refused.value)
            if entry is not None:
                assert ("paused" if entry.paused else "commented out") in message
            elif any(setting.line == number for setting in crontab.settings):
                assert "it is not a job" in message
            elif any(problem.line == number for problem in crontab.problems):
                assert "no job to edit" in message
            else:
                assert "blank" in message or "comment" in message


@SURGERY
@given(
    st.sampled_from(ACTIVE),
    st.none() | st.text(max_size=30) | SCHEDULES,
    st.none() | st.text(max_size=30) | COMMANDS,
)
def test_edit_line_refuses_or_does_exactly_what_was_asked(
    where: tuple[str, int], schedule: str | None, command: str | None
) -> None:
    crontab = CRONTABS[where[0]]
    try:
        edit_line(at_line(crontab, where[1]).text, crontab.kind, schedule=schedule, command=command)
    except ValueError:
        return
    check_edit(crontab, where[1], schedule, command)
