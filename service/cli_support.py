"""Moved to :mod:`pigen.service.cli.common`; kept until generator_cli imports it there."""

from pigen.service.cli.common import fail, load_settings, open_database  # noqa: F401
