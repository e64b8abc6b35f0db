"""Two servers measured side by side, in alternating rounds: comparisons that survive noise.

Used by ``service_load.py``. On a shared 2-core machine two servers measured one
after the other can differ by more than the effect being measured (the same
cached-image test gave uvloop 1.37x and then 0.70x asyncio in two runs). Here
both servers run at once, idle but for the one being driven, and each round
measures both, in alternating order (A B, B A, ...), so drift hits both alike.
A comparison is the median over rounds of the per-round difference or ratio.

* :func:`batching`: batched vs per request, fresh images: images/s at many
  clients (the "batching pays 3x" target) and p50 at one client (the "a lone
  request pays no gathering window" target);
* :func:`http_stacks`: uvloop + httptools vs asyncio + h11 on cached images
  and on a JSON endpoint, 32 clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from service_load import drive, hammer, start_server


@dataclass(frozen=True)
class Server:
    """What to start: a batching mode, an HTTP stack and extra environment."""

    mode: str
    stack: str = "uvloop+httptools"


@contextlib.contextmanager
def running(root: Path, url: str, servers: dict[str, Server], warm_clients: int
            ) -> Iterator[dict[str, str]]:
    """Start every server (own image cache each), warm each up; yield name -> base URL."""
    processes, bases = [], {}
    try:
        for k, (name, server) in enumerate(servers.items()):
            process, base = start_server(
                root, url, server.mode, server.stack,
                extra_env={"PIGEN_IMAGE_CACHE_DIR": str(root / f"images-side-{k}")})
            processes.append(process)
            bases[name] = base
            asyncio.run(drive(base, warm_clients, 2 * warm_clients, salt=4000 + k,
                              warm_up=True))
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def alternate(bases: dict[str, str], rounds: int,
              measure: Callable[[str, int], dict[str, float]]) -> dict[str, list[dict[str, float]]]:
    """``measure(base, round)`` for every server each round, the order flipped every round."""
    names = list(bases)
    out: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            out[name].append(measure(bases[name], r))
    return out


@dataclass(frozen=True)
class LoneRequests:
    """One client, fresh images: per-round p50s and their differences (ms)."""

    rounds: int
    images_per_round: int
    batched_p50: float  # median of the rounds' p50
    single_p50: float
    difference: float  # median over rounds of (batched p50 - per-request p50)
    differences: tuple[float, ...]


@dataclass(frozen=True)
class BatchingGain:
    """``clients`` clients, fresh images: per-round images/s of each mode and their ratio."""

    clients: int
    rounds: int
    images_per_round: int
    batched: tuple[float, ...]  # images/s per round
    single: tuple[float, ...]
    batched_p99: float  # median of the rounds' p99, ms

    @property
    def ratio(self) -> float:
        """Median over rounds of batched / per-request images/s."""
        return float(np.median(np.array(self.batched) / np.array(self.single)))


def batching(root: Path, url: str, rounds: int, clients: int, images_per_round: int,
             lone_images_per_round: int) -> tuple[BatchingGain, LoneRequests]:
    """Batched and per-request servers side by side (one pair of servers): ``clients``
    clients, then one client at a time."""
    servers = {"batched": Server("batched"), "per request": Server("per request")}
    with running(root, url, servers, warm_clients=clients) as bases:
        many = alternate(bases, rounds, lambda base, r: asyncio.run(
            drive(base, clients, images_per_round, salt=7000 + r)))
        one = alternate(bases, rounds, lambda base, r: asyncio.run(
            drive(base, 1, lone_images_per_round, salt=5000 + r)))
    gain = BatchingGain(clients, rounds, images_per_round,
                        tuple(r["per_second"] for r in many["batched"]),
                        tuple(r["per_second"] for r in many["per request"]),
                        statistics.median(r["p99"] for r in many["batched"]))
    batched = [r["p50"] for r in one["batched"]]
    single = [r["p50"] for r in one["per request"]]
    differences = tuple(b - s for b, s in zip(batched, single, strict=True))
    lone = LoneRequests(rounds, lone_images_per_round, statistics.median(batched),
                        statistics.median(single), statistics.median(differences),
                        differences)
    return gain, lone


@dataclass(frozen=True)
class StackComparison:
    """Per-round req/s of each stack for one kind of request, and the median ratio."""

    request: str
    per_second: dict[str, list[float]]  # stack -> per-round req/s
    p99: dict[str, list[float]]

    def ratio(self, new: str, old: str) -> float:
        """Median over rounds of new / old req/s."""
        return float(np.median(np.array(self.per_second[new]) / np.array(self.per_second[old])))


def http_stacks(root: Path, url: str, rounds: int, clients: int, images: int,
                json_path: str, json_count: int) -> list[StackComparison]:
    """uvloop + httptools vs asyncio + h11, cached images then JSON, alternating rounds."""
    servers = {"uvloop+httptools": Server("batched", "uvloop+httptools"),
               "asyncio+h11": Server("batched", "asyncio+h11")}
    with running(root, url, servers, warm_clients=clients) as bases:
        for base in bases.values():  # the images every round fetches: made and cached once
            asyncio.run(drive(base, clients, images, salt=6000))
        cached = alternate(bases, rounds, lambda base, r: asyncio.run(
            drive(base, clients, images, salt=6000)))
        json = alternate(bases, rounds, lambda base, r: asyncio.run(
            hammer(base, clients, json_path, json_count)))
    return [StackComparison(request, {s: [r["per_second"] for r in rows]
                                      for s, rows in measured.items()},
                            {s: [r["p99"] for r in rows] for s, rows in measured.items()})
            for request, measured in (("cached image", cached), ("JSON", json))]


def report_lone(lone: LoneRequests) -> None:
    print(f"\n1 client, fresh images, servers side by side ({lone.rounds} alternating rounds x "
          f"{lone.images_per_round} images): p50 batched {lone.batched_p50:.1f} ms, per request "
          f"{lone.single_p50:.1f} ms; batched - per request = {lone.difference:+.1f} ms "
          f"(median of rounds; rounds "
          f"{', '.join(f'{d:+.1f}' for d in lone.differences)}; target within 1 ms)")


def report_gain(gain: BatchingGain) -> None:
    print(f"\n{gain.clients} clients, fresh images, servers side by side ({gain.rounds} "
          f"alternating rounds x {gain.images_per_round} images): batched / per request = "
          f"{gain.ratio:.2f}x images/s (median of per-round ratios; rounds batched "
          f"{', '.join(f'{b:.0f}' for b in gain.batched)}, per request "
          f"{', '.join(f'{s:.0f}' for s in gain.single)}); batched p99 "
          f"{gain.batched_p99:.0f} ms (targets >= 3x, p99 < 150 ms)")


def report_stacks(comparisons: list[StackComparison], clients: int, json_path: str) -> None:
    print(f"\nHTTP stack, {clients} clients, servers side by side in alternating rounds "
          f"(JSON: GET {json_path})")
    print(f"{'stack':<18} {'request':<13} {'req/s (median)':>15} {'p99 ms':>8}   rounds req/s")
    for comparison in comparisons:
        for stack, rates in comparison.per_second.items():
            print(f"{stack:<18} {comparison.request:<13} {statistics.median(rates):>15.1f} "
                  f"{statistics.median(comparison.p99[stack]):>8.1f}   "
                  f"{', '.join(f'{r:.0f}' for r in rates)}")
    for comparison in comparisons:
        print(f"{comparison.request}: uvloop+httptools / asyncio+h11 = "
              f"{comparison.ratio('uvloop+httptools', 'asyncio+h11'):.2f}x req/s "
              "(median of per-round ratios)")
