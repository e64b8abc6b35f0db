"""Prometheus metrics of one app instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pigen.service.batching import MicroBatcher, ShedReason

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """What on-call needs: request latency and status, the generator's batches, queue and
    shedding, image-cache hits, model readiness and refreshes, campaign progress.

    ``deploy/prometheus/alerts.yml`` alerts on these names; keep the two in step.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "pigen_http_request_duration_seconds", "HTTP request latency by route.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.images_generated = Counter(
            "pigen_images_generated_total", "Images the generator made (cache misses).",
            registry=self.registry)
        self.batch_size = Histogram(
            "pigen_generator_batch_size", "Images per generator forward.",
            buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram(
            "pigen_generator_batch_seconds", "Seconds per generator forward.",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.image_cache = Counter(
            "pigen_image_cache_total", "Image requests by cache outcome.", ["outcome"],
            registry=self.registry)
        self.model_fallbacks = Counter(
            "pigen_model_fallbacks_total", "Active model versions that would not load or "
            "infer, replaced by the last good version of their kind.", ["kind"],
            registry=self.registry)

        self.batch_queue_depth = Gauge(
            "pigen_batch_queue_depth", "Images waiting for a generator forward.",
            registry=self.registry)
        self.batch_queue_limit = Gauge(
            "pigen_batch_queue_limit", "Images the generator queue holds at most.",
            registry=self.registry)
        self.shed = Counter(
            "pigen_shed_total", "Requests refused with 503 + Retry-After: the generator was "
            "saturated (queue_full, estimate, deadline) or too many requests were in flight "
            "(inflight).", ["reason"], registry=self.registry)

        self.listed_cache_bytes = Gauge(
            "pigen_listed_cache_bytes", "Memory remembering listed images (by the cache's "
            "own count; bounded by PIGEN_LISTED_CACHE_BYTES).", registry=self.registry)

        self.models_ready = Gauge(
            "pigen_models_ready", "1 when a complete model set is loaded and serving, else 0.",
            registry=self.registry)
        self.model_refreshes = Counter(
            "pigen_model_refresh_total", "Follow-the-registry refreshes, by outcome.",
            ["outcome"], registry=self.registry)
        self.model_refresh_last_success = Gauge(
            "pigen_model_refresh_last_success_timestamp_seconds",
            "Unix time of the last refresh that worked.", registry=self.registry)

    def watch_runtime(self, is_ready: Callable[[], bool]) -> None:
        """Report model readiness at every scrape."""
        self.models_ready.set_function(lambda: 1.0 if is_ready() else 0.0)

    def watch_campaigns(self, engine: Engine) -> None:
        """Report running campaigns and how long the stalest one has not moved."""
        from pigen.service.campaign_metrics import CampaignProgressCollector

        self.registry.register(CampaignProgressCollector(engine))

    def observe_refresh(self, ok: bool) -> None:
        self.model_refreshes.labels(outcome="ok" if ok else "failed").inc()
        if ok:
            self.model_refresh_last_success.set(time.time())

    def watch_queue(self, batcher: MicroBatcher[Any, Any]) -> None:
        """Report ``batcher``'s queue depth and bound at every scrape."""
        self.batch_queue_depth.set_function(lambda: batcher.queue_depth)
        self.batch_queue_limit.set(batcher.max_queue)

    def watch_listed_cache(self, size_bytes: Callable[[], int]) -> None:
        """Report the listed-image cache's bytes at every scrape."""
        self.listed_cache_bytes.set_function(lambda: float(size_bytes()))

    def observe_shed(self, reason: ShedReason | Literal["inflight"]) -> None:
        self.shed.labels(reason=reason).inc()

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.images_generated.inc(size)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
