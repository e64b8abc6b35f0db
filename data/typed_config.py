"""The one idiom for pigen's typed configs: a frozen, strict pydantic model.

Every config that is saved with an artifact (``ALSConfig`` in a model file,
``SimulatorConfig`` in a tastes file, ``GeneratorConfig`` in a checkpoint) has to
reject the same mistakes the same way, so a typo in a JSON file or a ``--set``
fails loudly instead of training the wrong model:

* unknown keys (``extra="forbid"``): a misspelt field must not fall back to its default;
* wrong types (``strict=True``): ``True`` is not ``1`` and ``6.5`` is not an int;
  an int is accepted for a float field and stored as a float;
* non-finite floats (``allow_inf_nan=False``) and ranges (``Field(ge=..., le=...)``);
* cross-field rules, in a ``model_validator(mode="after")`` that raises ``ValueError``.

Whatever goes wrong surfaces as one :class:`ConfigError` naming every bad field.
A subclass declares fields with a comment saying why each default is what it is::

    class ALSConfig(TypedConfig):
        # Latent dimensions per user and item.
        factors: int = Field(default=64, ge=1)

and gets :meth:`~TypedConfig.to_dict` / :meth:`~TypedConfig.from_dict` (which
round-trip: ``Cls.from_dict(c.to_dict()) == c``) and a validated
:meth:`~TypedConfig.replace`. Files written by an older version are mapped to
the current fields by overriding :meth:`~TypedConfig._migrate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["ConfigError", "StrictModel", "TypedConfig"]


class ConfigError(ValueError):
    """A config that cannot be built; ``problems`` holds one line per bad field.

    A ``ValueError`` so that callers which already catch ``ValueError`` (the CLI,
    model-file loaders) keep working.
    """

    def __init__(self, config_name: str, problems: list[str]) -> None:
        self.config_name = config_name
        self.problems = tuple(problems)
        super().__init__(f"invalid {config_name}: " + "; ".join(problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, list[str]]]:
        # Rebuilt from its parts, so it survives pickling (Ray workers, process pools).
        return type(self), (self.config_name, list(self.problems))

    @classmethod
    def from_validation(cls, config_name: str, error: ValidationError,
                        known: Iterable[str] = ()) -> ConfigError:
        """Translate pydantic's errors into ``field: reason (got value)`` lines.

        When a key is unknown the ``known`` ones are listed too, so a typo is
        one glance from its fix.
        """
        details = error.errors()
        problems = [_describe(detail) for detail in details]
        if any(detail["type"] == "extra_forbidden" for detail in details):
            problems.append(f"known keys: {', '.join(sorted(known))}")
        return cls(config_name, problems)


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys: the base of API bodies and specs.

    Request bodies arrive as JSON, so their types stay pydantic's lax defaults;
    :class:`TypedConfig` adds frozen, strict types on top for saved configs.
    """

    model_config = ConfigDict(extra="forbid")


class TypedConfig(StrictModel):
    """Base of every typed config: frozen, strict, finite, raising :class:`ConfigError`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError.from_validation(type(self).__name__, error,
                                              type(self).model_fields) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # An AttributeError, as for any read-only attribute (and frozen dataclasses).
        raise AttributeError(f"{type(self).__name__} is frozen; use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Build from plain values (JSON, CLI); unknown keys are an error, missing ones default.

        JSON has no tuples, so top-level lists become tuples (config fields are
        tuples: a frozen config must stay hashable).
        """
        if not isinstance(values, Mapping):
            raise ConfigError(cls.__name__, [f"expected a mapping, got {type(values).__name__}"])
        migrated = cls._migrate(dict(values))
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in migrated.items()})

    @classmethod
    def _migrate(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Map values written by an older version onto today's fields (none by default)."""
        return values

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists), the inverse of :meth:`from_dict`."""
        return self.model_dump(mode="json")

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, validated again (``model_copy`` would not)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**values, **changes})


def _describe(detail: Any) -> str:
    """One pydantic error as ``field: reason (got value)``."""
    field = ".".join(str(part) for part in detail["loc"])
    if detail["type"] == "extra_forbidden":
        return f"{field}: unknown key"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if not field:  # a cross-field rule: its message names the fields
        return message
    return f"{field}: {message} (got {detail['input']!r})"
