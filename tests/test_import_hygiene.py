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
