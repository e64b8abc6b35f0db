"""The service's runtime settings, read once from the environment (``PIGEN_`` prefix).

Every component takes its settings through :func:`get_settings` (cached), so tests
can override them by clearing the cache or passing a ``Settings`` explicitly.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pigen.data.settings import StoreSettings

PREFIX = "PIGEN_"


class Settings(StoreSettings):
    """pigen's configuration. Unknown ``PIGEN_*`` keys in a ``.env`` file are rejected;
    keys without the prefix belong to other tools sharing the file and are ignored.
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="forbid", frozen=True
    )

    # "auto" picks CUDA when torch sees a GPU, else CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Static keys with every scope (comma-separated in the environment), on top of the
    # hashed keys `pigen apikey create` stores in the database.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # GET endpoints demand a key with the ``read`` scope too (default: open reads,
    # as a storefront's product images are public).
    require_read_key: bool = False
    # Micro-batcher: at most this many images per generator forward (1 = no
    # batching, one forward per request) ...
    batch_max_size: int = Field(default=32, ge=1, le=256)
    # ... and at most this long (ms) waiting for a batch to fill once one image waits
    # (0: an idle generator runs a lone image at once; under load batches form anyway
    # from what arrives while the previous forward runs).
    batch_max_wait_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    # Backpressure: images waiting for the generator at most; beyond that, and for an
    # image not made within the timeout (s), the service answers 503 + Retry-After.
    batch_max_queue: int = Field(default=256, ge=1, le=100_000)
    batch_timeout_seconds: float = Field(default=10.0, gt=0.0, le=600.0)
    # Requests being served at once at most (probes and /metrics aside); beyond that new
    # ones get 503 + Retry-After before any work, so a backlog cannot build up in front
    # of the batcher's queue (the event loop, the thread pool, the database).
    max_inflight_requests: int = Field(default=256, ge=1, le=100_000)
    # Torch threads of the server's generator (a storefront box shares its cores).
    generator_threads: int = Field(default=2, ge=1, le=64)
    # Origins allowed to call the API from a browser (comma-separated; empty: none).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Generated images on disk (None: <storage_dir>/images).
    image_cache_dir: Path | None = None
    # Request limits: images per request, display size of an image, request body bytes.
    max_images_per_request: int = Field(default=16, ge=1, le=256)
    max_image_size: int = Field(default=512, ge=32, le=512)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Provenance rows of listed but never fetched images kept in the database; older
    # ones are pruned (their URLs 404 until listed again), so open listing stays bounded.
    max_unfetched_images: int = Field(default=100_000, ge=10, le=100_000_000)
    # Bytes of memory remembering listed images (what makes each), so their first fetch
    # needs no database read; the oldest are forgotten first (0: always read the row).
    listed_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=0, le=4 * 1024**3)
    # How often (s) a server checks the registry for versions another process
    # activated, so replicas follow `pigen recsys activate` (0: never).
    model_refresh_seconds: float = Field(default=30.0, ge=0.0)
    # Campaign runs at once across all `pigen worker`s sharing the database (each
    # run loads its own generator, so this bounds memory and cores too).
    campaign_max_runs: int = Field(default=1, ge=1, le=64)
    # A worker's claim on a run or shard lasts this long (s) unless renewed (every
    # third of it): a killed worker's campaign is resumed by another this soon after.
    campaign_lease_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    # How often (s) an idle worker looks for queued campaigns.
    campaign_poll_seconds: float = Field(default=2.0, gt=0.0, le=300.0)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _PrefixedKeysOnly(settings_cls, dotenv_settings),
                file_secret_settings)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_pigen_keys(cls, values: Any) -> Any:
        # A typo (PIGEN_BATCH_MAX_SIZ) must stop the command, named, not be ignored.
        if isinstance(values, dict):
            unknown = [k for k in values if isinstance(k, str) and k not in cls.model_fields
                       and k.upper().startswith(PREFIX)]
            if unknown:
                raise ValueError("; ".join(_unknown_key_message(k) for k in sorted(unknown)))
        return values

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def images_dir(self) -> Path:
        """Where generated images are cached (``image_cache_dir`` or storage_dir/images)."""
        return self.image_cache_dir or self.storage_dir / "images"


class _PrefixedKeysOnly(PydanticBaseSettingsSource):
    """A ``.env`` file's values less keys without the ``PIGEN_`` prefix (``SECRET_KEY``...)."""

    def __init__(self, settings_cls: type[BaseSettings], dotenv: PydanticBaseSettingsSource
                 ) -> None:
        super().__init__(settings_cls)
        self._dotenv = dotenv

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ filters the whole file at once

    def __call__(self) -> dict[str, Any]:
        # The dotenv source gives known keys by field name and others as written.
        return {key: value for key, value in self._dotenv().items()
                if key in self.settings_cls.model_fields or key.upper().startswith(PREFIX)}


def _unknown_key_message(key: str) -> str:
    name = key.upper()
    known = [PREFIX + field.upper() for field in Settings.model_fields]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown setting {name}{hint}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
