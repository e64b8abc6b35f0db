"""The ``pigen`` command line: one Typer app assembled from the command groups.

Imports here stay light so ``pigen --help`` is instant; each command imports
what it needs (pandas, torch, implicit) when it runs.
"""

from __future__ import annotations

import os
import sys

# Before anything can import torch: spinning OpenMP threads make a busy 2-core
# machine several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer  # noqa: E402

from pigen.service.cli.campaign import campaign_app  # noqa: E402
from pigen.service.cli.catalog import catalog_app  # noqa: E402
from pigen.service.cli.experiment import experiment_app  # noqa: E402
from pigen.service.cli.generator import generator_app  # noqa: E402
from pigen.service.cli.models import models_app  # noqa: E402
from pigen.service.cli.recsys import recsys_app  # noqa: E402
from pigen.service.cli.serve import register_serve_commands  # noqa: E402
from pigen.service.cli.store import db_app, ingest_app, register_store_commands  # noqa: E402
from pigen.service.cli.worker import register_worker_command  # noqa: E402

app = typer.Typer(help="pigen: personalised product images from shoppers' ratings.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(catalog_app, name="catalog")
app.add_typer(recsys_app, name="recsys")
register_serve_commands(app)  # serve, demo, apikey
app.add_typer(generator_app, name="generator")
app.add_typer(models_app, name="models")
app.add_typer(campaign_app, name="campaign")
register_worker_command(app)  # worker: runs queued campaigns
app.add_typer(experiment_app, name="experiment")
register_store_commands(app)  # demo-data


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as done:
        from pigen.service.cli.common import native_teardown_skipped

        if not native_teardown_skipped():
            raise
        # Nothing is left to clean up (the transaction committed or rolled
        # back): flush what was printed and leave with the command's code.
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
