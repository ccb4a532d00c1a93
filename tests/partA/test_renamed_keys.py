"""Part A's blur keys are named like every blur (blur_kernel_size, blur_sigma): a section with an old name is the
one-line unknown-key error naming the new one (fundiff.params.RENAMED), before any work."""

import pytest
from partA_helpers import proposed_params

from fundiff.errors import FundiffError
from fundiff.partA.runner import run_experiment


@pytest.mark.parametrize("backend", ["mnist", "deepfloyd"])
@pytest.mark.parametrize("experiment", ["blur", "hybrids"])
@pytest.mark.parametrize("old", ["kernel_size", "sigma"])
def test_an_old_blur_key_names_its_new_name(experiment, backend, old):
    section = proposed_params()["experiments"][experiment][backend]
    value = section.pop(f"blur_{old}")
    prefix = f"partA.experiments.{experiment}.{backend}"
    with pytest.raises(FundiffError) as info:
        run_experiment(experiment, None, {**section, old: value}, prefix)  # refused before the context is used
    assert str(info.value) == f"{prefix}.{old} is not a known key: it was renamed to {prefix}.blur_{old}"
