"""Text from a host never reaches the terminal raw: `visible` itself, then the CLI's tables,
Markdown, JSON and messages, and the TUI, over a history whose crontab holds escape sequences.

Without a fleet: the history is written through Store from a crontab parsed by the real parser;
tests/test_visible_fleet.py does the same end to end on a real host."""

from __future__ import annotations

import json
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from cronops import tables
from cronops.actions import Done, find_target
from cronops.audit import AuditResult
from cronops.cli import _output_sink, main
from cronops.crontab import parse_crontab
from cronops.inventory import Host, Inventory
from cronops.policy import PolicyBook
from cronops.records import Finding, JobEntry
from cronops.report import audit_markdown, print_json
from cronops.scan import HostScan, _entry_row
from cronops.store import Store, iso
from cronops.transport import Connector, HostStatus, Reply
from cronops.tui import CronopsApp
from cronops.tui.screens.actions import ConfirmScreen, RerunScreen
from cronops.tui.screens.detail import DetailScreen
from cronops.visible import HIDDEN, VisibleStream, visible
from tests.history import judge_stored
from tests.test_tui import rows, settle

NOW = datetime.now(UTC).replace(microsecond=0)
TITLE = "echo \x1b]0;owned\x07 title"  # sets the terminal window's title
CLEAR = "printf '\x1b[2J' cleared \u009b31m \u202eevil\u202c \x7f"  # C1 CSI, a bidi override, DEL
RAW_BYTE = "echo caf\udce9"  # 0xE9: Latin-1, not UTF-8, as surrogateescape keeps it
CRONTAB = f"# café, with a comment\n* * * * * {TITLE}\n*/5 * * * * {CLEAR}\n0 3 * * * {RAW_BYTE}\n"


def raw_controls(text: str) -> list[str]:
    """What a terminal could act on (or a reader be fooled by): any Cc but a newline, any Cf,
    a lone surrogate, a line or paragraph separator."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in HIDDEN]


# -- visible ---------------------------------------------------------------------------------------


def test_printable_text_is_unchanged_in_any_script_and_backslashes_stay():
    for text in (
        "/usr/bin/backup --full",
        "echo 'Grüße' ½ 東京 🙂",
        r"date +\%Y \\ \x1b",
        "a\xa0b",
    ):
        assert visible(text) == text
        assert visible(text, lines=True) == text


def test_escape_sequences_c1_controls_bidi_and_raw_bytes_show_as_escapes():
    assert visible(TITLE) == r"echo \x1b]0;owned\x07 title"
    assert visible(CLEAR) == r"printf '\x1b[2J' cleared \u009b31m \u202eevil\u202c \x7f"
    assert visible(RAW_BYTE) == r"echo caf\xe9"
    assert visible("\u2066x\u2069 \u200b \ufeff \u2028 \U000e0041") == (
        r"\u2066x\u2069 \u200b \ufeff \u2028 \U000e0041"
    )
    assert visible("\ud800") == r"\ud800"  # a lone surrogate that is no raw byte


def test_tab_and_newline_stay_only_where_the_view_has_lines():
    text = "a\tb\nc\rd\x00"
    assert visible(text) == r"a\tb\nc\rd\x00"
    assert visible(text, lines=True) == "a\tb\nc\\rd\\x00"


def test_every_hidden_code_point_is_escaped_and_the_result_is_printable():
    hidden = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in HIDDEN)
    shown = visible(hidden)
    assert shown.isascii() and shown.isprintable()
    assert visible(shown) == shown  # once is enough: a view may pass text on to another


def test_a_stream_keeps_a_character_cut_between_two_pieces_whole():
    stream = VisibleStream()
    pieces = [b"caf\xc3", b"\xa9 \x1b[2J\n", b"\xff\tend\n"]
    assert "".join(stream(p) for p in pieces) == "café \\x1b[2J\n\\xff\tend\n"


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """A history of host alpha, whose root crontab holds TITLE, CLEAR and RAW_BYTE, never run;
    returns a `cronops` runner. Wide columns, so no cell is cut short."""
    monkeypatch.setenv("COLUMNS", "300")
    db = tmp_path / "history.db"
    inventory = tmp_path / "hosts.toml"
    inventory.write_text('[[hosts]]\nname = "alpha"\naddress = "127.0.0.1"\nport = 1\n')
    source = "/var/spool/cron/crontabs/root"
    crontab = parse_crontab(CRONTAB, host="alpha", source=source, kind="user", owner="root")
    seen = iso(NOW - timedelta(days=2))
    store = Store(db)
    try:
        with store.transaction() as write:
            state = {"name": "alpha", "address": "127.0.0.1", "status": "ok", "zone": "UTC"}
            state |= {"scanned_at": iso(NOW), "ok_at": iso(NOW), "cron_running": 1}
            state |= {"coverage_start": seen, "logs": "/var/log/syslog", "ends_logged": 1}
            store.write_host_state(write, state)
            row = {"host": "alpha", "path": source, "kind": "user", "owner": "root"}
            store.write_crontabs(write, "alpha", [row | {"mtime": seen, "text": CRONTAB}], [], seen)
            store.write_entries(write, "alpha", [_entry_row(e) for e in crontab.entries], seen)
        (title,) = [e.id for e in crontab.entries if "owned" in e.command]
        store.record_action(
            {
                "at": iso(NOW),
                "actor": "root@here",
                "host": "alpha",
                "entry_id": title,
                "action": "edit",
                "before": f"* * * * * {TITLE}",
                "after": f"* * * * * {CLEAR}; {RAW_BYTE}",
                "result": "ok",
            }
        )
    finally:
        store.close()
    judge_stored(db, [Host("alpha", "127.0.0.1")], PolicyBook(), NOW)  # as its scan would

    def cronops(*args: str) -> int:
        return main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])

    cronops.title = title
    return cronops


def assert_shown(out: str) -> None:
    assert raw_controls(out) == []
    assert r"\x1b]0;owned\x07" in out and r"\x1b[2J" in out
    assert r"\u009b31m" in out and r"\u202eevil\u202c" in out
    assert r"echo caf\xe9" in out


def test_jobs_table_and_json(hostile, capsys):
    assert hostile("jobs") == 0
    assert_shown(capsys.readouterr().out)
    assert hostile("jobs", "--format", "json") == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and out.isascii()
    commands = {job["command"] for job in json.loads(out)["jobs"]}
    assert commands == {TITLE, CLEAR, RAW_BYTE}  # exactly as written, once decoded


def test_audit_table_markdown_and_json(hostile, capsys):
    for form in (("table", "--verbose"), ("markdown",)):
        hostile("audit", "--no-scan", "--since", "36h", "--format", *form)
        out = capsys.readouterr().out
        assert "never_ran" in out or "missed" in out
        assert_shown(out)
    hostile("audit", "--no-scan", "--since", "36h")  # one line a finding: the commands shortened
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and r"\x1b]0;owned" in out and r"echo caf\xe9" in out
    hostile("audit", "--no-scan", "--since", "36h", "--format", "json")
    out = capsys.readouterr().out
    assert raw_controls(out) == []
    jobs = {f["job"]["command"] for f in json.loads(out)["findings"] if f["job"]}
    assert jobs == {TITLE, CLEAR, RAW_BYTE}


def test_log_table_and_json(hostile, capsys):
    assert hostile("log") == 0
    assert_shown(capsys.readouterr().out)
    assert hostile("log", "--format", "json") == 0
    (action,) = json.loads(capsys.readouterr().out)["actions"]
    assert action["before"] == f"* * * * * {TITLE}"
    assert action["after"] == f"* * * * * {CLEAR}; {RAW_BYTE}"


def test_an_actions_question_and_diff_show_the_line_visibly(hostile, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert hostile("pause", hostile.title) == 2  # not confirmed
    err = capsys.readouterr().err
    assert raw_controls(err) == []
    assert r"-* * * * * echo \x1b]0;owned\x07 title" in err
    assert r"+#cronops:paused" in err


def test_host_errors_quoting_the_host_are_shown_visibly(hostile, capsys, monkeypatch):
    said = "kex failed: the server said \x1b]0;owned\x07\x1b[2J \u202e[bold]loud[/]"

    class Refusing(Connector):
        def __init__(self) -> None:
            super().__init__({})

        async def run(self, host, command, stdin=b"", **options) -> Reply:
            return Reply(host, HostStatus.ERROR, said)

    monkeypatch.setattr("cronops.transport.connector", lambda **options: Refusing())
    for command in ("hosts", "scan"):
        assert hostile(command) == 1
        out, err = capsys.readouterr()
        for text in (out, err):
            assert raw_controls(text) == []
        assert r"\x1b]0;owned\x07\x1b[2J \u202e[bold]loud[/]" in out  # and not markup
    # rerun, pause, edit: the host's error in the action's message
    assert hostile("pause", hostile.title, "--yes") == 1
    err = capsys.readouterr().err
    assert raw_controls(err) == [] and r"\x1b]0;owned\x07" in err


def test_rerun_output_is_shown_visibly_on_a_terminal_and_kept_exact_down_a_pipe(
    capsysbinary, monkeypatch
):
    output = [b"\x1b]0;owned\x07 caf\xc3", b"\xa9 \xe9\n"]
    for piece in output:
        _output_sink()(piece)
    assert capsysbinary.readouterr().out == b"".join(output)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    sink = _output_sink()
    for piece in output:
        sink(piece)
    assert capsysbinary.readouterr().out.decode() == "\\x1b]0;owned\\x07 café \\xe9\n"


def test_json_never_carries_a_raw_control_character(capsys):
    data = {"text": "".join(chr(c) for c in range(0x20)) + "\x7f\u0085\u009b\u202e" + RAW_BYTE}
    print_json(data)
    out = capsys.readouterr().out
    assert out.isascii() and raw_controls(out) == []
    assert json.loads(out) == data


def test_a_raw_byte_shows_as_its_escape_in_every_table_and_in_markdown():
    entry = JobEntry(
        id="e1",
        host="alpha",
        user="root",
        source="/var/spool/cron/crontabs/root",
        schedule="* * * * *",
        command=RAW_BYTE,
        disabled=False,
        paused=None,
        cron_tz=None,
        first_seen=NOW,
        crontab_mtime=None,
        line=1,
    )
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(tables.jobs_table([entry], 200))
    action = {"at": iso(NOW), "actor": "root@here", "host": "alpha", "entry_id": "e1"}
    action |= {"new_entry_id": None, "action": "edit", "result": "ok", "detail": None}
    action |= {"before": RAW_BYTE, "after": "echo cafe"}
    console.print(tables.actions_table([action]))
    scan = HostScan(Host("alpha", "127.0.0.1"), HostStatus.ERROR, f"no: {RAW_BYTE}")
    console.print(tables.scan_summary([scan]))
    out = console.export_text()
    assert raw_controls(out) == [] and out.count(r"echo caf\xe9") == 3


def test_markdown_cells_show_a_raw_byte_and_keep_one_line():
    evidence = f"line 3: {RAW_BYTE}\n| not a cell"
    finding = Finding("alpha", "crontab_errors", "warning", 1, NOW, NOW, evidence, "rejected")
    audit = AuditResult(NOW, NOW - timedelta(days=1), NOW, [], {}, [finding], 0, 0)
    out = audit_markdown(audit)
    assert raw_controls(out) == []
    assert r"line 3: echo caf\xe9 \| not a cell" in out


# -- the TUI ---------------------------------------------------------------------------------------


def screen_text(app) -> str:
    """Every character the screen would send to the terminal."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def test_the_tui_shows_them_visibly_in_jobs_detail_trail_rerun_and_notices(hostile, tmp_path):
    inventory = Inventory(Path("hosts.toml"), [Host("alpha", "127.0.0.1")])
    app = CronopsApp(
        tmp_path / "history.db", inventory, inventory.hosts, scan_on_start=False,
        rescan_every=None, now=lambda: NOW,
    )  # fmt: skip
    app.animation_level = "none"
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        commands = [row[4] for row in rows(app, "jobs")]
        assert set(commands) == {
            r"echo \x1b]0;owned\x07 title",
            r"printf '\x1b[2J' cleared \u009b…",
            r"echo caf\xe9",
        }
        assert raw_controls(screen_text(app)) == []
        assert r"\x1b]0;owned\x07" in screen_text(app)

        app.view().table.move_cursor(next(i for i, c in enumerate(commands) if "2J" in c))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        shown = screen_text(app)
        assert raw_controls(shown) == [] and r"\u202eevil\u202c \x7f" in shown
        await pilot.press("escape")

        await pilot.press("l")  # the audit trail
        await pilot.pause()
        shown = screen_text(app)
        assert raw_controls(shown) == [] and r"\x1b]0;owned\x07" in shown

        await pilot.press("escape", "r")  # the question before a rerun quotes the command
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        shown = screen_text(app)
        assert raw_controls(shown) == [] and r"printf '\x1b[2J'" in shown
        await pilot.press("escape")

        target = find_target(app.store, app.hosts, app.entry_in_focus())

        async def rerun(sink, force: bool, interrupted, decide) -> Done:
            sink(b"\x1b]0;owned\x07 caf\xc3")
            sink(b"\xa9 \xe9\n\x1b[2J\n")
            return Done(1, "rerun on alpha: the job exited 0", target.entry.id, None, 0)

        app.push_screen(RerunScreen(target, rerun))
        await settle(pilot)
        shown = screen_text(app)
        assert raw_controls(shown) == [] and r"\x1b]0;owned\x07 café \xe9" in shown
        assert r"\x1b[2J" in shown
        await pilot.press("escape", "e")  # the edit box would show them raw: refused
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
        (note,) = [n.message for n in app._notifications]
        assert "holds control characters" in note

        # A notification quoting a host: its controls visible, its brackets not markup.
        app.notify("alpha: error: \x1b[2J [bold]x[/]", severity="error")
        await pilot.pause()
        last = list(app._notifications)[-1]
        assert last.message == r"alpha: error: \x1b[2J [bold]x[/]" and not last.markup
        assert raw_controls(screen_text(app)) == []
