"""The dependencies declared are the ones used: each runtime dependency is imported by cronops,
and what is pinned (for the snapshots and the patched wording) is what is installed."""

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def distribution(requirement: str) -> str:
    """The normalised distribution name of a requirement like 'cron-descriptor==2.2.1'."""
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group()
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_by_cronops() -> set[str]:
    """Every top-level module some module of cronops imports, lazily or not."""
    names = set()
    for path in (REPO / "cronops").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_runtime_dependency_is_imported_by_cronops():
    modules_of: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(distribution(dist), set()).add(module)
    imported = imported_by_cronops()
    unused = [
        requirement
        for requirement in PROJECT["dependencies"]
        if not modules_of.get(distribution(requirement), set()) & imported
    ]
    assert unused == [], "declared but never imported by cronops (a test-only tool?)"


@pytest.mark.parametrize("name", ["textual", "cron-descriptor"])
def test_the_pins_are_what_is_installed(name):
    (pin,) = [r for r in PROJECT["dependencies"] if distribution(r) == name]
    assert pin == f"{name}=={importlib.metadata.version(name)}"
