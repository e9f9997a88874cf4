"""Instance power models behind one interface: (instance type, CPU load) -> watts.

Models (``POWER_MODELS``; sources, versions and departures: :mod:`finops_lib.models`):

``ccf``
    Cloud Carbon Footprint's AWS method as its code computes it [1]_ (values
    and commits in :mod:`finops_lib.factors`, ``CCF_*``):

    - compute: P = vCPU_eff · (W_min + u · (W_max − W_min)); W_min/W_max per vCPU
      are the mean over the type's processors in CCF's AWS instance table
      (c5/r5 = mean of Cascade Lake and Skylake; median if Sandy/Ivy Bridge is
      among them), and CCF's AWS averages 0.74 / 3.5 W per vCPU when any of the
      processors has no AWS coefficient (EPYC 3rd Gen, Ice Lake, Graviton 1,
      "Unknown" -- m6a, c6i, r6i, m6i, a1 ...). Burstable types (t2/t3/t3a/t4g):
      vCPU_eff = vCPU · baseline % / 50 (CCF scales their vCPU-hours so).
    - memory: only the memory above the per-chip memory already inside CCF's
      SPECpower figures, scaled to the instance's share of the largest size of
      its family: GB = (M_largest / chips − GB_chip) / (M_largest / M_instance)
      when positive, else 0; chips = ceil(vCPU_largest / 96) (2 for m5zn, z1d);
      none for burstable types; 0.392 W per GB.
    - embodied (:func:`ccf_embodied_g_per_h`): CCF's code calls the estimator with
      usage time = instance-hours / vCPU of the instance and resource share =
      vCPU / vCPU of the *last* size in CCF's family table, so per instance-hour
      M = TE / (35,040 h · vCPU_largest), independent of the instance's own vCPU.
      CCF's methodology page describes M = TE · (hours / 35,040) · (vCPU /
      vCPU_largest); where the code contradicts the docs we follow the code
      (CostAndUsageReports.ts getEmbodiedEmissions, checked against CCF's own CUR
      test numbers in tests/calc/test_ccf_source.py). CCF's table typos are kept
      (m6a's last size has 19 vCPU).
    - PUE 1.135 is *not* in the watts; pass ``factors.PUE["ccf_aws"]`` to
      :func:`finops_lib.calc.energy_kwh`. CCF's CUR path evaluates u = 50 %
      (``AVG_CPU_UTILIZATION_2020``); this model takes u as an input.
``ccf_refined``
    Our refinement of ``ccf`` (departures listed in :mod:`finops_lib.models`):
    AMD EPYC 3rd Gen with CCF's own core coefficients (0.45 / 2.02 W per vCPU,
    128 GB per chip) instead of the AWS fallback, and Ice Lake families (m6i,
    c6i, r6i) with Cascade Lake coefficients. Everything else as ``ccf``.
``boavizta``
    The local BoaviztAPI's power curve [2]_ as a ``power_profiles`` table of load
    points, interpolated piecewise-linearly. The server's curve is the vCPU
    share of a fitted a·ln(b·(x + c)) + d for the CPU plus a linear RAM term, so
    four points (0/10/50/100 %) are not enough (up to 8 % low in between). The
    collector asks 6 loads per type, fits that form (:func:`fit_boavizta_curve`,
    residual checked) and tabulates it at 22 load points
    (``collect.boavizta.LOAD_FRACS``): within 0.3 % of the server at any load
    (measured). Without a table the readings ``factors.BOAVIZTA_CURVE_POWER_W``
    are the curve.
``linear_share``
    The original project's seed model: P = P_ref · (0.3 + 0.7 · u). The idle
    share 0.3 is the seed project's assumption (see
    ``factors.LINEAR_SHARE_IDLE_FRAC``). P_ref is the type's ``ccf`` power at
    full load unless ``p_ref_w`` is given (a number or a mapping type -> W).

A type a model has no coefficients for is an :class:`UnknownInstanceTypeError`
naming the type, the model and why -- never a NaN.

References
----------
.. [1] Cloud Carbon Footprint, cloud-carbon-footprint/cloud-carbon-footprint,
   packages/aws and packages/core (commits in ``factors.CCF_SOURCE``);
   methodology: https://www.cloudcarbonfootprint.org/docs/methodology/
.. [2] Boavizta, BoaviztAPI 2.5.0, ``POST /v1/cloud/instance`` (verbose
   ``avg_power`` at a given ``time_workload``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from finops_lib import factors, schema
from finops_lib.factors import (
    BOAVIZTA_CURVE_LOADS_FRAC,
    BOAVIZTA_CURVE_POWER_W,
    CCF_LIFETIME_H,
    CCF_MEMORY_W_PER_GIB,
    LINEAR_SHARE_IDLE_FRAC,
)

POWER_MODELS = ("linear_share", "ccf", "ccf_refined", "boavizta")
_CCF_MODELS = ("ccf", "ccf_refined")
_CPU_TOL = 1e-9
#: CCF: one physical chip per 96 vCPU of the largest size, except these families (always 2).
_CCF_TWO_CHIP_FAMILIES = ("m5zn", "z1d")
_G_PER_T = 1e6


class UnknownInstanceTypeError(ValueError):
    """A power model has no coefficients for an instance type; names type, model and reason."""


def _check_cpu(cpu_util_frac: Any) -> np.ndarray:
    u = np.asarray(cpu_util_frac, dtype="float64")
    bad = (u < -_CPU_TOL) | (u > 1 + _CPU_TOL)
    if bad.any():
        raise ValueError(f"cpu_util_frac must lie in 0..1 (NaN allowed), got {u[bad][:5].tolist()}")
    return np.clip(u, 0.0, 1.0)  # only removes the tolerance; NaN stays NaN


def _same_kind(x: Any, values: np.ndarray) -> Any:
    if isinstance(x, pd.Series):
        return pd.Series(values, index=x.index, name="power_w")
    if np.ndim(x) == 0:
        return float(values)
    return values


def _ccf_split(instance_type: str, model: str = "ccf") -> tuple[str, str, Mapping]:
    family, _, size = instance_type.rpartition(".")
    table = factors.CCF_EC2_INSTANCE_TYPES.get(family)
    if table is None or size not in table:
        raise UnknownInstanceTypeError(
            f"instance type {instance_type!r} unknown to power model {model!r}: not in Cloud Carbon "
            f"Footprint's EC2_INSTANCE_TYPES as transcribed in factors.CCF_EC2_INSTANCE_TYPES "
            f"({'family not transcribed' if table is None else 'size not listed'})"
        )
    return family, size, table


def ccf_processors(instance_type: str, model: str = "ccf") -> tuple[str, ...]:
    """Processors of a type in CCF's AWS mapping (``ccf_refined``: with our substitutions)."""
    family, _, _ = _ccf_split(instance_type, model)
    if model == "ccf_refined" and family in factors.CCF_REFINED_PROCESSORS_BY_FAMILY:
        return tuple(factors.CCF_REFINED_PROCESSORS_BY_FAMILY[family])
    if instance_type in factors.CCF_PROCESSORS_BY_TYPE:
        return tuple(factors.CCF_PROCESSORS_BY_TYPE[instance_type])
    return tuple(factors.CCF_PROCESSORS_BY_FAMILY.get(family, ("Unknown",)))


def _ccf_lookup(processors, aws_table, refined_table, model: str) -> list:
    """Per-processor values from CCF's AWS table (``ccf_refined``: with its substitutions); None where absent."""
    table = dict(aws_table) | (dict(refined_table) if model == "ccf_refined" else {})
    return [table.get(p) for p in processors]


def ccf_w_per_vcpu(processors: Sequence[str], model: str = "ccf") -> tuple[float, float]:
    r"""
    CCF's AWS min / max watts per vCPU for a list of processors (getMinWatts/getMaxWatts).

    Mean over the processors (median when Sandy or Ivy Bridge is among them);
    CCF's AWS averages (0.74, 3.5) when any processor has no AWS coefficient
    (CCF's JavaScript averages ``undefined`` to a falsy value and falls back). [W/vCPU]
    """
    vals = _ccf_lookup(processors, factors.CCF_AWS_W_PER_VCPU, factors.CCF_REFINED_W_PER_VCPU, model)
    if not vals or any(v is None for v in vals):
        return factors.CCF_AWS_FALLBACK_W_PER_VCPU
    agg = np.median if {"Sandy Bridge", "Ivy Bridge"} & set(processors) else np.mean
    return float(agg([v[0] for v in vals])), float(agg([v[1] for v in vals]))


def ccf_gb_per_chip(processors: Sequence[str], model: str = "ccf") -> float:
    """CCF's memory per physical chip inside SPECpower (AWS getMemory; mean, fallback 80.69). [GB]"""
    vals = _ccf_lookup(processors, factors.CCF_AWS_GB_PER_CHIP, factors.CCF_REFINED_GB_PER_CHIP, model)
    if not vals or any(v is None for v in vals):
        return factors.CCF_AWS_GB_PER_CHIP_FALLBACK
    return float(np.mean(vals))


def ccf_vcpu_factor(instance_type: str) -> float:
    """vCPU-hours per instance-hour in CCF: vCPU, times baseline % / 50 for burstable types. [vCPU]"""
    _, size, table = _ccf_split(instance_type)
    vcpu = table[size][0]
    if instance_type in factors.CCF_BURSTABLE_BASELINE_PCT:
        return vcpu * factors.CCF_BURSTABLE_BASELINE_PCT[instance_type] / factors.CCF_AVG_CPU_UTILIZATION_PCT
    return vcpu


def ccf_physical_chips(largest_vcpu: float, family: str | None = None) -> int:
    """CCF getPhysicalChips: ceil(vCPU of the largest size / 96); always 2 for m5zn and z1d."""
    return 2 if family in _CCF_TWO_CHIP_FAMILIES else math.ceil(largest_vcpu / 96)


def ccf_gigabyte_hours(physical_chips: float, largest_memory_gb: float, processor_memory_gb: float,
                       instance_memory_gb: float, usage_h: float) -> float:
    r"""
    CCF calculateGigabyteHours: memory-hours above the SPECpower per-chip memory. [GB·h]

    (M_largest / chips − GB_chip) / (M_largest / M_instance) · hours when the
    bracket is positive; 0 otherwise (CCF returns ``undefined``, i.e. no memory).
    """
    delta = largest_memory_gb / physical_chips - processor_memory_gb
    if delta <= 0:
        return 0.0
    return delta / (largest_memory_gb / instance_memory_gb) * usage_h


def ccf_compute_kwh(cpu_util_frac: Any, vcpu_hours: Any, w_min: float, w_max: float, pue: float,
                    replication_factor: float = 1.0) -> Any:
    """CCF ENERGY_ESTIMATION_FORMULA: (W_min + u (W_max − W_min)) · vCPU-h · PUE · RF / 1000. [kWh]"""
    u = np.asarray(cpu_util_frac, dtype="float64")
    return (w_min + u * (w_max - w_min)) * np.asarray(vcpu_hours, dtype="float64") * pue * replication_factor / 1000


def ccf_memory_gb(instance_type: str, model: str = "ccf") -> float:
    r"""
    Memory CCF charges per instance-hour: the part above the SPECpower per-chip memory. [GB]

    :func:`ccf_gigabyte_hours` for one hour with the largest (last-listed) size of
    the family; 0 for burstable types (AWSMemoryEstimatesBuilder).
    """
    family, size, table = _ccf_split(instance_type, model)
    if instance_type in factors.CCF_BURSTABLE_BASELINE_PCT:
        return 0.0
    largest_vcpu, largest_mem, _ = list(table.values())[-1]
    return ccf_gigabyte_hours(ccf_physical_chips(largest_vcpu, family), largest_mem,
                              ccf_gb_per_chip(ccf_processors(instance_type, model), model), table[size][1], 1.0)


def _ccf_w(instance_type: str, u: np.ndarray, include_memory: bool, model: str = "ccf") -> np.ndarray:
    w_min, w_max = ccf_w_per_vcpu(ccf_processors(instance_type, model), model)
    p = ccf_vcpu_factor(instance_type) * (w_min + u * (w_max - w_min))
    if include_memory:
        p = p + ccf_memory_gb(instance_type, model) * CCF_MEMORY_W_PER_GIB
    return p


def ccf_ec2_usage_estimate(instance_type: str, usage_h: float, *, vcpus_from_report: float | None = None,
                           cpu_util_frac: float = factors.CCF_AVG_CPU_UTILIZATION_PCT / 100,
                           pue: float = factors.CCF_AWS_PUE, model: str = "ccf") -> dict[str, float]:
    r"""
    One EC2 Cost-and-Usage-Report row the way CCF's AWS code estimates it [1]_.

    Parameters
    ----------
    instance_type : str
    usage_h : float
        ``line_item_usage_amount`` of a box/spot usage row. [h]
    vcpus_from_report : float, optional
        ``product_vcpu`` of the row; CCF uses it for compute when present (burstable
        types excepted: their vCPU comes from CCF's table times baseline / 50).
    cpu_util_frac : float, default 0.5
        CCF's CUR path always uses 50 % (``AVG_CPU_UTILIZATION_2020``). [-]
    pue : float, default 1.135

    Returns
    -------
    dict
        ``compute_kwh``, ``memory_kwh`` [kWh, PUE included], ``embodied_t`` [t CO₂e],
        ``usage_time_period_h`` (CCF's usage_h / vCPU) [h].
    """
    family, size, table = _ccf_split(instance_type, model)
    vcpu_table, _, scope3_t = table[size]
    burst = instance_type in factors.CCF_BURSTABLE_BASELINE_PCT
    vcpu_h = (ccf_vcpu_factor(instance_type) if burst or not vcpus_from_report else vcpus_from_report) * usage_h
    w_min, w_max = ccf_w_per_vcpu(ccf_processors(instance_type, model), model)
    compute_kwh = float(ccf_compute_kwh(cpu_util_frac, vcpu_h, w_min, w_max, pue))
    memory_kwh = ccf_memory_gb(instance_type, model) * usage_h * CCF_MEMORY_W_PER_GIB / 1000 * pue
    largest_vcpu = list(table.values())[-1][0]
    period_h = usage_h / vcpu_table
    embodied_t = scope3_t * (period_h / CCF_LIFETIME_H) * (vcpu_table / largest_vcpu)
    return {"compute_kwh": compute_kwh, "memory_kwh": memory_kwh, "embodied_t": embodied_t,
            "usage_time_period_h": period_h}


def _curve(instance_type: str, profiles: pd.DataFrame | None,
           profile_source: str | None = "boavizta") -> tuple[np.ndarray, np.ndarray]:
    if profiles is None:
        if instance_type not in BOAVIZTA_CURVE_POWER_W:
            raise UnknownInstanceTypeError(
                f"instance type {instance_type!r} unknown to power model 'boavizta' "
                f"(no profiles given and not in factors.BOAVIZTA_CURVE_POWER_W)"
            )
        return np.asarray(BOAVIZTA_CURVE_LOADS_FRAC), np.asarray(BOAVIZTA_CURVE_POWER_W[instance_type])
    p = profiles[profiles["instance_type"] == instance_type]
    if profile_source is not None and "source" in p.columns:
        p = p[(p["source"] == profile_source).fillna(False).to_numpy(dtype=bool)]
    if p.empty:
        raise UnknownInstanceTypeError(
            f"instance type {instance_type!r} unknown to power model 'boavizta' (no rows with "
            f"source {profile_source!r} in the power_profiles table)"
        )
    if p["load_frac"].duplicated().any():
        raise ValueError(f"power profile of {instance_type!r} has duplicate load points")
    if p["power_w"].isna().any():
        raise ValueError(f"power profile of {instance_type!r} has NaN power_w")
    p = p.sort_values("load_frac")
    return p["load_frac"].to_numpy(dtype="float64"), p["power_w"].to_numpy(dtype="float64")


def _boavizta_w(instance_type: str, u: np.ndarray, profiles: pd.DataFrame | None,
                profile_source: str | None) -> np.ndarray:
    loads, watts = _curve(instance_type, profiles, profile_source)
    outside = (u < loads[0] - _CPU_TOL) | (u > loads[-1] + _CPU_TOL)
    if outside.any():
        raise ValueError(
            f"cpu_util_frac {u[outside][:3].tolist()} outside the profile of {instance_type!r} "
            f"({loads[0]}..{loads[-1]}); no extrapolation"
        )
    return np.where(np.isnan(u), np.nan, np.interp(u, loads, watts))


def _p_ref(instance_type: str, p_ref_w: Any, include_memory: bool) -> float:
    if p_ref_w is None:
        try:
            return float(_ccf_w(instance_type, np.asarray(1.0), include_memory))
        except UnknownInstanceTypeError as exc:
            raise UnknownInstanceTypeError(f"power model 'linear_share' has no default P_ref: {exc}") from None
    if isinstance(p_ref_w, Mapping):
        if instance_type not in p_ref_w:
            raise UnknownInstanceTypeError(
                f"instance type {instance_type!r} unknown to power model 'linear_share' (not in p_ref_w)"
            )
        p_ref_w = p_ref_w[instance_type]
    if not np.isfinite(p_ref_w) or p_ref_w <= 0:
        raise ValueError(f"p_ref_w must be a positive number, got {p_ref_w!r}")
    return float(p_ref_w)


def _power(instance_type: str, u: np.ndarray, model: str, profiles, p_ref_w, include_memory,
           profile_source: str | None = "boavizta") -> np.ndarray:
    if model in _CCF_MODELS:
        return _ccf_w(instance_type, u, include_memory, model)
    if model == "boavizta":
        return _boavizta_w(instance_type, u, profiles, profile_source)
    if model == "linear_share":
        return _p_ref(instance_type, p_ref_w, include_memory) * (
            LINEAR_SHARE_IDLE_FRAC + (1 - LINEAR_SHARE_IDLE_FRAC) * u)
    raise ValueError(f"unknown power model {model!r}; choose one of {POWER_MODELS}")


def instance_power_w(
    instance_type: str,
    cpu_util_frac: Any,
    model: str = "ccf",
    *,
    profiles: pd.DataFrame | None = None,
    p_ref_w: float | Mapping[str, float] | None = None,
    include_memory: bool = True,
    profile_source: str | None = "boavizta",
) -> Any:
    r"""
    Electrical power of one instance at a CPU load.

    Parameters
    ----------
    instance_type : str
        EC2 instance type, e.g. "m5.large".
    cpu_util_frac : numeric (scalar, array or Series)
        Mean CPU utilisation, 0..1; NaN propagates as NaN. [-]
    model : {"ccf", "ccf_refined", "boavizta", "linear_share"}, default "ccf"
        Power model (see module docstring).
    profiles : pandas.DataFrame, optional
        ``power_profiles`` table for the boavizta model. Default: the
        server readings ``factors.BOAVIZTA_CURVE_POWER_W``.
    p_ref_w : float or mapping, optional
        Full-load power for ``linear_share`` [W]. Default: the ``ccf`` power of
        the type at full load.
    include_memory : bool, default True
        Add CCF's memory power (memory above the per-chip baseline, 0.392 W/GB)
        in the ccf models (and in the default P_ref).
    profile_source : str or None, default "boavizta"
        Only rows of ``profiles`` with this ``source`` form the curve (so a
        CCF profile is never mistaken for a Boavizta one); None uses all rows.

    Returns
    -------
    power_w : same kind as ``cpu_util_frac``
        IT power of the instance, without PUE. [W]

    Raises
    ------
    UnknownInstanceTypeError
        If the model has no coefficients for the type.
    ValueError
        If a CPU value is negative or above 1 (naming it), or it lies outside
        the load points of a boavizta profile.

    Examples
    --------
    m5.large (CCF: Skylake, 0.65 / 4.26 W per vCPU, 2 vCPU) at 50 % CPU, CPU only:
    (0.65 + 0.5 · 3.61) · 2 = 4.91 W.
    """
    u = _check_cpu(cpu_util_frac)
    return _same_kind(cpu_util_frac,
                      _power(instance_type, u, model, profiles, p_ref_w, include_memory, profile_source))


def fleet_power_w(
    instance_types: pd.Series,
    cpu_util_frac: pd.Series,
    model: str = "ccf",
    profiles: pd.DataFrame | None = None,
    *,
    p_ref_w: float | Mapping[str, float] | None = None,
    include_memory: bool = True,
    profile_source: str | None = "boavizta",
) -> pd.Series:
    r"""
    Vectorised :func:`instance_power_w` for many rows (e.g. instances x hours).

    Parameters
    ----------
    instance_types : pandas.Series of str
        Instance type of each row.
    cpu_util_frac : pandas.Series
        CPU utilisation of each row, same length (and index) as
        ``instance_types``. [-]
    model, profiles, p_ref_w, include_memory, profile_source
        As in :func:`instance_power_w`.

    Returns
    -------
    pandas.Series
        ``power_w`` with the index of ``cpu_util_frac``. [W]

    Notes
    -----
    Rows are grouped by type, so the cost grows with the number of types, not
    rows.
    """
    if len(instance_types) != len(cpu_util_frac):
        raise ValueError(f"{len(instance_types)} instance types but {len(cpu_util_frac)} CPU values")
    u = _check_cpu(cpu_util_frac)
    types = np.asarray(instance_types, dtype=object)
    if pd.isna(types).any():
        raise ValueError(f"{int(pd.isna(types).sum())} rows without instance type")
    out = np.empty(len(u))
    codes, uniques = pd.factorize(types)
    for k, itype in enumerate(uniques):
        sel = codes == k
        out[sel] = _power(itype, u[sel], model, profiles, p_ref_w, include_memory, profile_source)
    return pd.Series(out, index=cpu_util_frac.index, name="power_w")


def ccf_embodied_g_per_h(instance_type: str) -> float:
    r"""
    CCF embodied emissions allocated to one instance-hour, as CCF's code computes it [1]_. [gCO₂e/h]

    CCF: M = TE · (usage_h / vCPU) / 35,040 h · (vCPU / vCPU_largest), TE the
    "scope 3" value of the type in CCF's EC2 table (metric tons) and
    vCPU_largest the vCPU of the last size listed for the family. Per
    instance-hour this is TE / (35,040 · vCPU_largest). (CCF's docs use usage
    hours, not usage hours / vCPU; we follow the code -- see module docstring.)

    Raises
    ------
    UnknownInstanceTypeError
        For a type not in CCF's table (no value is invented).
    """
    est = ccf_ec2_usage_estimate(instance_type, 1.0)
    return est["embodied_t"] * _G_PER_T


def ccf_power_profile(
    instance_types: Iterable[str],
    load_fracs: Iterable[float] = (0.0, 0.1, 0.5, 1.0),
    *,
    include_memory: bool = True,
    model: str = "ccf",
) -> pd.DataFrame:
    r"""
    A CCF model as a ``power_profiles`` table (``source`` = the model name).

    Parameters
    ----------
    instance_types : iterable of str
    load_fracs : iterable of float, default (0, 0.1, 0.5, 1)
        Load points, 0..1 (the model is linear in the load). [-]
    model : {"ccf", "ccf_refined"}, default "ccf"

    Returns
    -------
    pandas.DataFrame
        Conforms to ``schema.TABLES["power_profiles"]``; ``embodied_g_per_h``
        from :func:`ccf_embodied_g_per_h` (defined for every type CCF covers).

    Raises
    ------
    UnknownInstanceTypeError
        For a type outside CCF's table.
    """
    if model not in _CCF_MODELS:
        raise ValueError(f"model must be one of {_CCF_MODELS}, got {model!r}")
    loads = _check_cpu(list(load_fracs))
    rows = []
    for itype in dict.fromkeys(instance_types):
        watts = _ccf_w(itype, loads, include_memory, model)
        emb = ccf_embodied_g_per_h(itype)
        rows += [{"instance_type": itype, "load_frac": lf, "power_w": w, "source": model,
                  "embodied_g_per_h": emb} for lf, w in zip(loads, watts, strict=True)]
    return schema.conform("power_profiles", pd.DataFrame(rows, columns=list(schema.TABLES["power_profiles"])))


def power_model_comparison(
    instance_types: Iterable[str],
    boavizta_profiles: pd.DataFrame | None = None,
    load_fracs: Sequence[float] = (0.1, 0.3, 0.5),
    models: Sequence[str] = ("ccf", "boavizta", "linear_share"),
    *,
    profile_source: str | None = "boavizta",
) -> pd.DataFrame:
    r"""
    The same instance types and loads under several power models, side by side.

    Parameters
    ----------
    instance_types : iterable of str
    boavizta_profiles : pandas.DataFrame, optional
        ``power_profiles`` table for the boavizta model (e.g. a snapshot's).
    load_fracs : sequence of float, default (0.1, 0.3, 0.5)
        CPU loads compared. [-]
    models : sequence of str
        Power models (columns ``<model>_w``).

    Returns
    -------
    pandas.DataFrame
        One row per type x load: ``instance_type``, ``load_frac``, ``<model>_w``
        [W], ``ratio_<a>_vs_<b>`` = a / b for each pair of models in order [-],
        ``spread_frac`` = (max − min) / min over the models [-], ``gap`` (empty,
        or the reason a model has no value -- the row is then NaN for that
        model, never a silent fill).
    """
    loads = _check_cpu(list(load_fracs))
    rows = []
    for itype in dict.fromkeys(instance_types):
        for lf in loads:
            row: dict[str, Any] = {"instance_type": itype, "load_frac": float(lf), "gap": ""}
            for m in models:
                try:
                    row[f"{m}_w"] = float(instance_power_w(itype, float(lf), m, profiles=boavizta_profiles,
                                                           profile_source=profile_source))
                except UnknownInstanceTypeError as exc:
                    row[f"{m}_w"] = float("nan")
                    row["gap"] = (row["gap"] + "; " if row["gap"] else "") + str(exc)
            rows.append(row)
    out = pd.DataFrame(rows)
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            out[f"ratio_{a}_vs_{b}"] = out[f"{a}_w"] / out[f"{b}_w"]
    w = out[[f"{m}_w" for m in models]]
    out["spread_frac"] = (w.max(axis=1, skipna=False) - w.min(axis=1, skipna=False)) / w.min(axis=1, skipna=False)
    return out


def fleet_energy_by_model_kwh(
    fleet_hourly: pd.DataFrame,
    boavizta_profiles: pd.DataFrame | None = None,
    models: Sequence[str] = ("ccf", "boavizta", "linear_share"),
    *,
    profile_source: str | None = "boavizta",
) -> pd.DataFrame:
    r"""
    IT energy of the same fleet-hours under several power models, per instance type.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        ``instance_type``, ``running_frac`` [-], ``cpu_util_frac`` [-] per
        instance-hour (e.g. ``scenarios.fleet_hourly_table``).
    boavizta_profiles : pandas.DataFrame, optional
        ``power_profiles`` table for the boavizta model.
    models : sequence of str

    Returns
    -------
    pandas.DataFrame
        Index ``instance_type`` plus a ``total`` row; columns ``<model>_kwh``
        = Σ P(u)·r·1 h over running hours with CPU data (no PUE) [kWh],
        ``running_h`` [h], ``running_h_without_cpu`` [h] (not in the energy:
        counted, not filled) and ``gap`` (why a model has no value for a type;
        the type's value and the total are then NaN -- never summed over).
    """
    need = {"instance_type", "running_frac", "cpu_util_frac"}
    if not need <= set(fleet_hourly.columns):
        raise ValueError(f"fleet_hourly lacks {sorted(need - set(fleet_hourly.columns))}")
    r = fleet_hourly["running_frac"].to_numpy(dtype="float64")
    u = fleet_hourly["cpu_util_frac"].to_numpy(dtype="float64")
    run = np.nan_to_num(r) > 0
    ok = run & ~np.isnan(u)
    rows = {}
    for itype, idx in fleet_hourly.groupby("instance_type", sort=True).indices.items():
        sel = idx[ok[idx]]
        row: dict[str, Any] = {"running_h": float(np.nansum(r[idx][run[idx]])),
                               "running_h_without_cpu": float(np.nansum(r[idx][run[idx] & np.isnan(u[idx])])),
                               "gap": ""}
        for m in models:
            try:
                p = _power(str(itype), _check_cpu(u[sel]), m, boavizta_profiles, None, True, profile_source)
                row[f"{m}_kwh"] = float(np.sum(p * r[sel])) / 1000
            except UnknownInstanceTypeError as exc:
                row[f"{m}_kwh"] = float("nan")
                row["gap"] = (row["gap"] + "; " if row["gap"] else "") + str(exc)
        rows[itype] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "instance_type"
    total = {c: out[c].sum(skipna=False) for c in out.columns if c != "gap"}
    total["gap"] = "; ".join(g for g in out["gap"] if g)
    out.loc["total"] = pd.Series(total)
    return out


#: Largest relative residual accepted when fitting BoaviztAPI's functional form to its
#: readings (the API rounds to ~4-5 significant digits; measured residuals are < 1e-4). [-]
BOAVIZTA_FIT_MAX_RESIDUAL_FRAC = 1e-3


def _boavizta_form(x_pct, a, c, slope, d):
    return a * np.log(np.asarray(x_pct, dtype="float64") + c) + slope * np.asarray(x_pct, dtype="float64") + d


def fit_boavizta_curve(load_fracs: Sequence[float], power_w: Sequence[float]) -> dict[str, float]:
    r"""
    Fit BoaviztAPI's instance power curve to readings of the server.

    BoaviztAPI 2.5.0 computes a cloud instance's power as its vCPU share of the
    platform CPU's consumption profile a·ln(b·(x + c)) + d
    (boaviztapi/models/consumption_profile/consumption_profile.py, ``__log_model``)
    plus its memory share of a linear RAM profile, times (1 + other consumption
    ratio) (boaviztapi/models/services/cloud_instance.py,
    ``model_power_consumption``). With x the load in percent that is
    P(x) = A·ln(x + c) + S·x + D, four parameters fitted here by least squares.

    Parameters
    ----------
    load_fracs : sequence of float
        At least 5 loads, 0..1. [-]
    power_w : sequence of float
        The server's ``avg_power`` at those loads. [W]

    Returns
    -------
    dict
        ``a``, ``c``, ``slope``, ``d`` (x in percent) and ``max_residual_frac``.

    Raises
    ------
    ValueError
        Fewer than 5 readings, or the readings do not follow the form (largest
        relative residual above ``BOAVIZTA_FIT_MAX_RESIDUAL_FRAC``): then the
        server's curve is not the one this fit assumes, and no value is made up.
    """
    from scipy.optimize import curve_fit

    x = np.asarray(load_fracs, dtype="float64") * 100
    y = np.asarray(power_w, dtype="float64")
    if x.size < 5 or x.size != y.size or not np.isfinite(y).all() or (y <= 0).any():
        raise ValueError(f"need >= 5 positive finite readings, got loads {x.tolist()} power {y.tolist()}")
    p0 = [max(y[-1] - y[0], 1e-3) / 2.0, 20.0, 0.0, y[0]]
    try:
        popt, _ = curve_fit(_boavizta_form, x, y, p0=p0, bounds=([0.0, 1e-6, -np.inf, -np.inf],
                                                                 [np.inf, 1e4, np.inf, np.inf]), maxfev=20_000)
    except RuntimeError as exc:
        raise ValueError(f"BoaviztAPI readings do not fit a*ln(x + c) + s*x + d: {exc}") from None
    resid = float(np.max(np.abs(_boavizta_form(x, *popt) / y - 1)))
    if resid > BOAVIZTA_FIT_MAX_RESIDUAL_FRAC:
        raise ValueError(f"BoaviztAPI readings deviate {resid:.2%} from a*ln(x + c) + s*x + d "
                         f"(limit {BOAVIZTA_FIT_MAX_RESIDUAL_FRAC:.1%}); the server's curve changed -- "
                         "request the load points directly")
    a, c, slope, d = (float(v) for v in popt)
    return {"a": a, "c": c, "slope": slope, "d": d, "max_residual_frac": resid}


def boavizta_curve_w(params: Mapping[str, float], load_frac: Any) -> np.ndarray:
    """Power of a fitted BoaviztAPI curve (:func:`fit_boavizta_curve`) at loads 0..1. [W]"""
    u = _check_cpu(load_frac)
    return _boavizta_form(u * 100, params["a"], params["c"], params["slope"], params["d"])
