"""Peak resident memory of this process and its children, sampled while a piece of work runs.

Linux only (it reads ``/proc``): every ``interval`` seconds a thread adds up the memory of this
process and of every descendant (the simulation's worker processes), and keeps the largest total of
each measure: RSS, which counts a page a forked worker still shares with its parent once per process
(an upper bound), and PSS, which splits each shared page among its sharers (the memory the machine
had to provide).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


def _pss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_memory_bytes(pid: int | None = None) -> tuple[int, int]:
    """(RSS, PSS) bytes of ``pid`` (this process by default) and all its descendants, now."""
    root = os.getpid() if pid is None else pid
    rss = pss = 0
    for p in [root, *_descendants(root)]:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * _PAGE
            pss += _pss_bytes(p)
        except OSError:
            continue  # it ended meanwhile
    return rss, pss


class PeakMemory:
    """The largest totals seen (``rss_bytes``, ``pss_bytes``), updated by :func:`sampling`."""

    def __init__(self) -> None:
        self.rss_bytes, self.pss_bytes = tree_memory_bytes()

    def update(self) -> None:
        rss, pss = tree_memory_bytes()
        self.rss_bytes, self.pss_bytes = max(self.rss_bytes, rss), max(self.pss_bytes, pss)

    @property
    def rss_gib(self) -> float:
        return self.rss_bytes / 2**30

    @property
    def pss_gib(self) -> float:
        return self.pss_bytes / 2**30


@contextmanager
def sampling(interval: float = 0.25) -> Iterator[PeakMemory]:
    """Sample the process tree's memory every ``interval`` seconds for the duration of the block."""
    peak, stop = PeakMemory(), threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            peak.update()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield peak
    finally:
        stop.set()
        watcher.join()
        peak.update()
