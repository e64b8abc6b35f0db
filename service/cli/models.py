"""``pigen models``: every model kind's versions, and activation that tests first.

The one place an operator rolls back any model (ALS, generator) without the API:
a version becomes active only after it loaded and passed a test inference, in
the activation's own transaction, so a running service never follows the
registry to a file it cannot serve.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pigen.service.cli import common as cli

models_app = typer.Typer(help="Model versions of every kind: list them, activate one.",
                         no_args_is_help=True)

KindArgument = Annotated[str, typer.Argument(
    help="Model kind: als (the taste model), ranking or generator.")]
IdArgument = Annotated[int, typer.Argument(help="Version id from `pigen models list`.")]


@models_app.command("list")
def list_versions(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None
                  ) -> None:
    """Every registered version, newest first; * marks the active one of its kind."""
    from pigen.data.model_registry import list_model_versions

    rows = list_model_versions(cli.open_database(), kind)
    if not rows:
        typer.echo("no model versions yet: run `pigen recsys train` or `pigen serve`")
        return
    for version in rows:
        mark = "*" if version.is_active else " "
        present = "" if version.path.is_file() else "  (file missing)"
        typer.echo(f"{mark} {version.id:>4}  {version.kind:<10} "
                   f"{version.created_at:%Y-%m-%d %H:%M:%S}Z  {version.path.name}{present}")


@models_app.command("activate")
def activate(kind: KindArgument, version_id: IdArgument) -> None:
    """Load and test version ID of KIND, then make it the active one (e.g. a rollback).

    Running services follow within their refresh interval. Exit 1, nothing changed,
    if the version is unknown, of another kind, or its file does not load or infer.
    """
    from pigen.data.model_registry import activate_model_version, list_model_versions
    from pigen.service.model_loading import KINDS, ModelLoadError, load_checked

    if kind not in KINDS:
        raise cli.fail(f"unknown model kind {kind!r}: pick one of {', '.join(KINDS)}")
    settings = cli.load_settings()
    engine = cli.open_database()
    known = {v.id: v for v in list_model_versions(engine, kind)}
    if version_id not in known:
        raise cli.fail(f"no {kind} version {version_id}; see `pigen models list --kind {kind}`")
    try:
        activate_model_version(engine, version_id,
                               check=lambda version: load_checked(version, settings.device))
    except ModelLoadError as error:
        raise cli.fail(f"refused: {error}; nothing changed "
                       f"(file: {known[version_id].path})") from None
    typer.echo(f"{kind} version {version_id} is active")
