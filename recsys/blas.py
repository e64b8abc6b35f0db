"""BLAS threads: one thread, set once per process, never around a single request.

implicit parallelises over users itself; a multi-threaded BLAS underneath it
oversubscribes the cores (on these 2-core machines BLAS=1 made ALS top-10 2-3x
faster), so implicit asks for BLAS=1.

The BLAS thread count is one value for the whole process. Limiting it around
each call (threadpoolctl saves the value, sets 1, restores the saved value) from
many request threads at once races: one thread restores while another runs. So
a server calls :func:`pin_single_threaded_blas` once at start-up, and the
per-request paths (fold-in, top-k, explanations) never touch the setting.
Whole jobs outside a pinned process (fitting in a script or a notebook) still
use :func:`single_threaded_blas`, which then leaves the process as it found it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController

_pin_lock = threading.Lock()
_pinned = False


@cache
def _controller() -> ThreadpoolController:
    # Built lazily: numpy's BLAS must already be loaded for it to be seen.
    return ThreadpoolController()


def pin_single_threaded_blas() -> None:
    """Set every loaded BLAS library to one thread for the rest of the process.

    Call once at start-up, before serving. Loads numpy's and scipy's BLAS first
    (implicit uses scipy's), so both are seen. Later calls do nothing.
    """
    global _pinned
    with _pin_lock:
        if _pinned:
            return
        import implicit.cpu.als  # noqa: F401  (loads scipy's BLAS)
        import numpy  # noqa: F401

        # Not used as a context manager: the limit is meant to outlive this call.
        ThreadpoolController().limit(limits=1, user_api="blas")
        _pinned = True


def blas_pinned() -> bool:
    """Whether :func:`pin_single_threaded_blas` has run in this process."""
    return _pinned


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to one thread inside the block (a fit, a model build).

    In a pinned process this does nothing: the value is already one, and
    changing it from several threads is what pinning avoids.
    """
    if _pinned:
        yield
        return
    with _controller().limit(limits=1, user_api="blas"):
        yield
