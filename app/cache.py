"""A small least-recently-used cache, per worker process.

The list's caches (exact counts, list response bodies) key their entries by the account's data
version, which every lead write bumps in the same transaction: an entry is never stale, it is
just never asked for again once the account has moved on, and the LRU drops it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar

V = TypeVar("V")
_EVERY: list[LRUCache] = []  # for forget_all()


def _one(value: object) -> int:
    return 1


class LRUCache(Generic[V]):
    """Values up to a total cost of `capacity` (0: keep nothing), the least recently used
    dropped first. Each value costs 1 (a capacity in entries) unless `cost` says otherwise
    (its size in bytes, say). Safe to share between a worker's threads."""

    def __init__(self, capacity: int, cost: Callable[[V], int] = _one) -> None:
        self._capacity = capacity
        self._cost = cost
        self._used = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = Lock()
        _EVERY.append(self)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def used(self) -> int:
        """The total cost of the values held."""
        return self._used

    def resize(self, capacity: int) -> None:
        with self._lock:
            self._capacity = capacity
            self._trim()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        cost = self._cost(value)
        if cost > self._capacity:
            return  # would push out everything else (or the cache is off)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= self._cost(old)
            self._items[key] = value
            self._used += cost
            self._trim()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    def _trim(self) -> None:
        while self._used > self._capacity:
            _, dropped = self._items.popitem(last=False)
            self._used -= self._cost(dropped)


def forget_all() -> None:
    """Empty every cache of this process (tests reuse account ids across databases)."""
    for cache in _EVERY:
        cache.clear()
