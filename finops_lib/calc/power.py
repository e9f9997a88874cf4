"""Instance power models behind one interface: (instance type, CPU load) -> watts.

Models (``POWER_MODELS``):

``ccf``
    Cloud Carbon Footprint [1]_: P = vCPU · (W_min + u · (W_max − W_min)) +
    memory_GiB · 0.392 W/GiB, with W_min/W_max per vCPU by microarchitecture
    (``factors.CCF_W_PER_VCPU``, architecture from ``factors.INSTANCE_CATALOG``).
    The CCF worked example (m5.large, 10 % CPU -> 2.02 W) counts the CPU
    only: pass ``include_memory=False`` to reproduce it.
``boavizta``
    A power curve given as load points (a ``power_profiles`` table, e.g. read
    from a local BoaviztAPI [2]_), interpolated piecewise-linearly. Without a
    table, the published reference readings
    ``factors.BOAVIZTA_REFERENCE_POWER_W`` are the curve.
``linear_share``
    The original project's seed model [3]_: P = P_ref · (0.3 + 0.7 · u).
    P_ref is the type's power at full load in the CCF model (documented
    choice: it is defined for every catalogued type) unless ``p_ref_w`` is
    given (a number or a mapping type -> W).

All coefficients live in :mod:`finops_lib.factors` with source, year and unit.

References
----------
.. [1] Cloud Carbon Footprint, Methodology (AWS coefficients, 2024):
   https://www.cloudcarbonfootprint.org/docs/methodology/
.. [2] Boavizta, BoaviztAPI 2.x, ``POST /v1/cloud/instance`` (verbose
   ``avg_power`` at a given ``time_workload``).
.. [3] Barroso, L. A. and Hölzle, U. (2007), "The Case for Energy-Proportional
   Computing", IEEE Computer 40(12), 33-37.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from finops_lib import schema
from finops_lib.constants import G_PER_KG
from finops_lib.factors import (
    BOAVIZTA_REFERENCE_LOADS_FRAC,
    BOAVIZTA_REFERENCE_POWER_W,
    CCF_EMBODIED_KG_PER_HOST,
    CCF_LARGEST_VCPU,
    CCF_LIFETIME_H,
    CCF_MEMORY_W_PER_GIB,
    CCF_W_PER_VCPU,
    INSTANCE_CATALOG,
    LINEAR_SHARE_IDLE_FRAC,
)

POWER_MODELS = ("linear_share", "ccf", "boavizta")
_CPU_TOL = 1e-9


class UnknownInstanceTypeError(ValueError):
    """A power model has no coefficients for an instance type; names type and model."""


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


def _catalog(instance_type: str, model: str) -> Mapping[str, Any]:
    try:
        return INSTANCE_CATALOG[instance_type]
    except KeyError:
        raise UnknownInstanceTypeError(
            f"instance type {instance_type!r} unknown to power model {model!r} "
            f"(not in factors.INSTANCE_CATALOG)"
        ) from None


def _ccf_w(instance_type: str, u: np.ndarray, include_memory: bool) -> np.ndarray:
    spec = _catalog(instance_type, "ccf")
    w_min, w_max = CCF_W_PER_VCPU[spec["arch"]]
    p = spec["vcpu"] * (w_min + u * (w_max - w_min))
    if include_memory:
        p = p + spec["memory_gib"] * CCF_MEMORY_W_PER_GIB
    return p


def _curve(instance_type: str, profiles: pd.DataFrame | None,
           profile_source: str | None = "boavizta") -> tuple[np.ndarray, np.ndarray]:
    if profiles is None:
        if instance_type not in BOAVIZTA_REFERENCE_POWER_W:
            raise UnknownInstanceTypeError(
                f"instance type {instance_type!r} unknown to power model 'boavizta' "
                f"(no profiles given and not in factors.BOAVIZTA_REFERENCE_POWER_W)"
            )
        return np.asarray(BOAVIZTA_REFERENCE_LOADS_FRAC), np.asarray(BOAVIZTA_REFERENCE_POWER_W[instance_type])
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
        return float(_ccf_w(instance_type, np.asarray(1.0), include_memory))
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
    if model == "ccf":
        return _ccf_w(instance_type, u, include_memory)
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
    model : {"ccf", "boavizta", "linear_share"}, default "ccf"
        Power model (see module docstring).
    profiles : pandas.DataFrame, optional
        ``power_profiles`` table for the boavizta model. Default: the
        published reference readings ``factors.BOAVIZTA_REFERENCE_POWER_W``.
    p_ref_w : float or mapping, optional
        Full-load power for ``linear_share`` [W]. Default: the CCF full-load
        power of the type (vCPU · W_max + memory).
    include_memory : bool, default True
        Add CCF memory power (0.392 W/GiB) in the ccf model (and in the
        default P_ref).
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
    The CCF worked example: m5.large (Skylake, 2 vCPU) at 10 % CPU draws
    (0.65 + 0.1 · 3.61) · 2 = 2.022 W without memory.
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
    CCF embodied emissions allocated to one instance-hour [1]_. [gCO₂e/h]

    M = TE · (1 h / 35,040 h) · (vCPU / vCPU of the largest size of the
    family). NaN when CCF gives no TE for the family (no value invented).
    """
    spec = _catalog(instance_type, "ccf")
    family = instance_type.split(".")[0]
    if family not in CCF_EMBODIED_KG_PER_HOST:
        return float("nan")
    share = spec["vcpu"] / CCF_LARGEST_VCPU[family]["value"]
    return CCF_EMBODIED_KG_PER_HOST[family] * G_PER_KG / CCF_LIFETIME_H * share


def ccf_power_profile(
    instance_types: Iterable[str],
    load_fracs: Iterable[float] = (0.0, 0.1, 0.5, 1.0),
    *,
    include_memory: bool = True,
) -> pd.DataFrame:
    r"""
    The CCF model as a ``power_profiles`` table (source "ccf").

    Parameters
    ----------
    instance_types : iterable of str
    load_fracs : iterable of float, default (0, 0.1, 0.5, 1)
        Load points, 0..1. [-]

    Returns
    -------
    pandas.DataFrame
        Conforms to ``schema.TABLES["power_profiles"]``; ``embodied_g_per_h``
        from :func:`ccf_embodied_g_per_h` (NaN where CCF lacks the family).
    """
    loads = _check_cpu(list(load_fracs))
    rows = []
    for itype in dict.fromkeys(instance_types):
        watts = _ccf_w(itype, loads, include_memory)
        emb = ccf_embodied_g_per_h(itype)
        rows += [{"instance_type": itype, "load_frac": lf, "power_w": w, "source": "ccf",
                  "embodied_g_per_h": emb} for lf, w in zip(loads, watts, strict=True)]
    return schema.conform("power_profiles", pd.DataFrame(rows, columns=list(schema.TABLES["power_profiles"])))
