"""Monte Carlo over the named input distributions, quantiles, Sobol indices.

The inputs are the named priors of :data:`finops_lib.factors.UNCERTAINTY_PRIORS`
(``pue``, ``power_scale``, ``intensity_scale``, ``cpu_scale``, ``price_scale``,
``spot_price_frac``, ``eur_per_usd``) with the meanings documented there -- the same meanings the
sandbox uses to draw its hidden truth, so a calibrated Monte Carlo covers the
truth at its nominal rate.

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
    ``lognormal_frac(sd)`` = exp(N(0, sd)) -> ``stats.lognorm(s=sd, scale=1)``.

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
        elif kind == "lognormal_frac":
            if not p["sd"] > 0:
                raise ValueError(f"prior {name!r}: sd must be > 0, got {p['sd']}")
            out[name] = stats.lognorm(s=p["sd"], scale=1.0)
        else:
            raise ValueError(f"prior {name!r}: unknown kind {kind!r} (uniform, lognormal_frac)")
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

    Returns
    -------
    FleetAggregates
    """
    _check_fleet_hourly(fleet_hourly)
    grid = cpu_scale_grid() if grid is None else np.asarray(grid, dtype=float)
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
    one = int(np.argmin(np.abs(grid - 1.0)))
    gap_kwh = float(power[one][np.isnan(intensity)].sum()) / WH_PER_KWH
    return FleetAggregates(hours, grid, power, cost, intensity, spot_cost, gap_kwh, float(r[no_cpu].sum()),
                           float(unknown.sum()))


def _grid_weights(grid: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if s.min() < grid[0] or s.max() > grid[-1]:
        raise ValueError(f"cpu_scale draws {s.min():.4g}..{s.max():.4g} outside the grid {grid[0]:.4g}..{grid[-1]:.4g}")
    k = np.clip(np.searchsorted(grid, s, side="right") - 1, 0, len(grid) - 2)
    w = (s - grid[k]) / (grid[k + 1] - grid[k])
    return k, w


def evaluate_draws(agg: FleetAggregates, draws: pd.DataFrame) -> pd.DataFrame:
    """Totals for each row of factor draws; O(draws x grid).

    energy = pue·power_scale·Σ_h P_h(cpu_scale)·1 h; CO2e = energy-weighted
    reported intensity x intensity_scale; cost = (Σ_h on-demand cost_h +
    spot_price_frac·Σ_h Spot list cost_h) x price_scale; EUR = USD x eur_per_usd.

    Returns
    -------
    pandas.DataFrame
        ``draws`` plus ``energy_kwh``, ``co2_kg``, ``cost_usd``, ``cost_eur``.
    """
    k, w = _grid_weights(agg.cpu_scale_grid, draws["cpu_scale"].to_numpy(float))
    e_grid = agg.it_power_w.sum(axis=1) / WH_PER_KWH  # kWh per grid point
    c_grid = agg.carbon_power_w @ np.nan_to_num(agg.intensity_g_per_kwh) / WH_PER_KWH / G_PER_KG  # kg
    facility = draws["pue"].to_numpy(float) * draws["power_scale"].to_numpy(float)
    out = draws.copy()
    out["energy_kwh"] = facility * ((1 - w) * e_grid[k] + w * e_grid[k + 1])
    out["co2_kg"] = facility * draws["intensity_scale"].to_numpy(float) * ((1 - w) * c_grid[k] + w * c_grid[k + 1])
    list_usd = agg.cost_usd.sum() + agg.spot_list_cost_usd.sum() * draws["spot_price_frac"].to_numpy(float)
    out["cost_usd"] = list_usd * draws["price_scale"].to_numpy(float)
    out["cost_eur"] = out["cost_usd"] * draws["eur_per_usd"].to_numpy(float)
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
    k, w = _grid_weights(agg.cpu_scale_grid, draws["cpu_scale"].to_numpy(float))
    mult = (draws["pue"] * draws["power_scale"] * draws["intensity_scale"]).to_numpy(float)
    n = len(draws)
    # quantiles need all draws of an hour at once: fill a (draws, hours) float32 matrix in chunks
    co2 = np.empty((n, len(agg.hours)), dtype=np.float32)
    per_h = agg.it_power_w * agg.intensity_g_per_kwh / WH_PER_KWH  # g per hour per grid row
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        kk, ww = k[a:b, None], w[a:b, None]
        co2[a:b] = mult[a:b, None] * ((1 - ww) * per_h[kk[:, 0]] + ww * per_h[kk[:, 0] + 1])
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
    agg: FleetAggregates, n_draws: int, seed: int, priors: Mapping = factors.UNCERTAINTY_PRIORS
) -> MonteCarloResult:
    """Monte Carlo totals with ``np.random.default_rng(seed)``.

    Two runs with the same ``seed`` and ``n_draws`` use the same factor draws
    (common random numbers), so scenario savings can be taken draw by draw
    (:func:`savings_frac`).
    """
    rng = np.random.default_rng(seed)
    return MonteCarloResult(evaluate_draws(agg, draw_factors(n_draws, rng, priors)), int(seed))


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
        res = evaluate_draws(agg, pd.DataFrame(dict(zip(names, x, strict=True))))
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
