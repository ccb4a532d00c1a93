"""The DeepFloyd backend end to end on tiny randomly initialised IF components (built like diffusers' own IF tests:
tests/pipelines/deepfloyd_if/__init__.py), saved with save_pretrained and loaded back through the loader users hit."""

import copy

import pytest
import torch
from diffusers import DDPMScheduler, IFPipeline, IFSuperResolutionPipeline, UNet2DConditionModel
from partA_helpers import make_mnist_dir, proposed_params

from fundiff.errors import FundiffError
from fundiff.partA import algorithms
from fundiff.partA.backends import load_backend
from fundiff.partA.backends.deepfloyd import DeepFloydBackend
from fundiff.partA.context import Context
from fundiff.partA.registry import EXPERIMENTS
from fundiff.partA.runner import run_experiment, write_experiment
from fundiff.partA.shipped import mask as make_mask
from fundiff.partA.shipped import write_shipped
from fundiff.result_dirs import Manifest

EMBED_DIM = 32
SIZE = 16


def _unet(**extra):
    torch.manual_seed(0)
    config = dict(
        sample_size=SIZE,
        layers_per_block=1,
        block_out_channels=[32, 64],
        down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
        in_channels=3,
        out_channels=6,
        cross_attention_dim=EMBED_DIM,
        encoder_hid_dim=EMBED_DIM,
        attention_head_dim=8,
        addition_embed_type="text",
        addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift",
        act_fn="gelu",
    )
    config.update(extra)
    return UNet2DConditionModel(**config)


def _if_scheduler():
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        beta_start=0.0001,
        beta_end=0.02,
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=1.0,
        prediction_type="epsilon",
        variance_type="learned_range",
    )


def _params_for_tiny():
    """The proposed deepfloyd sections (conf/partA/default.yaml), shrunk: 4 timesteps, 16×16, few samples."""
    raw = proposed_params()
    exps = {name: copy.deepcopy(section["deepfloyd"]) for name, section in raw["experiments"].items()}
    exps["pipeline"]["num_inference_steps"] = [2, 3]
    for name in ("sdedit", "text_img2img"):
        exps[name]["i_starts"] = [0, 2]
        exps[name]["images"] = exps[name]["images"][:2]
    exps["iterative"]["i_start"] = 1
    exps["iterative"]["show_every"] = 1
    exps["inpainting"]["mask"] = "data/images/mask_16.png"
    exps["hybrids"]["blur_kernel_size"] = 5
    exps["hybrids"]["pairs"] = exps["hybrids"]["pairs"][:2]
    exps["sampling"]["num_samples"] = exps["cfg"]["num_samples"] = 2
    return raw, exps


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models on shared cores: see conftest


@pytest.fixture(scope="module")
def tiny_if(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_if")
    mnist = make_mnist_dir(root / "work" / "data" / "mnist")
    one = IFPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=_unet(),
        scheduler=_if_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    one.save_pretrained(root / "stage_1", variant="fp16")
    two_unet = _unet(
        sample_size=2 * SIZE,
        layers_per_block=[1, 2],
        in_channels=6,
        class_embed_type="timestep",
        mid_block_scale_factor=1.414,
        time_embedding_act_fn="gelu",
        time_embedding_dim=32,
    )
    two = IFSuperResolutionPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=two_unet,
        scheduler=_if_scheduler(),
        image_noising_scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2"),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    two.save_pretrained(root / "stage_2", variant="fp16")
    raw, exps = _params_for_tiny()
    prompts = {""}
    for section in exps.values():
        for key in ("prompt",):
            if key in section:
                prompts.add(section[key])
        prompts.update(section.get("prompts", []))
        for item in section.get("illusions", []):
            prompts.update(item["prompts"])
        for item in section.get("pairs", []):
            prompts.update((item["low"], item["high"]))
    g = torch.Generator().manual_seed(0)
    torch.save({p: torch.randn(1, 77, EMBED_DIM, generator=g).half() for p in sorted(prompts)}, root / "embeds.pth")
    images = root / "work" / "data" / "images"
    (images / "shipped").mkdir(parents=True)
    write_shipped(images / "shipped", mnist)
    make_mask(SIZE, (4, 0, 11, 6)).save(images / "mask_16.png")
    settings = dict(
        raw["backends"]["deepfloyd"],
        stage_1=str(root / "stage_1"),
        stage_2=str(root / "stage_2"),
        embeddings=str(root / "embeds.pth"),
        device="cpu",
        dtype="float32",
        timesteps={"start": 990, "stride": 330},
    )
    return root, settings, exps


# Every test that takes `den` runs on the CPU in float32 and, where a GPU is visible, on CUDA in float16 (the course's
# setting), each with its own tolerance against diffusers' float32 CPU reference.
VARIANTS = {"cpu-float32": ("cpu", "float32", 1e-5), "cuda-float16": ("cuda", "float16", 3e-2)}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def den(request, tiny_if):
    device, dtype, _ = VARIANTS[request.param]
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: the float16 variant runs on a GPU machine")
    _, settings, _ = tiny_if
    return load_backend("deepfloyd", dict(settings, device=device, dtype=dtype))


def tolerance(den) -> float:
    return 1e-5 if den.dtype == torch.float32 else VARIANTS["cuda-float16"][2]


def test_loads_like_the_course(den):
    assert isinstance(den, DeepFloydBackend)
    assert den.image_shape == (3, SIZE, SIZE) and den.value_range == (-1.0, 1.0)
    assert den.default_timesteps == [990, 660, 330, 0]
    assert den.stage_2 is not None and den.stage_1.text_encoder is None
    assert den.encode("a rocket ship").shape == (1, 77, EMBED_DIM)
    eps, var = den.predict(torch.randn(2, 3, SIZE, SIZE), 500, den.encode("a rocket ship"))
    assert eps.shape == var.shape == (2, 3, SIZE, SIZE)


def test_iterative_step_matches_the_if_scheduler_step(den):
    """Our update with the UNet's own 6-channel output equals diffusers' scheduler.step on the same timesteps/noise."""
    scheduler = DDPMScheduler.from_config(den.scheduler.config, thresholding=False, clip_sample=False)
    timesteps = den.default_timesteps
    scheduler.set_timesteps(timesteps=timesteps)
    cond = den.encode("a high quality photo")
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    for t, t_prev in zip(timesteps[:-1], timesteps[1:]):
        xd = x.to(den.device)
        out = den.unet(xd.to(den.dtype), t, encoder_hidden_states=cond.expand(2, -1, -1), return_dict=False)[0]
        theirs = scheduler.step(out.float().cpu(), t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        eps, var = algorithms.conditional(den, cond)(xd, t)
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        ours = den.step(xd, eps, var, t, t_prev, noise.to(den.device))[0].cpu()
        torch.testing.assert_close(ours, theirs, atol=tolerance(den), rtol=tolerance(den))
        x = ours


def test_every_experiment_runs_end_to_end(tiny_if, den, tmp_path):
    root, _, exps = tiny_if
    ctx = Context(backend=den, seed=180, root=root / "work")
    for name in EXPERIMENTS:
        result = run_experiment(name, ctx, exps[name], f"partA.experiments.{name}.deepfloyd")
        out = tmp_path / name
        write_experiment(name, result, out, tmp_path / f"{name}.metrics.json")
        manifest = Manifest.read(out)
        assert manifest.figures and all((out / f.path).exists() for f in manifest.figures), name
        assert manifest.params["backend"] == "deepfloyd"
        assert (out / "metrics.json").exists()
        if name == "pipeline":  # stage II upsampled the stage I samples
            from PIL import Image

            assert Image.open(out / "samples_002_steps.png").size[1] > 2 * 2 * SIZE


def test_prompt_missing_from_the_embeddings_file(tiny_if, den):
    root, _, exps = tiny_if
    ctx = Context(backend=den, seed=0, root=root / "work")
    bad = dict(exps["cfg"], prompt="a photo of a hipster barista")
    with pytest.raises(
        FundiffError,
        match=r"partA.experiments.cfg.deepfloyd.prompt: prompt 'a photo of a hipster "
        r"barista' is not in the embeddings file .*embeds.pth",
    ):
        run_experiment("cfg", ctx, bad, "partA.experiments.cfg.deepfloyd")


def test_load_errors_are_one_line_and_name_the_param(tiny_if, tmp_path):
    root, settings, _ = tiny_if
    with pytest.raises(
        FundiffError, match=r"partA.backends.deepfloyd.stage_1='.*nowhere': cannot load the weights"
    ) as info:
        load_backend("deepfloyd", dict(settings, stage_1=str(tmp_path / "nowhere")))
    assert "\n" not in str(info.value)
    with pytest.raises(FundiffError, match=r"partA.backends.deepfloyd.embeddings: .*missing.pth not found"):
        load_backend("deepfloyd", dict(settings, embeddings=str(tmp_path / "missing.pth")))
    torch.save({"": torch.zeros(1, 77, 8)}, tmp_path / "small.pth")
    den = load_backend("deepfloyd", dict(settings, embeddings=str(tmp_path / "small.pth"), stage_2=None))
    with pytest.raises(FundiffError, match=r"embeddings: the embedding of '' has shape \(1, 77, 8\); .* \[1, L, 32\]"):
        den.null_condition()
    if not torch.cuda.is_available():
        with pytest.raises(FundiffError, match="needs a CUDA GPU and none is visible"):
            load_backend("deepfloyd", dict(settings, device="auto", allow_cpu=False))
        with pytest.raises(FundiffError, match="device=cuda but no CUDA GPU is visible"):
            load_backend("deepfloyd", dict(settings, device="cuda"))


def test_loading_is_offline_first(tiny_if, tmp_path, monkeypatch):
    """A hub id that is not cached fails at once with HF_HUB_OFFLINE set, naming the cause (not the licence)."""
    _, settings, _ = tiny_if
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(FundiffError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set") as info:
        load_backend("deepfloyd", dict(settings, stage_1="DeepFloyd/IF-I-XL-v1.0", stage_2=None))
    assert "licence" not in str(info.value) and "\n" not in str(info.value)
    # a local save_pretrained directory loads with the network off (the fixture's own layout: model_index.json,
    # unet/, scheduler/, fp16 variant files)
    assert load_backend("deepfloyd", dict(settings, stage_2=None)).stage_2 is None


def test_image_and_param_errors(tiny_if, den):
    root, _, exps = tiny_if
    ctx = Context(backend=den, seed=0, root=root / "work")
    prefix = "partA.experiments.hybrids.deepfloyd"
    with pytest.raises(FundiffError, match=rf"{prefix}.blur_kernel_size=33 is too large for 16×16"):
        run_experiment("hybrids", ctx, dict(exps["hybrids"], blur_kernel_size=33), prefix)
    prefix = "partA.experiments.inpainting.deepfloyd"
    with pytest.raises(
        FundiffError, match=rf"{prefix}.mask: .*mask_64_top.png is 64×64; the deepfloyd backend needs a 16×16"
    ):
        run_experiment("inpainting", ctx, dict(exps["inpainting"], mask="data/images/shipped/mask_64_top.png"), prefix)
    prefix = "partA.experiments.anagrams.deepfloyd"
    bad = dict(exps["anagrams"], illusions=[{"view": "mirror", "prompts": ["a pencil", "a rocket ship"]}])
    with pytest.raises(FundiffError, match=rf"{prefix}.illusions\[0\].view='mirror' is not a known view"):
        run_experiment("anagrams", ctx, bad, prefix)
