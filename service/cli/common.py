"""What every ``pigen`` command shares: failing clearly, settings, the database.

Kept apart from the command modules so they can all import it without cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pigen.service.settings import Settings


#: Set by commands that leave nothing to clean up (ingest): :func:`pigen.service.cli.main`
#: then ends the process with ``os._exit``. Arrow's IO thread, still joinable
#: when C++ static destructors ran at interpreter exit, made some rejected
#: ingests abort with SIGABRT (rc 134, "terminate called without an active
#: exception") instead of exiting 1.
_skip_native_teardown = False


def skip_native_teardown() -> None:
    """Ask ``main`` to exit without the interpreter's (and Arrow's) teardown."""
    global _skip_native_teardown
    _skip_native_teardown = True


def native_teardown_skipped() -> bool:
    return _skip_native_teardown


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
