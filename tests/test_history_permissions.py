"""The history (whole crontabs, output tails, the audit trail) is readable by its owner only,
whatever the umask: the directory cronops makes 0700, the database and its -wal/-shm 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cronops.store import Store


@pytest.fixture
def permissive_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(store: Store) -> None:
    """An action in the trail: SQLite makes the -wal and -shm for it."""
    at = "2026-11-22T12:00:00.000000Z"
    store.record_action({"at": at, "actor": "root@here", "host": "alpha", "entry_id": "e1"})


def test_a_new_history_and_the_directories_made_for_it_are_private(tmp_path, permissive_umask):
    tmp_path.chmod(0o755)
    path = tmp_path / "data" / "cronops" / "history.db"
    store = Store(path)
    try:
        write_something(store)
        wal, shm = path.with_name("history.db-wal"), path.with_name("history.db-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: mode(p) for p in (path, wal, shm)} == {
            "history.db": 0o600,
            "history.db-wal": 0o600,
            "history.db-shm": 0o600,
        }
        assert mode(path.parent) == mode(path.parent.parent) == 0o700
    finally:
        store.close()
    assert mode(tmp_path) == 0o755  # a directory cronops did not make is left as it was


def test_an_old_history_of_ours_is_tightened(tmp_path, permissive_umask):
    path = tmp_path / "history.db"
    Store(path).close()
    for name in ("history.db", "history.db-wal", "history.db-shm"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    store = Store(path)
    try:
        write_something(store)
        modes = {name: mode(tmp_path / name) for name in ("history.db-wal", "history.db-shm")}
    finally:
        store.close()  # (the last connection to close removes the -wal and -shm)
    assert mode(path) == 0o600
    assert modes == {"history.db-wal": 0o600, "history.db-shm": 0o600}


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_history_of_someone_else_is_left_as_it_is(tmp_path):
    path = tmp_path / "history.db"
    Store(path).close()
    path.chmod(0o644)
    os.chown(path, 65534, -1)
    Store(path).close()
    assert mode(path) == 0o644
