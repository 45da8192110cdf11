"""Races for the billing tests: the same work in several threads released at once."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def concurrently[T](count: int, work: Callable[[], T]) -> list[T]:
    """`work` in `count` threads released at once, each on its own database connection."""
    barrier = threading.Barrier(count)

    def run(_: int) -> T:
        try:
            barrier.wait(timeout=10)
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
