"""One registry of every model the workbench computes with: source, version, departures.

A model named after a source (CCF, BoaviztAPI, SCI, AWS billing) reproduces that
source's own numbers -- its tests name the source file they take them from. A
refinement of our own gets its own name and lists each departure here. The
``finops models`` command prints this table; README.md carries the same table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from finops_lib import factors


@dataclass(frozen=True)
class ModelInfo:
    """One model: what it computes, after which source, at which version, departing how."""

    name: str
    kind: str  # power | embodied | energy | billing
    source: str
    version: str
    departures: tuple[str, ...] = ()
    tests: str = ""


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "ccf", "power+embodied",
        "Cloud Carbon Footprint, AWS method as its code computes it (compute, memory above the per-chip "
        "baseline, burstable scaling, embodied)",
        f"{factors.CCF_REPO}@{factors.CCF_COMMIT[:12]} (AWSInstanceTypes.ts, AwsFootprintEstimationConstants.ts, "
        "ComputeProcessorTypes.ts); embodied code as in CostAndUsageReports.test.ts@0923ff005a64",
        ("none in the formulas; scope: CPU load u is an input (CCF's CUR path fixes u = 50 %), PUE applied "
         "in calc.energy_kwh, GPU/storage/accelerator families not transcribed (explicit error)",
         "follows CCF's code where it contradicts CCF's docs: embodied usage time = hours / vCPU, "
         "'largest size' = last entry of CCF's family table (m6a: 19 vCPU typo kept)"),
        "tests/calc/test_ccf_source.py",
    ),
    ModelInfo(
        "ccf_refined", "power+embodied", "our refinement of ccf",
        f"ccf @ {factors.CCF_COMMIT[:12]} plus the substitutions listed",
        ("AMD EPYC 3rd Gen (m6a, c6a): CCF core COMPUTE_PROCESSOR_TYPES 0.45/2.02 W per vCPU and 128 GB/chip "
         "instead of CCF's AWS fallback 0.74/3.5 W per vCPU and 80.69 GB/chip",
         "Ice Lake families (m6i, c6i, r6i): Cascade Lake coefficients instead of CCF's AWS fallback "
         "(CCF has no Ice Lake values; m6i is 'Unknown' in CCF)"),
        "tests/calc/test_power.py",
    ),
    ModelInfo(
        "boavizta", "power+embodied",
        "BoaviztAPI POST /v1/cloud/instance (verbose avg_power; impacts.gwp.embedded for duration 1 h), "
        "usage_location DEU",
        "boaviztapi 2.5.0 (local server from .venv-boavizta)",
        ("the collector asks 6 loads per type and fits BoaviztAPI 2.5.0's own curve form "
         "(vCPU share of a*ln(b*(x+c))+d plus linear RAM) to them (residual < 0.02 %, checked; an error if "
         "the form does not fit), evaluated at 22 load points; the model interpolates linearly between "
         "them: within 0.3 % of the server at any load (measured)",),
        "tests/collect/test_boavizta_curve.py",
    ),
    ModelInfo(
        "linear_share", "power", "the original project's seed model P = P_ref (0.3 + 0.7 u)",
        "seed project",
        ("idle share 0.3 is the seed project's assumption, not a published figure (Barroso & Hoelzle 2007 "
         "report ~0.5 for servers of the time)",
         "P_ref defaults to the ccf power at full load"),
        "tests/calc/test_power.py",
    ),
    ModelInfo(
        "sci_embodied", "embodied",
        "Green Software Foundation SCI specification v1.0 (ISO/IEC 21031:2024): M = TE (TiR/EL) (RR/ToR)",
        "SCI v1.0", (), "tests/calc/test_sci_source.py",
    ),
    ModelInfo(
        "energy", "energy", "E = P t r PUE; CCF AWS PUE 1.135 or GSF regional PUE", "calc.carbon",
        (), "tests/calc/test_carbon.py",
    ),
    ModelInfo(
        "aws_billing", "billing",
        "AWS EC2 billing: per second with a 60 s minimum per start (Linux); pending not billed; Spot "
        "interrupted by EC2 in its first hour not charged",
        "AWS EC2 User Guide (instance lifecycle; billing for interrupted Spot Instances); per-second "
        "billing announcement 2017",
        ("a tail clipped at the window start is billed by the second without minimum (its start is unknown)",),
        "tests/calc/test_billing.py",
    ),
)


def model_table() -> list[dict[str, str]]:
    """The registry as rows (name, kind, source, version, departures, tests)."""
    return [{"name": m.name, "kind": m.kind, "source": m.source, "version": m.version,
             "departures": "; ".join(m.departures) or "none", "tests": m.tests} for m in MODELS]


def markdown_table() -> str:
    """The registry as a Markdown table (as in README.md)."""
    cols = ("name", "kind", "source", "version", "departures", "tests")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in model_table():
        lines.append("| " + " | ".join(row[c].replace("|", "/") for c in cols) + " |")
    return "\n".join(lines)


def _cmd_models(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    for row in model_table():
        print(f"{row['name']} ({row['kind']})")
        for key in ("source", "version", "departures", "tests"):
            print(f"  {key}: {row[key]}")
    return 0


def register(sub) -> None:
    """Add ``finops models``."""
    p = sub.add_parser("models", help="list every model with its source, version and departures")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    p.set_defaults(func=_cmd_models)
