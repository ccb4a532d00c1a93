"""The report stage: deterministic bytes, "not run" sections, one-line errors for corrupt manifests, offline page."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import make_results, make_workspace

from fundiff import timings
from fundiff.errors import FundiffError
from fundiff.report import Header, default_order, metrics_table, render_report
from fundiff.titles import MODELS, expected_sections

EXPECTED_SECTIONS = expected_sections()
HEADER = Header(profile="tiny", backend="mnist", seed=180)


def run_stage(workspace: Path, monkeypatch, *args: str, env: dict[str, str] | None = None) -> None:
    """`python -m stages.report` in ``workspace``, in-process (the stage reads params.yaml and writes relative to cwd)."""
    from stages import report as stage

    monkeypatch.chdir(workspace)
    monkeypatch.setattr(sys, "argv", ["stages/report.py", *args])
    monkeypatch.setattr(timings, "TIMINGS_FILE", workspace / ".fundiff" / "timings.json")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    stage.main()


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def render(root: Path, made: dict[str, Path], assets: Path, result_dirs=None) -> str:
    reports = made["reports"]
    dirs = result_dirs if result_dirs is not None else sorted(p for p in reports.glob("part*/*") if p.is_dir())
    lives = {m: made["models"] / m / "live" for m in MODELS}
    return render_report(dirs, lives, HEADER, page_dir=reports, assets_dir=assets)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.headings: list[str] = []
        self._in_h3 = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append((tag, value))
        self._in_h3 = self._in_h3 or tag == "h3"
        if tag == "h3":
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data):
        if self._in_h3:
            self.headings[-1] += data


def test_same_inputs_same_bytes_anywhere(tmp_path, monkeypatch):
    """Two builds, and a build of a copy of the workspace at another path, give identical page and assets."""
    first = tmp_path / "one"
    make_workspace(first)
    run_stage(first, monkeypatch)
    page = tree_bytes(first / "reports")
    run_stage(first, monkeypatch)
    assert tree_bytes(first / "reports") == page | {"timings.js": (first / "reports" / "timings.js").read_bytes()}

    second = tmp_path / "elsewhere" / "two"
    shutil.copytree(first, second)
    shutil.rmtree(second / "reports" / "assets")
    (second / "reports" / "index.html").unlink()
    run_stage(second, monkeypatch)
    for name in ("index.html", "assets/curves_training.png"):
        assert (second / "reports" / name).read_bytes() == page[name], name
    assert [p.name for p in (second / "reports" / "assets").iterdir()] == ["curves_training.png"]


def test_page_does_not_depend_on_the_commit_or_experiment(tmp_path, monkeypatch):
    """A new commit or another experiment name must not change the DVC-tracked page."""
    make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch)
    page = (tmp_path / "reports" / "index.html").read_bytes()
    import subprocess

    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(
            cmd,
            cwd=tmp_path,
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
    run_stage(tmp_path, monkeypatch, env={"DVC_EXP_NAME": "other-exp"})
    assert (tmp_path / "reports" / "index.html").read_bytes() == page
    js = (tmp_path / "reports" / "timings.js").read_text()
    assert '"experiment": "other-exp"' in js and "unknown" not in js.split("FUNDIFF_RUN", 1)[1]


def test_page_does_not_depend_on_wall_times(tmp_path, monkeypatch):
    make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch)
    page = (tmp_path / "reports" / "index.html").read_bytes()
    js = (tmp_path / "reports" / "timings.js").read_text()
    assert "window.FUNDIFF_TIMINGS" in js and '"stage": "report"' in js
    timings.record("train denoiser", 123.4, tmp_path / ".fundiff" / "timings.json")
    run_stage(tmp_path, monkeypatch)
    assert (tmp_path / "reports" / "index.html").read_bytes() == page
    assert '"stage": "train denoiser"' in (tmp_path / "reports" / "timings.js").read_text()
    assert b"123.4" not in page


def test_curve_png_has_no_software_stamp(tmp_path):
    made = make_results(tmp_path)
    render(tmp_path, made, tmp_path / "assets")
    data = (tmp_path / "assets" / "curves_training.png").read_bytes()
    assert data.startswith(b"\x89PNG") and b"Software" not in data and b"matplotlib" not in data.lower()


def test_sections_in_order_with_not_run_and_header(tmp_path, monkeypatch):
    make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch, env={"DVC_EXP_NAME": "sunny-tuna"})
    html = (tmp_path / "reports" / "index.html").read_text()
    parser = Links()
    parser.feed(html)
    numbered = [h.strip() for h in parser.headings if re.match(r"\s*[AB] \d", h)]
    sections = [re.match(r"([AB] [\d.]+)", h).group(1) for h in numbered]
    assert sections == [*list(EXPECTED_SECTIONS)[:12], "B 0", *list(EXPECTED_SECTIONS)[12:]], sections
    ran = {"A 1.1", "A 1.4", "A 1.8", "B 1", "B 2.4"}
    for name in EXPECTED_SECTIONS:
        block = html.split(f'data-section="{name}"', 1)[1].split("</section>", 1)[0]
        assert ("Not run:" in block and "no results directory" in block) == (name not in ran), name
    training = html.split('data-section="B 0"', 1)[1].split("</section>", 1)[0]
    assert "time_cond: no training log at ../data/models/time_cond/live/" in training  # time_cond was not trained
    assert (
        "<th>denoiser</th>" in training and "<th>class_cond</th>" in training and "<th>time_cond</th>" not in training
    )
    for text in ("tiny", "mnist", "180", "5 of 16 sections ran"):
        assert text in html, text
    # provenance is not a DVC input: it lives in the untracked timings.js, and the page fills it in
    js = (tmp_path / "reports" / "timings.js").read_text()
    for text in ("sunny-tuna", "unknown (not a git repository)"):
        assert text in js and text not in html, text
    assert 'id="run-commit"' in html and "window.FUNDIFF_RUN" in html
    assert "guidance_scale=5" in html and "num_steps=300" in html  # params named beside the figures
    assert "Second &lt;paragraph&gt; &amp; more." in html  # manifest text is escaped


def test_page_is_offline_and_every_link_resolves(tmp_path, monkeypatch):
    make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch)
    reports = tmp_path / "reports"
    parser = Links()
    parser.feed((reports / "index.html").read_text())
    images = [v for t, v in parser.refs if t == "img"]
    assert len(images) == 8  # 7 figures + the training curves
    for _tag, ref in parser.refs:
        if ref.startswith("#") or ref.startswith("data:"):
            continue
        assert "://" not in ref and not ref.startswith("/"), ref  # nothing remote, nothing absolute
        assert (reports / ref).is_file(), ref
    assert ("script", "timings.js") in parser.refs


def test_missing_everything_still_renders(tmp_path):
    (tmp_path / "reports").mkdir()
    html = render_report(
        [], {"denoiser": tmp_path / "nope"}, HEADER, page_dir=tmp_path / "reports", assets_dir=tmp_path / "assets"
    )
    assert html.count('class="notrun"') == len(EXPECTED_SECTIONS) + 1  # + the missing training log of B 0
    assert "0 of 16 sections ran" in html
    assert list((tmp_path / "assets").iterdir()) == []


@pytest.mark.parametrize(
    "content, detail",
    [
        ('{"section": "A 1.4", "title": ', "invalid JSON at line 1"),
        ("[1, 2]", "top level is not an object"),
        ('{"title": "x", "order": 1}', "missing key 'section'"),
        ('{"section": "A 1.4", "title": "x", "order": "first"}', "'order' must be a number"),
        ('{"section": "A 1.4", "title": "x", "order": 1, "surprise": 1}', "unexpected keyword argument"),
        (
            '{"section": "A 1.4", "title": "x", "order": 1, "figures": [{"path": "gone.png", "caption": ""}]}',
            "figure 'gone.png' does not exist",
        ),
        (
            '{"section": "A 1.4", "title": "x", "order": 1, "figures": [{"path": "../x.png", "caption": ""}]}',
            "must be relative",
        ),
        ('{"section": "A 1.4", "title": "x", "order": 1, "metrics": {"a": [1]}}', "metric 'a' is list"),
    ],
)
def test_corrupt_manifest_is_one_line_naming_the_file(tmp_path, content, detail):
    made = make_results(tmp_path)
    manifest = made["iterative"] / "manifest.json"
    manifest.write_text(content)
    with pytest.raises(FundiffError) as caught:
        render(tmp_path, made, tmp_path / "assets")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(manifest)) and detail in message, message


def test_stage_error_exits_2_and_keeps_the_previous_page(tmp_path, monkeypatch, capsys):
    made = make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch)
    before = tree_bytes(tmp_path / "reports")
    (made["iterative"] / "manifest.json").write_text("{not json")
    with pytest.raises(SystemExit) as exited:
        run_stage(tmp_path, monkeypatch)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "reports/partA/iterative/manifest.json: corrupt manifest" in err, err
    after = tree_bytes(tmp_path / "reports")
    after["partA/iterative/manifest.json"] = before["partA/iterative/manifest.json"]
    assert after == before  # index.html and assets untouched, no temp dirs left
    assert not [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".")]


def test_results_dir_without_manifest_is_an_error(tmp_path):
    made = make_results(tmp_path)
    (made["reports"] / "partB" / "judge").mkdir()
    with pytest.raises(FundiffError, match=r"partB/judge/manifest.json: missing"):
        render(tmp_path, made, tmp_path / "assets")


def test_corrupt_training_log_names_the_file(tmp_path):
    made = make_results(tmp_path)
    tsv = made["models"] / "denoiser" / "live" / "plots" / "metrics" / "train" / "loss.tsv"
    tsv.write_text("epoch\tvalue\n1\t2\n")
    with pytest.raises(FundiffError, match=re.escape(str(tsv)) + ": expected DVCLive columns"):
        render(tmp_path, made, tmp_path / "assets")


def test_metric_families_become_wide_tables():
    html = metrics_table(
        {
            "accuracy": 0.5,
            **{f"accuracy/{d}": d / 10 for d in range(10)},
            **{f"mse_unet_sigma_{s}": 0.01 for s in ("0", "0p2", "0p5", "1")},
            **{f"mse_blur_sigma_{s}": 0.02 for s in ("0", "0p2", "0p5", "1")},
            **{f"mse_blur_t{t}": 0.03 for t in (250, 500, 750)},
            **{f"accuracy_full_digit{d}": 0.9 for d in range(10)},
        }
    )
    assert html.count("<table") == 4  # singles; t; σ (unet beside blur); digits (accuracy/d and accuracy_full_digitd)
    sigma = html.split("<th>σ=0</th>", 1)[1].split("</table>", 1)[0]
    assert "<th>σ=0.2</th>" in sigma and sigma.index("<td>mse_blur</td>") < sigma.index("<td>mse_unet</td>")
    assert "<td>accuracy</td>" in html.split("</table>", 1)[0]  # the overall number stays a single row


def test_default_order_follows_the_manifest_convention():
    assert [default_order(s) for s in ("A 0", "A 1.4", "A 1.7.2", "B 1", "B 2.4")] == [0, 140, 172, 100, 240]


def test_timings_survive_a_corrupt_file(tmp_path):
    path = tmp_path / "timings.json"
    path.write_text("{oops")
    assert timings.load(path) == {}
    with timings.timed_stage("data", path):
        pass
    with pytest.raises(RuntimeError), timings.timed_stage("train denoiser", path):
        raise RuntimeError("boom")
    loaded = timings.load(path)
    assert loaded["data"]["status"] == "ok" and loaded["train denoiser"]["status"] == "failed"
    script = timings.to_script(loaded)
    assert json.loads(script.split("window.FUNDIFF_TIMINGS =", 1)[1].split(";\n", 1)[0])[0]["stage"] == "data"


def test_a_failed_run_keeps_the_last_good_time(tmp_path):
    path = tmp_path / "timings.json"
    timings.record("sample class_cond", 42.0, path)
    timings.record("sample class_cond", 1.5, path, status="failed")
    entry = timings.load(path)["sample class_cond"]
    assert entry["seconds"] == 42.0 and entry["status"] == "failed" and "failed_utc" in entry


@pytest.mark.parametrize(
    "module, argv, key",
    [
        ("stages.partA", ["x", "anagrams", "--out", "reports/partA/anagrams"], "partA anagrams"),
        ("stages.train", ["x", "class_cond", "--data", "data/mnist"], "train class_cond"),
        ("stages.report", ["x", "reports", "data/models"], "report"),
        ("stages.classifier", ["x", "--data", "data/mnist"], "classifier"),
    ],
)
def test_stage_key_is_the_dvc_stage(monkeypatch, module, argv, key):
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=types.SimpleNamespace(name=module)))
    assert timings.stage_key(argv) == key


@pytest.mark.parametrize("edition", ["ddpm", "flow"])
def test_the_reports_model_lists_are_the_editions_stage_lists(edition):
    """fundiff.titles keeps each edition's models for the report (so its stage need not depend on the lists);
    they must be conf/partB/<edition>.yaml's train@ and sample@ foreach lists."""
    import yaml

    from fundiff.titles import EDITIONS, SAMPLED

    conf = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf/partB" / f"{edition}.yaml").read_text())
    assert conf["edition"] == edition
    assert list(EDITIONS[edition]) == conf["train_models"]
    assert set(SAMPLED[edition]) == {"denoiser", *conf["sample_models"]}
