"""The collector's freeze: a long-running TUI freezes at every reload, and must not grow with it."""

import gc
import weakref

from cronops import collector


class Node:
    """Something that dies in a cycle: refcounting alone never frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_dies_in_a_cycle_after_a_freeze_is_collected_by_a_later_freeze(monkeypatch):
    monkeypatch.setattr(collector, "_clean_size", 0)
    try:
        collector.freeze()
        collector.freeze()  # the first clean-up: everything frozen now is alive
        alive = gc.get_freeze_count()
        nodes = [Node() for _ in range(alive)]
        probe = weakref.ref(nodes[0])
        collector.freeze()  # the nodes are alive and frozen (a table's caches, at a reload)...
        del nodes  # ...then replaced: garbage that no collection would ever walk
        assert probe() is not None
        assert gc.get_freeze_count() > collector.REGROWTH * alive
        collector.freeze()  # the frozen set grew by more than half: collected, then frozen
        assert probe() is None
        assert gc.get_freeze_count() < collector.REGROWTH * alive
    finally:
        gc.unfreeze()


def test_a_freeze_with_little_growth_collects_nothing(monkeypatch):
    monkeypatch.setattr(collector, "_clean_size", 0)
    try:
        collector.freeze()
        collector.freeze()
        node = Node()
        probe = weakref.ref(node)
        collector.freeze()
        del node
        collector.freeze()  # one object's growth: not worth a full pass
        assert probe() is not None
    finally:
        gc.unfreeze()
        gc.collect()


def test_a_freeze_that_is_not_clean_takes_what_grew_as_alive(monkeypatch):
    # The TUI's first reading of a big fleet: a full pass over it would free nothing and delay
    # the first paint by a second; growth is counted from there on.
    monkeypatch.setattr(collector, "_clean_size", 0)
    try:
        collector.freeze()
        collector.freeze()
        base = gc.get_freeze_count()
        nodes = [Node() for _ in range(2 * base)]
        probe = weakref.ref(nodes[0])
        collector.freeze(clean=False)  # grown threefold: no clean-up, the new size is the base
        del nodes
        collector.freeze()
        assert probe() is not None  # not grown by half since the freeze that was not clean
        assert collector._clean_size >= 3 * base
    finally:
        gc.unfreeze()
        gc.collect()
