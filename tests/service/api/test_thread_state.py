"""Thread counts are process-wide: set once at start-up, never touched by a request.

threadpoolctl's limit saves one global BLAS value, sets it and restores it;
torch.set_num_threads is global too. Done per request from many threads at once,
one request restores while another computes. These tests count every call to
either while concurrent requests run, and read the values as the requests see them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import threadpoolctl
import torch
from fastapi.testclient import TestClient


def blas_threads() -> set[int]:
    return {int(info["num_threads"]) for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"}


def torch_threads_in_a_new_thread() -> int:
    # torch copies the global count into each thread on its first parallel call,
    # so a fresh thread reads what the process is set to.
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    reader.start()
    reader.join()
    return seen[0]


class CallCounter:
    """Wraps a library function: counts calls, then calls through."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


def storefront_requests(client: TestClient, shopper: int) -> None:
    """Recommendations with reasons (fold-in, top-k, explain), a listing, an image."""
    user = f"shopper-{shopper % 30:03d}"
    assert client.get(f"/v1/users/{user}/recommendations", params={"k": 3}).status_code == 200
    assert client.get("/v1/users/new-visitor/recommendations").status_code == 200
    listing = client.get(f"/v1/users/{user}/images", params={"n": 2, "seed": shopper})
    assert listing.status_code == 200
    image = client.get(listing.json()["images"][0]["url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_requests_never_change_blas_or_torch_threads(
        make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(generator_threads=2)
    # Start-up set both: BLAS to one thread, torch to the setting.
    assert blas_threads() == {1}
    assert torch_threads_in_a_new_thread() == 2
    limits = CallCounter(threadpoolctl.ThreadpoolController.limit)
    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "limit", limits)
    scoped = CallCounter(threadpoolctl.threadpool_limits)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", scoped)
    set_threads = CallCounter(torch.set_num_threads)
    monkeypatch.setattr(torch, "set_num_threads", set_threads)

    seen_blas: set[int] = set()
    seen_torch: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen_blas.update(blas_threads())
            seen_torch.add(torch_threads_in_a_new_thread())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda k: storefront_requests(client, k), range(24)))
    finally:
        done.set()
        watcher.join()

    assert (limits.calls, scoped.calls, set_threads.calls) == (0, 0, 0)
    assert seen_blas == {1}
    assert seen_torch == {2}
