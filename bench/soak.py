"""Soak test: a storefront's mixed traffic against one ``pigen serve`` for minutes on end.

Builds the same small demo store as ``service_load.py``, starts ``pigen serve``
(default settings: adaptive batching, bounded queue) and runs ``--clients``
keep-alive clients (16) for ``--minutes`` (10). Each client loops over a mix of
what shoppers do:

* list a shopper's images (fresh seeds: new ids, new provenance rows) — 20%
* fetch an image just listed (the generator makes it) — 20%
* fetch an image fetched before (the cache) — 25%
* a shopper's recommendations with reasons — 15%
* post a rating (the shopper's factor is folded in again) — 10%
* post a storefront event (idempotent by client id) — 10%

Prints, per minute: requests/s, p50/p99 latency, errors (5xx other than shed,
unexpected 4xx, broken connections), shed requests (503 + Retry-After), the
server's RSS at the window's end and the part of it the listed-image cache
counts (``pigen_listed_cache_bytes``: bounded by ``PIGEN_LISTED_CACHE_BYTES``,
so it fills, then stays). Warm-up is the first ``--warmup-minutes`` (2): imports,
torch's first forwards at each batch size, the allocator's arenas, the caches
filling. Targets: 0 errors, RSS at the end at most 10% above its value at the
end of warm-up, p99 flat. The plateau shows as the RSS slope (MiB/min) of the
first and second half after warm-up.

    python bench/soak.py [--minutes 10] [--clients 16] [--warmup-minutes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_load import Connection, build_store, start_server  # noqa: E402

WRITE_KEY = "soak-bench-write-key"
MIX = {"listing": 20, "fresh image": 20, "cached image": 25, "recommendations": 15,
       "rating": 10, "event": 10}


@dataclass
class Window:
    """One reporting window's requests."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    shed: int = 0
    first_errors: list[str] = field(default_factory=list)


@dataclass
class Shop:
    """What the clients share: shoppers, items, images listed and images fetched."""

    users: list[str]
    items: list[str]
    listed: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    events: int = 0


def rss_mib(pid: int) -> float:
    """The process's resident set size, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_request(connection: Connection, shop: Shop, rng: random.Random
                      ) -> tuple[str, int, bytes]:
    """Pick an action by the mix, send it; (action, status, body)."""
    action = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    user = rng.choice(shop.users)
    if action == "fresh image" and not shop.listed:
        action = "listing"
    if action == "cached image" and not shop.fetched:
        action = "recommendations"
    if action == "listing":
        status, body = await connection.get(
            f"/v1/users/{user}/images?n=4&seed={rng.randrange(1 << 40)}")
        if status == 200:
            shop.listed.extend(image["url"] for image in json.loads(body)["images"])
            del shop.listed[:-2000]
    elif action == "fresh image":
        url = shop.listed.pop(rng.randrange(len(shop.listed)))
        status, body = await connection.get(url)
        if status == 200:
            shop.fetched.append(url)
            del shop.fetched[:-5000]
    elif action == "cached image":
        status, body = await connection.get(rng.choice(shop.fetched))
    elif action == "recommendations":
        status, body = await connection.get(f"/v1/users/{user}/recommendations?k=8")
    elif action == "rating":
        rating = {"interactions": [{"user_id": user, "item_id": rng.choice(shop.items),
                                    "value": float(rng.randint(1, 5))}]}
        status, body = await connection.post("/v1/interactions", rating, WRITE_KEY)
    else:
        shop.events += 1
        payload = {"client_event_id": f"soak-{os.getpid()}-{shop.events}", "user_id": user,
                   "kind": rng.choice(["view", "click", "add_to_cart"])}
        status, body = await connection.post("/v1/events", payload, WRITE_KEY)
    return action, status, body


def listed_cache_mib(base: str) -> float:
    """The server's listed-image cache, by its own count (``/metrics``)."""
    import httpx

    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        if line.startswith("pigen_listed_cache_bytes "):
            return float(line.split()[1]) / 2**20
    return float("nan")  # a server from before the gauge


async def soak(base: str, pid: int, shop: Shop, clients: int, seconds: float,
               window_s: float) -> list[dict[str, float]]:
    host, port = base.removeprefix("http://").split(":")
    windows: list[Window] = []
    started = time.perf_counter()
    stop_at = started + seconds

    def window_now() -> Window:
        index = int((time.perf_counter() - started) // window_s)
        while len(windows) <= index:
            windows.append(Window())
        return windows[index]

    async def client(k: int) -> None:
        rng = random.Random(k)
        connection = Connection(host, int(port))
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            try:
                action, status, body = await one_request(connection, shop, rng)
            except (OSError, asyncio.IncompleteReadError) as error:
                connection.close()
                connection = Connection(host, int(port))
                action, status, body = "?", 0, str(error).encode()
            window = window_now()
            window.latencies.append(time.perf_counter() - sent)
            if status == 503 and b"retry-after:" in connection.head.lower():
                window.shed += 1
            elif not 200 <= status < 300:
                window.errors += 1
                if len(window.first_errors) < 3:
                    window.first_errors.append(f"{action} -> {status}: {body[:200]!r}")
        connection.close()

    async def sample_rss() -> list[tuple[float, float]]:
        """(RSS, listed-cache MiB) at each window's end."""
        seen = []
        while time.perf_counter() < stop_at:
            await asyncio.sleep(min(window_s, stop_at - time.perf_counter()) or 0.01)
            seen.append((rss_mib(pid), await asyncio.to_thread(listed_cache_mib, base)))
        return seen

    rss_task = asyncio.create_task(sample_rss())
    await asyncio.gather(*(client(k) for k in range(clients)))
    rss = await rss_task
    rows = []
    for index, window in enumerate(windows):
        ms = np.array(window.latencies or [float("nan")]) * 1000
        span = min(window_s, seconds - index * window_s)
        if span <= 0 or not window.latencies:
            continue
        rows.append({"window": index + 1, "per_second": len(window.latencies) / span,
                     "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                     "errors": window.errors, "shed": window.shed,
                     "rss": rss[min(index, len(rss) - 1)][0] if rss else float("nan"),
                     "listed": rss[min(index, len(rss) - 1)][1] if rss else float("nan")})
        for line in window.first_errors:
            print(f"  window {index + 1}: {line}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--window-seconds", type=float, default=60.0,
                        help="Reporting window (a minute by default).")
    parser.add_argument("--warmup-minutes", type=float, default=2.0,
                        help="Windows ending within this long are warm-up: RSS growth is "
                             "measured from the end of the last of them.")
    parser.add_argument("--quick", action="store_true", help="Tiny store (smoke test).")
    args = parser.parse_args()
    seconds = args.minutes * 60
    window_s = min(args.window_seconds, seconds)
    with tempfile.TemporaryDirectory(prefix="pigen-soak-") as tmp:
        root = Path(tmp)
        url, _, which = build_store(root, args.quick)
        print(f"store built; {which}; {args.clients} clients for {args.minutes:g} min")
        os.environ["PIGEN_API_KEYS"] = WRITE_KEY
        process, base = start_server(root, url, "default")
        try:
            import httpx

            users = [u["user_id"] for u in httpx.get(
                f"{base}/v1/users", params={"limit": 200}).json()["users"]]
            from pigen.data.database import make_engine
            from pigen.data.items import read_items_frame

            engine = make_engine(url)
            items = [str(i) for i in read_items_frame(engine)["item_id"]]
            engine.dispose()
            shop = Shop(users + [f"new-visitor-{k}" for k in range(20)], items)
            rows = asyncio.run(soak(base, process.pid, shop, args.clients, seconds, window_s))
        finally:
            process.terminate()
            process.wait(timeout=30)
    warm_windows = max(1, round(args.warmup_minutes * 60 / window_s))
    report(rows, window_s, min(warm_windows, max(len(rows) - 1, 1)))


def report(rows: list[dict[str, float]], window_s: float, warm_windows: int) -> None:
    """The windows, then errors, RSS growth after warm-up (the first ``warm_windows``)
    and its slope over the two halves after it."""
    print(f"\n{'window':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'shed':>5} {'RSS MiB':>8} {'listed MiB':>10}   (window {window_s:g} s)")
    for r in rows:
        mark = "  warm-up" if r["window"] <= warm_windows else ""
        print(f"{r['window']:>6.0f} {r['per_second']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{r['errors']:>6.0f} {r['shed']:>5.0f} {r['rss']:>8.1f} {r['listed']:>10.2f}"
              f"{mark}")
    errors = sum(r["errors"] for r in rows)
    summary = f"\nerrors: {errors:.0f} (target 0)"
    if len(rows) > warm_windows:
        warm, last = rows[warm_windows - 1], rows[-1]
        growth = last["rss"] / warm["rss"] - 1
        summary += (f"; RSS after warm-up (end of window {warm_windows}) {warm['rss']:.0f} -> "
                    f"{last['rss']:.0f} MiB ({growth:+.1%}, target <= +10%); p99 first -> "
                    f"last window after warm-up {rows[warm_windows]['p99']:.0f} -> "
                    f"{last['p99']:.0f} ms")
        after = rows[warm_windows - 1:]
        middle = len(after) // 2
        if middle >= 1:
            minutes = window_s / 60
            first = (after[middle]["rss"] - after[0]["rss"]) / (middle * minutes)
            second = (after[-1]["rss"] - after[middle]["rss"]) / (
                max(len(after) - 1 - middle, 1) * minutes)
            summary += (f"\nRSS slope after warm-up: first half {first:+.1f} MiB/min, "
                        f"second half {second:+.1f} MiB/min")
    print(summary)


if __name__ == "__main__":
    main()
