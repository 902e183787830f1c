"""Where cronops keeps its files: the inventory search path and the history database.

XDG locations come from platformdirs so they follow each platform's conventions and $XDG_* overrides.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP = "cronops"
# The history holds whole crontabs (their environment lines: passwords, tokens), jobs' output
# and the audit trail: for its owner's eyes only, whatever the umask.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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


def private_file(path: Path, companions: Iterable[str] = ()) -> None:
    """Make `path` a file only its owner can read: the directories cronops makes for it 0700,
    the file made 0600, or tightened to 0600 when it is ours and looser; so are its companions
    (`path` with each suffix) that exist, such as SQLite's -wal and -shm."""
    _private_dirs(path.parent)
    try:
        made = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass  # an old history, or another cronops made it first: tightened below
    else:
        os.fchmod(made, PRIVATE_FILE)  # what the umask took (or left) does not count
        os.close(made)
    for name in (path, *(path.with_name(path.name + suffix) for suffix in companions)):
        _tighten(name)


def _private_dirs(folder: Path) -> None:
    """`folder` and its missing parents made 0700, as XDG asks of a data directory."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir(PRIVATE_DIR)
        except FileExistsError:
            continue  # another cronops made it meanwhile
        made.chmod(PRIVATE_DIR)


def _tighten(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & ~PRIVATE_FILE:
        path.chmod(PRIVATE_FILE)
