"""Monte Carlo over the named input distributions, quantiles, Sobol indices.

The inputs are the named priors of :data:`finops_lib.factors.UNCERTAINTY_PRIORS`
(``pue``, ``power_model``, ``intensity_scale``, ``intensity_estimated_scale``,
``cpu_scale``, ``price_scale``, ``spot_price_frac``) with the meanings and
sources documented there. They come from published sources, never from the
sandbox, whose truth is generated independently
(:mod:`finops_lib.sandbox.truth`): whether the 90 % interval covers that truth
90 % of the time is an empirical question (``tests/test_calibration.py``,
experiment ``thesis-calibration``), not a property by construction.

The power model-form span is computed at run time from the models of
:mod:`finops_lib.calc.power` (ccf, boavizta, linear_share) on the fleet's own
loads, so it follows any fix to those models. The EUR/USD rate of a past
period is data: costs are converted at a given rate, not drawn.

Vectorisation
-------------
The only factor that acts inside the power curve is ``cpu_scale`` (the curve
is non-linear in load). :func:`fleet_aggregates` therefore evaluates the fleet's
hourly IT power once per point of a small grid of ``cpu_scale`` values
(instances x hours x grid, done once); every draw then interpolates between
grid rows. The remaining factors are multiplicative scalars. A run costs
O(draws x grid) for the totals and O(draws x hours) for hourly bands --
never draws x instances x hours.

References
----------
.. [1] Saltelli, A. et al. (2010), "Variance based sensitivity analysis of
   model output. Design and estimator for the total sensitivity index",
   Computer Physics Communications 181(2), 259-270 (the estimator behind
   ``scipy.stats.sobol_indices``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from finops_lib import factors
from finops_lib.calc import power as _power
from finops_lib.calc.scenarios import _check_fleet_hourly, _prices, power_w_from_profiles
from finops_lib.constants import G_PER_KG, WH_PER_KWH

#: Output quantities of one draw, with units in the names.
OUTPUTS = ("energy_kwh", "co2_kg", "cost_usd", "cost_eur")
#: Quantiles reported everywhere (figures, tables, metrics). [-]
QUANTILES = (0.05, 0.50, 0.95)
#: Probability mass left outside the cpu_scale grid on each side. [-]
_GRID_TAIL_P = 1e-9


def prior_distributions(priors: Mapping = factors.UNCERTAINTY_PRIORS) -> dict[str, stats.rv_continuous]:
    """Frozen scipy distributions for the named priors.

    ``uniform(low, high)`` -> ``stats.uniform(low, high - low)``;
    ``normal(mean, sd)`` -> ``stats.norm(mean, sd)``;
    ``lognormal_frac(sd)`` = exp(N(0, sd)) -> ``stats.lognorm(s=sd, scale=1)``;
    ``model_span`` -> ``stats.uniform(0, 1)`` (the position in the models'
    span, resolved per instance type by :func:`evaluate_draws`).

    Raises
    ------
    ValueError
        For an unknown kind or invalid parameters (naming the prior).
    """
    out = {}
    for name, p in priors.items():
        kind = p.get("kind")
        if kind == "uniform":
            if not p["high"] > p["low"]:
                raise ValueError(f"prior {name!r}: need high > low, got {p['low']}..{p['high']}")
            out[name] = stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
        elif kind == "normal":
            if not p["sd"] > 0:
                raise ValueError(f"prior {name!r}: sd must be > 0, got {p['sd']}")
            out[name] = stats.norm(loc=p["mean"], scale=p["sd"])
        elif kind == "lognormal_frac":
            if not p["sd"] > 0:
                raise ValueError(f"prior {name!r}: sd must be > 0, got {p['sd']}")
            out[name] = stats.lognorm(s=p["sd"], scale=1.0)
        elif kind == "model_span":
            out[name] = stats.uniform(loc=0.0, scale=1.0)
        else:
            raise ValueError(f"prior {name!r}: unknown kind {kind!r} (uniform, normal, lognormal_frac, model_span)")
    return out


def draw_factors(n_draws: int, rng: np.random.Generator, priors: Mapping = factors.UNCERTAINTY_PRIORS) -> pd.DataFrame:
    """Draw ``n_draws`` joint samples of the independent named priors.

    Returns
    -------
    pandas.DataFrame
        One column per prior, one row per draw.
    """
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    dists = prior_distributions(priors)
    return pd.DataFrame({name: d.rvs(size=int(n_draws), random_state=rng) for name, d in dists.items()})


@dataclass(frozen=True)
class FleetAggregates:
    """Per-hour fleet quantities the Monte Carlo needs (no instance dimension left).

    Attributes
    ----------
    hours : pandas.DatetimeIndex
        UTC hour starts, n_h.
    cpu_scale_grid : numpy.ndarray
        Increasing cpu_scale values, n_g. [-]
    it_power_w : numpy.ndarray
        (n_g, n_h) fleet IT power, Σ_i P_i(min(1, u_ih·s_g))·r_ih. [W]
    cost_usd : numpy.ndarray
        (n_h,) on-demand list-price cost of on-demand instances Σ_i r_ih·price_i. [USD]
    spot_list_cost_usd : numpy.ndarray
        (n_h,) the same for Spot instances at their on-demand list price; a
        draw bills it at ``spot_price_frac``. [USD]
    intensity_g_per_kwh : numpy.ndarray
        (n_h,) reported grid intensity. [gCO2e/kWh]
    energy_without_intensity_kwh : float
        IT energy (cpu_scale = 1, no PUE) in hours without intensity; such
        hours are left out of CO2e (a reported gap). [kWh]
    running_h_without_cpu : float
        Running instance-hours without a CPU datum; in cost, not in energy. [h]
    running_h_unknown : float
        Instance-hours with unknown running state (NaN ``running_frac``, e.g.
        from a runtime estimator without data); in no total -- neither cost
        nor energy -- and reported here as a gap. [instance-h]
    intensity_estimated : numpy.ndarray of bool, optional
        (n_h,) hours the intensity provider flags as estimated.
    power_span : pandas.DataFrame, optional
        Per instance type: ``energy_w`` / ``carbon_w`` (share of the fleet's
        IT energy / CO2e at cpu_scale 1), ``log_lo`` / ``log_hi`` (log of the
        smallest / largest power-model ratio to the chosen curve, 1
        included) and one ``ratio_<model>`` column per model (NaN where a
        model has no coefficients for the type).
    running_h_without_type : float
        Running instance-hours of instances whose type is unknown (gone from
        DescribeInstances, launch record older than CloudTrail's 90 days);
        in no total, reported as a gap. [instance-h]
    """

    hours: pd.DatetimeIndex
    cpu_scale_grid: np.ndarray
    it_power_w: np.ndarray
    cost_usd: np.ndarray
    intensity_g_per_kwh: np.ndarray
    spot_list_cost_usd: np.ndarray
    energy_without_intensity_kwh: float = 0.0
    running_h_without_cpu: float = 0.0
    running_h_unknown: float = 0.0
    intensity_estimated: np.ndarray | None = None
    power_span: pd.DataFrame | None = None
    running_h_without_type: float = 0.0
    carbon_power_w: np.ndarray = field(init=False, repr=False)

    def energy_kwh_hourly(self, pue: float = 1.0, cpu_scale: float = 1.0) -> pd.Series:
        """Fleet energy per hour at one cpu_scale grid point (exact grid value). [kWh]"""
        k = int(np.argmin(np.abs(self.cpu_scale_grid - cpu_scale)))
        if not np.isclose(self.cpu_scale_grid[k], cpu_scale, rtol=1e-12, atol=0):
            raise ValueError(f"cpu_scale {cpu_scale} is not a grid point")
        return pd.Series(self.it_power_w[k] * pue / WH_PER_KWH, index=self.hours, name="energy_kwh")

    def __post_init__(self):
        # Power in hours that have an intensity: the CO2 path uses only these.
        ok = ~np.isnan(self.intensity_g_per_kwh)
        object.__setattr__(self, "carbon_power_w", np.where(ok, self.it_power_w, 0.0))


def cpu_scale_grid(n_points: int = 33, priors: Mapping = factors.UNCERTAINTY_PRIORS) -> np.ndarray:
    """Grid of cpu_scale values covering the prior up to 1e-9 in each tail. [-]"""
    d = prior_distributions({"cpu_scale": priors["cpu_scale"]})["cpu_scale"]
    lo, hi = d.ppf(_GRID_TAIL_P), d.ppf(1 - _GRID_TAIL_P)
    grid = np.geomspace(lo, hi, n_points)
    grid[np.argmin(np.abs(np.log(grid)))] = 1.0  # the reported CPU itself is always a grid point
    return grid


def fleet_aggregates(
    fleet_hourly: pd.DataFrame,
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    intensity_g_per_kwh: pd.Series,
    grid: np.ndarray | None = None,
    *,
    intensity_is_estimated: pd.Series | None = None,
    model_profiles: pd.DataFrame | None = None,
    power_models: tuple[str, ...] | None = None,
) -> FleetAggregates:
    """Collapse a fleet-hourly table to per-hour aggregates for the Monte Carlo.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        instance_id, hour, instance_type, running_frac, cpu_util_frac (see
        :mod:`finops_lib.calc.scenarios`). Running hours with NaN CPU (no
        CloudWatch datum) count for cost but not for energy: they are a gap,
        reported as ``FleetAggregates.running_h_without_cpu`` (no invented load).
        Hours with NaN ``running_frac`` (unknown whether it ran) count for
        nothing -- cost, energy, CO2e -- and are reported as
        ``FleetAggregates.running_h_unknown`` (the same gap convention; the
        totals then cover the known hours only).
    profiles : pandas.DataFrame
        ``power_profiles`` table.
    usd_per_hour : mapping
        List price per instance type. [USD/h]
    intensity_g_per_kwh : pandas.Series
        Reported intensity by UTC hour. [gCO2e/kWh]
    grid : numpy.ndarray, optional
        cpu_scale grid; default :func:`cpu_scale_grid`.
    intensity_is_estimated : pandas.Series of bool, optional
        By UTC hour: the provider's ``is_estimated`` flag (those hours get
        the ``intensity_estimated_scale`` prior). Default: no hour estimated.
    model_profiles : pandas.DataFrame, optional
        ``power_profiles`` for the boavizta model of the power span (the
        snapshot's BoaviztAPI curves); default ``profiles``.
    power_models : tuple of str, optional
        Models spanning the power model-form uncertainty; default the
        ``models`` of the ``power_model`` prior.

    Returns
    -------
    FleetAggregates
    """
    _check_fleet_hourly(fleet_hourly)
    grid = cpu_scale_grid() if grid is None else np.asarray(grid, dtype=float)
    no_type = fleet_hourly["instance_type"].isna().to_numpy(bool)
    without_type_h = float(np.nansum(fleet_hourly["running_frac"].to_numpy(float)[no_type]))
    fleet_hourly = fleet_hourly[~no_type]
    price = _prices(fleet_hourly["instance_type"], usd_per_hour)
    r = fleet_hourly["running_frac"].to_numpy(float)
    unknown = np.isnan(r)
    r = np.where(unknown, 0.0, r)
    u = fleet_hourly["cpu_util_frac"].to_numpy(float)
    no_cpu = (r > 0) & np.isnan(u)
    hours = pd.DatetimeIndex(sorted(pd.unique(fleet_hourly["hour"])))
    h_idx = hours.get_indexer(pd.DatetimeIndex(fleet_hourly["hour"]))
    types = fleet_hourly["instance_type"].to_numpy(object)
    run = (r > 0) & ~no_cpu
    power = np.zeros((len(grid), len(hours)))
    for g, s in enumerate(grid):
        p = power_w_from_profiles(types[run], np.minimum(1.0, u[run] * s), profiles)
        power[g] = np.bincount(h_idx[run], weights=p * r[run], minlength=len(hours))
    spot = (fleet_hourly["lifecycle"] == "spot").to_numpy(bool)
    cost = np.bincount(h_idx[~spot], weights=(r * price)[~spot], minlength=len(hours))
    spot_cost = np.bincount(h_idx[spot], weights=(r * price)[spot], minlength=len(hours))
    intensity = intensity_g_per_kwh.reindex(hours).to_numpy(float)
    est = (np.zeros(len(hours), dtype=bool) if intensity_is_estimated is None
           else intensity_is_estimated.reindex(hours).fillna(False).to_numpy(bool))  # fmt: skip
    one = int(np.argmin(np.abs(grid - 1.0)))
    gap_kwh = float(power[one][np.isnan(intensity)].sum()) / WH_PER_KWH
    models = power_models or tuple(factors.UNCERTAINTY_PRIORS["power_model"]["models"])
    span = power_model_span(types[run], u[run], r[run], intensity[h_idx[run]], profiles,
                            profiles if model_profiles is None else model_profiles, models)
    return FleetAggregates(hours, grid, power, cost, intensity, spot_cost, gap_kwh, float(r[no_cpu].sum()),
                           float(unknown.sum()), est, span, without_type_h)


def power_model_span(instance_type, cpu_util_frac, running_frac, intensity_g_per_kwh, profiles: pd.DataFrame,
                     model_profiles: pd.DataFrame, models=("ccf", "boavizta", "linear_share")) -> pd.DataFrame:
    """
    Power model-form span per instance type, from the models themselves.

    For each type, the IT energy of its running rows under each model of
    :mod:`finops_lib.calc.power` divided by the energy under the chosen
    curve (``profiles``), all on the same loads.

    Parameters
    ----------
    instance_type, cpu_util_frac, running_frac, intensity_g_per_kwh : array-like
        Running rows (same length). [-], [frac], [frac], [gCO2e/kWh]
    profiles : pandas.DataFrame
        The chosen curve (the estimate's ``power_profiles``).
    model_profiles : pandas.DataFrame
        Curves for the ``boavizta`` model.
    models : tuple of str

    Returns
    -------
    pandas.DataFrame
        Index instance_type; ``energy_w``, ``carbon_w``, ``ratio_<model>``,
        ``log_lo``, ``log_hi`` (see :class:`FleetAggregates`). A model
        without coefficients for a type gives NaN there (it then does not
        widen that type's span).
    """
    types = np.asarray(instance_type, dtype=object)
    u = np.asarray(cpu_util_frac, dtype=float)
    r = np.asarray(running_frac, dtype=float)
    ci = np.nan_to_num(np.asarray(intensity_g_per_kwh, dtype=float))
    chosen = power_w_from_profiles(types, u, profiles) * r
    src = "boavizta" if "source" in model_profiles.columns else None
    rows = {}
    for t in pd.unique(types):
        sel = types == t
        e0 = chosen[sel].sum()
        row = {"energy_w": e0, "carbon_w": (chosen[sel] * ci[sel]).sum()}
        for m in models:
            try:
                p = _power.fleet_power_w(pd.Series(types[sel]), pd.Series(np.clip(u[sel], 0, 1)), model=m,
                                         profiles=model_profiles, profile_source=src).to_numpy()  # fmt: skip
                row[f"ratio_{m}"] = (p * r[sel]).sum() / e0 if e0 > 0 else np.nan
            except _power.UnknownInstanceTypeError:  # the model does not cover the type: no bound from it
                row[f"ratio_{m}"] = np.nan
        rows[t] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "instance_type"
    if out.empty:
        return pd.DataFrame(columns=["energy_w", "carbon_w", "log_lo", "log_hi"])
    ratios = np.log(out[[f"ratio_{m}" for m in models]].to_numpy(float))
    ratios = np.column_stack([ratios, np.zeros(len(out))])  # the chosen curve itself
    out["log_lo"], out["log_hi"] = np.nanmin(ratios, axis=1), np.nanmax(ratios, axis=1)
    for c in ("energy_w", "carbon_w"):
        tot = out[c].sum()
        out[c] = out[c] / tot if tot > 0 else 0.0
    return out


def _power_factor(agg: FleetAggregates, q: np.ndarray, weight: str = "energy_w") -> np.ndarray:
    """Fleet power multiplier at span positions q: sum_t w_t exp(lo_t + q (hi_t - lo_t)). [-]"""
    sp = agg.power_span
    if sp is None or sp.empty:
        return np.ones(len(q))
    w = sp[weight].to_numpy(float)
    lo, hi = sp["log_lo"].to_numpy(float), sp["log_hi"].to_numpy(float)
    return np.exp(lo[None, :] + q[:, None] * (hi - lo)[None, :]) @ w


def _grid_weights(grid: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if s.min() < grid[0] or s.max() > grid[-1]:
        raise ValueError(f"cpu_scale draws {s.min():.4g}..{s.max():.4g} outside the grid {grid[0]:.4g}..{grid[-1]:.4g}")
    k = np.clip(np.searchsorted(grid, s, side="right") - 1, 0, len(grid) - 2)
    w = (s - grid[k]) / (grid[k + 1] - grid[k])
    return k, w


def _col(draws: pd.DataFrame, name: str, default: float = 1.0) -> np.ndarray:
    return draws[name].to_numpy(float) if name in draws else np.full(len(draws), default)


def _facility(agg: FleetAggregates, draws: pd.DataFrame, weight: str) -> np.ndarray:
    """pue x power model-form factor (x a legacy ``power_scale`` column when given). [-]"""
    f = _col(draws, "pue") * _col(draws, "power_scale")
    if "power_model" in draws:
        f = f * _power_factor(agg, draws["power_model"].to_numpy(float), weight)
    return f


def evaluate_draws(agg: FleetAggregates, draws: pd.DataFrame, eur_per_usd: float | None = None) -> pd.DataFrame:
    """Totals for each row of factor draws; O(draws x grid).

    energy = pue·F_power·Σ_h P_h(cpu_scale)·1 h with F_power the power
    model-form factor (energy-weighted over types); CO2e = the same with
    carbon weights, measured hours x intensity_scale and estimated hours x
    intensity_estimated_scale; cost = (Σ_h on-demand cost_h +
    spot_price_frac·Σ_h Spot list cost_h) x price_scale; EUR = USD x the
    period's rate. A factor missing from ``draws`` is 1.

    Parameters
    ----------
    eur_per_usd : float, optional
        FX rate of the billing period (data, not a prior). Default: an
        ``eur_per_usd`` column of ``draws`` if present, else
        ``factors.EUR_PER_USD``. [EUR/USD]

    Returns
    -------
    pandas.DataFrame
        ``draws`` plus ``energy_kwh``, ``co2_kg``, ``cost_usd``, ``cost_eur``.
    """
    k, w = _grid_weights(agg.cpu_scale_grid, _col(draws, "cpu_scale"))
    e_grid = agg.it_power_w.sum(axis=1) / WH_PER_KWH  # kWh per grid point
    ci = np.nan_to_num(agg.intensity_g_per_kwh)
    est = np.zeros(len(ci), dtype=bool) if agg.intensity_estimated is None else agg.intensity_estimated
    c_meas = agg.carbon_power_w @ np.where(est, 0.0, ci) / WH_PER_KWH / G_PER_KG  # kg per grid point
    c_est = agg.carbon_power_w @ np.where(est, ci, 0.0) / WH_PER_KWH / G_PER_KG
    out = draws.copy()
    out["energy_kwh"] = _facility(agg, draws, "energy_w") * ((1 - w) * e_grid[k] + w * e_grid[k + 1])
    co2 = (_col(draws, "intensity_scale") * ((1 - w) * c_meas[k] + w * c_meas[k + 1])
           + _col(draws, "intensity_estimated_scale") * ((1 - w) * c_est[k] + w * c_est[k + 1]))  # fmt: skip
    out["co2_kg"] = _facility(agg, draws, "carbon_w") * co2
    list_usd = agg.cost_usd.sum() + agg.spot_list_cost_usd.sum() * _col(draws, "spot_price_frac")
    out["cost_usd"] = list_usd * _col(draws, "price_scale")
    if eur_per_usd is None:
        fx = _col(draws, "eur_per_usd", factors.EUR_PER_USD["value"])
    else:
        fx = float(eur_per_usd)
    out["cost_eur"] = out["cost_usd"] * fx
    return out


def hourly_co2_quantiles(
    agg: FleetAggregates, draws: pd.DataFrame, quantiles=QUANTILES, chunk: int = 2_000
) -> pd.DataFrame:
    """Hourly CO2e band: per-hour quantiles over draws; O(draws x hours), chunked.

    Returns
    -------
    pandas.DataFrame
        Index ``hours``; one column per quantile (``q05``, ``q50``, ``q95``). [gCO2e]
        Hours without intensity are NaN.
    """
    k, w = _grid_weights(agg.cpu_scale_grid, _col(draws, "cpu_scale"))
    mult = _facility(agg, draws, "carbon_w") * _col(draws, "intensity_scale")
    est = np.zeros(len(agg.hours), dtype=bool) if agg.intensity_estimated is None else agg.intensity_estimated
    rel_est = _col(draws, "intensity_estimated_scale") / _col(draws, "intensity_scale")
    n = len(draws)
    # quantiles need all draws of an hour at once: fill a (draws, hours) float32 matrix in chunks
    co2 = np.empty((n, len(agg.hours)), dtype=np.float32)
    per_h = agg.it_power_w * agg.intensity_g_per_kwh / WH_PER_KWH  # g per hour per grid row
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        kk, ww = k[a:b, None], w[a:b, None]
        co2[a:b] = mult[a:b, None] * ((1 - ww) * per_h[kk[:, 0]] + ww * per_h[kk[:, 0] + 1]) \
            * np.where(est[None, :], rel_est[a:b, None], 1.0)
    q = np.quantile(co2, quantiles, axis=0).T
    return pd.DataFrame(q, index=agg.hours, columns=[_qname(x) for x in quantiles])


@dataclass
class MonteCarloResult:
    """Draws and totals of one Monte Carlo run."""

    draws: pd.DataFrame
    seed: int

    def quantiles(self, quantiles=QUANTILES) -> pd.DataFrame:
        """Quantiles of each output: index = output, columns ``q05``, ``q50``, ``q95``."""
        q = self.draws[list(OUTPUTS)].quantile(list(quantiles)).T
        q.columns = [_qname(x) for x in quantiles]
        return q


def monte_carlo(
    agg: FleetAggregates, n_draws: int, seed: int, priors: Mapping = factors.UNCERTAINTY_PRIORS,
    eur_per_usd: float | None = None,
) -> MonteCarloResult:
    """Monte Carlo totals with ``np.random.default_rng(seed)``.

    Two runs with the same ``seed`` and ``n_draws`` use the same factor draws
    (common random numbers), so scenario savings can be taken draw by draw
    (:func:`savings_frac`). ``eur_per_usd``: see :func:`evaluate_draws`.
    """
    rng = np.random.default_rng(seed)
    return MonteCarloResult(evaluate_draws(agg, draw_factors(n_draws, rng, priors), eur_per_usd), int(seed))


def savings_frac(base: MonteCarloResult, scenario: MonteCarloResult, quantiles=QUANTILES) -> pd.DataFrame:
    """Relative savings (1 - scenario/base) per draw, summarised as quantiles.

    Raises
    ------
    ValueError
        If the two runs did not use the same factor draws.
    """
    names = [c for c in base.draws.columns if c not in OUTPUTS]
    if base.seed != scenario.seed or not base.draws[names].equals(scenario.draws[names]):
        raise ValueError("savings need common random numbers: run both Monte Carlos with the same seed and n_draws")
    s = 1 - scenario.draws[list(OUTPUTS)] / base.draws[list(OUTPUTS)]
    q = s.quantile(list(quantiles)).T
    q.columns = [_qname(x) for x in quantiles]
    return q


def sobol(
    agg: FleetAggregates,
    n: int = 1024,
    seed: int = 0,
    outputs=("co2_kg", "cost_eur"),
    priors: Mapping = factors.UNCERTAINTY_PRIORS,
    eur_per_usd: float | None = None,
) -> pd.DataFrame:
    """First-order and total Sobol indices of the outputs w.r.t. each named prior.

    Uses ``scipy.stats.sobol_indices`` (Saltelli / Jansen estimators [1]_) with
    ``n`` base samples (a power of two); cost = n·(d + 2) model evaluations.

    Returns
    -------
    pandas.DataFrame
        Index = prior name; columns ``<output>_first``, ``<output>_total``. [-]
    """
    if n < 2 or n & (n - 1):
        raise ValueError(f"n must be a power of two >= 2, got {n}")
    dists = prior_distributions(priors)
    names = list(dists)
    outputs = list(outputs)

    def model(x):
        res = evaluate_draws(agg, pd.DataFrame(dict(zip(names, x, strict=True))), eur_per_usd)
        return res[outputs].to_numpy().T

    r = stats.sobol_indices(func=model, n=n, dists=list(dists.values()), random_state=np.random.default_rng(seed))
    first = np.atleast_2d(r.first_order)
    total = np.atleast_2d(r.total_order)
    cols = {}
    for i, o in enumerate(outputs):
        cols[f"{o}_first"] = first[i]
        cols[f"{o}_total"] = total[i]
    return pd.DataFrame(cols, index=pd.Index(names, name="factor"))


def _qname(q: float) -> str:
    return f"q{round(q * 100):02d}"


# --------------------------------------------------------------------------- #
# calibration against an independent truth (sandbox snapshots)
# --------------------------------------------------------------------------- #
#: Outputs whose interval the calibration scores.
CALIBRATED_OUTPUTS = ("co2_kg", "cost_eur")


def snapshot_interval(snap, n_draws: int, seed: int, *, runtime_estimator: str = "cloudtrail_cloudwatch",
                      eur_per_usd: float | None = None, quantiles=QUANTILES) -> pd.DataFrame:
    """The Monte Carlo interval of a snapshot's fleet, from its contract tables only.

    Runtime from ``runtime_estimator``, CPU, the BoaviztAPI ``power_profiles``,
    list prices, the intensity with its ``is_estimated`` flags -- never a
    ``truth_*`` table. The same pipeline as notebook 03's baseline.

    Parameters
    ----------
    snap : finops_lib.snapshot.Snapshot
    n_draws, seed : int
    runtime_estimator : str
        See :func:`finops_lib.calc.runtime.estimate_runtime`.
    eur_per_usd : float, optional
        FX rate of the period (data); default ``factors.EUR_PER_USD``. [EUR/USD]

    Returns
    -------
    pandas.DataFrame
        :meth:`MonteCarloResult.quantiles` (index = output).
    """
    from finops_lib.calc.runtime import estimate_runtime
    from finops_lib.calc.scenarios import fleet_hourly_table

    ws, we = snap.window_start, snap.window_end
    inst, cpu = snap["instances"], snap["cpu_hourly"]
    frac = estimate_runtime(runtime_estimator, snap["state_events"], inst, cpu, ws, we)
    fleet = fleet_hourly_table(frac, cpu, inst)
    ih = snap["intensity_hourly"]
    ih = ih[ih["zone"] == snap.zone].set_index("hour").sort_index()
    agg = fleet_aggregates(fleet, snap["power_profiles"], snap.usd_per_hour(), snap.intensity(),
                           intensity_is_estimated=ih["is_estimated"].astype("boolean").fillna(False).astype(bool))
    return monte_carlo(agg, n_draws, seed, eur_per_usd=eur_per_usd).quantiles(quantiles)


def truth_totals(tables: Mapping[str, pd.DataFrame], eur_per_usd: float | None = None,
                 instance_ids=None) -> dict[str, float]:
    """Scoring only: the hidden truth's CO2e [kg] and billed compute cost [EUR] of a sandbox snapshot.

    ``co2_kg`` = Σ ``truth_hourly.co2_g`` / 1000; ``cost_eur`` = Σ
    ``truth_billing.cost_usd`` (what AWS billed for compute, incl. RI fees) x
    the period's FX rate (data; default ``factors.EUR_PER_USD``).

    ``instance_ids``: restrict to these instances -- the ones the estimate
    covers (its gaps are reported apart, :func:`known_type_ids`);
    ``co2_gap_frac`` / ``cost_gap_frac`` give the truth's share outside them.
    """
    fx = factors.EUR_PER_USD["value"] if eur_per_usd is None else float(eur_per_usd)
    th, tb = tables["truth_hourly"], tables["truth_billing"]
    co2_all, cost_all = th["co2_g"].sum(min_count=1), tb["cost_usd"].sum(min_count=1)
    if instance_ids is not None:
        ids = set(instance_ids)
        th, tb = th[th["instance_id"].isin(ids)], tb[tb["instance_id"].isin(ids)]
    co2, cost = th["co2_g"].sum(min_count=1), tb["cost_usd"].sum(min_count=1)
    return {"co2_kg": float(co2) / G_PER_KG, "cost_eur": float(cost) * fx,
            "co2_gap_frac": float(1 - co2 / co2_all), "cost_gap_frac": float(1 - cost / cost_all)}


def known_type_ids(instances: pd.DataFrame) -> list[str]:
    """Instances with a known type: what an estimate from the contract tables can cover."""
    return instances.loc[instances["instance_type"].notna(), "instance_id"].tolist()


def calibration_row(interval: pd.DataFrame, truth: Mapping[str, float], outputs=CALIBRATED_OUTPUTS) -> dict:
    """One world's calibration record: truth, interval, hit and relative half-width per output."""
    row = {}
    for o in outputs:
        lo, mid, hi = (float(interval.loc[o, c]) for c in ("q05", "q50", "q95"))
        t = float(truth[o])
        if f"{o.split('_')[0]}_gap_frac" in truth:
            row[f"{o}_truth_gap_frac"] = float(truth[f"{o.split('_')[0]}_gap_frac"])
        row |= {f"{o}_truth": t, f"{o}_q05": lo, f"{o}_q50": mid, f"{o}_q95": hi,
                f"{o}_hit": bool(lo <= t <= hi), f"{o}_truth_over_q50": t / mid,
                f"{o}_half_width_frac": (hi - lo) / 2 / mid}  # fmt: skip
    return row


def coverage_table(rows: pd.DataFrame, nominal: float = 0.90, confidence: float = 0.95,
                   outputs=CALIBRATED_OUTPUTS) -> pd.DataFrame:
    """
    Coverage of the interval over worlds, with a binomial confidence interval.

    Parameters
    ----------
    rows : pandas.DataFrame
        One :func:`calibration_row` per world.
    nominal : float
        The interval's nominal coverage (5-95 % -> 0.90). [-]
    confidence : float
        Level of the Clopper-Pearson interval on the coverage [1]_. [-]

    Returns
    -------
    pandas.DataFrame
        Index = output; ``worlds_count``, ``hits_count``, ``coverage_frac``,
        ``coverage_ci_low_frac``, ``coverage_ci_high_frac``,
        ``nominal_inside_ci_count`` (1 if the nominal coverage lies inside the
        CI, else 0), ``truth_below_q05_count``, ``truth_above_q95_count``,
        ``median_truth_over_q50_ratio``, ``median_half_width_frac``.

    References
    ----------
    .. [1] Clopper, C. J. and Pearson, E. S. (1934), "The use of confidence or
       fiducial limits illustrated in the case of the binomial", Biometrika 26(4).
    """
    out = {}
    n = len(rows)
    if n == 0:
        raise ValueError("coverage_table needs at least one world")
    for o in outputs:
        k = int(rows[f"{o}_hit"].sum())
        ci = stats.binomtest(k, n, nominal).proportion_ci(confidence, method="exact")
        out[o] = {"worlds_count": n, "hits_count": k, "coverage_frac": k / n,
                  "coverage_ci_low_frac": ci.low, "coverage_ci_high_frac": ci.high,
                  "nominal_inside_ci_count": int(ci.low <= nominal <= ci.high),
                  "truth_below_q05_count": int((rows[f"{o}_truth"] < rows[f"{o}_q05"]).sum()),
                  "truth_above_q95_count": int((rows[f"{o}_truth"] > rows[f"{o}_q95"]).sum()),
                  "median_truth_over_q50_ratio": float(rows[f"{o}_truth_over_q50"].median()),
                  "median_half_width_frac": float(rows[f"{o}_half_width_frac"].median())}  # fmt: skip
    return pd.DataFrame.from_dict(out, orient="index")
