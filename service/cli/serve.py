"""``pigen serve``, ``pigen demo`` and ``pigen apikey``: the HTTP service from the command line.

Heavy imports (torch, pandas, uvicorn's app) happen inside the commands, so
``pigen --help`` stays instant.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pigen.recsys.shipped import TASTE_CONFIG
from pigen.service.cli.common import fail, load_settings, open_database

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pigen.recsys.config import ALSConfig

apikey_app = typer.Typer(help="API keys (stored hashed; scopes read < write < admin).",
                         no_args_is_help=True)

HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="TCP port.")]
#: Packaged, so `pigen demo` run from any folder trains the same (it used to look
#: for configs/ in the working directory and fall back to ranking defaults).
DEMO_CONFIG = TASTE_CONFIG


def register_serve_commands(app: typer.Typer) -> None:
    """Add ``serve``, ``demo`` and ``apikey`` to the ``pigen`` app."""
    app.command("serve")(serve)
    app.command("demo")(demo)
    app.add_typer(apikey_app, name="apikey")


def serve(host: HostOption = "127.0.0.1", port: PortOption = 8000,
          loop: Annotated[str, typer.Option(help="Event loop: auto (uvloop when installed), "
                                            "uvloop or asyncio.")] = "auto",
          http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when "
                                            "installed), httptools or h11.")] = "auto") -> None:
    """Run the HTTP API and the demo page (models: the registry's active versions)."""
    if loop not in ("auto", "uvloop", "asyncio") or http not in ("auto", "httptools", "h11"):
        raise fail(f"--loop must be auto, uvloop or asyncio and --http auto, httptools or h11; "
                   f"got {loop!r} and {http!r}", 2)
    import uvicorn

    from pigen.service.app import create_app

    settings = load_settings()
    engine = open_database()
    typer.echo(f"pigen API on http://{host}:{port}  (demo page: http://{host}:{port}/demo/)")
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="info",
                loop=loop, http=http)  # type: ignore[arg-type]


def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    items: Annotated[int, typer.Option(help="Catalog size, when the store is built.")] = 2000,
    shoppers: Annotated[int, typer.Option(help="Simulated shoppers, when built.")] = 5000,
    ratings_per_shopper: Annotated[float, typer.Option(help="Mean ratings per shopper.")
                                   ] = 40.0,
    generator: Annotated[Path | None, typer.Option(help="Generator weights (default: the "
                                                   "shipped ones).")] = None,
    als_config: Annotated[Path | None, typer.Option(help="The taste model's ALS config JSON "
                                                    f"(default: the shipped {DEMO_CONFIG.name})."
                                                    )] = None,
    ranking_config: Annotated[Path | None, typer.Option(help="The ranking model's ALS config "
                                                        "JSON, e.g. from `pigen recsys tune` "
                                                        "(default: ALSConfig's defaults).")
                              ] = None,
    check: Annotated[bool, typer.Option("--check", help="Start, fetch the page and one "
                                        "image, print what came back, exit.")] = False,
    catalog: Annotated[Path | None, typer.Option(
        "--catalog", help="A folder of your own product photos and one catalog CSV "
                          "(+ optional ratings.csv): ingest, extract colours and patterns, "
                          "train the generator on it, serve the storefront on it. Use a "
                          "store of its own (PIGEN_STORAGE_DIR).")] = None,
    steps: Annotated[int | None, typer.Option(
        min=1, help="With --catalog: generator training steps (default 300 on a CPU, "
                    "5000 on a GPU, which is far faster).")] = None,
) -> None:
    """The demo storefront: build the store if missing, train the taste and ranking models,
    serve, print the URL."""
    settings = load_settings()
    engine = open_database()
    if catalog is not None:
        from pigen.service.cli.demo_catalog import prepare_catalog_demo

        prepare_catalog_demo(engine, settings, catalog, steps)
    else:
        _ensure_demo_store(engine, settings.storage_dir, settings.fashion_mnist_dir, items,
                           shoppers, ratings_per_shopper)
    _ensure_als(engine, settings.models_dir, als_config)
    _ensure_ranking(engine, settings.models_dir, ranking_config)
    if catalog is None:  # a catalog demo serves the generator it just trained
        _ensure_generator(engine, generator)
        from pigen.service.experiments.demo import ensure_generator_experiment

        typer.echo(ensure_generator_experiment(engine))  # old vs new generator, on /admin
    first_user = _first_shopper(engine)
    from pigen.service.app import create_app

    app = create_app(settings, engine)
    from pigen.service.cli.worker import worker_alongside

    if check:
        with worker_alongside() as worker:  # campaigns the page or API queue run there
            code = _check(app, host, first_user)
            alive = worker.poll() is None
            typer.echo(f"check: campaign worker {'running' if alive else 'not running'} "
                       f"(pid {worker.pid})")
        raise typer.Exit(code or int(not alive))
    import uvicorn

    # The page rates items through the API like any client: give it a write key, in
    # the URL's fragment (browsers never send fragments to servers or their logs).
    key = demo_page_key(engine)
    typer.echo(f"\npigen demo storefront: http://{host}:{port}/demo/?user={first_user}"
               f"#key={key}\nAPI docs: http://{host}:{port}/docs   (Ctrl-C stops)")
    with worker_alongside() as worker:
        typer.echo(f"campaigns: run by `pigen worker` (pid {worker.pid}) beside the server")
        uvicorn.run(app, host=host, port=port, log_level="warning")


#: The name of the one write key ``pigen demo`` keeps for its page.
DEMO_KEY_NAME = "demo page"


def demo_page_key(engine: Engine) -> str:
    """The demo page's write key, re-keyed at every start: one key, whatever the starts.

    The secret is stored hashed, so it cannot be shown again; instead the one key
    named ``demo page`` gets a new secret (the previous run's URL stops writing)
    and any other active ``demo page`` keys, from earlier versions, are revoked.
    """
    from pigen.service.auth import rotate_api_key

    key, info = rotate_api_key(engine, "write", DEMO_KEY_NAME)
    typer.echo(f"demo page key: id {info.id} ({info.prefix}), new secret for this run; "
               f"`pigen apikey revoke {info.id}` ends it")
    return key


def _ensure_demo_store(engine: Engine, storage_dir: Path, fashion_mnist_dir: Path | None,
                       items: int, shoppers: int, ratings_per_shopper: float) -> None:
    from sqlalchemy import func, select

    from pigen.data.schema import Item

    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Item)).scalar_one()
    if stored:
        typer.echo(f"store: {stored:,} catalog items already there")
        return
    from pigen.data.catalog.builtin import CatalogConfig
    from pigen.data.demo_data import DemoDataConfig, build_demo_data
    from pigen.data.simulator import SimulatorConfig

    try:
        config = DemoDataConfig(catalog=CatalogConfig(n_items=items),
                                simulator=SimulatorConfig(n_shoppers=shoppers,
                                                          mean_ratings=ratings_per_shopper))
        summary = build_demo_data(engine, storage_dir, config,
                                  fashion_mnist_dir=fashion_mnist_dir, say=typer.echo)
    except (FileNotFoundError, ValueError) as error:
        raise fail(str(error)) from None
    for line in summary.lines():
        typer.echo(line)


def _ensure_als(engine: Engine, models_dir: Path, config_path: Path | None) -> None:
    from pigen.data.model_registry import active_model_version
    from pigen.service.recsys_serving import MODEL_KIND, train_and_register

    active = active_model_version(engine, MODEL_KIND)
    if active is not None:
        typer.echo(f"recommender: taste model (ALS) version {active.id} active")
        return
    config = demo_als_config(config_path)
    typer.echo(f"recommender: training the taste model with {config_path or DEMO_CONFIG.name}")
    version = train_and_register(engine, models_dir, config, say=typer.echo, purpose="taste")
    typer.echo(f"recommender: taste model version {version.id} trained and active")


def _ensure_ranking(engine: Engine, models_dir: Path, config_path: Path | None) -> None:
    """Train the ranking model if none is active (also in a store from before there was one)."""
    from pigen.data.model_registry import active_model_version
    from pigen.recsys.config import ALSConfig
    from pigen.service.recsys_serving import RANKING_KIND, train_and_register

    active = active_model_version(engine, RANKING_KIND)
    if active is not None:
        typer.echo(f"recommender: ranking model version {active.id} active")
        return
    config = demo_als_config(config_path) if config_path is not None else ALSConfig()
    typer.echo(f"recommender: training the ranking model with "
               f"{config_path or 'the ALSConfig defaults'}")
    version = train_and_register(engine, models_dir, config, purpose="ranking")
    typer.echo(f"recommender: ranking model version {version.id} trained and active")


def demo_als_config(path: Path | None) -> ALSConfig:
    """``path``'s config, or the shipped demo config; never silently the defaults.

    A file written by ``pigen recsys tune`` (the config under ``"config"``) is
    taken as it is.
    """
    from pigen.recsys.config import ALSConfig

    source = path or DEMO_CONFIG
    try:
        loaded = json.loads(source.read_text())
        return ALSConfig.from_dict(loaded.get("config", loaded) if isinstance(loaded, dict)
                                   else loaded)
    except (OSError, ValueError, TypeError) as error:
        raise fail(f"cannot read the ALS config {source}: {error}", 2) from None


def _ensure_generator(engine: Engine, weights: Path | None) -> None:
    from pigen.service.generator_serving import ensure_generator_version

    try:
        version = ensure_generator_version(engine, weights)
    except (FileNotFoundError, ValueError) as error:
        raise fail(f"no generator to serve: {error}") from None
    if weights is not None and not version.is_active:
        from pigen.data.model_registry import activate_model_version

        version = activate_model_version(engine, version.id)
    typer.echo(f"generator: version {version.id} active ({version.path.name})")


def _first_shopper(engine: Engine) -> str:
    from pigen.service.shoppers import list_users

    page, _ = list_users(engine, 1, 0)
    return page[0][0] if page else "new-visitor"


def _check(app: object, host: str, user: str) -> int:
    """Serve on a free port, fetch the page, one image list and one image; 0 when all work."""
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,  # type: ignore[arg-type]
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                typer.echo("check: the server did not start", err=True)
                return 1
            time.sleep(0.05)
        page = _get(f"{base}/demo/")
        typer.echo(f"check: GET /demo/ -> {len(page):,} bytes")
        listing = json.loads(_get(f"{base}/v1/users/{user}/images?n=2"))
        image = listing["images"][0]
        png = _get(base + image["url"])
        typer.echo(f"check: {user}: {len(listing['images'])} images ({listing['source']}); "
                   f"GET {image['url']} -> {len(png):,} bytes PNG")
        typer.echo(f"check: demo storefront OK at {base}/demo/?user={user}")
        return 0 if png.startswith(b"\x89PNG") and b"<html" in page.lower() else 1
    except OSError as error:
        typer.echo(f"check failed: {error}", err=True)
        return 1
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (our own server)
        return response.read()


@apikey_app.command("create")
def apikey_create(
    scope: Annotated[str, typer.Option(help="read, write or admin (each grants the ones "
                                       "before it).")] = "read",
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from pigen.service.auth import create_api_key

    try:
        key, info = create_api_key(open_database(), scope, name)
    except ValueError as error:
        raise fail(str(error), 2) from None
    typer.echo(key)
    typer.echo(f"created {info.scope} key {info.prefix} ({info.name or 'unnamed'}); "
               "store it now: it cannot be shown again", err=True)


@apikey_app.command("list")
def apikey_list() -> None:
    """Keys by id, prefix, scope, state, creation date and name (never the secret)."""
    from pigen.service.auth import list_api_keys

    typer.echo(f"{'ID':>4}  {'PREFIX':<8}  SCOPE  {'STATE':<7}  {'CREATED':<10}  NAME")
    for key in list_api_keys(open_database()):
        state = "revoked" if key.revoked else "active"
        typer.echo(f"{key.id:>4}  {key.prefix:<8}  {key.scope:<5}  {state:<7}  "
                   f"{key.created_at:%Y-%m-%d}  {key.name}")


@apikey_app.command("revoke")
def apikey_revoke(key: Annotated[str, typer.Argument(
        metavar="ID", help="The key's id as `pigen apikey list` shows it, or its prefix "
                           "(8 hex, also as pgk_<prefix>...).")]) -> None:
    """Revoke a key at once."""
    from pigen.service.auth import revoke_api_key

    try:
        revoked = revoke_api_key(open_database(), key)
    except ValueError as error:
        raise fail(str(error), 2) from None
    if not revoked:
        raise fail(f"no active key {key!r} (see `pigen apikey list`)")
    typer.echo(f"revoked {key}")
