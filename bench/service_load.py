"""Load test of the image service: the micro-batcher on vs one forward per request.

Builds a small demo store in a temporary folder (built-in catalog, simulated
shoppers, ALS), then for each mode starts ``pigen serve`` as its own process and
drives it over loopback with 1, 8 and 32 concurrent clients, each fetching
*fresh* images (ids listed beforehand, never fetched before, so every request
runs the generator). Same run, same store, same generator for both modes:

* batched: ``PIGEN_BATCH_MAX_SIZE=64``, no gathering window (an idle generator
  runs a lone request at once; batches form from what waits meanwhile);
* per request: ``PIGEN_BATCH_MAX_SIZE=1`` (one generator forward per request).

Also in the same run:

* the bare ceiling: the same generator's batch-64 forward plus PNG encoding,
  in this process, no HTTP, no database;
* the HTTP ceiling: the same fetches again, from the cache;
* side by side (``side_by_side.py``: both servers up, alternating rounds, the
  median of per-round differences or ratios, so machine noise hits both alike):
  batched vs per request at the top client count and at one client; and the
  HTTP stack, uvicorn on asyncio + h11
  (the stack before uvicorn[standard]) against uvloop + httptools (what
  ``pigen serve`` picks now), on cached images and a JSON endpoint;
* FastAPI's default JSON rendering (pydantic straight to
  bytes) against orjson (``ORJSONResponse``) on a real listing body;
* overload (``--overload-seconds``): open-loop arrivals at 4x the batched
  images/s measured at 32 clients, then at half of it (``overload.py``): shows
  shedding (503 + Retry-After), the latency of the requests accepted (from the
  client, and inside the server from its own histogram), and recovery; once
  with the admission bounds off (no bound on requests in flight, the old 10 s
  deadline) and once on (``PIGEN_MAX_INFLIGHT_REQUESTS`` at its default, a
  ``--overload-deadline`` of 1 s), on two fresh servers;
* with ``--baseline-ref REF``: batched mode at the top client count again, on a
  server running the code of git ``REF`` (before/after in one run).

The generator is the shipped one when present, else a random generator of the
default architecture (same size, so the same speed). Targets, at 32 clients
(side by side): batched >= 3x per request, p99 < 150 ms; >= 0.7x the bare
ceiling; at 1 client (side by side), batched p50 within 1 ms of per request.

    python bench/service_load.py [--images 256] [--quick] [--baseline-ref HEAD]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

MODES = {"batched": {"PIGEN_BATCH_MAX_SIZE": "64", "PIGEN_BATCH_MAX_WAIT_MS": "0",
                     "PIGEN_BATCH_MAX_QUEUE": "128"},
         "per request": {"PIGEN_BATCH_MAX_SIZE": "1", "PIGEN_BATCH_MAX_WAIT_MS": "0"}}
GENERATOR_THREADS = 2
CEILING_BATCH = 64


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


def bare_ceiling(weights: Path, seconds: float) -> float:
    """Images/s of the generator's batch-64 forward plus PNG encoding: no HTTP, no database."""
    import torch

    from pigen.data.conditions import one_hot_batch
    from pigen.generator.checkpoint import load_generator
    from pigen.generator.encode import png_bytes
    from pigen.generator.sampling import sample, to_uint8

    torch.set_num_threads(GENERATOR_THREADS)
    loaded = load_generator(weights)
    model, layout = loaded.model, loaded.layout
    rng = np.random.default_rng(0)
    conditions = one_hot_batch(layout, rng.integers(0, layout.n_categories, CEILING_BATCH),
                               rng.random((CEILING_BATCH, 3)),
                               rng.integers(0, len(layout.patterns), CEILING_BATCH))
    made, seed, started = 0, 0, 0.0
    for round_ in range(10_000):
        if round_ == 2:  # the first forwards warm up: not timed
            made, started = 0, time.perf_counter()
        seeds = list(range(seed, seed + CEILING_BATCH))
        seed += CEILING_BATCH
        pngs = [png_bytes(image) for image in to_uint8(sample(model, conditions, seeds))]
        made += len(pngs)
        if round_ >= 2 and time.perf_counter() - started > seconds:
            break
    return made / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: uvicorn's options for each HTTP stack measured (``pigen serve --loop --http``).
STACKS = {"uvloop+httptools": ["--loop", "uvloop", "--http", "httptools"],
          "asyncio+h11": ["--loop", "asyncio", "--http", "h11"]}


def start_server(root: Path, url: str, mode: str, stack: str = "uvloop+httptools",
                 extra_env: dict[str, str] | None = None, code: Path | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """``pigen serve`` in ``mode`` (``code``: a folder whose ``pigen`` package to run)."""
    port = free_port()
    env = {**os.environ, "PIGEN_STORAGE_DIR": str(root), "PIGEN_DATABASE_URL": url,
           "PIGEN_IMAGE_CACHE_DIR": str(root / f"images-{mode.replace(' ', '-')}"),
           "PIGEN_MODEL_REFRESH_SECONDS": "0",
           "PIGEN_GENERATOR_THREADS": str(GENERATOR_THREADS),
           "PIGEN_MAX_IMAGES_PER_REQUEST": "64", "PIGEN_DEVICE": "cpu", **MODES.get(mode, {}),
           **(extra_env or {})}
    if code is not None:  # found before the editable install's finder
        env["PYTHONPATH"] = str(code)
    process = subprocess.Popen(
        [sys.executable, "-m", "pigen.service.cli", "serve", "--port", str(port),
         *STACKS[stack]],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # start-up on a busy 2-core box
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


def code_at(ref: str, into: Path) -> Path:
    """A folder with a ``pigen`` package holding the code of git ``ref`` (for ``start_server``)."""
    package = into / "pigen"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    archive = subprocess.run(["git", "archive", ref, "data", "generator", "recsys", "service"],
                             cwd=Path(__file__).resolve().parents[1], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(package)], input=archive, check=True)
    return into


#: Server settings of the overload runs: admission bounds off (as before they existed:
#: no bound on requests in flight, the old 10 s deadline) and on.
def overload_configs(deadline_s: float) -> dict[str, dict[str, str]]:
    return {"bounds off": {"PIGEN_MAX_INFLIGHT_REQUESTS": "100000",
                           "PIGEN_BATCH_TIMEOUT_SECONDS": "10"},
            "bounds on": {"PIGEN_BATCH_TIMEOUT_SECONDS": f"{deadline_s:g}"}}


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
        self.head = b""  # the last response's status line and headers

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.send("GET", path)

    async def post(self, path: str, payload: object, api_key: str) -> tuple[int, bytes]:
        return await self.send("POST", path, json.dumps(payload).encode(),
                               f"Content-Type: application/json\r\nX-API-Key: {api_key}\r\n")

    async def send(self, method: str, path: str, body: bytes = b"", headers: str = ""
                   ) -> tuple[int, bytes]:
        """One request on the kept-alive connection; (status, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        sized = f"Content-Length: {len(body)}\r\n" if method != "GET" else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}"
                          f"{sized}\r\n".encode() + body)
        head = self.head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(base: str, clients: int, images: int, salt: int, repeat: bool = False,
                warm_up: bool = False) -> dict[str, float]:
    """Fetch ``images`` fresh images with ``clients`` concurrent connections.

    ``repeat``: fetch each URL a second time (cache hits) and time only that pass.
    ``warm_up``: a 503 (shed: torch's first forwards are slow) is no error.
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
                if warm_up and status == 503:
                    continue
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


async def hammer(base: str, clients: int, path: str, count: int) -> dict[str, float]:
    """``count`` GETs of one JSON ``path`` over ``clients`` keep-alive connections."""
    host, port = base.removeprefix("http://").split(":")
    connections = [Connection(host, int(port)) for _ in range(clients)]
    latencies: list[float] = []
    left = [count]

    async def client(connection: Connection) -> None:
        while left[0] > 0:
            left[0] -= 1
            started = time.perf_counter()
            status, body = await connection.get(path)
            if status != 200 or not body.startswith(b"{"):
                raise RuntimeError(f"GET {path} -> {status}")
            latencies.append(time.perf_counter() - started)

    await client(connections[0])  # warm-up: one request
    latencies.clear()
    left[0] = count
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    wall = time.perf_counter() - started
    for connection in connections:
        connection.close()
    ms = np.array(latencies) * 1000
    return {"images": len(latencies), "per_second": len(latencies) / wall,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def json_rendering(base: str, repeats: int) -> dict[str, float]:
    """Microseconds to render one real listing body (16 images): FastAPI's way vs orjson's."""
    from pydantic import TypeAdapter

    from pigen.service.api.schemas.images import UserImages

    users = httpx.get(f"{base}/v1/users", params={"limit": 1}).json()["users"]
    body = httpx.get(f"{base}/v1/users/{users[0]['user_id']}/images",
                     params={"n": 16}).json()
    adapter = TypeAdapter(UserImages)
    model = adapter.validate_python(body)
    ways: dict[str, Callable[[], bytes]] = {
        # FastAPI >= 0.115 with a response_model: pydantic-core writes the bytes.
        "pydantic dump_json (default)": lambda: adapter.dump_json(model),
    }
    try:
        import orjson  # the bench extra
    except ImportError:
        print("orjson not installed (pip install -e .[bench]): its rendering not measured")
    else:
        # ORJSONResponse: the model to JSON-able Python, then orjson.
        ways["orjson (ORJSONResponse)"] = lambda: orjson.dumps(
            adapter.dump_python(model, mode="json"))
    timings = {}
    for name, render in ways.items():
        render()
        started = time.perf_counter()
        for _ in range(repeats):
            render()
        timings[name] = (time.perf_counter() - started) / repeats * 1e6
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256,
                        help="Fresh images fetched per (mode, clients) at 32 clients; "
                             "fewer for fewer clients.")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--overload-seconds", type=float, default=5.0,
                        help="Seconds at 4x the sustainable rate, then as long at half "
                             "of it (0: skip).")
    parser.add_argument("--overload-deadline", type=float, default=1.0,
                        help="PIGEN_BATCH_TIMEOUT_SECONDS of the bounded overload server.")
    parser.add_argument("--baseline-ref", default=None,
                        help="Also run batched mode at the top client count on the code of "
                             "this git ref (before/after in the same run).")
    parser.add_argument("--rounds", type=int, default=6,
                        help="Alternating rounds of the side-by-side comparisons (1 client: "
                             "batched vs per request; HTTP stacks).")
    parser.add_argument("--quick", action="store_true", help="Tiny sizes (smoke test).")
    args = parser.parse_args()
    from side_by_side import (
        batching,
        http_stacks,
        report_gain,
        report_lone,
        report_stacks,
    )

    rounds = 2 if args.quick else args.rounds
    levels = [int(c) for c in args.clients.split(",")]
    total = 32 if args.quick else args.images
    overload_seconds = min(args.overload_seconds, 1.0) if args.quick else args.overload_seconds
    with tempfile.TemporaryDirectory(prefix="pigen-load-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        url, weights, which = build_store(root, args.quick)
        print(f"store built in {time.perf_counter() - started:.1f}s; {which}")
        ceiling = bare_ceiling(weights, 0.5 if args.quick else 5.0)
        results: dict[tuple[str, int], dict[str, float]] = {}
        overload: dict[str, dict[str, dict[str, float]]] = {}
        rendering: dict[str, float] = {}
        json_path = "/v1/users?limit=50"
        json_count = 200 if args.quick else 2000
        gain, lone = batching(root, url, rounds, max(levels), total, 8 if args.quick else 24)
        for m, mode in enumerate(MODES):
            process, base = start_server(root, url, mode)
            try:
                # Warm-up: imports, and torch's first forward at each batch size is slow.
                asyncio.run(drive(base, max(levels), 2 * max(levels), salt=999 + m, warm_up=True))
                for clients in levels:
                    count = max(total * clients // max(levels), 16 if args.quick else 48)
                    results[(mode, clients)] = asyncio.run(
                        drive(base, clients, count, salt=10 * m + clients))
                if mode == "batched":  # the HTTP ceiling: the same fetches, from the cache
                    results[("cached", max(levels))] = asyncio.run(
                        drive(base, max(levels), total, salt=77, repeat=True))
                    rendering = json_rendering(base, 200 if args.quick else 2000)
            finally:
                process.terminate()
                process.wait(timeout=30)
        if args.baseline_ref:
            code = code_at(args.baseline_ref, root / "baseline-code")
            process, base = start_server(root, url, "batched",
                                         extra_env={"PIGEN_IMAGE_CACHE_DIR": str(
                                             root / "images-baseline")}, code=code)
            try:
                asyncio.run(drive(base, max(levels), 2 * max(levels), salt=997, warm_up=True))
                results[(f"batched {args.baseline_ref}", max(levels))] = asyncio.run(
                    drive(base, max(levels), total, salt=79))
            finally:
                process.terminate()
                process.wait(timeout=30)
        sustainable = results[("batched", max(levels))]["per_second"]
        if overload_seconds > 0:
            from overload import overload_phases

            configs = overload_configs(args.overload_deadline)
            if args.quick:  # the smoke test: one overload server is enough to run the code
                configs = {"bounds on": configs["bounds on"]}
            for k, (config, env) in enumerate(configs.items()):
                env = {**env, "PIGEN_IMAGE_CACHE_DIR": str(root / f"images-overload-{k}")}
                process, base = start_server(root, url, "batched", extra_env=env)
                try:
                    asyncio.run(drive(base, max(levels), 2 * max(levels), salt=990 + k,
                                     warm_up=True))
                    overload[config] = overload_phases(base, sustainable, overload_seconds,
                                                       salt=500 + 10 * k)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
        stacks = http_stacks(root, url, rounds, max(levels), total, json_path, json_count)
    report(results, ceiling, overload, max(levels))
    report_gain(gain)
    report_lone(lone)
    report_stacks(stacks, max(levels), json_path)
    for name, micros in rendering.items():
        print(f"listing body (16 images) rendered by {name}: {micros:.1f} us")


def report(results: dict[tuple[str, int], dict[str, float]], ceiling: float,
           overload: dict[str, dict[str, dict[str, float]]], top: int) -> None:
    print()
    print(f"{'mode':<16} {'clients':>7} {'images':>7} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for (mode, clients), r in results.items():
        print(f"{mode:<16} {clients:>7} {r['images']:>7.0f} {r['per_second']:>9.1f} "
              f"{r['p50']:>8.1f} {r['p99']:>8.1f}")
    print(f"{'bare ceiling':<16} {'-':>7} {'-':>7} {ceiling:>9.1f} {'-':>8} {'-':>8}"
          f"   (batch-{CEILING_BATCH} forward + PNG encoding, no HTTP)")
    if overload:
        from overload import report_overload

        report_overload(overload)
    batched, single = results.get(("batched", top)), results.get(("per request", top))
    if batched and single:
        print(f"\nat {top} clients: batched / per request = "
              f"{batched['per_second'] / single['per_second']:.2f}x images/s (target >= 3x); "
              f"batched p99 {batched['p99']:.0f} ms (target < 150 ms); "
              f"batched / bare ceiling = {batched['per_second'] / ceiling:.2f} (target >= 0.7)")
    for (mode, clients), r in results.items():
        if mode.startswith("batched ") and clients == top:  # the baseline code
            print(f"at {top} clients, {mode.removeprefix('batched ')}'s code: batched / bare "
                  f"ceiling = {r['per_second'] / ceiling:.2f}")


if __name__ == "__main__":
    main()
