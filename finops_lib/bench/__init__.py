"""Benchmarks (``make bench``): API calls vs the theoretical minimum, wall time, peak memory.

Each module (``collect``, ``sandbox``, ``evaluate``) has a ``run()`` that prints
its table and returns its rows; ``python -m finops_lib.bench`` runs them all.
Figures are printed, never asserted: performance is measured here, not in
timed unit tests.
"""
