"""The slow end-to-end test: the real `dvc repro` on the tiny profile in a throwaway git repo."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RAN = re.compile(r"Running stage '([^']+)'")
CHECK = "check_params"  # runs first, every time (always_changed): the params check and the sweep of temp leftovers


def up_to_date(status: str) -> bool:
    """`dvc status` says nothing changed but check_params, which always runs."""
    return status.split() == [f"{CHECK}:", "always", "changed"]


def run(cmd: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TQDM_DISABLE": "1",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONPATH": "",
    }
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def compose(profile: str, out: Path, overrides: list[str] = ()) -> None:
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(out, str(REPO / "conf"), None, "config", "", [f"profile={profile}", *overrides])


def copy_checkout(work: Path, profile: str = "tiny") -> None:
    """The checkout's files (tracked and untracked, not ignored), without pipeline outputs or dvc.lock, into ``work``,
    with params.yaml composed for ``profile``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file() and not name.startswith(("data/mnist", "data/models", "reports/")) and name != "dvc.lock":
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / name)
    compose(profile, work / "params.yaml")


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("e2e") / "repo"
    copy_checkout(work)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "e2e"]):
        subprocess.run(
            cmd,
            cwd=work,
            check=True,
            capture_output=True,
            env={
                **os.environ,
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@t",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t",
            },
        )
    return work


def downstream_of(work: Path, stage: str) -> set[str]:
    from dvc.repo import Repo

    with Repo(str(work)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        node = next(s for s in graph.nodes if s.name == stage)
        return {s.name for s in nx.ancestors(graph, node)} | {stage}


def git(work: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, text=True, env=env).stdout


def set_param(work: Path, dotted: str, value) -> None:
    params = yaml.safe_load((work / "params.yaml").read_text())
    node = params
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def sigkill_between_epochs(work: Path, command: list[str], model: str, attempts: int = 3) -> None:
    """Run ``command`` (a `dvc repro` that trains ``model``) and SIGKILL its whole process group as soon as training
    has saved the resume state of an epoch. The tiny profile trains 2 short epochs, so the kill may come too late
    (the state already removed): then restore with `dvc repro` and try again."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "TQDM_DISABLE": "1"}
    resume = work / ".fundiff/resume"
    for _ in range(attempts):
        proc = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the kill takes DVC and the stage together
        )
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline and not any(resume.glob(f"{model}-*/state.pt")):
            time.sleep(0.002)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if any(resume.glob(f"{model}-*/state.pt")):
            return
        run(["dvc", "repro"], work)
    raise AssertionError(f"training of {model} never got killed between epochs in {attempts} attempts")


@pytest.mark.slow
def test_repro_noop_force_and_param_change(pipeline_repo):
    work = pipeline_repo
    first = run(["dvc", "repro"], work)
    ran_first = set(RAN.findall(first))
    assert {"data", "train@denoiser", "train@time_cond", "train@class_cond", "report"} <= ran_first
    assert (work / "reports/index.html").exists()
    lock = (work / "dvc.lock").read_text()
    git(work, "add", "-A")
    git(work, "commit", "-qm", "the results of the first run")  # as committed after a `make repro`
    # a DVC remote (a local directory) and a git remote (a bare repo) to share experiments through, committed like a
    # team's repository has them
    origin, store, clone = work.parent / "origin.git", work.parent / "dvc-store", work.parent / "clone"
    git(work.parent, "init", "-q", "--bare", str(origin))
    run(["dvc", "remote", "add", "-d", "store", str(store)], work)
    git(work, "add", ".dvc/config")
    git(work, "commit", "-qm", "a DVC remote")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "HEAD:refs/heads/main")

    again = run(["dvc", "repro"], work)
    assert RAN.findall(again) == [CHECK], again  # the param check runs every time; its constant stamp reruns nothing

    # Forced reruns give byte-identical outputs (a whole forced repro is a few minutes; these stages cover data,
    # training, sampling, a Part A experiment and the report).
    forced_stages = ["data", "train@class_cond", "sample@class_cond", "partA@cfg", "report"]
    forced = run(["dvc", "repro", "-f", "-s", *forced_stages], work)
    assert set(RAN.findall(forced)) == set(forced_stages)
    assert (work / "dvc.lock").read_text() == lock, "outputs are not byte-identical across runs"
    # ... and nothing that git tracks changed: not dvc.lock, not a metrics file, not the page (made after a new commit)
    assert git(work, "status", "--porcelain") == "", "a rerun on the same machine changed tracked files"
    for command in (["dvc", "metrics", "show"], ["dvc", "plots", "show"]):  # the README's commands
        run(command, work)
    # SIGKILL of `dvc repro` itself (the whole process group, as a closed terminal or the OOM killer would) while
    # training is between epochs. DVC has deleted the stage's outputs before running it; a plain `dvc repro` then
    # restores them from DVC's run cache, byte for byte, without training; the resume state it leaves behind is what
    # docs/pipeline.md's `make clean-resume` drops.
    repro = ["dvc", "repro", "-f", "-s", "train@class_cond"]
    sigkill_between_epochs(work, repro, "class_cond")
    restored = run(["dvc", "repro"], work)
    assert "train@class_cond' is cached" in restored and RAN.findall(restored) == [CHECK], restored
    assert (work / "dvc.lock").read_text() == lock and git(work, "status", "--porcelain") == ""
    assert any((work / ".fundiff/resume").glob("class_cond-*/state.pt"))
    run(["make", "clean-resume"], work)
    assert not (work / ".fundiff/resume").exists()
    # ... and when the run has to train again (rerunning the killed command), training resumes from its saved epoch
    # and ends with the uninterrupted run's bytes: dvc.lock unchanged, no temp dir, no resume state left.
    sigkill_between_epochs(work, repro, "class_cond")
    resumed = run(repro, work)
    assert "resuming from epoch 1 of 2" in resumed, resumed
    assert (work / "dvc.lock").read_text() == lock and git(work, "status", "--porcelain") == ""
    assert not list(work.rglob(".*.tmp-*")) and not any((work / ".fundiff/resume").glob("class_cond-*"))

    # docs/pipeline.md's recovery after a failed or killed stage (DVC deletes a stage's outputs before running it): the
    # last good outputs come back from DVC's cache with `dvc checkout <stage>`, byte for byte.
    npz = work / "reports/partB/class_cond/samples.npz"
    good = npz.read_bytes()
    shutil.rmtree(work / "reports/partB/class_cond")
    run(["dvc", "checkout", "sample@class_cond"], work)
    assert npz.read_bytes() == good and git(work, "status", "--porcelain") == ""

    # The README's variant command (profile=tiny here; it is the e2e's profile): a training param reruns that
    # training and exactly the stages downstream of it, nothing else; snapshot_epochs [1, 2] past epochs=1 are dropped.
    out = run(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "train.class_cond.epochs=1"], work)
    assert "dropping the epochs past epochs=1" in out
    changed = set(RAN.findall(out)) - {CHECK}
    assert changed == downstream_of(work, "train@class_cond"), changed
    assert {"sample@class_cond", "partA@anagrams", "report"} <= changed
    assert not changed & {"data", "train@denoiser", "train@time_cond", "classifier", "sample@time_cond"}

    # Sharing it across machines: a git remote (a bare repo) for the experiment's refs and a DVC remote (a local
    # directory) for its outputs; a second clone pulls the experiment and has every output without recomputing.
    listed = subprocess.run(
        ["dvc", "exp", "list", "--name-only"],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    name = listed.stdout.split()[0]
    run(["dvc", "exp", "push", "origin", name], work)
    assert any(store.rglob("*")), "dvc exp push sent no outputs to the DVC remote"
    git(work.parent, "clone", "-q", "-b", "main", str(origin), str(clone))
    run(["dvc", "exp", "pull", "origin", name], clone)
    applied = run(["dvc", "exp", "apply", name], clone)
    assert "Running stage" not in applied
    assert up_to_date(run(["dvc", "status"], clone))
    trained = clone / "data/models/class_cond/checkpoints/train_config.json"
    assert trained.read_bytes() == (work / "data/models/class_cond/checkpoints/train_config.json").read_bytes()

    # The README's sweep on DVC's queue: one queued experiment per value, one worker, then the comparison table.
    run(["dvc", "exp", "run", "--queue", "-S", "profile=tiny", "-S", "sample.class_cond.guidance_scale=0.0,1.0"], work)
    run(["dvc", "queue", "start", "-j", "1"], work)
    deadline = time.time() + 900
    while time.time() < deadline:
        status = run(["dvc", "queue", "status"], work)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert status.count("Success") == 2 and "Failed" not in status, status
    table = run(
        [
            "dvc", "exp", "show", "--md", "--only-changed", "--drop",
            ".*digit.*|.*time_cond.*|State|Executor|Created|.*samples.*|reports/partB$",
        ],
        work,
    )  # fmt: skip
    assert "sample.class_cond.guidance_scale" in table, table
    rows = [line for line in table.splitlines() if line.startswith("|") and ("0.0" in line or "1.0" in line)]
    assert len(rows) >= 2, table
    # ... and the README's comparison page of those experiments: accuracy and FID against γ, one point each
    printed = run(
        [sys.executable, "-m", "fundiff.report.compare", "--param", "sample.class_cond.guidance_scale",
         "--metric", "accuracy_fast", "--metric", "class_cond.metrics.json:fid_fast"],
        work,
    )  # fmt: skip
    assert "experiments compared" in printed, printed
    page = (work / "reports/experiments.html").read_text()
    assert page.count("<tr>") >= 3 and "data:image/png;base64," in page  # the header, γ = 0 and γ = 1 (+ baseline)
    assert "reports/experiments.html" not in run(["git", "status", "--porcelain"], work)  # a view, not an output


FLOW_STAGES = {
    "train@pure_noise",
    "train@flow_time_cond",
    "train@flow_class_cond",
    "train@flow_class_cond_unscheduled",
    "sample@pure_noise",
    "sample@flow_time_cond",
    "sample@flow_class_cond",
    "sample@flow_class_cond_unscheduled",
    "cas",
    "report",
}


def test_flow_edition_is_one_switch(pipeline_repo, tmp_path):
    """docs/partB.md's one command for the course's current edition: `dvc exp run -S partB=flow` trains and samples
    the flow edition's models and nothing the two editions share (Part A's class_cond, the denoiser, the judge and
    Part A come from before); the page numbers Part B as that edition does. Switching back trains nothing."""
    run(["dvc", "repro"], pipeline_repo)  # a no-op after the test above
    work = tmp_path / "repo"
    shutil.copytree(pipeline_repo, work, symlinks=True)  # with its DVC cache: what ran before is not run again
    out = run(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "partB=flow"], work)
    assert set(RAN.findall(out)) == FLOW_STAGES | {CHECK}, out
    page = (work / "reports/index.html").read_text()
    for section in ("B 1", "B 1.2.3", "B 2.3", "B 2.6", "B 2.6.1", "B 2.7"):
        assert f'data-section="{section}"' in page
    assert 'data-section="B 2.4"' not in page and "<dt>Part B edition</dt><dd>flow</dd>" in page
    assert "without a schedule (B 2.6.1)" in page  # the unscheduled run beside the scheduled one
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler_dir = work / "data/models/flow_class_cond/checkpoints/scheduler"
    assert FlowMatchEulerDiscreteScheduler.from_pretrained(scheduler_dir).config.shift == 1.0
    import numpy as np

    with np.load(work / "reports/partB/flow_class_cond/samples.npz") as npz:  # the DDPM edition's format
        assert npz["images"].dtype == np.float32 and npz["images"].shape[1:] == (28, 28)
        assert npz["labels"].dtype == np.int64 and len(npz["confidence"]) == len(npz["labels"])
    import json

    metrics = json.loads((work / "reports/partB/flow_class_cond.metrics.json").read_text())
    assert {"accuracy_full", "fid_full", "npz_fid", "npz_confident", "fid_train_digits"} <= set(metrics)
    back = run(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "partB=ddpm"], work)
    assert not [s for s in RAN.findall(back) if s.startswith(("train@", "sample@"))], back


def test_params_yaml_is_the_composed_default_profile(tmp_path):
    """`dvc exp run` recomposes params.yaml from conf/: the committed file must be exactly that composition."""
    compose("default", tmp_path / "params.yaml")
    assert yaml.safe_load((tmp_path / "params.yaml").read_text()) == yaml.safe_load((REPO / "params.yaml").read_text())


def test_faithful_profile_has_the_course_numbers(tmp_path):
    compose("faithful", tmp_path / "params.yaml")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert params["data"]["source"] == "torchvision"
    denoiser, time_cond, class_cond = (params["train"][k] for k in ("denoiser", "time_cond", "class_cond"))
    assert (denoiser["num_hiddens"], denoiser["epochs"], denoiser["batch_size"], denoiser["lr"]) == (128, 5, 256, 1e-4)
    assert denoiser["sigma"] == 0.5
    for section in (time_cond, class_cond):
        assert (section["num_hiddens"], section["epochs"], section["batch_size"], section["lr"]) == (64, 20, 128, 1e-3)
        assert (section["num_timesteps"], section["beta_start"], section["beta_end"]) == (300, 1e-4, 0.02)
        assert section["lr_decay_total"] == 0.1 and section["snapshot_epochs"] == [5, 20]
    assert class_cond["p_uncond"] == 0.1
    for section in (denoiser, time_cond, class_cond):  # the course's optimiser: no EMA, per-epoch exponential decay
        assert section["ema_decay"] is None and section["lr_schedule"] == "exponential"
    assert not params["sample"]["time_cond"]["clip_x0"] and not params["sample"]["class_cond"]["clip_x0"]
    assert params["sample"]["class_cond"]["guidance_scale"] == 5.0
    # the course's samplers: CFG at every step, no autoguidance, the strided update as the fast sampler
    assert params["sample"]["class_cond"]["guidance_interval"] == [0.0, 1.0]
    assert params["sample"]["time_cond"]["autoguide_epoch"] is None
    assert {params["sample"][m]["fast_sampler"] for m in ("time_cond", "class_cond")} == {"course"}
    # the flow edition's (partB=flow): D 64, batch 64, Adam 1e-2 decayed exponentially to 0.1x over 10 epochs,
    # samples after epoch 1, 5 and 10, num_ts 300; 1.2.3 is the denoiser's recipe on pure noise
    for name in ("flow_time_cond", "flow_class_cond"):
        flow = params["train"][name]
        assert (flow["num_hiddens"], flow["batch_size"], flow["lr"], flow["epochs"]) == (64, 64, 1e-2, 10)
        assert flow["lr_schedule"] == "exponential" and flow["lr_decay_total"] == 0.1 and flow["objective"] == "flow"
        assert flow["snapshot_epochs"] == [1, 5, 10] and params["sample"][name]["num_ts"] == 300
    assert params["train"]["flow_time_cond"]["modulation"] == "multiply"
    assert (
        params["train"]["flow_class_cond"]["p_uncond"] == 0.1
        and params["sample"]["flow_class_cond"]["guidance_scale"] == 5.0
    )
    pure = params["train"]["pure_noise"]
    assert (pure["num_hiddens"], pure["epochs"], pure["batch_size"], pure["lr"]) == (128, 5, 256, 1e-4)


@pytest.mark.slow
def test_every_bench_script_runs_on_the_pipeline_outputs(pipeline_repo):
    """bench/README.md's commands, at small sizes, on the tiny pipeline's outputs: each prints its figures
    (bench/repro_wall.py times two stages of a fresh clone of this workspace's commit, not the whole pipeline)."""
    work = pipeline_repo
    run(["dvc", "repro"], work)  # a no-op after the test above; the pipeline when this test runs alone
    before = git(work, "status", "--porcelain")
    py = sys.executable
    commands = {
        "startup.py": ([py, "bench/startup.py", "--repeats", "1", "--stages", "train", "report"], "libraries at import"),
        "train_throughput.py": ([py, "bench/train_throughput.py", "--models", "class_cond"], "of matmul"),
        "train_knobs.py": (
            [py, "bench/train_knobs.py", "--profile", "tiny", "--models", "class_cond", "--epochs", "2",
             "--rows", "plain,bf16,all"],
            "class_cond all",
        ),
        "inference_knobs.py": ([py, "bench/inference_knobs.py", "--rounds", "2"], "on/off speed"),
        "quality.py": ([py, "bench/quality.py", "--strict"], "the independent strict judge"),
        "quality.py --judge-epochs": ([py, "bench/quality.py", "--judge-epochs", "1"], "1 epochs: test accuracy"),
        "sampler_quality.py": ([py, "bench/sampler_quality.py", "--per-digit", "1"], "pipeline samples.npz"),
        "fast_samplers.py": (
            [py, "bench/fast_samplers.py", "--steps", "2", "--samples", "10", "--kinds", "class_cond"],
            "FID floor",
        ),
        "train_compute.py": (
            [py, "bench/train_compute.py", "--model", "class_cond", "--epochs", "1", "--seeds", "3,4", "--samples", "10"],
            "training seed 4:",
        ),
        "repro_wall.py": (
            [py, "bench/repro_wall.py", "--dir", str(work.parent / "wall"), "--set", "profile=tiny",
             "--targets", "data", "classifier"],
            "from a fresh clone:",
        ),
        "partA_extras.py": ([py, "bench/partA_extras.py", "--samples", "1", "--only", "repaint"], "RePaint (jump_length, jump_n_sample)"),
        "flow_vs_ddpm.py": (
            [py, "bench/flow_vs_ddpm.py", "--models", "class_cond", "--epochs", "1", "--seeds", "3,4", "--samples", "10",
             "--steps", "2"],
            "| class_cond | flow Euler",
        ),
    }  # fmt: skip
    for name, (command, fragment) in commands.items():
        printed = run(command, work)
        assert fragment in printed, f"{name} printed:\n{printed}"
    assert git(work, "status", "--porcelain") == before, "a bench script changed tracked files"
    assert up_to_date(run(["dvc", "status"], work)), "a bench script changed a pipeline output"
