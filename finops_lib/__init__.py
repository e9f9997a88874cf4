"""Carbon-Aware FinOps Workbench library.

The pipeline is ``world -> collect -> snapshot -> calc -> notebooks -> results``:

- :mod:`finops_lib.calc` -- pure calculations (runtime, billing, power, carbon,
  deviation, scenarios, uncertainty); no I/O.
- :mod:`finops_lib.collect` -- every call to AWS, Electricity Maps, WattTime and
  BoaviztAPI.
- :mod:`finops_lib.snapshot` -- the frozen, hashed result of one collection.
- :mod:`finops_lib.sandbox` -- the simulated SME fleet with ground truth, served
  offline through the real wire protocols.
"""

__version__ = "0.1.0"
