"""Open-loop overload of the image service, seen from the client and from the server.

Used by ``service_load.py``. Fresh-image requests arrive on a fixed schedule
whatever the answers (open loop). The client shares the machine's cores with
the server, so its own view of latency can include its own lateness: each
request's time is split into the client's lag (scheduled arrival -> sent: the
client was busy, or waited for a free connection) and the round trip (sent ->
answered), and the server's own histogram (``pigen_http_request_duration_seconds``,
scraped from ``/metrics`` before and after) gives the accepted requests'
latency inside the server, where no client timing enters.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import numpy as np
from service_load import Connection, fresh_urls

IMAGE_ROUTE = "/v1/images/{image_id}.png"
# Greedy labels: the route template itself holds braces ("{image_id}").
_SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>.*)\} (?P<value>\S+)$')


def scrape(base: str) -> dict[tuple[str, str], float]:
    """(metric name, labels text) -> value, from the server's ``/metrics``."""
    samples = {}
    for line in httpx.get(f"{base}/metrics", timeout=60).text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[(match["name"], match["labels"])] = float(match["value"])
    return samples


def server_view(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]
                ) -> dict[str, float]:
    """Between two scrapes: accepted image requests, their p50/p99 inside the server
    (interpolated within histogram buckets, as ``histogram_quantile`` does), and
    requests shed, by reason."""
    buckets: dict[float, float] = {}
    for (name, labels), value in after.items():
        if (name == "pigen_http_request_duration_seconds_bucket"
                and f'route="{IMAGE_ROUTE}"' in labels and 'status="200"' in labels):
            le = labels.split('le="')[1].split('"')[0]
            buckets[float(le)] = value - before.get((name, labels), 0.0)
    view = {f"shed {reason}": after.get(("pigen_shed_total", f'reason="{reason}"'), 0.0)
            - before.get(("pigen_shed_total", f'reason="{reason}"'), 0.0)
            for reason in ("queue_full", "estimate", "deadline", "inflight")}
    edges = sorted(buckets)
    total = buckets.get(float("inf"), 0.0)
    view["accepted"] = total
    for q in (0.5, 0.99):
        view[f"p{round(q * 100)}"] = _quantile(q, edges, buckets, total) * 1000
    return view


def _quantile(q: float, edges: list[float], cumulative: dict[float, float], total: float
              ) -> float:
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for edge in edges:
        if cumulative[edge] >= rank:
            if edge == float("inf"):
                return lower  # past the last finite bucket: its bound is all that is known
            share = (rank - below) / max(cumulative[edge] - below, 1e-12)
            return lower + (edge - lower) * share
        lower, below = edge, cumulative[edge]
    return lower


async def open_loop(base: str, rate: float, seconds: float, salt: int) -> dict[str, float]:
    """Fresh-image requests arriving every ``1/rate`` s whatever the answers.

    Returns served images/s, shed (503) and other failures, and for the served
    requests p50/p99 from scheduled arrival (what a shopper would see from this
    client), the p99 of the round trip alone (sent -> answered) and the p99 of the
    client's own lag (scheduled -> sent).
    """
    count = max(int(rate * seconds), 1)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        users = [u["user_id"] for u in
                 (await http.get("/v1/users", params={"limit": 50})).json()["users"]]
        urls = await fresh_urls(http, users, count, salt)
    host, port = base.removeprefix("http://").split(":")
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(min(count, 400)):
        pool.put_nowait(Connection(host, int(port)))
    served: list[tuple[float, float]] = []  # (from scheduled arrival, round trip)
    lags: list[float] = []
    shed, failed, retry_after = 0, 0, 0
    loop = asyncio.get_running_loop()

    async def one(url: str, scheduled: float) -> None:
        nonlocal shed, failed, retry_after
        connection = await pool.get()
        sent = loop.time()
        lags.append(sent - scheduled)
        try:
            status, body = await connection.get(url)
        except (OSError, asyncio.IncompleteReadError):
            connection.close()
            connection, status, body = Connection(host, int(port)), 0, b""
        answered = loop.time()
        pool.put_nowait(connection)
        if status == 200 and body.startswith(b"\x89PNG"):
            served.append((answered - scheduled, answered - sent))
        elif status == 503:
            shed += 1
            retry_after += b"retry-after:" in connection.head.lower()
        else:
            failed += 1

    started = loop.time()
    tasks = []
    for k, url in enumerate(urls):
        scheduled = started + k / rate
        if scheduled > loop.time():
            await asyncio.sleep(scheduled - loop.time())
        tasks.append(asyncio.create_task(one(url, scheduled)))
    await asyncio.gather(*tasks)
    wall = loop.time() - started
    while not pool.empty():
        pool.get_nowait().close()
    ms = np.array(served or [(float("nan"), float("nan"))]) * 1000
    return {"offered": rate, "per_second": len(served) / wall, "served": len(served),
            "shed": shed, "retry_after": retry_after, "failed": failed,
            "p50": float(np.percentile(ms[:, 0], 50)), "p99": float(np.percentile(ms[:, 0], 99)),
            "rtt_p99": float(np.percentile(ms[:, 1], 99)),
            "lag_p99": float(np.percentile(np.array(lags) * 1000, 99))}


def overload_phases(base: str, sustainable: float, seconds: float, salt: int
                    ) -> dict[str, dict[str, float]]:
    """4x the sustainable rate, then half of it (recovery): client and server views."""
    phases = {}
    for phase, factor, offset in (("4x", 4.0, 1), ("after", 0.5, 2)):
        before = scrape(base)
        client = asyncio.run(open_loop(base, factor * sustainable, seconds, salt + offset))
        phases[phase] = {**client, **{f"server {k}": v
                                      for k, v in server_view(before, scrape(base)).items()}}
    return phases


def report_overload(runs: dict[str, dict[str, dict[str, float]]]) -> None:
    """One block per server configuration, phases as rows."""
    print(f"\n{'open loop':<22} {'offered/s':>9} {'served/s':>8} {'503':>6} {'failed':>6} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'rtt p99':>8} {'lag p99':>8} | "
          f"{'server p50':>10} {'p99':>7}  shed by reason (server)")
    for config, phases in runs.items():
        for phase, r in phases.items():
            reasons = ", ".join(f"{k.removeprefix('server shed ')} {v:.0f}"
                                for k, v in r.items() if k.startswith("server shed") and v)
            print(f"{config + ' ' + phase:<22} {r['offered']:>9.1f} {r['per_second']:>8.1f} "
                  f"{r['shed']:>6.0f} {r['failed']:>6.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                  f"{r['rtt_p99']:>8.1f} {r['lag_p99']:>8.1f} | {r['server p50']:>10.1f} "
                  f"{r['server p99']:>7.1f}  {reasons or '-'}")
        first = phases["4x"]
        print(f"{config}: 503s with Retry-After: {first['retry_after']:.0f} of "
              f"{first['shed']:.0f}")
