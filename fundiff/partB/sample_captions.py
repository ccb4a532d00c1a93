"""The prose of ``sample@<model>``'s report section (fundiff.partB.sample_ddpm, step 5): the section's text, the
figures' captions and the stage's summary line."""

from __future__ import annotations

from fundiff.judge.reading import CONFIDENT
from fundiff.partB.sample_settings import DdpmSampleParams
from fundiff.partB.sample_state import Drawn, Loaded

FAST_NAMES = {"course": "the strided update of Part A 1.4", "ddim": "diffusers' DDIM (η = 0)"}


def fast_name(p: DdpmSampleParams) -> str:
    if p.flow:
        return "Euler"
    return FAST_NAMES.get(p.fast.sampler, "diffusers' DPM-Solver++ (2M)")


def full_name(p: DdpmSampleParams) -> str:
    return "Euler (Algorithm B.2)" if p.flow else "Algorithm 2"


def full_steps(p: DdpmSampleParams, loaded: Loaded) -> int:
    """Steps of the full sampler: a DDPM's T, a flow model's num_ts."""
    return p.full.num_steps if p.flow else loaded.num_timesteps


def cfg_text(p: DdpmSampleParams) -> str:
    """How the class-conditioned model is guided ("" for time_cond)."""
    if not p.conditional:
        return ""
    lo, hi = p.full.guidance_interval
    text = f" with classifier-free guidance γ = {p.full.guidance_scale:g} (conditional and unconditional passes in one batch"
    if (lo, hi) != (0.0, 1.0):
        where = "the noise level 1 − t" if p.flow else "the network's time (t+1)/T"
        text += (
            f"; applied only where {where} lies in [{lo:g}, {hi:g}], the "
            "conditional pass alone elsewhere: guidance in a limited interval, Kynkäänniemi et al. 2024"
        )
    return text + ")"


def final_guidance_text(p: DdpmSampleParams, loaded: Loaded) -> str:
    """How the final model is guided: CFG (class_cond) or autoguidance (time_cond with a guide and w != 1)."""
    if loaded.guide is None or p.full.autoguide_weight == 1.0:
        return cfg_text(p)
    return (
        f" with autoguidance (Karras et al. 2024: ε̂ = ε̂_bad + w(ε̂_final − ε̂_bad), w = "
        f"{p.full.autoguide_weight:g}, the epoch-{p.autoguide_epoch} snapshot of the same run as the bad model; "
        "the per-epoch grids show each snapshot alone)"
    )


def _bulk_text(p: DdpmSampleParams, test_count: int) -> str:
    sampler = f"full ({full_name(p)})" if p.npz_sampler == "full" else f"fast ({p.fast.sampler})"
    n = p.bulk_samples
    if p.conditional:
        text = (
            f" samples.npz holds {n} samples ({p.samples_per_digit} of every digit) from the {sampler} sampler; "
            f"accuracy is measured on all samples of each sampler ({p.drawn('full')} full, {p.drawn('fast')} fast)."
        )
    else:
        text = f" samples.npz holds {n} samples of the {sampler} sampler, labelled with the judge's reading."
    return text + (
        f" On those {n} samples: 'npz_confident' is the share the judge reads with confidence >= {CONFIDENT:g} "
        f"(top softmax probability), 'npz_share' the share read as each digit (10 % each for a perfect sampler), "
        f"'npz_fid' their FID (on the first 'npz_fid_samples' of them: at most as many as there are real training "
        f"digits) and 'npz_fid_train_digits' the floor for as many real digits. 'real_confident' is "
        f"'npz_confident' for the {test_count} real test digits: the judge's own ceiling, what samples as legible "
        "as MNIST itself would score."
    )


def _sweep_text(p: DdpmSampleParams, drawn: Drawn) -> str:
    if not drawn.sweep:
        return ""
    n, gamma = 10 * p.sweep_samples_per_digit, p.fast.guidance_scale
    lo, hi = p.fast.guidance_interval
    return (
        f" The guidance sweep draws {n} fresh fast samples at every γ of "
        f"{', '.join(f'{point.guidance_scale:g}' for point in drawn.sweep)} from the same checkpoint: 'sweep_accuracy' "
        f"and 'sweep_fid' per γ (on the first 'sweep_fid_samples' of them), against the floor "
        f"'sweep_fid_train_digits'. γ = 0 is the unconditional model, "
        f"γ = 1 the purely conditional one; larger γ trades variety (FID) for legibility (accuracy). With "
        f"{n} samples a point's accuracy p is known to about ±√(p(1−p)/{n}) (±"
        f"{100 * (0.95 * 0.05 / n) ** 0.5:.1f} points at p = 95 %): read the trend, and the accuracy of γ = "
        f"{gamma:g} from 'accuracy_fast' ({p.drawn('fast')} samples)."
        + (
            f" Each γ applies inside the guidance interval [{lo:g}, {hi:g}] only; outside it "
            "every point uses the conditional pass, so γ = 0 is unconditional only there."
            if (lo, hi) != (0.0, 1.0)
            else ""
        )
    )


def _fid_text(p: DdpmSampleParams, loaded: Loaded) -> str:
    m, tests = loaded.real.count(p.metric_samples), len(loaded.real_test)
    return (
        f"FID is the Fréchet distance in the feature space of our own MNIST classifier between the first {m} samples "
        f"of each sampler and the {tests} test digits; 'fid_train_digits' is the same distance for {m} real training "
        "digits, the floor at this sample size."
    )


def flow_section_text(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn) -> str:
    """The report section's paragraph for a flow-matching model (the course's current edition)."""
    config, tests = loaded.config, len(loaded.real_test)
    modulation = {"multiply": "t scales the features (unflatten·t1(t), up1·t2(t))"}.get(
        config.get("modulation", ""), "the class scales and t shifts the features (c1(c)·unflatten + t1(t))"
    )
    schedule = "no learning-rate schedule" if config["lr_schedule"] == "constant" else f"{config['lr_schedule']} lr"
    return (
        f"A {'class' if p.conditional else 'time'}-conditioned flow-matching UNet (D={config['num_hiddens']}, "
        f"{config['epochs']} epochs, {schedule}; {modulation}) learns the velocity x_1 − x_0 of x_t = (1 − t)·x_0 + "
        f"t·x_1 (x_0 noise, x_1 the digit, t ~ U[0, 1]) and is sampled{cfg_text(p)} by Euler steps from t = 0 to 1: "
        f"{p.full.num_steps} steps (num_ts, Algorithm B.2) and {p.fast.num_steps}. {_fid_text(p, loaded)}"
        f"{_bulk_text(p, tests)}{_sweep_text(p, drawn)}"
    )


def section_text(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn) -> str:
    """The report section's paragraph."""
    if p.flow:
        return flow_section_text(p, loaded, drawn)
    config, T = loaded.config, loaded.num_timesteps
    m, tests = loaded.real.count(p.metric_samples), len(loaded.real_test)
    return (
        f"A {'class' if p.conditional else 'time'}-conditioned UNet (D={config['num_hiddens']}, T={T}, β linear "
        f"{config['beta_start']:g}..{config['beta_end']:g}, {config['epochs']} epochs) sampled"
        f"{final_guidance_text(p, loaded)} with "
        f"DDPM Algorithm 2 (all {T} steps, σ_t² = {'β_t' if p.full.variance == 'beta' else 'β̃_t'}) and with "
        f"{fast_name(p)} ({p.fast.num_steps} steps). Timesteps are 0-based "
        f"(t = 0..T-1; the network sees (t+1)/T). FID is the Fréchet distance in the feature space of our own "
        f"MNIST classifier between the first {m} samples of each sampler and the {tests} test digits; "
        f"'fid_train_digits' is the same distance for {m} real training digits, the floor at this sample size."
        f"{_bulk_text(p, tests)}{_sweep_text(p, drawn)}"
    )


def grid_caption(p: DdpmSampleParams, loaded: Loaded, epoch: int) -> str:
    what = (
        f"{p.values['grid_samples_per_digit']} samples of every digit (columns 0..9)"
        if p.conditional
        else f"{p.grid_samples} samples"
    )
    sampler = full_name(p) if p.flow else "DDPM Algorithm 2"
    return f"{what} after epoch {epoch}, {sampler} ({full_steps(p, loaded)} steps){cfg_text(p)}."


def histogram_caption(p: DdpmSampleParams, test_count: int) -> str:
    return (
        f"How the judge reads the {p.bulk_samples} samples of samples.npz: its confidence (the share above "
        f"{CONFIDENT:g} is 'npz_confident'; the outline, the {test_count} real test digits scaled to as many "
        "samples) and the digit it sees (a perfect sampler gives 10 % each)."
    )


def sweep_caption(p: DdpmSampleParams, fid_samples: int) -> str:
    return (
        f"Accuracy (judge) of {10 * p.sweep_samples_per_digit} fast samples and FID of the first {fid_samples} "
        "against the guidance scale γ, one checkpoint; the dotted line is the FID of as many real training "
        "digits."
    )


def summary_line(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn, metrics: dict[str, float], device: str) -> str:
    """The stage's one line of output: speed (never written to a file) and the headline numbers."""
    speeds = []
    for name, steps in (("full", full_steps(p, loaded)), ("fast", p.fast.num_steps)):
        n, seconds = p.drawn(name), drawn.seconds[name]
        speeds.append(f"{name} sampler {n / seconds:.1f} images/s ({steps} steps, {n} samples, {seconds:.1f} s)")
    numbers = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if not k[-1].isdigit())
    return f"{p.kind}: {', '.join(speeds)} on {device}; {numbers}"
