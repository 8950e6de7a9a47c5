"""A small least-recently-used cache, per worker process.

The list's caches (exact counts, list response bodies) key their entries by the account's data
version, which every lead write bumps in the same transaction: an entry is never stale, it is
just never asked for again once the account has moved on, and the LRU drops it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock
from typing import Generic, TypeVar

V = TypeVar("V")
_EVERY: list[LRUCache] = []  # for forget_all()


class LRUCache(Generic[V]):
    """Up to `size` values (0: keep nothing); safe to share between a worker's threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = Lock()
        _EVERY.append(self)

    def __len__(self) -> int:
        return len(self._items)

    def resize(self, size: int) -> None:
        with self._lock:
            self._size = size
            self._trim()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._trim()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _trim(self) -> None:
        while len(self._items) > self._size:
            self._items.popitem(last=False)


def forget_all() -> None:
    """Empty every cache of this process (tests reuse account ids across databases)."""
    for cache in _EVERY:
        cache.clear()
