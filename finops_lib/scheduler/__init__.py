"""The carbon-aware scheduler: policies as data, a pure decision, AWS at the edge.

- :mod:`.policy` -- the YAML policy file (schema, validation), :func:`load_policies`.
- :mod:`.decide` -- :func:`decide` (pure): instances, time, intensity forecast,
  policies -> decisions with reasons; :func:`persistence_forecast`.
- :mod:`.aws` -- describe / stop / start, CloudWatch metrics (namespace
  ``CarbonAwareFinOps``), decision log (local JSONL + Parquet, DynamoDB).
- :mod:`.run` -- one run (``finops schedule``, the Lambda handler).
- :mod:`.replay` -- the policies hour by hour over a sandbox window, applied to its truth.
- :mod:`.recommend` -- rightsizing recommendations (``finops recommend``).
- :mod:`.lambda_handler` -- the AWS Lambda entry point.

Only the scheduler writes to AWS, only on instances that opted in by tag,
and only with ``--apply``.
"""

from finops_lib.scheduler.decide import DECISION_COLUMNS, MANAGED_TAGS, decide, persistence_forecast
from finops_lib.scheduler.policy import (
           Policy,
           PolicyError,
           PolicySet,
           load_policies,
           parse_policies,
)

__all__ = ["DECISION_COLUMNS", "MANAGED_TAGS", "Policy", "PolicyError", "PolicySet", "decide", "load_policies",
           "parse_policies", "persistence_forecast"]
