"""fundiff.budget: memory and run-length estimates, made from params before any model loads."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from fundiff import budget
from fundiff.errors import FundiffError
from fundiff.partA.costs import experiment_costs
from fundiff.partB.config import config_from_params
from fundiff.partB.sample_settings import sample_params

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
GB = 10**9


def with_value(dotted: str, value):
    params = copy.deepcopy(PARAMS)
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return params


def costs(params, dotted: str):
    parts = dotted.split(".")
    if parts[0] == "sample":
        return sample_params(params["sample"][parts[1]], parts[1]).costs(16, 300)
    if parts[0] == "train":
        return config_from_params(parts[1], params["train"][parts[1]], 0).costs(4500)
    return experiment_costs(params["partA"], parts[2], 16)


def test_the_default_profile_fits_and_ends_well_within_a_day():
    stages = ["sample.time_cond", "sample.class_cond", *(f"train.{m}" for m in PARAMS["train"])]
    stages += [f"partA.experiments.{e}" for e in PARAMS["partA"]["experiments"]]
    for dotted in stages:
        terms = costs(PARAMS, dotted)
        assert sum(t.held_bytes + t.working_bytes for t in terms) < 1 * GB, dotted
        assert sum(t.seconds for t in terms) < 3600, dotted
        budget.check(terms, available=2 * GB)


@pytest.mark.parametrize(
    "dotted, value",
    [
        ("sample.class_cond.samples_per_digit", 10_000_000),  # the cases
        ("sample.time_cond.npz_samples", 10_000_000),
        ("partA.experiments.sampling.mnist.num_samples", 10_000_000),
        ("partA.experiments.cfg.mnist.num_samples", 100_000_000),
        ("sample.class_cond.batch_size", 10_000_000),
        ("partA.experiments.anagrams.mnist.best_of", 10_000_000),
        ("train.class_cond.num_hiddens", 100_000),
    ],
)
def test_a_request_that_cannot_fit_names_its_key(dotted, value):
    with pytest.raises(FundiffError, match=f"^{dotted}={value} needs about .* of memory at once, more than the "):
        budget.check(costs(with_value(dotted, value), dotted), available=16 * GB)


@pytest.mark.parametrize(
    "dotted, value",
    [
        ("sample.class_cond.samples_per_digit", 300_000),  # 3 M images: 12 GB, but about 33 hours
        ("sample.time_cond.metric_samples", 1_000_000),
        ("train.class_cond.epochs", 100_000),
        ("sample.class_cond.sweep_samples_per_digit", 100_000),
    ],
)
def test_a_run_over_a_day_is_refused_unless_allowed(dotted, value):
    terms = costs(with_value(dotted, value), dotted)
    with pytest.raises(FundiffError, match=f"^{dotted}={value} makes a run of about .* allow_long_runs: true"):
        budget.check(terms, available=10**15)
    budget.check(terms, allow_long_runs=True, available=10**15)


def test_available_memory_follows_the_address_space_limit():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (64 * GB, hard))
    try:
        assert budget.available_memory() <= 64 * GB
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_allow_long_runs_is_a_boolean():
    assert budget.allow_long_runs_of({}) is False and budget.allow_long_runs_of({"allow_long_runs": True})
    with pytest.raises(FundiffError, match="allow_long_runs='yes' must be true or false"):
        budget.allow_long_runs_of({"allow_long_runs": "yes"})
