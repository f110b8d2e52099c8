"""The scale simulator: Lambda and EKS under traffic, request by request (docs/simulator.md).

Plain Python and numpy, no Dagster and no global settings. Modules, one concern each:
``traffic`` (patterns and arrivals), ``distributions`` (durations and their defaults),
``lambda_model`` and ``eks_model`` (the platforms' rules), ``latency`` and ``outcomes`` (what
happened to the requests), ``series`` (over time), ``billing`` (usage records, priced by the
cost model), ``simulation`` (one period end to end), ``calibration`` (distributions from the
metric store; all the simulator's SQL), ``validation`` (local runs replayed), ``command``
(``nlp-bench simulate``).
"""

from nlp_bench_pipeline.simulate.calibration import Calibration, CalibrationError, calibrate
from nlp_bench_pipeline.simulate.eks_model import EksSettings
from nlp_bench_pipeline.simulate.lambda_model import LambdaSettings
from nlp_bench_pipeline.simulate.simulation import (
    SimulationResult,
    simulate_eks,
    simulate_lambda,
)
from nlp_bench_pipeline.simulate.traffic import PATTERNS, Traffic
from nlp_bench_pipeline.simulate.validation import RunValidation, validate_runs, validation_table

__all__ = [
    "PATTERNS",
    "Calibration",
    "CalibrationError",
    "EksSettings",
    "LambdaSettings",
    "RunValidation",
    "SimulationResult",
    "Traffic",
    "calibrate",
    "simulate_eks",
    "simulate_lambda",
    "validate_runs",
    "validation_table",
]
