"""The HTML report: every results directory's manifest, figures, params and metrics, plus training curves, on one page.

``render_report`` is a pure function of its inputs (the result dirs, the DVCLive dirs, the header): it returns the page
as a string and writes the training-curve PNGs into ``assets_dir``. Same inputs => same bytes: no timestamps, every
iteration sorted, PNGs written by matplotlib's Agg canvas with the default style, a fixed dpi and no "Software" chunk.

Figures are not copied: the page refers to them where their stage wrote them (``partA/<experiment>/x.png`` relative to
``reports/index.html``); those dirs are DVC outputs checked out beside the page, so it opens from disk with no network.
Only what the report itself makes (the curves) goes into ``assets_dir``.

Wall times are not part of the page's bytes: the page loads an optional untracked ``timings.js`` (see fundiff.timings).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

import pandas as pd

from fundiff.errors import FundiffError
from fundiff.manifest import MANIFEST_NAME, Manifest

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"

# The sections of the assignment (SPEC.md). A section with no results directory is shown as "not run".
# (1.7.1, hand-drawn and web images, is part of 1.7's SDEdit results.)
EXPECTED_SECTIONS: dict[str, str] = {
    "A 0": "Sampling from the pretrained model",
    "A 1.1": "Forward process",
    "A 1.2": "Classical denoising",
    "A 1.3": "One-step denoising",
    "A 1.4": "Iterative denoising",
    "A 1.5": "Diffusion model sampling",
    "A 1.6": "Classifier-free guidance",
    "A 1.7": "Image-to-image translation (SDEdit)",
    "A 1.7.2": "Inpainting",
    "A 1.7.3": "Text-conditional image-to-image",
    "A 1.8": "Visual anagrams",
    "A 1.9": "Hybrid images",
    "B 1": "Single-step denoising UNet",
    "B 2": "Time-conditioned DDPM",
    "B 2.4": "Class-conditioned DDPM",
}
# The models whose DVCLive logs (data/models/<model>/live) make the "B 0" training section.
MODELS = ("denoiser", "time_cond", "class_cond")
PARTS = {"A": "Part A — a pretrained diffusion model", "B": "Part B — diffusion models from scratch on MNIST"}
CURVE_DPI = 100
PIXEL_TARGET = 480  # small images (28x28 digits, 64x64 IF stage I) are shown upscaled, pixelated, to about this size


@dataclass(frozen=True)
class Header:
    profile: str
    backend: str
    commit: str
    experiment: str
    seed: int | str


@dataclass
class ShownFigure:
    href: str
    caption: str
    width: int
    height: int
    pixelated: bool
    wide: bool
    kind: str  # "png", "gif", ...


@dataclass
class Section:
    part: str
    section: str
    title: str
    order: int
    anchor: str
    source: str = ""  # the results dir, relative to the page
    text: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    figures: list[ShownFigure] = field(default_factory=list)
    metrics_html: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. models without a training log
    ran: bool = True


# ----------------------------------------------------------------------------------------------------------- helpers
def section_numbers(section: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"\s*[AB]?\s*(\d+(?:\.\d+)*)\s*", section)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def default_order(section: str) -> int:
    """The manifest convention: "B 2.4" -> 240, "A 1.7.2" -> 172, "A 0" -> 0, "B 1" -> 100."""
    numbers = section_numbers(section) or (99,)
    weights = (100, 10, 1)
    return sum(n * w for n, w in zip(numbers, weights))


def anchor_for(section: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-") or "section"
    anchor, n = base, 2
    while anchor in taken:
        anchor, n = f"{base}-{n}", n + 1
    taken.add(anchor)
    return anchor


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
            return f"{value:.3e}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def natural_key(text: str) -> tuple:
    return tuple((0, int(tok), "") if tok.isdigit() else (1, 0, tok) for tok in re.split(r"(\d+)", text) if tok)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


GROUP_MIN = 3  # at least this many metrics of one family become one row of a wide table
AXIS = re.compile(r"^(?P<head>.+?)_(?P<axis>digit|sigma|i_start|steps|epoch|t)_?(?P<value>\d[\dp.]*)$")
AXIS_LABEL = {"digit": "{}", "sigma": "σ={}", "t": "t={}", "i_start": "i_start={}", "steps": "{} steps",
              "epoch": "epoch {}"}


def metric_family(name: str) -> tuple[str, str, str, tuple] | None:
    """``accuracy_full_digit3`` -> (accuracy_full, "3"); ``mse_unet_sigma_0p5`` -> (mse_unet, "σ=0.5");
    ``mse_noisy_t250`` -> (mse_noisy, "t=250"); ``accuracy/3`` and nested ``{"accuracy": {"3": ..}}`` (flattened to
    ``accuracy.3``) -> (accuracy, "3"). Returns (row, axis, column, column sort key) or None."""
    match = AXIS.match(name)
    if match:
        value = match["value"].replace("p", ".")
        head, axis, column = match["head"], match["axis"], AXIS_LABEL[match["axis"]].format(value)
    elif "/" in name:
        (head, column), axis = name.split("/", 1), "/"
        value = column
    elif re.match(r"^[A-Za-z_]+\.", name):
        (head, column), axis = name.split(".", 1), "."
        value = column
    else:
        return None
    try:
        key = (0, float(value), natural_key(column))
    except ValueError:
        key = (1, 0.0, natural_key(column))
    return head, axis, column, key


def metrics_table(rows: Mapping[str, Any]) -> str:
    """The metrics as pandas tables, values pre-formatted so pandas prints them verbatim, everything sorted.

    Families of at least GROUP_MIN metrics along one axis (digit, σ, t, i_start, steps, epoch, or ``name/x``) become
    rows of a wide table with that axis as columns (per-digit accuracy; the UNet's MSE per σ beside blur's MSE per σ);
    families with the same columns share a table. Every other metric is a (metric, value) row."""
    if not rows:
        return ""
    families: dict[tuple[str, str], dict[str, tuple[str, tuple]]] = {}  # (head, axis) -> {column: (name, sort key)}
    for name in rows:
        found = metric_family(name)
        if found:
            head, axis, column, key = found
            families.setdefault((head, axis), {})[column] = (name, key)
    wide: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    grouped: set[str] = set()
    for (head, _), members in sorted(families.items()):
        if len(members) >= GROUP_MIN:
            columns = tuple(sorted(members, key=lambda c: members[c][1]))
            wide.setdefault(columns, {})[head] = {c: rows[members[c][0]] for c in columns}
            grouped |= {full for full, _ in members.values()}
    html = []
    single = sorted((n for n in rows if n not in grouped), key=natural_key)
    if single:
        frame = pd.DataFrame({"metric": single, "value": [format_value(rows[n]) for n in single]})
        html.append(frame.to_html(index=False, border=0, classes="metrics", escape=True, justify="left"))
    for columns in sorted(wide, key=lambda c: (len(c), [natural_key(x) for x in c])):
        heads = sorted(wide[columns], key=natural_key)
        frame = pd.DataFrame(
            [[head, *(format_value(wide[columns][head][c]) for c in columns)] for head in heads],
            columns=["metric", *columns],
        )
        html.append(frame.to_html(index=False, border=0, classes="metrics wide", escape=True, justify="left"))
    return "\n".join(html)


def href_for(path: Path, page_dir: Path) -> str:
    rel = PurePosixPath(Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix())
    return "/".join(quote(part) for part in rel.parts)


def image_size(path: Path, origin: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise FundiffError(f"{path}: not a readable image ({error.__class__.__name__}), listed in {origin}") from None


def shown_figure(path: Path, caption: str, page_dir: Path, origin: str) -> ShownFigure:
    width, height = image_size(path, origin)
    scale = max(1, min(8, PIXEL_TARGET // max(width, height, 1)))
    return ShownFigure(
        href=href_for(path, page_dir),
        caption=caption,
        width=width * scale,
        height=height * scale,
        pixelated=scale > 1,
        wide=width * scale > 700 or width >= 3 * height,
        kind=path.suffix.lower().lstrip("."),
    )


# --------------------------------------------------------------------------------------------------------- manifests
def read_manifest(directory: Path) -> Manifest:
    """The manifest of one results dir, validated; anything wrong is one FundiffError line naming the file."""
    file = directory / MANIFEST_NAME
    if not file.is_file():
        raise FundiffError(f"{file}: missing; every results dir needs a {MANIFEST_NAME} (rerun the stage that writes it)")

    def bad(detail: str) -> FundiffError:
        return FundiffError(f"{file}: corrupt manifest: {detail}; rerun the stage that writes it (dvc repro -f <stage>)")

    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise bad(f"invalid JSON at line {error.lineno} column {error.colno}") from None
    if not isinstance(raw, dict):
        raise bad("top level is not an object")
    missing = [key for key in ("section", "title", "order") if key not in raw]
    if missing:
        raise bad(f"missing key {missing[0]!r}")
    if not isinstance(raw.get("figures", []), list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in raw.get("figures", [])
    ):
        raise bad("'figures' must be a list of {path, caption}")
    try:
        manifest = Manifest.read(directory)
    except (TypeError, ValueError, KeyError) as error:
        raise bad(str(error).splitlines()[0]) from None
    if not isinstance(manifest.section, str) or not isinstance(manifest.title, str):
        raise bad("'section' and 'title' must be strings")
    if isinstance(manifest.order, bool) or not isinstance(manifest.order, (int, float)):
        raise bad("'order' must be a number")
    if not isinstance(manifest.text, str):
        raise bad("'text' must be a string")
    for name in ("params", "metrics"):
        if not isinstance(getattr(manifest, name), dict):
            raise bad(f"{name!r} must be an object")
    for key, value in flatten(manifest.metrics).items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise bad(f"metric {key!r} is {type(value).__name__}, not a number")
    for figure in manifest.figures:
        if not isinstance(figure.caption, str):
            raise bad(f"caption of {figure.path!r} is not a string")
        rel = PurePosixPath(figure.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise bad(f"figure path {figure.path!r} must be relative to the manifest's dir")
        if not (directory / rel).is_file():
            raise bad(f"figure {figure.path!r} does not exist")
    return manifest


def part_of(manifest: Manifest, directory: Path) -> str:
    head = manifest.section.strip()[:1].upper()
    if head in PARTS:
        return head
    parent = directory.parent.name.lower()
    return "A" if parent.endswith("a") else "B"


# ------------------------------------------------------------------------------------------------------------ curves
@dataclass
class TrainingLog:
    model: str
    train: pd.DataFrame | None
    test: pd.DataFrame | None
    summary: dict[str, Any]
    source: str

    @property
    def steps_per_epoch(self) -> float | None:
        steps, epochs = self.summary.get("steps"), self.summary.get("epochs")
        ok = isinstance(steps, (int, float)) and isinstance(epochs, (int, float)) and steps > 0 and epochs > 0
        return steps / epochs if ok else None


def _read_tsv(file: Path) -> pd.DataFrame | None:
    if not file.is_file():
        return None
    try:
        frame = pd.read_csv(file, sep="\t")
    except (ValueError, pd.errors.ParserError) as error:
        raise FundiffError(f"{file}: not a DVCLive metrics TSV ({str(error).splitlines()[0]})") from None
    if not {"step", "loss"} <= set(frame.columns):
        raise FundiffError(f"{file}: expected DVCLive columns 'step' and 'loss', found {', '.join(frame.columns)}")
    return frame[["step", "loss"]].apply(pd.to_numeric, errors="coerce").dropna()


def read_training_log(model: str, live_dir: Path, page_dir: Path) -> TrainingLog:
    """DVCLive's per-step train loss, per-epoch test loss and final summary of one model (None where absent)."""
    train = _read_tsv(live_dir / "plots" / "metrics" / "train" / "loss.tsv")
    test = _read_tsv(live_dir / "plots" / "metrics" / "test" / "loss.tsv")
    summary_file = live_dir / "metrics.json"
    summary: dict[str, Any] = {}
    if summary_file.is_file():
        try:
            loaded = json.loads(summary_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise FundiffError(f"{summary_file}: not valid JSON; rerun the training stage (dvc repro -f train@{model})")
        if not isinstance(loaded, dict):
            raise FundiffError(f"{summary_file}: expected a JSON object of DVCLive metrics")
        summary = {k: v for k, v in flatten(loaded).items() if isinstance(v, (int, float, str))}
    return TrainingLog(model, train, test, summary, href_for(live_dir, page_dir))


COLORS = ("#1f5f99", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0e7490")


def plot_training(logs: Sequence[TrainingLog]) -> bytes:
    """Two panels: train loss (moving average over ~1/20 of the run, raw per-step loss faint) and test loss per epoch,
    every model on one log-scale axis, x in epochs (steps / steps-per-epoch) so models with other batch sizes align."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with matplotlib.style.context("default"), matplotlib.rc_context({"font.size": 9, "axes.titlesize": 10}):
        figure = MplFigure(figsize=(10.0, 3.6), dpi=CURVE_DPI)
        FigureCanvasAgg(figure)
        train_ax, test_ax = figure.subplots(1, 2)
        positive = {train_ax: True, test_ax: True}
        for color, log in zip(COLORS * 4, logs):
            per_epoch = log.steps_per_epoch
            unit = (lambda steps: steps / per_epoch) if per_epoch else (lambda steps: steps)
            if log.train is not None and len(log.train):
                window = max(1, min(50, len(log.train) // 20))
                smooth = log.train["loss"].rolling(window, min_periods=1).mean()
                x = unit(log.train["step"] + 1)
                train_ax.plot(x, log.train["loss"], color=color, linewidth=0.5, alpha=0.25)
                train_ax.plot(x, smooth, color=color, linewidth=1.6, label=log.model)
                positive[train_ax] &= bool((log.train["loss"] > 0).all())
            if log.test is not None and len(log.test):
                test_ax.plot(unit(log.test["step"] + 1), log.test["loss"], color=color, marker="o", markersize=4,
                             linewidth=1.4, label=log.model)
                positive[test_ax] &= bool((log.test["loss"] > 0).all())
        for axes, title in ((train_ax, "train loss (moving average; raw faint)"), (test_ax, "test loss per epoch")):
            if axes.lines and positive[axes]:
                axes.set_yscale("log")
            axes.set_title(title)
            axes.set_xlabel("epoch" if all(log.steps_per_epoch for log in logs) else "epoch (or step)")
            axes.set_ylabel("loss (L2)")
            axes.grid(True, which="both", alpha=0.25)
            if axes.lines:
                axes.legend(frameon=False, fontsize=8)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=CURVE_DPI, metadata={"Software": None})
    return buffer.getvalue()


TRAINING_NAME = "curves_training.png"
TRAINING_ROWS = {"train.loss": "final train loss", "test.loss": "final test loss", "epochs": "epochs", "steps": "steps"}


def training_section(live_dirs: Mapping[str, str | os.PathLike], assets_dir: Path, assets_href: str,
                     page_dir: Path) -> Section:
    """Section "B 0": the training curves of every model from its DVCLive logs, and the final losses as a table."""
    logs = [read_training_log(model, Path(live_dirs[model]), page_dir) for model in live_dirs]
    ran = [log for log in logs if log.train is not None or log.test is not None]
    section = Section(part="B", section="B 0", title="Training the UNets", order=0, anchor="",
                      source="", ran=bool(ran))
    section.text = ["Loss curves from the DVCLive logs of the training stages (train loss logged every step, "
                    "test loss after every epoch; the final values are the DVC metrics of those stages)."]
    section.notes = [f"{log.model}: no training log at {log.source}/ (train@{log.model} has not run)."
                     for log in logs if log not in ran]
    if not ran:
        return section
    (assets_dir / TRAINING_NAME).write_bytes(plot_training(ran))
    width, height = image_size(assets_dir / TRAINING_NAME, "the report's training curves")
    sources = ", ".join(f"{log.source}/" for log in ran)
    section.figures.append(ShownFigure(f"{assets_href}/{TRAINING_NAME}",
                                       f"Training and test loss of {', '.join(log.model for log in ran)} "
                                       f"(DVCLive: {sources}).", width, height, False, True, "png"))
    keys = [k for k in TRAINING_ROWS if any(k in log.summary for log in ran)]
    if keys:
        frame = pd.DataFrame(
            [[TRAINING_ROWS[k], *(format_value(log.summary[k]) if k in log.summary else "—" for log in ran)]
             for k in keys],
            columns=["metric", *(log.model for log in ran)],
        )
        section.metrics_html = frame.to_html(index=False, border=0, classes="metrics wide", escape=True,
                                             justify="left")
    return section


# ------------------------------------------------------------------------------------------------------------- page
def build_sections(
    result_dirs: Iterable[str | os.PathLike],
    live_dirs: Mapping[str, str | os.PathLike],
    *,
    page_dir: Path,
    assets_dir: Path,
    assets_href: str = "assets",
    expected: Mapping[str, str] = EXPECTED_SECTIONS,
) -> list[Section]:
    taken: set[str] = set()
    sections: list[Section] = []
    for directory in sorted({Path(d) for d in result_dirs}, key=lambda p: p.as_posix()):
        manifest = read_manifest(directory)
        origin = (directory / MANIFEST_NAME).as_posix()
        metrics = flatten(manifest.metrics)
        if not metrics and (directory / "metrics.json").is_file():  # fall back on the stage's DVC metrics file
            try:
                metrics = flatten(json.loads((directory / "metrics.json").read_text(encoding="utf-8")))
            except (ValueError, UnicodeDecodeError):
                raise FundiffError(f"{directory / 'metrics.json'}: not valid JSON; rerun the stage that writes it")
        sections.append(Section(
            part=part_of(manifest, directory),
            section=manifest.section.strip(),
            title=manifest.title,
            order=manifest.order,
            anchor="",
            source=href_for(directory, page_dir),
            text=[p.strip() for p in re.split(r"\n\s*\n", manifest.text) if p.strip()],
            params=[(k, format_value(v)) for k, v in sorted(manifest.params.items(), key=lambda kv: natural_key(kv[0]))],
            figures=[shown_figure(directory / f.path, f.caption, page_dir, origin) for f in manifest.figures],
            metrics_html=metrics_table(metrics),
        ))
    present = {s.section for s in sections}
    for name, title in expected.items():
        if name not in present:
            sections.append(Section(part=name[:1], section=name, title=title, order=default_order(name), anchor="",
                                    ran=False))

    assets_dir.mkdir(parents=True, exist_ok=True)
    if live_dirs:
        sections.append(training_section(live_dirs, assets_dir, assets_href, page_dir))

    sections.sort(key=lambda s: (s.part, s.order, natural_key(s.section), s.source))
    for s in sections:
        s.anchor = anchor_for(s.section, taken)
    return sections


def render_report(
    result_dirs: Iterable[str | os.PathLike],
    live_dirs: Mapping[str, str | os.PathLike],
    header: Header,
    *,
    page_dir: str | os.PathLike,
    assets_dir: str | os.PathLike,
    assets_href: str = "assets",
    timings_href: str | None = "timings.js",
    expected: Mapping[str, str] = EXPECTED_SECTIONS,
) -> str:
    """The page as text. ``page_dir`` is where the page will live (figure links are relative to it); curve PNGs are
    written into ``assets_dir`` (may be a temp dir that later becomes ``page_dir/assets_href``)."""
    import jinja2

    sections = build_sections(result_dirs, live_dirs, page_dir=Path(page_dir), assets_dir=Path(assets_dir),
                              assets_href=assets_href, expected=expected)
    parts = [(key, title, [s for s in sections if s.part == key]) for key, title in PARTS.items()]
    parts = [p for p in parts if p[2]]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    counts = {"ran": len({s.section for s in sections if s.ran and s.section in expected}), "expected": len(expected)}
    html = environment.get_template(TEMPLATE_NAME).render(
        header=header, parts=parts, counts=counts, timings_href=timings_href,
    )
    return html
