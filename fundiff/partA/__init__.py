"""Part A of the assignment (SPEC A 0, 1.1-1.9) over the denoiser interface of :mod:`fundiff.denoiser`."""

from fundiff.partA.experiments import EXPERIMENTS, Context, Result, run_experiment, write_result

__all__ = ["EXPERIMENTS", "Context", "Result", "run_experiment", "write_result"]
