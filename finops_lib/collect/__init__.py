"""Collectors: the only code that does I/O to data sources.

``get_*`` functions call a remote API and return ``(data, meta)`` (pvlib
iotools style); ``read_*`` read a file. :func:`collect_snapshot` runs them all
and writes a snapshot (:mod:`finops_lib.snapshot`). The same code serves a
real AWS account and the sandbox; only :class:`Endpoints` differ.
"""

from finops_lib.collect.aws import (
    EVENT_NAMES,
    REQUIRED_IAM_ACTIONS,
    CallCounter,
    ResponseCache,
    get_costs,
    get_cpu_hourly,
    get_instances,
    get_prices,
    get_state_events,
    lookup_events,
    make_clients,
)
from finops_lib.collect.boavizta import boavizta_server, get_power_profiles_boavizta
from finops_lib.collect.carbon import (
    get_forecast_watttime,
    get_intensity_electricitymaps,
    get_intensity_watttime,
    get_latest_intensity_electricitymaps,
    read_electricitymaps_csv,
)
from finops_lib.collect.core import Endpoints, collect_snapshot
from finops_lib.collect.errors import (
    AccessDeniedError,
    CollectError,
    CredentialsError,
    PayloadError,
    SourceUnavailable,
    ThrottledError,
)

__all__ = [
    "EVENT_NAMES", "REQUIRED_IAM_ACTIONS", "CallCounter", "ResponseCache", "Endpoints", "collect_snapshot",
    "get_instances", "get_state_events", "lookup_events", "get_cpu_hourly", "get_prices", "get_costs",
    "make_clients", "get_intensity_electricitymaps", "get_latest_intensity_electricitymaps",
    "read_electricitymaps_csv", "get_intensity_watttime", "get_forecast_watttime",
    "boavizta_server", "get_power_profiles_boavizta",
    "CollectError", "CredentialsError", "AccessDeniedError", "ThrottledError", "PayloadError", "SourceUnavailable",
]
