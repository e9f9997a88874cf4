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
            "year": None,
            "source": "Cloud Carbon Footprint, PUE_AVG of AWS_CLOUD_CONSTANTS, "
            "cloud-carbon-footprint/cloud-carbon-footprint@0656d55594b69d74ce35ff18019be36140beaa50 "
            "packages/aws/src/domain/AwsFootprintEstimationConstants.ts (no data year stated)",
        },
        "aws_eu_central_1_2024": {
            "value": 1.35,
            "unit": "-",
            "year": 2023,
            "source": "Green Software Foundation real-time-cloud, Cloud_Region_Metadata.csv, eu-central-1"
            "; GSF's 2024 row for eu-central-1 repeats the 2023 row's values, so this is 2023 data carried forward (key kept for compatibility)",
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
            "year": 2023,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, grid average consumption"
            "; GSF's 2024 row for eu-central-1 repeats the 2023 row's values, so this is 2023 data carried forward (key kept for compatibility)",
        },
        "DE_2024_marginal": {
            "value": 731.22,
            "unit": "gCO2e/kWh",
            "year": 2023,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, marginal"
            "; GSF's 2024 row for eu-central-1 repeats the 2023 row's values, so this is 2023 data carried forward (key kept for compatibility)",
        },
        "DE_2024_production": {
            "value": 394.14,
            "unit": "gCO2e/kWh",
            "year": 2023,
            "source": "GSF real-time-cloud Cloud_Region_Metadata.csv, eu-central-1, average production"
            "; GSF's 2024 row for eu-central-1 repeats the 2023 row's values, so this is 2023 data carried forward (key kept for compatibility)",
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
            "year": None,
            "release_year": 2024,
            "source": "Cloud Carbon Footprint AWS_EMISSIONS_FACTORS_METRIC_TON_PER_KWH, eu-central-1 = "
            "0.000311 t/kWh (EEA-based; dated by the release of CCF's constants -- the data year is not "
            "stated in CCF's file; older CCF releases, e.g. commit 0656d55, carry 0.000338)",
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
# Cloud Carbon Footprint, AWS methodology as its code computes it
# --------------------------------------------------------------------------- #
#: Repository and commits the CCF values below were transcribed from.
CCF_REPO = "cloud-carbon-footprint/cloud-carbon-footprint"
CCF_COMMIT = "0656d55594b69d74ce35ff18019be36140beaa50"
CCF_SOURCE = (
    f"{CCF_REPO}@{CCF_COMMIT}: packages/aws/src/lib/AWSInstanceTypes.ts, "
    "packages/aws/src/domain/AwsFootprintEstimationConstants.ts, "
    "packages/core/src/compute/ComputeProcessorTypes.ts, "
    "packages/aws/src/lib/AWSMemoryEstimatesBuilder.ts; "
    "burstable vCPU scaling: packages/aws/src/lib/CostAndUsageReportsRow.ts@055988215308523fa3d7c7357d804da6d954f9d7; "
    "embodied: packages/aws/src/lib/CostAndUsageReports.ts getEmbodiedEmissions (version exercised by "
    "packages/aws/src/__tests__/CostAndUsageReports.test.ts@0923ff005a641ceea66fbb9c741486a5d35d29b4) and "
    "packages/core/src/embodiedEmissions/EmbodiedEmissionsEstimator.ts@b7a289e3407b7fc3584c1bd6a7245e9b6c78f34c"
)

#: AWS min / max power per vCPU by processor, the ``MIN/MAX_WATTS_BY_COMPUTE_PROCESSOR``
#: of ``AWS_CLOUD_CONSTANTS`` (AwsFootprintEstimationConstants.ts @ CCF_COMMIT), values
#: from ``COMPUTE_PROCESSOR_TYPES`` (ComputeProcessorTypes.ts @ CCF_COMMIT). Only the
#: processors the AWS constants list: AWS Graviton (1st gen), AMD EPYC 3rd Gen and Ice
#: Lake are NOT in the AWS tables, so CCF's AWS code falls back to the AWS averages
#: below for them. [W/vCPU]
CCF_AWS_W_PER_VCPU = MappingProxyType(
    {
        "Cascade Lake": (0.64, 3.97),
        "Skylake": (0.65, 4.26),
        "Broadwell": (0.71, 3.69),
        "Haswell": (1.0, 4.74),
        "Coffee Lake": (1.14, 5.42),
        "Sandy Bridge": (2.17, 8.58),
        "Ivy Bridge": (3.04, 8.25),
        "AMD EPYC 1st Gen": (0.82, 2.55),
        "AMD EPYC 2nd Gen": (0.47, 1.69),
        "AWS Graviton2": (0.47, 1.69),  # CCF: "Same as AMD_EPYC_2ND_GEN"
    }
)
#: AWS averages used when a type's processors are not all in CCF_AWS_W_PER_VCPU
#: (``MIN_WATTS_AVG`` / ``MAX_WATTS_AVG``, AwsFootprintEstimationConstants.ts @ CCF_COMMIT). [W/vCPU]
CCF_AWS_FALLBACK_W_PER_VCPU = (0.74, 3.5)
#: Memory already inside the SPECpower figures of one physical chip (``gb_chip_avg`` in
#: ComputeProcessorTypes.ts, listed in ``MEMORY_BY_COMPUTE_PROCESSOR`` of the AWS
#: constants @ CCF_COMMIT). [GB/chip]
CCF_AWS_GB_PER_CHIP = MappingProxyType(
    {
        "Cascade Lake": 98.12, "Skylake": 81.32, "Broadwell": 69.65, "Haswell": 27.71,
        "Coffee Lake": 19.56, "Sandy Bridge": 16.7, "Ivy Bridge": 9.67,
        "AMD EPYC 1st Gen": 89.6, "AMD EPYC 2nd Gen": 129.78, "AWS Graviton2": 129.78,
    }
)
#: ``MEMORY_AVG``: per-chip memory used when a processor has no entry above. [GB/chip]
CCF_AWS_GB_PER_CHIP_FALLBACK = 80.69
#: ``MEMORY_COEFFICIENT`` 0.000392 kWh/GB-h = 0.392 W per GB. [W/GB]
CCF_MEMORY_W_PER_GIB = 0.392
#: ``PUE_AVG`` of the AWS constants (also ``PUE["ccf_aws"]``). [-]
CCF_AWS_PUE = 1.135
#: ``AVG_CPU_UTILIZATION_2020``: the CPU load CCF's CUR path assumes, and the
#: denominator of the burstable scaling. [%]
CCF_AVG_CPU_UTILIZATION_PCT = 50
#: ``SERVER_EXPECTED_LIFESPAN`` (4 years). [h]
CCF_LIFETIME_H = 35_040
#: CCF storage coefficients. [Wh/TB-h]
CCF_SSD_WH_PER_TBH = 1.2
CCF_HDD_WH_PER_TBH = 0.65
#: ``BURSTABLE_INSTANCE_BASELINE_UTILIZATION`` (AWSInstanceTypes.ts @ CCF_COMMIT): CCF
#: multiplies a burstable type's vCPU-hours by baseline / 50 and adds no memory. [%]
CCF_BURSTABLE_BASELINE_PCT = MappingProxyType(
    {f"{fam}.{size}": pct
     for fam, table in (
         ("t2", {"nano": 5, "micro": 10, "small": 20, "medium": 20, "large": 30, "xlarge": 22.5, "2xlarge": 17}),
         ("t3", {"nano": 5, "micro": 10, "small": 20, "medium": 20, "large": 30, "xlarge": 40, "2xlarge": 40}),
         ("t3a", {"nano": 5, "micro": 10, "small": 20, "medium": 20, "large": 30, "xlarge": 40, "2xlarge": 40}),
         ("t4g", {"nano": 5, "micro": 10, "small": 20, "medium": 20, "large": 30, "xlarge": 40, "2xlarge": 40}),
     )
     for size, pct in table.items()}
)


def _ccf_family(spec: str, scope3_t: float) -> dict:
    """'size:vcpu:mem[:scope3]' entries, in CCF's order (the last is CCF's 'largest')."""
    out = {}
    for item in spec.split():
        parts = item.split(":")
        out[parts[0]] = (float(parts[1]), float(parts[2]), float(parts[3]) if len(parts) > 3 else scope3_t)
    return out


#: ``EC2_INSTANCE_TYPES`` (AWSInstanceTypes.ts @ CCF_COMMIT): family -> size ->
#: (vCPU, memory GB, total embodied "scope 3" emissions of the host in metric tons
#: CO2e), sizes in CCF's order. Transcribed for CCF's non-GPU current and previous
#: general-purpose / compute / memory / burstable families (the GPU, storage and
#: accelerator families are not transcribed: a type from them is an explicit
#: error, never a guess). Typos of CCF are kept because its code uses them
#: (m6a.48xlarge has 19 vCPU in CCF's table, so CCF's "largest size" of m6a has 19 vCPU).
CCF_EC2_INSTANCE_TYPES = MappingProxyType(
    {
        "a1": _ccf_family("medium:1:2 large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 metal:16:32", 1.0221904),
        "c4": _ccf_family("large:2:3.75 xlarge:4:7.5 2xlarge:8:15 4xlarge:16:30 8xlarge:36:60", 1.1610236),
        "c5": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 9xlarge:36:72 12xlarge:48:96 "
                          "18xlarge:72:144 24xlarge:96:192 metal:96:192", 1.3440944),
        "c5a": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 12xlarge:48:96 "
                           "16xlarge:64:128 24xlarge:96:192", 1.2440944),
        "c5ad": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 12xlarge:48:96 "
                            "16xlarge:64:128 24xlarge:96:192", 1.4440944),
        "c5d": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 9xlarge:36:72 12xlarge:48:96:1.7440944 "
                           "18xlarge:72:144 24xlarge:96:192:1.7440944 metal:96:192:1.7440944", 1.5440944),
        "c5n": _ccf_family("large:2:5.25 xlarge:4:10.5 2xlarge:8:21 4xlarge:16:42 9xlarge:36:96 18xlarge:72:192 "
                           "metal:72:192", 1.3440944),
        "c6g": _ccf_family("medium:1:2 large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 "
                           "12xlarge:48:96 16xlarge:64:128 metal:64:128", 1.1553328),
        "c6gd": _ccf_family("medium:1:2 large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 "
                            "12xlarge:48:96 16xlarge:64:128 metal:64:128", 1.3553328),
        "c6gn": _ccf_family("medium:1:2 large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 "
                            "12xlarge:48:96 16xlarge:64:128", 1.1553328),
        "c6i": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 12xlarge:48:96 "
                           "16xlarge:64:128 24xlarge:96:192", 1.3329),
        "c6a": _ccf_family("large:2:4 xlarge:4:8 2xlarge:8:16 4xlarge:16:32 8xlarge:32:64 12xlarge:48:96 "
                           "16xlarge:64:128 24xlarge:96:192 32xlarge:128:256 48xlarge:192:384", 1.5104),
        "m4": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 10xlarge:40:160 16xlarge:64:256",
                          1.432856),
        "m5": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                          "16xlarge:64:256 24xlarge:96:384 metal:96:384", 1.6103792),
        "m5a": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                           "16xlarge:64:256 24xlarge:96:384", 1.6103792),
        "m5ad": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                            "16xlarge:64:256 24xlarge:96:384", 2.0103792),
        "m5d": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                           "16xlarge:64:256 24xlarge:96:384 metal:96:384", 2.0103792),
        "m5dn": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                            "16xlarge:64:256 24xlarge:96:384 metal:96:384", 2.0103792),
        "m5n": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                           "16xlarge:64:256 24xlarge:96:384 metal:96:384", 1.6103792),
        "m5zn": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 3xlarge:12:48 6xlarge:24:96 12xlarge:48:192 "
                            "metal:48:192", 1.3440944),
        "m6g": _ccf_family("medium:1:4 large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 "
                           "12xlarge:48:192 16xlarge:64:256 metal:64:256", 1.332856),
        "m6gd": _ccf_family("medium:1:4 large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 "
                            "12xlarge:48:192 16xlarge:64:256 metal:64:256", 1.532856),
        "m6i": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                           "16xlarge:64:256 24xlarge:96:384 32xlarge:128:512 metal:128:512", 1.7879024),
        "m6a": _ccf_family("large:2:8 xlarge:4:16 2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 12xlarge:48:192 "
                           "16xlarge:64:256 24xlarge:96:384 32xlarge:128:512 48xlarge:19:768", 2.0429),
        "r4": _ccf_family("large:2:15.25 xlarge:4:30.5 2xlarge:8:61 4xlarge:16:122 8xlarge:32:244 16xlarge:64:488",
                          1.7546168),
        "r5": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                          "16xlarge:64:512 24xlarge:96:768 metal:96:768", 2.1429488),
        "r5a": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                           "16xlarge:64:512 24xlarge:96:768", 2.1429488),
        "r5ad": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                            "16xlarge:64:512 24xlarge:96:768", 2.5429488),
        "r5b": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                           "16xlarge:64:512 24xlarge:96:768 metal:96:768", 2.1429488),
        "r5d": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                           "16xlarge:64:512 24xlarge:96:768 metal:96:768", 2.5429488),
        "r5dn": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                            "16xlarge:64:512 24xlarge:96:768 metal:96:768", 2.5429488),
        "r5n": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                           "16xlarge:64:512 24xlarge:96:768 metal:96:768", 2.1429488),
        "r6g": _ccf_family("medium:1:8 large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 "
                           "12xlarge:48:384 16xlarge:64:512 metal:64:512", 1.6879024),
        "r6gd": _ccf_family("medium:1:8 large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 "
                            "12xlarge:48:384 16xlarge:64:512 metal:64:512", 1.8879024),
        "r6i": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 4xlarge:16:128 8xlarge:32:256 12xlarge:48:384 "
                           "16xlarge:64:512 24xlarge:96:768 32xlarge:128:1024 metal:128:1024", 1.0),
        "t2": _ccf_family("nano:1:0.5 micro:1:1 small:1:2 medium:2:4 large:2:8 xlarge:4:16 2xlarge:8:32", 1.4772368),
        "t3": _ccf_family("nano:2:0.5 micro:2:1 small:2:2 medium:2:4 large:2:8 xlarge:4:16 2xlarge:8:32", 1.6103792),
        "t3a": _ccf_family("nano:2:0.5 micro:2:1 small:2:2 medium:2:4 large:2:8 xlarge:4:16 2xlarge:8:32",
                           1.6103792),
        "t4g": _ccf_family("nano:2:0.5 micro:2:1 small:2:2 medium:2:4 large:2:8 xlarge:4:16 2xlarge:8:32", 1.332856),
        "x1": _ccf_family("16xlarge:64:976 32xlarge:128:1952", 4.1850384),
        "x1e": _ccf_family("xlarge:4:122 2xlarge:8:244 4xlarge:16:488 8xlarge:32:976 16xlarge:64:1952 "
                           "32xlarge:128:3904", 6.8922672),
        "x2gd": _ccf_family("medium:1:16 large:2:32 xlarge:4:64 2xlarge:8:128 4xlarge:16:256 8xlarge:32:512 "
                            "12xlarge:48:768 16xlarge:64:1024 metal:64:1024", 2.5979952),
        "z1d": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 3xlarge:12:96 6xlarge:24:192 12xlarge:48:384 "
                           "metal:48:384", 1.8103792),
        "h1": _ccf_family("2xlarge:8:32 4xlarge:16:64 8xlarge:32:128 16xlarge:64:256", 2.632856),
        "i3": _ccf_family("large:2:15.25 xlarge:4:30.5 2xlarge:8:61 4xlarge:16:122 8xlarge:32:244 16xlarge:64:488 "
                          "metal:72:512", 2.5879024),
        "i3en": _ccf_family("large:2:16 xlarge:4:32 2xlarge:8:64 3xlarge:12:96 6xlarge:24:192 12xlarge:48:384 "
                            "24xlarge:96:768 metal:96:768", 2.9429488),
        "d2": _ccf_family("xlarge:4:30.5 2xlarge:8:61 4xlarge:16:122 8xlarge:36:244", 2.6162132),
    }
)

_CL, _SL, _BW, _HW = "Cascade Lake", "Skylake", "Broadwell", "Haswell"
_E1, _E2, _E3, _G1, _G2 = "AMD EPYC 1st Gen", "AMD EPYC 2nd Gen", "AMD EPYC 3rd Gen", "AWS Graviton", "AWS Graviton2"
_ICE, _UNKNOWN = "Ice Lake", "Unknown"
#: ``INSTANCE_TYPE_COMPUTE_PROCESSOR_MAPPING`` (AWSInstanceTypes.ts @ CCF_COMMIT) by
#: family; CCF lists it per type but it is constant within each family except for
#: the overrides in CCF_PROCESSORS_BY_TYPE. A type CCF does not map (e.g. m6i.metal)
#: is "Unknown" in CCF's code.
CCF_PROCESSORS_BY_FAMILY = MappingProxyType(
    {
        "t4g": (_G2,), "t3": (_CL,), "t3a": (_E1,), "t2": (_CL,),
        "m6g": (_G2,), "m6gd": (_G2,), "m5": (_SL,), "m5d": (_SL,), "m5a": (_E1,), "m5ad": (_E1,),
        "m5n": (_CL,), "m5dn": (_CL,), "m5zn": (_CL,), "m4": (_HW, _BW), "a1": (_G1,),
        "c5": (_CL, _SL), "c5d": (_CL, _SL), "c5n": (_CL, _SL), "c5a": (_E2,), "c5ad": (_E2,), "c4": (_HW,),
        "c6g": (_G2,), "c6gd": (_G2,), "c6gn": (_G2,), "r6g": (_G2,), "r6gd": (_G2,),
        "r5": (_CL, _SL), "r5d": (_CL, _SL), "r5a": (_E1,), "r5ad": (_E1,), "r5n": (_CL,), "r5dn": (_CL,),
        "r5b": (_CL,), "r4": (_BW,), "x1e": (_HW,), "x1": (_HW,), "z1d": (_CL,), "d2": (_HW,),
        "i3": (_UNKNOWN,), "i3en": (_CL, _SL), "h1": (_BW,), "x2gd": (_G2,),
        "m6i": (_UNKNOWN,), "m6a": (_E3,), "c6i": (_ICE,), "c6a": (_E3,), "r6i": (_ICE,),
    }
)
#: Per-type exceptions in CCF's mapping (AWSInstanceTypes.ts @ CCF_COMMIT).
CCF_PROCESSORS_BY_TYPE = MappingProxyType(
    {
        "c5.12xlarge": (_CL,), "c5.24xlarge": (_CL,), "c5d.12xlarge": (_CL,), "c5d.24xlarge": (_CL,),
    }
)

#: Coefficients of the ``ccf_refined`` model only (NOT used by CCF's AWS code, which
#: falls back to CCF_AWS_FALLBACK_W_PER_VCPU for these processors): AMD EPYC 3rd Gen
#: from CCF's own COMPUTE_PROCESSOR_TYPES (ComputeProcessorTypes.ts @ CCF_COMMIT,
#: min 0.45 / max 2.02 W per vCPU, 128 GB per chip), which CCF's GCP and Azure
#: constants use. (The 0.445 / 2.019 formerly stored here as "epyc_3rd" are CCF's
#: unrounded GCP/Azure figures, never part of its AWS constants.)
CCF_REFINED_W_PER_VCPU = MappingProxyType({"AMD EPYC 3rd Gen": (0.45, 2.02)})
CCF_REFINED_GB_PER_CHIP = MappingProxyType({"AMD EPYC 3rd Gen": 128.0})
#: ``ccf_refined``: processors substituted for CCF's mapping. m6i/c6i/r6i run Ice Lake
#: (Xeon 8375C per the SkyPilot catalog) for which CCF has no coefficients (m6i is
#: even "Unknown" in CCF's mapping); we use Cascade Lake as the nearest generation
#: CCF measured -- an assumption, listed as a departure.
CCF_REFINED_PROCESSORS_BY_FAMILY = MappingProxyType(
    {"m6i": ("Cascade Lake",), "c6i": ("Cascade Lake",), "r6i": ("Cascade Lake",)}
)

# --------------------------------------------------------------------------- #
# Instance catalogue for eu-central-1 (Linux, shared tenancy)
# --------------------------------------------------------------------------- #
#: vCPU, memory [GiB], on-demand price [USD/h], CCF microarchitecture.
#: Prices: SkyPilot catalog v8 (skypilot-org/skypilot-catalog, catalogs/v8/aws/vms.csv,
#: refreshed from the AWS Pricing API; exact date unknown). ``derived`` marks a
#: price scaled linearly from a sibling size of the same family.
#: ``arch``: our reading of the processor column of the same catalog (Xeon Platinum
#: 8175M/8259CL = Skylake/Cascade Lake; 8375C = Ice Lake, written "cascade_lake"
#: here; EPYC 7R13 = EPYC 3rd gen). Documentation only: it is NOT Cloud Carbon
#: Footprint's mapping (the ``ccf`` model uses CCF_PROCESSORS_BY_FAMILY, ``ccf_refined``
#: adds CCF_REFINED_PROCESSORS_BY_FAMILY) and no model reads it.
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
#: Seen power [W] at load fractions (0, 0.1, 0.5, 1.0): four true readings of the
#: server, kept as small test fixtures. NOT the ``boavizta`` model's curve:
#: interpolating linearly between these four points is up to 8 % low at 30 % load
#: (see BOAVIZTA_CURVE_POWER_W).
BOAVIZTA_REFERENCE_POWER_W = MappingProxyType(
    {
        "m6a.large": (1.851, 3.161, 6.010, 7.947),
        "t3.micro": (1.725, 4.423, 10.119, 13.775),
        "m5.xlarge": (5.388, 10.867, 22.592, 30.321),
        "c6g.large": (1.297, 2.583, 5.337, 7.156),
    }
)
BOAVIZTA_REFERENCE_LOADS_FRAC = (0.0, 0.1, 0.5, 1.0)

#: Load points of the ``boavizta`` model's curve: dense enough that piecewise-linear
#: interpolation stays within 0.3 % of BoaviztAPI 2.5.0 at any load (measured against
#: the local server at every 1 % step; tests/collect/test_boavizta_curve.py). [-]
BOAVIZTA_CURVE_LOADS_FRAC = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25,
                             0.30, 0.35, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 1.0)
#: BoaviztAPI 2.5.0 (local server, POST /v1/cloud/instance, usage_location DEU,
#: verbose avg_power) at BOAVIZTA_CURVE_LOADS_FRAC, read 2026-12-01. [W]
BOAVIZTA_CURVE_POWER_W = MappingProxyType(
    {
        "m6a.large": (1.85136, 2.00746, 2.15666, 2.2995, 2.43665, 2.56847, 2.69539, 2.93593, 3.16079, 3.37196,
                      3.66649, 4.10835, 4.50172, 4.8563, 5.17956, 5.47706, 6.00972, 6.47809, 6.89686, 7.27684,
                      7.62496, 7.9473),
        "t3.micro": (1.72457, 2.04802, 2.35673, 2.65203, 2.93502, 3.20672, 3.46793, 3.96205, 4.42264, 4.85403,
                     5.45376, 6.34926, 7.14026, 7.84868, 8.49116, 9.07766, 10.1188, 11.0225, 11.8209, 12.5361,
                     13.1838, 13.7755),
        "m5.xlarge": (5.38794, 6.04317, 6.66891, 7.26776, 7.84208, 8.39379, 8.92454, 9.92936, 10.8672, 11.7466,
                      12.971, 14.8035, 16.4271, 17.8854, 19.2119, 20.4265, 22.5918, 24.4823, 26.1622, 27.6758,
                      29.0542, 30.3207),
        "c6g.large": (1.29742, 1.45112, 1.59793, 1.73844, 1.8732, 2.00263, 2.1272, 2.36299, 2.58312, 2.78953,
                      3.07695, 3.50706, 3.88838, 4.23109, 4.54254, 4.82802, 5.33721, 5.78156, 6.17687, 6.53269,
                      6.85735, 7.15582),
    }
)
#: AWS host lifetime assumed by BoaviztAPI. [h]
BOAVIZTA_AWS_LIFETIME_H = 52_560

# --------------------------------------------------------------------------- #
# Seed model (the original project)
# --------------------------------------------------------------------------- #
#: P = P_ref * (0.3 + 0.7 u): the idle share 0.3 is the seed project's own choice.
#: It is NOT a figure of Barroso & Hoelzle (2007), "The Case for Energy-Proportional
#: Computing", IEEE Computer 40(12), 33-37, who report that servers of the time draw
#: about half of their peak power when nearly idle (idle share ~0.5) and argue for
#: energy-proportional servers idling near 10 % of peak. No published source for 0.3
#: was found; treat it as an assumption (the linear_share model lists it as such).
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
