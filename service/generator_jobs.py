"""Moved to :mod:`pigen.service.generator_serving`; kept until generator_cli imports it there."""

from pigen.service.generator_serving import (  # noqa: F401
    MODEL_KIND,
    ensure_generator_version,
    load_active_generator,
)
