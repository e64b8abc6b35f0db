"""What every ``pigen`` command shares: failing clearly, settings, the database.

Kept apart from the command modules so they can all import it without cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pigen.service.settings import Settings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` in red on stderr; ``raise fail(...)`` exits with ``code``."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def load_settings() -> Settings:
    from pydantic import ValidationError

    from pigen.service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as error:
        raise fail(f"invalid PIGEN_* settings:\n{error}", 2) from None


def open_database(upgrade: bool = True) -> Engine:
    """The configured engine, migrated to the latest schema unless told not to."""
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url, settings.engine_options)
    if upgrade:
        upgrade_database(engine)
    return engine
