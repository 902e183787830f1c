"""The core stays usable without the TUI: no module outside cronops/tui/ pulls in textual.

Each module is imported in a fresh interpreter, so one module's imports cannot hide another's.
"""

import pkgutil
import subprocess
import sys

import pytest

import cronops


def core_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(cronops.__path__, prefix="cronops.")
        if not info.name.startswith("cronops.tui") and not info.name.endswith("__main__")
    ]
    return ["cronops", *sorted(names)]


def test_core_modules_are_found():
    assert {"cronops.cli", "cronops.inventory", "cronops.probe", "cronops.transport"} <= set(
        core_modules()
    )


@pytest.mark.parametrize("module", core_modules())
def test_core_module_does_not_import_textual(module):
    code = (
        f"import sys, {module}; "
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
        "print(','.join(leaked))"
    )
    leaked = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert leaked == "", f"{module} imports textual: {leaked}"


# Each of these costs tens of milliseconds of CPU at every start of the command.
HEAVY = {"asyncio", "asyncssh", "rich", "sqlite_utils", "textual"}
ACTING = {"cronops.actions", "cronops.tui"}


def modules_after(code: str) -> set[str]:
    """The modules loaded once `code` has run in a fresh interpreter."""
    code += "\nimport sys; print('\\n'.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def cli_run(argv: list[str]) -> str:
    """Code that runs `cronops ARGV` quietly, whatever it prints or however it exits."""
    return (
        "import contextlib, io, cronops.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    with contextlib.suppress(SystemExit):\n"
        f"        cronops.cli.main({argv!r})"
    )


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["scan", "--help"]])
def test_version_and_help_load_none_of_the_core(argv):
    loaded = modules_after(cli_run(argv))
    assert packages(loaded) & HEAVY == set()
    assert {m for m in loaded if m.startswith("cronops")} == {
        "cronops",
        "cronops.cli",
        "cronops.locations",
    }


def test_host_statuses_and_reports_do_not_load_asyncssh():
    loaded = modules_after("import cronops.transport.base, cronops.report")
    assert packages(loaded) & {"asyncssh", "rich", "textual"} == set()


def test_a_scan_loads_the_judge_but_not_the_actions(tmp_path):
    # A host whose port refuses at once: the scan runs through, and loads all it ever loads.
    inventory = tmp_path / "hosts.toml"
    inventory.write_text('[[hosts]]\nname = "closed"\naddress = "127.0.0.1"\nport = 1\n')
    db = tmp_path / "history.db"
    scan = cli_run(["scan", "-i", str(inventory), "--db", str(db), "-f", "json"])
    loaded = modules_after(scan)
    assert {"asyncssh", "sqlite_utils", "cronops.scan", "cronops.store"} <= loaded
    assert db.exists()
    # A scan judges the hosts it stored (their stored findings), and acts on none.
    assert {"cronops.analysis", "cronops.incidents"} <= loaded
    assert loaded & ACTING == set()
    # JSON for a script, no terminal to draw on: neither rich nor textual
    assert packages(loaded) & {"rich", "textual"} == set()
    # sqlite-utils declared the tables; the next scan finds them there
    assert "sqlite_utils" not in packages(modules_after(scan))


def test_the_window_default_is_the_scans():
    # The parser spells the default out, so that building it does not import the scan.
    from cronops.cli import build_parser
    from cronops.scan import DEFAULT_WINDOW

    assert build_parser().parse_args(["scan"]).window == DEFAULT_WINDOW
