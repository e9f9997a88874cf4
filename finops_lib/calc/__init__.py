"""Pure calculations over snapshot tables (no I/O): runtime, billing, power, carbon.

See ``shared/DESIGN.md``, "Calculations". Every function documents its units
in brackets and its references; coefficients come from
:mod:`finops_lib.factors`.
"""

from finops_lib.calc.billing import (
    MissingPriceError,
    billed_seconds,
    billed_seconds_aws,
    hourly_cost_usd,
    interval_cost_usd,
    usd_to_eur,
)
from finops_lib.calc.carbon import (
    embodied_co2_g,
    energy_kwh,
    hour_aligned_vs_average,
    operational_co2_g,
    sci_g_per_unit,
)
from finops_lib.calc.coverage import data_coverage, time_alignment_coverage
from finops_lib.calc.deviation import (
    bland_altman,
    daily_compute_comparison,
    gap_decomposition,
    mape,
    mean_bias,
    runtime_error,
    usage_category,
    usage_instance_type,
    validation_factor,
)
from finops_lib.calc.power import (
    POWER_MODELS,
    UnknownInstanceTypeError,
    ccf_ec2_usage_estimate,
    ccf_embodied_g_per_h,
    ccf_power_profile,
    fleet_energy_by_model_kwh,
    fleet_power_w,
    instance_power_w,
    power_model_comparison,
)
from finops_lib.calc.runtime import (
    RUNTIME_ESTIMATORS,
    MalformedEventError,
    estimate_runtime,
    hourly_running_fraction,
    parse_cloudtrail_events,
    running_intervals,
    runtime_always_on,
    runtime_cloudwatch_presence,
    runtime_current_state,
    runtime_from_launch_time,
    runtime_hours,
)

__all__ = [
    "POWER_MODELS",
    "RUNTIME_ESTIMATORS",
    "estimate_runtime",
    "MalformedEventError",
    "MissingPriceError",
    "UnknownInstanceTypeError",
    "billed_seconds",
    "billed_seconds_aws",
    "bland_altman",
    "ccf_ec2_usage_estimate",
    "ccf_embodied_g_per_h",
    "ccf_power_profile",
    "daily_compute_comparison",
    "data_coverage",
    "embodied_co2_g",
    "energy_kwh",
    "fleet_energy_by_model_kwh",
    "fleet_power_w",
    "gap_decomposition",
    "hour_aligned_vs_average",
    "hourly_cost_usd",
    "hourly_running_fraction",
    "instance_power_w",
    "power_model_comparison",
    "interval_cost_usd",
    "mape",
    "mean_bias",
    "operational_co2_g",
    "parse_cloudtrail_events",
    "running_intervals",
    "runtime_always_on",
    "runtime_error",
    "runtime_cloudwatch_presence",
    "runtime_current_state",
    "runtime_from_launch_time",
    "runtime_hours",
    "sci_g_per_unit",
    "time_alignment_coverage",
    "usage_category",
    "usage_instance_type",
    "usd_to_eur",
    "validation_factor",
]
