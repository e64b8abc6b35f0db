"""Load test of the image service: the micro-batcher on vs one forward per request.

Builds a small demo store in a temporary folder (built-in catalog, simulated
shoppers, ALS), then for each mode starts ``pigen serve`` as its own process and
drives it over loopback with 1, 8 and 32 concurrent clients, each fetching
*fresh* images (ids listed beforehand, never fetched before, so every request
runs the generator). Same run, same store, same generator for both modes:

* batched: ``PIGEN_BATCH_MAX_SIZE=32``, ``PIGEN_BATCH_MAX_WAIT_MS=5``;
* per request: ``PIGEN_BATCH_MAX_SIZE=1`` (one generator forward per request).

The generator is the shipped one when present, else a random generator of the
default architecture (same size, so the same speed). Prints images/s and p50/p99
latency of the image fetches (and, as the ceiling the HTTP layer sets, the same
fetches again from the cache). Target: at 32 clients, batched >= 3x the images/s
of per-request forwards, p99 < 250 ms.

    python bench/service_load.py [--images 256] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

MODES = {"batched": {"PIGEN_BATCH_MAX_SIZE": "32", "PIGEN_BATCH_MAX_WAIT_MS": "5"},
         "per request": {"PIGEN_BATCH_MAX_SIZE": "1", "PIGEN_BATCH_MAX_WAIT_MS": "0"}}


def build_store(root: Path, quick: bool) -> tuple[str, Path, str]:
    """(database URL, generator weights, which generator) for a small demo store."""
    from pigen.data.catalog.builtin import CatalogConfig
    from pigen.data.database import make_engine
    from pigen.data.demo_data import DemoDataConfig, build_demo_data
    from pigen.data.migrate import upgrade_database
    from pigen.data.simulator import SimulatorConfig
    from pigen.generator.shipped import SHIPPED_GENERATOR
    from pigen.recsys.config import ALSConfig
    from pigen.service.generator_serving import ensure_generator_version
    from pigen.service.recsys_serving import train_and_register

    url = f"sqlite:///{root / 'pigen.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    config = DemoDataConfig(catalog=CatalogConfig(n_items=100 if quick else 300),
                            simulator=SimulatorConfig(n_shoppers=60 if quick else 200,
                                                      mean_ratings=15))
    build_demo_data(engine, root, config, progress=False)
    train_and_register(engine, root / "models", ALSConfig(factors=32, iterations=5))
    if SHIPPED_GENERATOR.is_file():
        weights, which = SHIPPED_GENERATOR, "shipped generator"
    else:
        import torch

        from pigen.data.conditions import ConditionLayout
        from pigen.generator.checkpoint import save_generator
        from pigen.generator.config import GeneratorConfig
        from pigen.generator.models import build_generator

        torch.manual_seed(0)
        layout = ConditionLayout.builtin()
        weights = save_generator(build_generator(GeneratorConfig(), layout).eval(), layout,
                                 root / "random-generator.safetensors")
        which = "random generator, default architecture (no shipped weights yet)"
    ensure_generator_version(engine, weights)
    engine.dispose()
    return url, weights, which


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, url: str, mode: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PIGEN_STORAGE_DIR": str(root), "PIGEN_DATABASE_URL": url,
           "PIGEN_IMAGE_CACHE_DIR": str(root / f"images-{mode.replace(' ', '-')}"),
           "PIGEN_MODEL_REFRESH_SECONDS": "0", "PIGEN_GENERATOR_THREADS": "2",
           "PIGEN_MAX_IMAGES_PER_REQUEST": "64", "PIGEN_DEVICE": "cpu", **MODES[mode]}
    process = subprocess.Popen(
        [sys.executable, "-m", "pigen.service.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise TimeoutError("server did not become ready")


async def fresh_urls(http: httpx.AsyncClient, users: list[str], count: int, salt: int
                     ) -> list[str]:
    """``count`` image URLs nobody has fetched yet (new seeds)."""
    urls: list[str] = []
    k = 0
    while len(urls) < count:
        user = users[k % len(users)]
        response = await http.get(f"/v1/users/{user}/images",
                                  params={"n": 64, "seed": salt * 1_000_003 + k})
        response.raise_for_status()
        urls += [image["url"] for image in response.json()["images"]]
        k += 1
    return urls[:count]


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx costs about a millisecond of CPU per request; on a 2-core box the load
    generator would then eat the cores the server is being measured on.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(base: str, clients: int, images: int, salt: int, repeat: bool = False
                ) -> dict[str, float]:
    """Fetch ``images`` fresh images with ``clients`` concurrent connections.

    ``repeat``: fetch each URL a second time (cache hits) and time only that pass.
    """
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        users = [u["user_id"] for u in
                 (await http.get("/v1/users", params={"limit": 50})).json()["users"]]
        urls = await fresh_urls(http, users, images, salt)
    host, port = base.removeprefix("http://").split(":")
    connections = [Connection(host, int(port)) for _ in range(clients)]
    latencies: list[float] = []

    async def run_pass(record: bool) -> float:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls:
            queue.put_nowait(url)

        async def client(connection: Connection) -> None:
            while not queue.empty():
                url = queue.get_nowait()
                started = time.perf_counter()
                status, body = await connection.get(url)
                if status != 200 or not body.startswith(b"\x89PNG"):
                    raise RuntimeError(f"GET {url} -> {status}")
                if record:
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in connections))
        return time.perf_counter() - started

    wall = await run_pass(record=not repeat)
    if repeat:
        wall = await run_pass(record=True)
    for connection in connections:
        connection.close()
    ms = np.array(latencies) * 1000
    return {"images": len(latencies), "per_second": len(latencies) / wall,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256,
                        help="Fresh images fetched per (mode, clients) at 32 clients; "
                             "fewer for fewer clients.")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--quick", action="store_true", help="Tiny sizes (smoke test).")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    total = 32 if args.quick else args.images
    with tempfile.TemporaryDirectory(prefix="pigen-load-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        url, _, which = build_store(root, args.quick)
        print(f"store built in {time.perf_counter() - started:.1f}s; {which}")
        results: dict[tuple[str, int], dict[str, float]] = {}
        for m, mode in enumerate(MODES):
            process, base = start_server(root, url, mode)
            try:
                # Warm-up: imports, and torch's first forward at each batch size is slow.
                asyncio.run(drive(base, max(levels), 2 * max(levels), salt=999 + m))
                for clients in levels:
                    count = max(total * clients // max(levels), 16 if args.quick else 48)
                    results[(mode, clients)] = asyncio.run(
                        drive(base, clients, count, salt=10 * m + clients))
                if mode == "batched":  # the HTTP ceiling: the same fetches, from the cache
                    results[("cached", max(levels))] = asyncio.run(
                        drive(base, max(levels), total, salt=77, repeat=True))
            finally:
                process.terminate()
                process.wait(timeout=30)
    print()
    print(f"{'mode':<12} {'clients':>7} {'images':>7} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for (mode, clients), r in results.items():
        print(f"{mode:<12} {clients:>7} {r['images']:>7.0f} {r['per_second']:>9.1f} "
              f"{r['p50']:>8.1f} {r['p99']:>8.1f}")
    top = max(levels)
    if ("batched", top) in results and ("per request", top) in results:
        ratio = results[("batched", top)]["per_second"] / results[("per request", top)][
            "per_second"]
        p99 = results[("batched", top)]["p99"]
        print(f"\nat {top} clients: batched / per request = {ratio:.2f}x images/s "
              f"(target >= 3x); batched p99 {p99:.0f} ms (target < 250 ms)")


if __name__ == "__main__":
    main()
