"""Where cronops keeps its files: the inventory search path and the history database.

XDG locations come from platformdirs so they follow each platform's conventions and $XDG_* overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP = "cronops"


def config_dir() -> Path:
    return user_config_path(APP)


def data_dir() -> Path:
    return user_data_path(APP)


def inventory_candidates() -> list[Path]:
    """The places an inventory is looked for, in order, when --inventory is not given."""
    candidates = []
    if env := os.environ.get("CRONOPS_INVENTORY"):
        candidates.append(Path(env).expanduser())
    candidates.append(Path("hosts.toml"))
    candidates.append(config_dir() / "hosts.toml")
    return candidates


def default_db_path() -> Path:
    if env := os.environ.get("CRONOPS_DB"):
        return Path(env).expanduser()
    return data_dir() / "history.db"


def default_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()
