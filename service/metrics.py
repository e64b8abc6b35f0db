"""Prometheus metrics of one app instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """Request latency, images generated, batch sizes and image-cache hits."""

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

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.images_generated.inc(size)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
