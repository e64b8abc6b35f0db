"""One BLAS thread around implicit's calls, as implicit asks.

implicit parallelises over users itself; a multi-threaded BLAS underneath it
oversubscribes the cores (on these 2-core machines BLAS=1 made ALS top-10 2-3x
faster). ``threadpool_limits(1, "blas")`` re-scans the loaded libraries on every
call (~1 ms), too slow for a 2 ms recommend budget, so one controller is built
once and reused (~20 us per limit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    # Built lazily: numpy's BLAS must already be loaded for it to be seen.
    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block, restoring it afterwards."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
