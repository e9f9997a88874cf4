"""Literature values with their sources: coefficients, factors, prices, priors.

Every entry carries ``value``/fields plus ``source``, ``year`` and ``unit``.
A notebook never hard-codes a factor; it reads it from here (or from a
snapshot). Exact unit conversions live in :mod:`finops_lib.constants`.

Sources are summarised in ``shared/REFERENCES.md`` of the project.
"""

from __future__ import annotations

from types import MappingProxyType

# --------------------------------------------------------------------------- #
# Facility: power usage effectiveness
# --------------------------------------------------------------------------- #
PUE = MappingProxyType(
    {
        "ccf_aws": {
            "value": 1.135,
            "unit": "-",
            "year": 2024,
            "source": "Cloud Carbon Footprint methodology, AWS PUE constant",
        },
        "aws_eu_central_1_2024": {
            "value": 1.35,
            "unit": "-",
            "year": 2024,
            "source": "Green Software Foundation real-time-cloud, Cloud_Region_Metadata.csv, eu-central-1",
        },
        "aws_eu_central_1_2022": {
            "value": 1.32,
            "unit": "-",
            "year": 2022,
            "source": "Green Software Foundation real-time-cloud, Cloud_Region_Metadata.csv, eu-central-1",
        },
    }
)

# --------------------------------------------------------------------------- #
# Grid: annual average carbon intensity for Germany (zone DE, eu-central-1)
# --------------------------------------------------------------------------- #
GRID_INTENSITY_G_PER_KWH = MappingProxyType(
    {
        "DE_2024_consumption": {
            "value": 370.93,
            "unit": "gCO2e/kWh",
            "year": 2024,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, grid average consumption",
        },
        "DE_2024_marginal": {
            "value": 731.22,
            "unit": "gCO2e/kWh",
            "year": 2024,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, marginal",
        },
        "DE_2024_production": {
            "value": 394.14,
            "unit": "gCO2e/kWh",
            "year": 2024,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, average production",
        },
        "DE_2022_consumption": {
            "value": 474.46,
            "unit": "gCO2e/kWh",
            "year": 2022,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1",
        },
        "DE_2023_codecarbon": {
            "value": 380.95,
            "unit": "gCO2e/kWh",
            "year": 2023,
            "source": "codecarbon global_energy_mix.json, Germany",
        },
        "DE_ccf_eea": {
            "value": 311.0,
            "unit": "gCO2e/kWh",
            "year": 2024,
            "source": "Cloud Carbon Footprint, eu-central-1 grid factor (EEA annual)",
        },
        "DE_boavizta_2019": {
            "value": 422.0,
            "unit": "gCO2e/kWh",
            "year": 2019,
            "source": "boaviztapi factors.yml, DEU",
        },
    }
)

#: Zone of each AWS region in Electricity Maps (GSF real-time-cloud metadata).
REGION_ZONE = MappingProxyType(
    {"eu-central-1": "DE", "eu-west-1": "IE", "eu-north-1": "SE", "us-east-1": "US-MIDA-PJM"}
)

# --------------------------------------------------------------------------- #
# Cloud Carbon Footprint (AWS, 2024 constants)
# --------------------------------------------------------------------------- #
CCF_SOURCE = "Cloud Carbon Footprint methodology and coefficients (AWS, 2024 constants)"

#: Min / max power per vCPU by microarchitecture. [W/vCPU]
CCF_W_PER_VCPU = MappingProxyType(
    {
        "cascade_lake": (0.64, 3.97),
        "skylake": (0.65, 4.26),
        "broadwell": (0.71, 3.69),
        "haswell": (1.00, 4.74),
        "epyc_1st": (0.82, 2.55),
        "epyc_2nd": (0.47, 1.69),
        "epyc_3rd": (0.445, 2.019),
        "graviton2": (0.47, 1.69),  # CCF uses the EPYC 2nd gen values for Graviton2
        "fallback": (0.74, 3.5),  # CCF's AWS average; used only when asked for explicitly
    }
)
#: Memory power. [W/GiB] (0.000392 kWh per GB-hour) -- CCF.
CCF_MEMORY_W_PER_GIB = 0.392
#: CCF storage coefficients. [Wh/TB-h]
CCF_SSD_WH_PER_TBH = 1.2
CCF_HDD_WH_PER_TBH = 0.65
#: CCF embodied: hours in the 4-year server lifetime (4 * 8,760). [h]
CCF_LIFETIME_H = 35_040
#: CCF total embodied emissions of the largest host of a family. [kgCO2e]
CCF_EMBODIED_KG_PER_HOST = MappingProxyType(
    {"m5": 1_610.79, "m6i": 1_788.46, "c5": 1_344.29, "r5": 2_143.79, "m6g": 1_333.12}
)
#: vCPU of the largest size of each family in CCF_EMBODIED_KG_PER_HOST, the
#: denominator of CCF's embodied resource share (vCPU / vCPU of the largest size).
#: [vCPU]
CCF_LARGEST_VCPU = MappingProxyType(
    {
        fam: {"value": v, "unit": "vCPU", "year": 2024,
              "source": f"AWS EC2 instance types documentation ({size})"}
        for fam, v, size in (
            ("m5", 96, "m5.24xlarge"),
            ("m6i", 128, "m6i.32xlarge"),
            ("c5", 96, "c5.24xlarge"),
            ("r5", 96, "r5.24xlarge"),
            ("m6g", 64, "m6g.16xlarge"),
        )
    }
)

# --------------------------------------------------------------------------- #
# Instance catalogue for eu-central-1 (Linux, shared tenancy)
# --------------------------------------------------------------------------- #
#: vCPU, memory [GiB], on-demand price [USD/h], CCF microarchitecture.
#: Prices: SkyPilot catalog v8 (skypilot-org/skypilot-catalog, catalogs/v8/aws/vms.csv,
#: refreshed from the AWS Pricing API; exact date unknown). ``derived`` marks a
#: price scaled linearly from a sibling size of the same family.
#: Microarchitectures: processor column of the same catalog (Xeon Platinum
#: 8175M/8259CL = Skylake/Cascade Lake; 8375C = Ice Lake, for which CCF has no
#: coefficient and we map to Cascade Lake -- documented assumption; EPYC 7R13 =
#: EPYC 3rd gen).
INSTANCE_CATALOG_SOURCE = "SkyPilot catalog v8, catalogs/v8/aws/vms.csv, eu-central-1"
INSTANCE_CATALOG = MappingProxyType(
    {
        "t3.micro": {"vcpu": 2, "memory_gib": 1, "usd_per_hour": 0.012, "derived": True, "arch": "skylake"},
        "t3.small": {"vcpu": 2, "memory_gib": 2, "usd_per_hour": 0.024, "derived": False, "arch": "skylake"},
        "t3.medium": {"vcpu": 2, "memory_gib": 4, "usd_per_hour": 0.048, "derived": True, "arch": "skylake"},
        "t3.large": {"vcpu": 2, "memory_gib": 8, "usd_per_hour": 0.096, "derived": True, "arch": "skylake"},
        "t3.xlarge": {"vcpu": 4, "memory_gib": 16, "usd_per_hour": 0.192, "derived": False, "arch": "skylake"},
        "t4g.micro": {"vcpu": 2, "memory_gib": 1, "usd_per_hour": 0.0096, "derived": False, "arch": "graviton2"},
        "t4g.medium": {"vcpu": 2, "memory_gib": 4, "usd_per_hour": 0.0384, "derived": False, "arch": "graviton2"},
        "m5.large": {"vcpu": 2, "memory_gib": 8, "usd_per_hour": 0.115, "derived": False, "arch": "skylake"},
        "m5.xlarge": {"vcpu": 4, "memory_gib": 16, "usd_per_hour": 0.23, "derived": True, "arch": "skylake"},
        "m5.2xlarge": {"vcpu": 8, "memory_gib": 32, "usd_per_hour": 0.46, "derived": False, "arch": "skylake"},
        "m6i.large": {"vcpu": 2, "memory_gib": 8, "usd_per_hour": 0.115, "derived": True, "arch": "cascade_lake"},
        "m6i.xlarge": {"vcpu": 4, "memory_gib": 16, "usd_per_hour": 0.23, "derived": False, "arch": "cascade_lake"},
        "m6a.large": {"vcpu": 2, "memory_gib": 8, "usd_per_hour": 0.1035, "derived": False, "arch": "epyc_3rd"},
        "m6a.xlarge": {"vcpu": 4, "memory_gib": 16, "usd_per_hour": 0.207, "derived": False, "arch": "epyc_3rd"},
        "m6g.large": {"vcpu": 2, "memory_gib": 8, "usd_per_hour": 0.092, "derived": True, "arch": "graviton2"},
        "c5.large": {"vcpu": 2, "memory_gib": 4, "usd_per_hour": 0.097, "derived": True, "arch": "skylake"},
        "c5.xlarge": {"vcpu": 4, "memory_gib": 8, "usd_per_hour": 0.194, "derived": False, "arch": "skylake"},
        "c6i.large": {"vcpu": 2, "memory_gib": 4, "usd_per_hour": 0.097, "derived": False, "arch": "cascade_lake"},
        "c6g.large": {"vcpu": 2, "memory_gib": 4, "usd_per_hour": 0.0776, "derived": False, "arch": "graviton2"},
        "r5.large": {"vcpu": 2, "memory_gib": 16, "usd_per_hour": 0.152, "derived": True, "arch": "skylake"},
        "r6i.large": {"vcpu": 2, "memory_gib": 16, "usd_per_hour": 0.152, "derived": False, "arch": "cascade_lake"},
        "r6g.large": {"vcpu": 2, "memory_gib": 16, "usd_per_hour": 0.1216, "derived": True, "arch": "graviton2"},
    }
)

# --------------------------------------------------------------------------- #
# BoaviztAPI 2.x reference readings (instance power at load 0/10/50/100 %)
# --------------------------------------------------------------------------- #
BOAVIZTA_SOURCE = "BoaviztAPI 2.x, POST /v1/cloud/instance, usage_location DEU (read 2026)"
#: Seen power [W] at load fractions (0, 0.1, 0.5, 1.0); used in tests and as the
#: documented shape of the ``boavizta`` model when no server is at hand.
BOAVIZTA_REFERENCE_POWER_W = MappingProxyType(
    {
        "m6a.large": (1.851, 3.161, 6.010, 7.947),
        "t3.micro": (1.725, 4.423, 10.119, 13.775),
        "m5.xlarge": (5.388, 10.867, 22.592, 30.321),
        "c6g.large": (1.297, 2.583, 5.337, 7.156),
    }
)
BOAVIZTA_REFERENCE_LOADS_FRAC = (0.0, 0.1, 0.5, 1.0)
#: AWS host lifetime assumed by BoaviztAPI. [h]
BOAVIZTA_AWS_LIFETIME_H = 52_560

# --------------------------------------------------------------------------- #
# Seed model (the original project)
# --------------------------------------------------------------------------- #
#: P = P_ref * (0.3 + 0.7 u); Barroso & Hoelzle (2007), "The Case for
#: Energy-Proportional Computing", IEEE Computer 40(12).
LINEAR_SHARE_IDLE_FRAC = 0.3

# --------------------------------------------------------------------------- #
# Money
# --------------------------------------------------------------------------- #
#: Default USD -> EUR rate; override per experiment. ECB reference rate
#: 2024 annual average: 1 EUR = 1.0824 USD -> 0.9239 EUR/USD.
EUR_PER_USD = {"value": 0.9239, "unit": "EUR/USD", "year": 2024, "source": "ECB euro foreign exchange reference rates, 2024 annual average (1.0824 USD/EUR)"}
#: EC2 per-second billing minimum for Linux On-Demand (AWS announcement, 2017). [s]
BILLING_MINIMUM_S = 60

# --------------------------------------------------------------------------- #
# Uncertainty priors of the Monte Carlo (from sources; the sandbox never reads them)
# --------------------------------------------------------------------------- #
#: Named input distributions of :mod:`finops_lib.calc.uncertainty`, each from a
#: published source or a documented derivation -- never fitted to the sandbox,
#: whose hidden truth comes from its own code and distributions
#: (:mod:`finops_lib.sandbox.truth`).
#: Kinds: ``uniform(low, high)``; ``normal(mean, sd)``; ``lognormal_frac(sd)`` =
#: multiplicative factor exp(N(0, sd)); ``model_span`` = a position q ~ U(0, 1)
#: in the span of the power models, resolved at run time per instance type.
#:
#: Meaning of each factor:
#:
#: - ``pue``: facility energy = IT energy x pue.
#: - ``power_model``: model-form uncertainty of power. For each instance type the
#:   fleet's IT energy is computed with every power model of
#:   :mod:`finops_lib.calc.power` (ccf, boavizta, linear_share) on the same
#:   loads; the chosen model's energy is multiplied by
#:   exp(lo_t + q (hi_t - lo_t)) where lo_t / hi_t are the log of the smallest /
#:   largest model ratio to the chosen model (1 included). One q per draw: the
#:   models differ systematically, so types move together.
#: - ``intensity_scale``: true grid intensity = reported measured intensity x intensity_scale.
#: - ``intensity_estimated_scale``: the same for hours the provider flags as estimated.
#: - ``cpu_scale``: effective load for the power curve = reported hourly mean CPU x
#:   cpu_scale (clipped to 0..1).
#: - ``price_scale``: billed rate = list price x price_scale.
#: - ``spot_price_frac``: Spot rate = on-demand list price x spot_price_frac (the
#:   on-demand Pricing API has no Spot prices; a Spot instance's list price is
#:   its on-demand price).
#:
#: The EUR/USD rate of a past billing period is data (ECB reference rate), not an
#: uncertainty: the Monte Carlo converts at a given rate (``EUR_PER_USD`` by default).
UNCERTAINTY_PRIORS = MappingProxyType(
    {
        "pue": {
            "kind": "normal",
            "mean": 1.35,
            "sd": 0.04,
            "source": "centred on the 2024 eu-central-1 figure (1.35, GSF real-time-cloud); sd 0.04 from "
            "its year-to-year change (1.32 in 2022, same file) combined with a seasonal swing of a few "
            "hundredths within a window shorter than a year (Google quarterly per-site PUE)",
        },
        "power_model": {
            "kind": "model_span",
            "models": ("ccf", "boavizta", "linear_share"),
            "source": "spread between Cloud Carbon Footprint, BoaviztAPI and the linear seed model "
            "(Barroso & Hoelzle 2007) on the fleet's own loads, computed by calc.power at run time; "
            "log-uniform across the span: no published evidence ranks the models for EC2",
        },
        "intensity_scale": {
            "kind": "lognormal_frac",
            "sd": 0.05,
            "source": "Electricity Maps measured hours +/-5 % (original thesis uncertainty table)",
        },
        "intensity_estimated_scale": {
            "kind": "lognormal_frac",
            "sd": 0.15,
            "source": "Electricity Maps estimated hours (isEstimated): gap-filled / nowcast values; "
            "+/-15 % assumed from the size of day-ahead carbon-intensity forecast errors for Germany "
            "(MAPE ~ 10-20 %, Maji et al. 2022, CarbonCast; *unconfirmed*)",
        },
        "cpu_scale": {
            "kind": "lognormal_frac",
            "sd": 0.05,
            "source": "CloudWatch CPU +/-5 % (original thesis uncertainty table); also stands for the "
            "error of applying a power curve to the hourly mean rather than to 5-minute values",
        },
        "price_scale": {
            "kind": "lognormal_frac",
            "sd": 0.02,
            "source": "Cost Explorer +/-2 % (original thesis uncertainty table)",
        },
        "spot_price_frac": {
            "kind": "uniform",
            "low": 0.25,
            "high": 0.70,
            "source": "AWS EC2 Spot: 'up to 90 % off On-Demand'; assumed range 30-75 % discount "
            "for general-purpose/compute families (unconfirmed, override per experiment)",
        },
    }
)

#: Literature savings ranges (original thesis). [frac]
LITERATURE_SAVINGS_FRAC = MappingProxyType(
    {
        "office_hours_cost": {"low": 0.15, "high": 0.25, "source": "office-hours scheduling, 15-25 % cost (original thesis literature review)"},
        "temporal_shift_co2": {"low": 0.15, "high": 0.35, "source": "temporal shifting, 15-35 % CO2 (original thesis literature review)"},
    }
)
