"""BoaviztAPI over HTTP: instance power at load points and embodied impact.

BoaviztAPI is AGPL-3.0. It runs only as a separate local HTTP service
(``uvicorn boaviztapi.main:app`` from its own virtual environment); this
module never imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import requests

from finops_lib import factors, schema
from finops_lib.collect.errors import PayloadError, SourceUnavailable, conform_payload
from finops_lib.collect.http import cached_session, request_json
from finops_lib.constants import G_PER_KG, PERCENT

#: Load points of the ``power_profiles`` table: 22 points, dense where the server's
#: log-shaped curve bends (low load), so that piecewise-linear interpolation between
#: them stays within 0.3 % of the server at any load (the old 0/10/50/100 % grid was
#: up to 8 % low in between). [-]
LOAD_FRACS = factors.BOAVIZTA_CURVE_LOADS_FRAC
#: Loads actually requested per type: BoaviztAPI's curve form (calc.fit_boavizta_curve)
#: is fitted to these six readings and evaluated at LOAD_FRACS -- 6 requests per type
#: instead of 22. [-]
FIT_LOAD_FRACS = (0.0, 0.05, 0.15, 0.35, 0.65, 1.0)
#: Usage location of eu-central-1 for BoaviztAPI (ISO 3166-1 alpha-3).
USAGE_LOCATION = "DEU"
_REPO = Path(__file__).resolve().parents[2]


def boavizta_python() -> str:
    """Interpreter with BoaviztAPI installed: ``$BOAVIZTA_PYTHON`` or ``<repo>/.venv-boavizta/bin/python``."""
    return os.environ.get("BOAVIZTA_PYTHON") or str(_REPO / ".venv-boavizta" / "bin" / "python")


#: prctl option: signal to deliver when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int):
    """A ``preexec_fn``: SIGTERM this child when its parent dies (Linux ``prctl``), so a killed
    collection never leaves a BoaviztAPI server behind. None where prctl is unavailable."""
    if not sys.platform.startswith("linux"):
        return None

    def _set():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent_pid:  # parent already gone before prctl took effect
            os._exit(1)

    return _set


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def boavizta_server(*, python: str | None = None, port: int | None = None, timeout_s: float = 60.0) -> Iterator[str]:
    """Run BoaviztAPI as a local server on a free loopback port; yield its base URL.

    Uses ``$BOAVIZTA_URL`` instead when set (nothing is started then).

    Raises
    ------
    SourceUnavailable
        The interpreter is missing or the server does not answer in ``timeout_s``.
    """
    if os.environ.get("BOAVIZTA_URL"):
        yield os.environ["BOAVIZTA_URL"].rstrip("/")
        return
    python = python or boavizta_python()
    if not Path(python).exists():
        raise SourceUnavailable(f"BoaviztAPI interpreter {python} not found (run `make venv`, or set "
                                "BOAVIZTA_PYTHON / BOAVIZTA_URL)")
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    # The server's log goes to a file, not a pipe: an unread pipe fills up (64 KiB of
    # warnings) and then blocks the server mid-request.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [python, "-m", "uvicorn", "boaviztapi.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=log, preexec_fn=_die_with_parent(os.getpid()),
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-500:]
                raise SourceUnavailable(f"BoaviztAPI server exited with code {proc.returncode}: {err}")
            try:
                if requests.get(f"{url}/v1/utils/version", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SourceUnavailable(f"BoaviztAPI did not answer on {url} within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def get_power_profiles_boavizta(instance_types, base_url: str, load_fracs=LOAD_FRACS, *,
                                usage_location: str = USAGE_LOCATION, session=None, cache_dir=None,
                                counter=None, fit_load_fracs=FIT_LOAD_FRACS) -> tuple[pd.DataFrame, dict]:
    """Power at each load point and embodied impact per instance type from BoaviztAPI.

    One ``POST /v1/cloud/instance?verbose=true&duration=1&criteria=gwp`` per
    type and requested load with ``time_workload`` = load in percent.

    Parameters
    ----------
    instance_types : iterable of str
    base_url : str
        BoaviztAPI base URL (see :func:`boavizta_server`).
    load_fracs : sequence of float, default ``LOAD_FRACS`` (22 points)
        Load points of the returned table. [-]
    fit_load_fracs : sequence of float or None, default ``FIT_LOAD_FRACS``
        Loads requested; BoaviztAPI's curve form is fitted to them
        (:func:`finops_lib.calc.power.fit_boavizta_curve`, residual checked) and
        evaluated at ``load_fracs``. None: request every point of ``load_fracs``
        and store the readings as they are.

    Returns
    -------
    data : DataFrame
        ``power_profiles``: ``power_w`` [W] (no PUE); ``embodied_g_per_h`` =
        ``impacts.gwp.embedded.value`` for a 1-hour duration, in g [gCO₂e/h]
        (BoaviztAPI allocates over a 52,560 h AWS host life; REFERENCES.md).
    meta : dict
        Includes per type the fitted parameters and residual (``curve_fit``).

    Raises
    ------
    PayloadError
        A type BoaviztAPI fuzzy-matched to another one (a warning in its
        response), a response without the fields above, or readings that do not
        follow BoaviztAPI's curve form.
    SourceUnavailable
        Unknown type (404) or another HTTP error.
    """
    from finops_lib.calc.power import boavizta_curve_w, fit_boavizta_curve

    fracs = [float(f) for f in load_fracs]
    asked = fracs if fit_load_fracs is None else [float(f) for f in fit_load_fracs]
    bad = [f for f in fracs + asked if not 0.0 <= f <= 1.0]
    if bad:
        raise ValueError(f"load fractions must lie in [0, 1], got {bad}")
    session = session or cached_session(cache_dir, "boavizta")
    url = f"{base_url.rstrip('/')}/v1/cloud/instance"
    rows, fits = [], {}
    for itype in sorted(set(instance_types)):
        readings, embodied = [], set()
        for frac in asked:
            body = request_json(
                session, "POST", url, params={"verbose": "true", "duration": 1, "criteria": "gwp"},
                json={"provider": "aws", "instance_type": itype,
                      "usage": {"usage_location": usage_location, "time_workload": frac * PERCENT}},
                label="boavizta.instance", counter=counter,
                hints={404: f"BoaviztAPI does not know instance type {itype!r}"})
            fuzzy = [w for w in (body.get("warnings") or []) if "fuzzy" in str(w).lower() or "closest" in str(w)]
            if fuzzy:
                raise PayloadError(f"BoaviztAPI fuzzy-matched instance type {itype!r}: {fuzzy[0]}")
            try:
                readings.append(float(body["verbose"]["avg_power"]["value"]))
                embodied.add(float(body["impacts"]["gwp"]["embedded"]["value"]) * G_PER_KG)
            except (KeyError, TypeError, ValueError) as exc:
                raise PayloadError(f"BoaviztAPI response for {itype!r} lacks avg_power/embedded: {exc!r}") from exc
        if len(embodied) != 1:
            raise PayloadError(f"BoaviztAPI returned different embodied impacts for {itype!r} at different loads: "
                               f"{sorted(embodied)}")
        if fit_load_fracs is None:
            watts = readings
        else:
            try:
                fits[itype] = fit_boavizta_curve(asked, readings)
            except ValueError as exc:
                raise PayloadError(f"{itype!r}: {exc}") from exc
            watts = boavizta_curve_w(fits[itype], fracs).tolist()
        emb = embodied.pop()
        rows += [{"instance_type": itype, "load_frac": f, "power_w": w, "source": "boavizta",
                  "embodied_g_per_h": emb} for f, w in zip(fracs, watts, strict=True)]
    df = pd.DataFrame(rows, columns=schema.TABLES["power_profiles"].keys())
    meta = {"source": "boavizta", "request": {"base_url": base_url, "load_fracs": fracs, "requested_load_fracs": asked,
                                              "usage_location": usage_location},
            "curve_fit": fits, "retrieved_at": datetime.now(UTC).isoformat(), "warnings": [],
            "python": sys.version.split()[0]}
    return conform_payload("power_profiles", df, "BoaviztAPI"), meta
