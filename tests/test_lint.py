"""Crontab lint on real crontab lines: each rule, what it says cron does, and what it leaves alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cronops import crontab
from cronops.cli import main
from cronops.crontab import StoredCrontab, command_lookup
from cronops.lint import (
    CRON_TZ_IGNORED,
    DAYS_EITHER,
    DST_GAP,
    DST_REPEAT,
    IGNORED_FILE,
    NO_NEWLINE,
    NOT_ON_PATH,
    PERCENT,
    REJECTED,
    RULES,
    LintNote,
    lint_host,
)
from tests import history

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SPOOL = "/var/spool/cron/crontabs/root"


def lint(
    text: str,
    *,
    path: str = SPOOL,
    zone: ZoneInfo = BERLIN,
    family: str | None = "debian",
    now: datetime = NOW,
) -> list[LintNote]:
    kind = "system" if path.startswith("/etc/") else "user"
    owner = None if kind == "system" else path.rsplit("/", 1)[-1]
    return lint_host([StoredCrontab("db1", path, kind, owner, text)], zone, family, now)


def rules(notes: list[LintNote]) -> list[tuple[int | None, str]]:
    return [(note.line, note.rule) for note in notes]


def test_a_clean_crontab_has_nothing_to_say():
    text = (
        "# m h dom mon dow command\n"
        "MAILTO=ops@example.com\n"
        "*/5 * * * * /usr/local/bin/healthcheck --quiet\n"
        "0 4 * * * /usr/local/bin/backup \\%Y\n"
        "0 0 1 * * /usr/sbin/logrotate-monthly\n"
        "0 0 */2 * 5 /bin/every-other-day-and-friday\n"
        "@reboot /usr/local/bin/warm-cache\n"
    )
    assert lint(text) == []


def test_every_rule_has_a_summary():
    notes = lint("0 0 13 * 5 /bin/friday\n61 * * * * /never\n")
    assert {note.rule for note in notes} <= set(RULES)


# -- lines cron rejects, and the final newline -----------------------------------------------


def test_a_line_cron_rejects_says_the_whole_file_goes_with_it():
    (note,) = lint(
        "# a typo Debian cron rejects\n61 * * * * root /usr/local/bin/never\n",
        path="/etc/cron.d/broken",
    )
    assert (note.line, note.rule, note.text) == (
        2,
        REJECTED,
        "61 * * * * root /usr/local/bin/never",
    )
    assert "61" in note.message and "ignores the whole file" in note.message


@pytest.mark.parametrize(
    "line", ["0 0 ? * MON-FRI /bin/quartz", "0 0 4 * * * /bin/six-fields", "@every5m /bin/go"]
)
def test_foreign_syntax_is_a_rejected_line(line: str):
    assert rules(lint(f"{line}\n")) == [(1, REJECTED)]


def test_a_last_job_line_without_a_newline_costs_the_whole_file():
    (note,) = lint('MAILTO=""\n*/10 * * * * /opt/sync/run.sh')
    assert (note.line, note.rule) == (2, NO_NEWLINE)
    assert "ignores this whole file" in note.message and "crontab -" in note.message


def test_a_last_comment_without_a_newline_is_only_a_hazard():
    (note,) = lint("0 3 * * * /usr/bin/certbot renew\n# managed by ansible")
    assert (note.line, note.rule, note.text) == (2, NO_NEWLINE, "# managed by ansible")
    assert "cron takes a last comment" in note.message and "echo >>" in note.message


# -- /etc/cron.d names cron never reads -------------------------------------------------------


@pytest.mark.parametrize("name", ["sync.dpkg-old", "backup.sh", "app~", ".hidden"])
def test_an_ignored_cron_d_name_is_one_note_for_the_file(name: str):
    text = "*/10 * * * * bob /opt/sync/run.sh\n0 0 13 * 5 root /bin/never-read\n"
    (note,) = lint(text, path=f"/etc/cron.d/{name}")
    assert (note.line, note.rule) == (None, IGNORED_FILE)
    assert "its 2 jobs never run" in note.message


def test_cronie_reads_dotted_cron_d_names():
    assert (
        lint("*/10 * * * * bob /opt/sync/run.sh\n", path="/etc/cron.d/sync.sh", family="cronie")
        == []
    )


# -- day of month OR day of week --------------------------------------------------------------


def test_both_day_fields_restricted_runs_on_either_with_the_next_dates():
    (note,) = lint("0 0 13 * 5 /usr/local/bin/friday-the-13th\n")
    assert note.rule == DAYS_EITHER and note.entry_id
    assert [f"{d:%a %d}" for d in note.dates] == ["Fri 11", "Sun 13", "Fri 18", "Fri 25", "Fri 01"]
    assert all(d.tzinfo == BERLIN and (d.hour, d.minute) == (0, 0) for d in note.dates)
    assert "Fri 2026-12-11, Sun 2026-12-13" in note.message


@pytest.mark.parametrize(
    "schedule", ["0 0 * * 5", "0 0 13 * *", "0 0 */2 * 5", "0 0 13 * */2", "@weekly", "@monthly"]
)
def test_a_day_field_starting_with_a_star_is_no_either(schedule: str):
    assert lint(f"{schedule} /bin/job\n") == []


# -- DST: a fixed time in the hour the clock skips or repeats ---------------------------------


def test_a_fixed_time_in_berlins_gap_and_repeat_names_the_dates_and_what_cron_does():
    gap, repeat = lint("30 2 * * * /usr/local/bin/backup --full\n")
    assert gap.rule == DST_GAP
    assert [d.isoformat() for d in gap.dates] == ["2027-03-28T03:00:00+02:00"]
    assert "on Sun 2027-03-28" in gap.message and "skips 02:00-03:00" in gap.message
    assert "runs it at 03:00 CEST" in gap.message
    assert repeat.rule == DST_REPEAT
    assert [d.isoformat() for d in repeat.dates] == ["2027-10-31T02:30:00+02:00"]
    assert "on Sun 2027-10-31" in repeat.message and "shows 02:00-03:00 twice" in repeat.message
    assert "once, the first time (02:30 CEST), not again at 02:30 CET" in repeat.message


def test_the_coming_repeat_counts_before_the_gap_of_next_spring():
    autumn = datetime(2026, 10, 1, tzinfo=UTC)
    gap, repeat = lint("0 2 * * 0 /bin/weekly\n", now=autumn)
    assert gap.dates[0].date().isoformat() == "2027-03-28"
    assert repeat.dates[0].date().isoformat() == "2026-10-25"


def test_two_times_in_one_gap_both_run_when_the_clock_lands():
    gap, _ = lint("0,30 2 * * * /bin/twice\n", now=datetime(2027, 1, 1, tzinfo=UTC))
    assert "02:00 and 02:30 never comes" in gap.message
    assert [d.isoformat() for d in gap.dates] == ["2027-03-28T03:00:00+02:00"] * 2


def test_new_yorks_repeated_hour_is_one_to_two():
    march = datetime(2026, 3, 1, tzinfo=UTC)
    (repeat,) = lint("30 1 * * 0 /bin/sunday\n", zone=NEW_YORK, now=march)  # the gap is 02:00
    assert repeat.rule == DST_REPEAT and repeat.dates[0].isoformat() == "2026-11-01T01:30:00-04:00"
    assert "not again at 01:30 EST" in repeat.message


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("*/10 2 * * * /bin/wildcard-minute\n", BERLIN),  # follows real time: no special case
        ("30 * * * * /bin/hourly\n", BERLIN),
        ("@hourly /bin/hourly\n", BERLIN),
        ("30 2 * * * /bin/backup\n", ZoneInfo("UTC")),
        ("30 2 * * * /bin/backup\n", ZoneInfo("Asia/Kolkata")),
        ("#30 2 * * * /bin/disabled\n", BERLIN),
        ("30 3 * * * /bin/after-the-gap\n", BERLIN),
    ],
)
def test_no_dst_note_where_cron_has_no_special_case(text: str, zone: ZoneInfo):
    assert lint(text, zone=zone) == []


def test_midnight_in_santiagos_gap():
    (gap,) = lint("@daily /bin/nightly\n", zone=ZoneInfo("America/Santiago"))
    assert gap.rule == DST_GAP and gap.dates[0].isoformat() == "2027-09-05T01:00:00-03:00"


def test_cronie_schedules_by_cron_tz_and_busybox_has_no_dst_rule():
    text = "CRON_TZ=America/New_York\n30 2 * * * /bin/backup\n"
    cronie = lint(text, family="cronie", zone=ZoneInfo("UTC"))
    assert [(n.rule, n.dates[0].isoformat()) for n in cronie] == [
        (DST_GAP, "2027-03-14T03:00:00-04:00")  # New York repeats 01:00-02:00, not 02:30
    ]
    assert lint("30 2 * * * /bin/backup\n", family="busybox") == []


# -- % and CRON_TZ ---------------------------------------------------------------------------


def test_an_unescaped_percent_says_what_cron_runs_and_feeds_it():
    (note,) = lint("0 5 * * * tar czf /backup/etc-$(date +%F).tgz /etc\n")
    assert (note.line, note.rule) == (1, PERCENT)
    assert "cron runs 'tar czf /backup/etc-$(date +'" in note.message
    assert "writes 'F).tgz /etc\\n' to its input" in note.message


def test_percent_is_noted_on_reboot_jobs_but_not_on_disabled_ones():
    assert rules(lint("@reboot echo %up\n#0 5 * * * date +%F\n")) == [(1, PERCENT)]


def test_cron_tz_on_debian_is_noted_at_its_line():
    text = "CRON_TZ=Asia/Tokyo\n0 9 * * 1-5 /opt/billing/invoice --send\n"
    (note,) = lint(text)
    assert (note.line, note.rule, note.text) == (1, CRON_TZ_IGNORED, "CRON_TZ=Asia/Tokyo")
    assert (
        note.message.startswith("Debian cron ignores CRON_TZ") and "Europe/Berlin" in note.message
    )
    (busybox,) = lint(text, family="busybox")
    assert busybox.message.startswith("busybox crond ignores CRON_TZ")
    assert lint(text, family="cronie") == []
    assert lint(text, family=None) == []  # unknown cron: nothing said


def test_notes_come_by_file_then_line():
    files = [
        StoredCrontab("db1", "/var/spool/cron/crontabs/root", "user", "root", "61 * * * * x\n"),
        StoredCrontab("db1", "/etc/cron.d/a.b", "system", None, "* * * * * root x\n"),
        StoredCrontab("db1", "/etc/cron.d/gone", "system", None, None),
        StoredCrontab("db1", "/etc/crontab", "system", None, "0 0 13 * 5 root x\n%\n"),
    ]
    notes = lint_host(files, BERLIN, "debian", NOW)
    assert [(n.path, n.line, n.rule) for n in notes] == [
        ("/etc/cron.d/a.b", None, IGNORED_FILE),
        ("/etc/crontab", 1, DAYS_EITHER),
        ("/etc/crontab", 2, REJECTED),
        ("/var/spool/cron/crontabs/root", 1, REJECTED),
    ]


# -- the command ------------------------------------------------------------------------------


def cronops(tmp_path, *args: str) -> int:
    inventory = history.inventory(tmp_path / "hosts.toml", "db1", "web1")
    return main([args[0], "--inventory", str(inventory), "--db", str(tmp_path / "h.db"), *args[1:]])


@pytest.fixture
def scanned(tmp_path):
    now = datetime.now(UTC)
    history.scan(
        tmp_path / "h.db",
        "db1",
        {
            f"{history.SPOOL}/root": "0 0 13 * 5 /bin/friday\n0 1 * * * echo \x1b]0;pwned\x07\n",
            "/etc/cron.d/sync.dpkg-old": "* * * * * root /bin/false\n",
        },
        now,
    )
    history.scan(tmp_path / "h.db", "web1", {f"{history.SPOOL}/root": "*/5 * * * * /bin/ok\n"}, now)
    return tmp_path


def test_lint_json_lists_each_note_and_exits_1(scanned, capsys):
    assert cronops(scanned, "lint", "--format", "json") == 1
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert [(n["host"], n["path"], n["line"], n["rule"]) for n in notes] == [
        ("db1", "/etc/cron.d/sync.dpkg-old", None, IGNORED_FILE),
        ("db1", f"{history.SPOOL}/root", 1, DAYS_EITHER),
    ]
    friday = notes[1]
    assert friday["text"] == "0 0 13 * 5 /bin/friday" and len(friday["dates"]) == 5
    first = datetime.fromisoformat(friday["dates"][0])
    assert (first.hour, first.utcoffset()) == (0, first.astimezone(BERLIN).utcoffset())


def test_lint_table_shows_host_text_made_visible(scanned, capsys):
    history.scan(
        scanned / "h.db", "web1", {f"{history.SPOOL}/root": "0 0 1 * 1 echo \x1b[2J\n"}, NOW
    )
    assert cronops(scanned, "lint", "--host", "web1") == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "echo \\x1b[2J" in out and "days-either" in out


def test_lint_exits_0_when_there_is_nothing_to_say(scanned, capsys):
    assert cronops(scanned, "lint", "--host", "web1") == 0
    assert "Nothing to point out in 1 crontab files" in capsys.readouterr().out


def test_lint_on_an_empty_history_says_to_scan_first(tmp_path, capsys):
    assert cronops(tmp_path, "lint", "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["notes"] == [] and "run `cronops scan` first" in err


def test_lint_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cronops(tmp_path, "lint", "--format", "markdown")
    assert exit_.value.code == 2
    (tmp_path / "bad.toml").write_text("[[hosts]]\nname = 1\n")
    assert main(["lint", "--inventory", str(tmp_path / "bad.toml")]) == 2


# -- a command not on cron's PATH -------------------------------------------------------------


def test_a_command_the_host_does_not_have_on_crons_path():
    text = (
        "0 4 * * * backup-all --full\n"
        "PATH=/opt/tools/bin:/usr/bin:/bin\n"
        "0 5 * * * report\n"
        "0 6 * * * /usr/local/bin/sweep\n"
        "0 7 * * * $HOME/bin/ignored; echo\n"
    )
    on_path = {
        ("/usr/bin:/bin", "backup-all"): False,
        ("/opt/tools/bin:/usr/bin:/bin", "report"): True,
        ("/opt/tools/bin:/usr/bin:/bin", "/usr/local/bin/sweep"): False,
    }
    stored = StoredCrontab("db1", SPOOL, "user", "root", text)
    notes = lint_host([stored], BERLIN, "debian", NOW, on_path)
    assert rules(notes) == [(1, NOT_ON_PATH), (4, NOT_ON_PATH)]
    assert "no 'backup-all' in cron's default PATH (/usr/bin:/bin)" in notes[0].message
    assert "the crontab's PATH (/opt/tools/bin:/usr/bin:/bin)" in notes[1].message
    # a command the last scan did not look up is not judged
    assert lint_host([stored], BERLIN, "debian", NOW) == []


def test_what_cron_looks_up_is_the_first_word_on_its_path():
    assert command_lookup("/usr/bin/backup --full", {}) == ("/usr/bin:/bin", "/usr/bin/backup")
    assert command_lookup("backup%stdin", {"PATH": "/x"}) == ("/x", "backup")
    for shell in ("$HOME/bin/x", "VAR=1 x", "(cd /tmp && x)", "'quoted' x", "[ -f x ] && y"):
        assert command_lookup(shell, {}) is None


# -- kept between judgements ------------------------------------------------------------------


def test_an_unchanged_crontab_is_not_linted_again_and_its_dates_still_move(monkeypatch):
    parsed = []
    parse = crontab.parse_crontab
    monkeypatch.setattr(
        crontab, "parse_crontab", lambda *a, **k: parsed.append(a) or parse(*a, **k)
    )
    text = "0 0 13 * 5 /usr/local/bin/kept-between-judgements\n30 2 * * * /bin/at-half-two\n"
    first = lint(text)
    later = lint(text, now=datetime(2026, 12, 12, tzinfo=UTC))
    assert len(parsed) == 1  # the second judgement reads what the first found
    assert rules(later) == rules(first) == [(1, DAYS_EITHER), (2, DST_GAP), (2, DST_REPEAT)]
    assert [f"{d:%a %d}" for d in later[0].dates][:2] == ["Sun 13", "Fri 18"]  # made at its time
    assert later == lint_host(
        [StoredCrontab("db1", SPOOL, "user", "root", text, seen_at=NOW, mtime=NOW)],
        BERLIN,
        "debian",
        datetime(2026, 12, 12, tzinfo=UTC),
    )  # a scan that finds the same bytes again is the same crontab to lint
    assert len(parsed) == 1
    changed = lint(text + "45 2 * * * /bin/new\n")
    assert len(parsed) == 2 and rules(changed)[-2:] == [(3, DST_GAP), (3, DST_REPEAT)]
    assert lint(text, zone=NEW_YORK) and len(parsed) == 3  # another zone is linted anew
