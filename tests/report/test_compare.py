"""The experiment comparison page (fundiff.report.compare) on rows shaped like dvc.api.exp_show's."""

import pytest

from fundiff.errors import FundiffError
from fundiff.report.compare import comparison_page, comparison_rows, main, resolve_column

ACC = "reports/partB/class_cond.metrics.json:accuracy_fast"
FID = "reports/partB/class_cond.metrics.json:fid_fast"
FID_T = "reports/partB/time_cond.metrics.json:fid_fast"
GAMMA = "sample.class_cond.guidance_scale"
GAMMA_A = "partA.experiments.cfg.mnist.guidance_scale"  # columns as dvc.api.exp_show names them


def row(name, gamma, acc, fid, state="Success"):
    return {
        "Experiment": name,
        "rev": name or "workspace",
        "State": state,
        GAMMA: gamma,
        GAMMA_A: 5.0,
        ACC: acc,
        FID: fid,
        FID_T: 9.0,
    }


ROWS = [
    row(None, 5.0, 0.99, 60.0, state=None),  # the workspace
    row("exp-b", 1.0, 0.7, 200.0),
    row("exp-a", 0.0, 0.1, 300.0),
    row("exp-c", 3.0, 0.98, None),  # a metric missing in one experiment
    row("exp-q", 7.0, None, None, state="Queued"),
    row("exp-f", 2.0, None, None, state="Failed"),
]


def test_columns_resolve_by_their_last_part_or_enough_path():
    columns = [GAMMA, GAMMA_A, ACC, FID, FID_T]
    assert resolve_column(columns, "accuracy_fast") == ACC
    assert resolve_column(columns, "sample.class_cond.guidance_scale") == GAMMA
    assert resolve_column(columns, "class_cond.guidance_scale") == GAMMA
    with pytest.raises(FundiffError, match="several files"):
        resolve_column(columns, "guidance_scale")
    assert resolve_column(columns, "class_cond.metrics.json:fid_fast") == FID
    with pytest.raises(FundiffError, match="several files"):
        resolve_column(columns, "fid_fast")
    with pytest.raises(FundiffError, match="no experiment column is 'fdi'"):
        resolve_column(columns, "fdi")


def test_finished_experiments_sorted_by_the_param():
    param, metrics, records = comparison_rows(ROWS, "class_cond.guidance_scale", ["accuracy_fast", FID])
    assert param == GAMMA and metrics == [ACC, FID]
    assert [(r["experiment"], r["param"]) for r in records] == [
        ("exp-a", 0.0),
        ("exp-b", 1.0),
        ("exp-c", 3.0),
        ("workspace", 5.0),
    ]
    assert records[2][FID] is None and records[0][ACC] == 0.1


def test_the_page_has_one_row_per_experiment_and_the_plot(tmp_path):
    page = comparison_page(*comparison_rows(ROWS, "class_cond.guidance_scale", ["accuracy_fast", FID]))
    assert page.count("<tr>") == 5 and "data:image/png;base64," in page and "exp-c" in page and "–" in page


def test_no_sweep_yet_is_one_line_with_the_fix():
    with pytest.raises(FundiffError, match="run a sweep first"):
        comparison_rows([row("exp-q", 1.0, None, None, state="Queued")], GAMMA, ["accuracy_fast"])


def test_the_command_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    import dvc.api

    monkeypatch.setattr(dvc.api, "exp_show", lambda: ROWS)
    with pytest.raises(SystemExit) as caught:
        main(["--param", GAMMA, "--metric", "fid_fast", "--out", str(tmp_path / "x.html")])
    assert caught.value.code == 2 and "several files" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
    main(["--param", GAMMA, "--metric", "accuracy_fast", "--out", str(tmp_path / "x.html")])
    assert "4 experiments compared" in capsys.readouterr().out and (tmp_path / "x.html").is_file()


def test_unscheduled_run_gets_the_scheduled_runs_metrics_beside_it():
    from fundiff.report.sections import PageSection
    from fundiff.report.side_by_side import add_side_by_side

    def section(name, number, metrics):
        return PageSection("B", number, name, 0, "", source=f"partB/{name}", metrics=metrics, metrics_html="<old>")

    base = section("flow_class_cond", "B 2.6", {"accuracy_full": 0.97, "fid_full": 20.0, "other": 1})
    variant = section("flow_class_cond_unscheduled", "B 2.6.1", {"accuracy_full": 0.95, "fid_full": 25.0})
    add_side_by_side([base, variant])
    html = variant.metrics_html
    assert html.endswith("<old>") and "flow_class_cond (B 2.6)" in html and "without a schedule (B 2.6.1)" in html
    assert html.index("0.97") < html.index("0.95") and "other" not in html and base.metrics_html == "<old>"
    alone = section("flow_class_cond_unscheduled", "B 2.6.1", {"accuracy_full": 0.95})
    add_side_by_side([alone])  # no scheduled run on the page: nothing to put beside it
    assert alone.metrics_html == "<old>"
