"""The sandbox: a seeded, simulated SME fleet with ground truth, served offline.

- :mod:`.world` -- :class:`WorldConfig`, :func:`build_world` (pure).
- :mod:`.intensity` -- synthetic, Germany-calibrated grid intensity (pure).
- :mod:`.truth` -- the hidden truth's own physics, billing and distributions
  (imports no estimator code and no estimator prior; tested on the import graph).
- :mod:`.servers` -- :func:`serve`: moto + CloudTrail/Cost Explorer/Pricing
  handlers, Electricity Maps and WattTime compatible endpoints, BoaviztAPI;
  all on 127.0.0.1.
- :func:`collect_sandbox_snapshot` -- build, serve, collect with the unchanged
  collectors, add the ``truth_*`` tables, stop every server.

Everything the sandbox produces is labelled simulated.
"""

from finops_lib.sandbox.world import World, WorldConfig, build_world

__all__ = ["World", "WorldConfig", "build_world", "collect_sandbox_snapshot", "serve"]


def collect_sandbox_snapshot(out_dir, config=None, progress=True, **kwargs):
    """See :func:`finops_lib.sandbox.collect.collect_sandbox_snapshot`."""
    from finops_lib.sandbox.collect import collect_sandbox_snapshot as _impl

    return _impl(out_dir, config, progress, **kwargs)


def serve(world, **kwargs):
    """See :func:`finops_lib.sandbox.servers.serve`."""
    from finops_lib.sandbox.servers import serve as _impl

    return _impl(world, **kwargs)
