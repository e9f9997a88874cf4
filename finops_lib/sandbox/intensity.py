"""Synthetic grid carbon intensity for zone DE, calibrated to Germany (pure).

The series is **simulated**: its shape follows the hourly, weekly and monthly
means of a real 2020 German series (Wiesner et al. 2021, dataset ``ger_ci``;
``shared/REFERENCES.md``, "Germany's grid: the shape of a real year"), its level
is scaled to the 2024 consumption-based annual mean (GSF real-time-cloud,
370.93 g/kWh), the annual factor the workbench compares against.
Multi-day wind-driven swings are an AR(1) process in log space.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from finops_lib import constants
from finops_lib.factors import GRID_INTENSITY_G_PER_KWH

#: Mean by hour of day (UTC, 0-23), Germany 2020 [gCO2e/kWh] (Wiesner et al. 2021).
HOURLY_MEAN_2020_G_PER_KWH = np.array(
    [308, 305, 306, 313, 323, 329, 326, 314, 299, 287, 279, 275,
     276, 284, 297, 315, 333, 346, 350, 346, 340, 334, 323, 314], dtype=float)  # fmt: skip
#: Monthly means Jan-Dec, Germany 2020 [gCO2e/kWh] (Wiesner et al. 2021).
MONTHLY_MEAN_2020_G_PER_KWH = np.array(
    [335, 227, 272, 229, 247, 289, 311, 340, 381, 346, 404, 377], dtype=float)  # fmt: skip
#: Means Mon-Sun, Germany 2020 [gCO2e/kWh] (Wiesner et al. 2021).
WEEKDAY_MEAN_2020_G_PER_KWH = np.array([327, 335, 339, 335, 326, 275, 258], dtype=float)

#: Target annual mean [gCO2e/kWh]: the GSF 2024 consumption-based figure (370.93), the very
#: annual factor the workbench compares hour-aligned CO2e against -- so that comparison
#: measures alignment and season, not a calibration mismatch (issue 9).
TARGET_MEAN_G_PER_KWH = GRID_INTENSITY_G_PER_KWH["DE_2024_consumption"]["value"]
#: Plausible hourly range for Germany [gCO2e/kWh]; 2020 range 102-593 scaled to the 2024 level.
CLIP_G_PER_KWH = (100.0, 700.0)
#: Marginal intensity annual mean [gCO2e/kWh] (GSF real-time-cloud, eu-central-1, 2024).
MARGINAL_MEAN_G_PER_KWH = GRID_INTENSITY_G_PER_KWH["DE_2024_marginal"]["value"]
#: Wind swing: AR(1) time constant [h] and stationary log-sd [-]. Modelling choices,
#: tuned so the total sd is ~0.35 x mean as in the 2020 series.
WIND_TAU_H = 48.0
WIND_LOG_SD = 0.24
#: Relative depth of the midday dip in midsummer vs the annual average (1 + a), winter (1 - a).
SOLAR_SEASON_AMPLITUDE = 0.7
#: Sensitivity of the marginal signal to the average one (modelling choice). [-]
MARGINAL_ELASTICITY = 0.25


def year_hours(window_end: pd.Timestamp) -> pd.DatetimeIndex:
    """The 8,760 hours (UTC, interval starts) of the 365 days ending at ``window_end``."""
    end = pd.Timestamp(window_end).tz_convert("UTC").floor("h")
    return pd.date_range(end - pd.Timedelta(days=365), end, freq="h", inclusive="left")


def synthetic_intensity_g_per_kwh(
    hours: pd.DatetimeIndex, rng: np.random.Generator, mean_g_per_kwh: float = TARGET_MEAN_G_PER_KWH
) -> pd.Series:
    """
    Hourly lifecycle grid intensity for zone DE, simulated.

    Parameters
    ----------
    hours : DatetimeIndex
        Hour starts, UTC, consecutive; normally :func:`year_hours` so that the
        level is calibrated over one year.
    rng : numpy.random.Generator
        Source of the wind swings.
    mean_g_per_kwh : float
        Mean of the returned series. [gCO2e/kWh]

    Returns
    -------
    intensity_g_per_kwh : Series
        Indexed by ``hours``; mean ``mean_g_per_kwh`` (to < 0.5 g), clipped to
        :data:`CLIP_G_PER_KWH`. [gCO2e/kWh]

    Notes
    -----
    ``I = L * hour(h, season) * month(m) * weekday(d) * exp(x)`` where the
    negative (solar) part of the hourly profile is deepened in summer and
    flattened in winter by ``1 + a cos(2 pi (doy - 172) / 365.25)``, the monthly
    profile is interpolated between mid-month points, and ``x`` is AR(1) with
    time constant :data:`WIND_TAU_H`. ``L`` is found so the clipped series has
    the requested mean.
    """
    hours = pd.DatetimeIndex(hours)
    hod = hours.hour.to_numpy()
    doy = hours.dayofyear.to_numpy().astype(float)
    d = HOURLY_MEAN_2020_G_PER_KWH / HOURLY_MEAN_2020_G_PER_KWH.mean() - 1.0
    season = 1.0 + SOLAR_SEASON_AMPLITUDE * np.cos(2 * np.pi * (doy - 172.0) / 365.25)
    dh = d[hod]
    hour_f = 1.0 + np.where(dh < 0, dh * season, dh)
    mid_month_doy = np.array([15.5 + 30.4375 * k for k in range(12)])
    month_f = np.interp(doy, mid_month_doy, MONTHLY_MEAN_2020_G_PER_KWH, period=365.25)
    month_f = month_f / MONTHLY_MEAN_2020_G_PER_KWH.mean()
    week_f = WEEKDAY_MEAN_2020_G_PER_KWH / WEEKDAY_MEAN_2020_G_PER_KWH.mean()
    week_f = week_f[hours.dayofweek.to_numpy()]
    phi = np.exp(-1.0 / WIND_TAU_H)
    eps = rng.normal(0.0, WIND_LOG_SD * np.sqrt(1 - phi**2), size=len(hours))
    eps[0] = rng.normal(0.0, WIND_LOG_SD)
    wind = lfilter([1.0], [1.0, -phi], eps)
    raw = hour_f * month_f * week_f * np.exp(wind)
    lo, hi = CLIP_G_PER_KWH
    level = mean_g_per_kwh / raw.mean()
    for _ in range(50):  # fixed point: the clipped series has the requested mean
        clipped = np.clip(raw * level, lo, hi)
        err = mean_g_per_kwh - clipped.mean()
        if abs(err) < 1e-6:
            break
        level *= mean_g_per_kwh / (clipped.mean())
    return pd.Series(np.clip(raw * level, lo, hi), index=hours, name="intensity_g_per_kwh")


def marginal_lb_per_mwh(intensity_g_per_kwh: pd.Series) -> pd.Series:
    """
    Marginal (WattTime ``co2_moer``-shaped) signal from the average one, hourly.

    Parameters
    ----------
    intensity_g_per_kwh : Series
        Average (lifecycle) intensity. [gCO2e/kWh]

    Returns
    -------
    moer_lb_per_mwh : Series
        ``M = M_mean * (1 + e (I / mean(I) - 1))`` with M_mean = 731.22 g/kWh
        (GSF 2024) and elasticity ``e`` = :data:`MARGINAL_ELASTICITY`, converted
        to lb/MWh. [lb/MWh]
    """
    rel = intensity_g_per_kwh / intensity_g_per_kwh.mean()
    m_g = MARGINAL_MEAN_G_PER_KWH * (1.0 + MARGINAL_ELASTICITY * (rel - 1.0))
    return (m_g / constants.G_PER_KWH_PER_LB_PER_MWH).rename("moer_lb_per_mwh")
