"""The experiment engine: sticky hash assignment, exposures, events and their analysis.

* :mod:`~pigen.service.experiments.assignment` — who sees which variant (pure, no I/O).
* :mod:`~pigen.service.experiments.store` — every database read and write.
* :mod:`~pigen.service.experiments.serving` — what the image endpoints call per request.
* :mod:`~pigen.service.experiments.stats` — the statistics, as pure functions.
* :mod:`~pigen.service.experiments.analysis` — exposures + events -> per-variant results.
* :mod:`~pigen.service.experiments.report` — the text table and the lift-over-time plot.
"""
