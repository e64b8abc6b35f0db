"""``pigen worker``: the process that runs the campaigns the API queues.

Heavy imports (torch) happen when a campaign runs, not at start-up.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer

from pigen.service.cli import common as cli


def register_worker_command(app: typer.Typer) -> None:
    """Add ``worker`` to the ``pigen`` app."""
    app.command("worker")(worker)


def worker(
    drain: Annotated[bool, typer.Option("--drain", help="Exit once no campaign is queued "
                                        "or running (default: keep polling).")] = False,
) -> None:
    """Run queued campaigns (PIGEN_CAMPAIGN_MAX_RUNS at once, in all workers together).

    Ctrl-C or SIGTERM: the shards in hand are finished and the campaigns go back
    to the queue. A killed worker's campaigns are resumed by any worker once
    their leases (PIGEN_CAMPAIGN_LEASE_SECONDS) run out.
    """
    from pigen.service.campaigns.worker import CampaignWorker, WorkerOptions

    settings = cli.load_settings()
    engine = cli.open_database()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    runner = CampaignWorker(engine, WorkerOptions(
        max_runs=settings.campaign_max_runs, lease_seconds=settings.campaign_lease_seconds,
        poll_seconds=settings.campaign_poll_seconds, device=settings.device))

    def stop(signum: int, _frame: FrameType | None) -> None:
        typer.echo(f"worker: {signal.Signals(signum).name}, finishing the shards in hand",
                   err=True)
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"pigen worker: up to {settings.campaign_max_runs} campaign run(s) at once, "
               f"leases of {settings.campaign_lease_seconds:g}s", err=True)
    runner.run(drain=drain)
    typer.echo(f"pigen worker: stopped after {runner.runs_started} run(s)", err=True)


@contextmanager
def worker_alongside() -> Iterator[subprocess.Popen[bytes]]:
    """A ``pigen worker`` process for as long as the block runs (``pigen demo``'s campaigns).

    A process of its own, not a thread of the server: generation never competes
    with requests for the server's interpreter. At the end it is asked to stop
    (SIGTERM: the shards in hand are finished, its campaigns queued again).
    """
    process = subprocess.Popen([sys.executable, "-m", "pigen.service.cli", "worker"],
                               stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()  # its leases run out; the next worker resumes its campaigns
                process.wait()
