"""``smoothcli report`` (and ``--report``/``--plot``): the page holds every run, the failed
inputs' messages and the threshold, its numbers equal the table's, and it names no URL."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smoothcli.output import make_writer
from smoothcli.output._values import number_text

from .conftest import smoothcli
from .fmriprep_tree import make_fmriprep_tree

PER_FRAME = ["--scalarise", "rms(axis=space)"]


cli = smoothcli


def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="runs">(.*?)</script>', page, re.S)
    assert found, "the page carries its numbers as JSON"
    return json.loads(found.group(1))


def table_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """An fMRIPrep-like tree from tests/data/real, scored per frame with --mask auto and a
    threshold one run exceeds, plus a truncated run: the table, its sidecar and the page."""
    root = tmp_path_factory.mktemp("report")
    tree = make_fmriprep_tree(root / "derivatives")
    broken = root / "sub-09_task-rest_desc-preproc_bold.nii.gz"
    broken.write_bytes(tree["runs"][0].read_bytes()[:3000])
    table = root / "scores.tsv"
    args = [tree["root"], broken, "--include", "*desc-preproc_bold*", "--mask", "auto"]
    result = cli("score", *args, *PER_FRAME, "--fail-above", "60", "-o", table)
    assert result.exit_code == 3, result.output  # the broken run; a threshold fails too
    page = root / "page.html"
    made = cli("report", table, "-o", page)
    assert made.exit_code == 0, made.output
    return {"tree": tree, "broken": broken, "table": table, "page": page.read_text()}


def test_the_page_has_every_run_the_failure_and_the_threshold(batch):
    page, rows = batch["page"], table_rows(batch["table"])
    for run in batch["tree"]["runs"]:
        assert str(run) in page
    (error,) = [r for r in rows if r["status"] == "error"]
    assert str(batch["broken"]) in page and error["error"] in page
    assert "threshold 60" in page and "the table&#x27;s --fail-above" in page
    data = page_data(page)
    assert data["threshold"] == 60.0
    assert [f["error"] for f in data["failures"]] == [error["error"]]
    assert any(r["verdict"] == "fail" for r in data["runs"])


def test_the_numbers_of_the_page_equal_the_table(batch):
    rows = [r for r in table_rows(batch["table"]) if r["status"] == "ok"]
    data = page_data(batch["page"])
    assert sorted(r["path"] for r in data["runs"]) == sorted(map(str, batch["tree"]["runs"]))
    ranks = [{"fail": 0, "flagged": 1, "pass": 2}[r["status"]] for r in data["runs"]]
    assert ranks == sorted(ranks)  # failed first, then flagged, then passed
    for run in data["runs"]:
        mine = [r for r in rows if r["path"] == run["path"]]
        scores = np.array([float(r["score"]) for r in mine])
        assert run["max"] == scores.max()
        assert run["mean"] == pytest.approx(scores.mean(), rel=1e-15)
        assert run["max_frame"] == int(mine[int(np.argmax(scores))]["frame"])
        assert run["n_over"] == int((scores > 60).sum())
        assert f'data-v="{number_text(run["max"])}">{run["max"]:.4g}<' in batch["page"]


def test_the_page_names_no_url_and_loads_nothing(batch):
    page = batch["page"]
    assert not re.search(r"(?i)https?:|ftp:|//[a-z0-9]", page)
    assert not re.search(r"(?i)\bsrc\s*=|@import|url\((?!#)", page)  # url(#clip) is inside
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert page.count("<svg") == 1 + len(batch["tree"]["runs"])  # distribution + traces


def test_traces_are_worst_first_and_only_the_first_50_are_drawn(tmp_path):
    rng = np.random.default_rng(4)
    table = tmp_path / "many.tsv"
    names = ["path", "index", "frame", "score", "status", "check"]
    with open(table, "w", newline="") as fh:
        writer = make_writer("tsv", fh, names)
        for i in range(60):
            values = rng.permutation(np.linspace(0, 10 + i / 100, 20)) + (40 if i == 7 else 0)
            writer.add(
                [
                    {"path": f"run{i:02d}.nii.gz", "index": t, "frame": t + 1, "score": v}
                    | {"status": "ok"}
                    for t, v in enumerate(values)
                ]
            )
        writer.close()
    page_path = tmp_path / "many.html"
    assert cli("report", table, "-o", page_path).exit_code == 0
    page = page_path.read_text()
    data = page_data(page)
    assert page.count("<svg") == 1 + 50
    assert "10 more runs, not drawn" in page
    first_trace = page.index('<div class="trace"')
    assert page.index("run07.nii.gz", first_trace) < page.index("run00.nii.gz", first_trace)
    flagged = [r["path"] for r in data["runs"] if r["outlier"]]
    assert flagged == ["run07.nii.gz"]  # far beyond 1.5 IQR of the runs' max
    assert "outlier (beyond 1.5 IQR)" in page


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_every_table_format_gives_the_same_numbers(batch, tmp_path, fmt):
    rows = []
    for row in table_rows(batch["table"]):
        for k, v in row.items():
            row[k] = None if v == "n/a" else v
        for k in ("score",):
            row[k] = float(row[k]) if row[k] is not None else None
        for k in ("frame", "axis"):
            row[k] = int(row[k]) if row[k] is not None else None
        rows.append(row)
    other = tmp_path / f"scores.{fmt}"
    with open(other, "w", newline="") as fh:
        writer = make_writer(fmt, fh, list(rows[0]))
        writer.add(rows)
        writer.close()
    page = tmp_path / "page.html"
    result = cli("report", other, "-o", page, "--threshold", "60")
    assert result.exit_code == 0, result.output
    want, got = page_data(batch["page"]), page_data(page.read_text())
    assert got["runs"] == want["runs"] and got["failures"] == want["failures"]


def test_dvars_and_summary_tables(tmp_path):
    from .conftest import ROOT, SHARED_DATA

    mask = ROOT / "tests" / "data" / "dvars" / "fmri2_mask.nii.gz"
    bold = SHARED_DATA / "fmri2.nii.gz"
    per_frame, summary = tmp_path / "dvars.tsv", tmp_path / "dvars_summary.tsv"
    every = ["--dummy-scans", "0"]  # frame 1 (after the run's one dummy volume) fails then
    assert cli(
        "dvars", bold, "--mask", mask, "-o", per_frame, "--fail-above", "1.5", *every
    ).exit_code
    assert cli("dvars", bold, "--mask", mask, "-o", summary, "--summary", *every).exit_code == 0
    for table, traces in ((per_frame, 1), (summary, 0)):
        out = tmp_path / f"{table.stem}.html"
        assert cli("report", table, "-o", out).exit_code == 0
        page = out.read_text()
        data = page_data(page)
        assert data["kind"] == "dvars" and data["measure"] == "std_dvars"
        assert page.count('<div class="trace"') == traces
    frames = [r for r in table_rows(per_frame) if r["frame"] != "0"]
    data = page_data((tmp_path / "dvars.html").read_text())
    assert data["threshold"] == 1.5  # from the sidecar
    assert data["runs"][0]["max"] == max(float(r["std_dvars"]) for r in frames)
    (row,) = table_rows(summary)
    (run,) = page_data((tmp_path / "dvars_summary.html").read_text())["runs"]
    assert run["mean"] == float(row["dvars_std"]) and run["max"] == float(row["dvars_std_max"])


def test_score_report_and_plot_write_the_page_and_a_png_per_input(batch, tmp_path):
    tree = batch["tree"]
    page, plots = tmp_path / "live.html", tmp_path / "plots"
    args = [*tree["runs"][:2], "--mask", "auto", *PER_FRAME, "--fail-above", "60"]
    result = cli("score", *args, "--report", page, "--plot", plots, "-o", tmp_path / "t.tsv")
    assert result.exit_code in (0, 1), result.output
    assert f"wrote the report {page}" in result.stderr
    live = page_data(page.read_text())
    from_table = page_data(batch["page"])
    assert live["runs"] == [
        r for r in from_table["runs"] if r["path"] in map(str, tree["runs"][:2])
    ]
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == sorted(p.name.replace(".nii.gz", ".png") for p in tree["runs"][:2])
    assert all((plots / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in pngs)
    single = cli("score", tree["runs"][0], "--plot", tmp_path / "none")
    assert single.exit_code == 0 and not list((tmp_path / "none").iterdir())  # no trace


def test_bad_uses_are_usage_errors(batch, tmp_path):
    assert cli("report", batch["table"], "-o", batch["table"]).exit_code == 2  # its input
    not_a_table = tmp_path / "x.tsv"
    not_a_table.write_text("a\tb\n1\t2\n")
    result = cli("report", not_a_table, "-o", tmp_path / "p.html")
    assert result.exit_code == 2 and "not a smoothcli table" in result.stderr
    assert cli("report", tmp_path / "x.nii.gz", "-o", tmp_path / "p.html").exit_code == 2


def test_without_matplotlib_report_is_a_usage_error_naming_the_extra(batch, tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"  # as if it were not installed
        "from smoothcli.__main__ import main; sys.exit(main())"
    )
    for args in (
        ["report", str(batch["table"]), "-o", str(tmp_path / "p.html")],
        ["score", str(batch["tree"]["runs"][0]), "--plot", str(tmp_path / "plots")],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2, proc.stderr
        assert "pip install 'smoothcli[report]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "plots").exists()


def test_the_page_is_escaped(tmp_path):
    table = tmp_path / "odd.tsv"
    with open(table, "w", newline="") as fh:
        writer = make_writer("tsv", fh, ["path", "score", "status", "error"])
        writer.add([{"path": "<script>alert(1)</script>.npy", "status": "error", "error": "<b>"}])
        writer.add([{"path": "ok.npy", "score": 1.5, "status": "ok"}])
        writer.close()
    out = tmp_path / "odd.html"
    assert cli("report", table, "-o", out).exit_code == 0
    page = out.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert io.StringIO(page).read().count("<script") == 2  # the data island and the sorter


def test_several_tables_make_one_page_and_dvars_plots_too(batch, tmp_path):
    tree = batch["tree"]
    first, second = tmp_path / "a.tsv", tmp_path / "b.jsonl"
    common = ["--mask", "auto", *PER_FRAME]
    assert cli("score", tree["runs"][0], *common, "-o", first).exit_code == 0
    assert cli("score", tree["runs"][1], *common, "-o", second).exit_code == 0
    page = tmp_path / "both.html"
    assert cli("report", first, second, "-o", page).exit_code == 0
    data = page_data(page.read_text())
    assert sorted(r["path"] for r in data["runs"]) == sorted(map(str, tree["runs"][:2]))
    plots = tmp_path / "dvars_plots"
    result = cli("dvars", tree["runs"][0], "--mask", "auto", "--plot", plots)
    assert result.exit_code == 0, result.output
    (png,) = plots.iterdir()
    assert png.name == tree["runs"][0].name.replace(".nii.gz", ".png")
    assert png.read_bytes()[:4] == b"\x89PNG"


# -- what a review found: each case once --------------------------------------------------


def _series_table(path: Path, runs: dict[str, list[float]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = make_writer("tsv", fh, ["path", "index", "frame", "score", "status"])
        for name, values in runs.items():
            writer.add(
                [
                    {"path": name, "index": t, "frame": t + 1, "score": v, "status": "ok"}
                    for t, v in enumerate(values)
                ]
            )
        writer.close()
    return path


def test_report_never_takes_the_place_of_the_table_or_its_sidecar(batch, tmp_path):
    run = batch["tree"]["runs"][0]
    for name in ("s.json", "s.tsv"):
        result = cli("score", run, "-o", tmp_path / "s.tsv", "--report", tmp_path / name)
        assert result.exit_code == 2 and "where the table or its sidecar goes" in result.stderr
    assert not list(tmp_path.iterdir())


def test_an_infinite_threshold_and_dollar_signs_in_names(tmp_path):
    odd = tmp_path / "x$^$y_a_$\\frac$.npy"
    np.save(odd, np.arange(24.0).reshape(3, 8) ** 2)
    page, plots = tmp_path / "odd.html", tmp_path / "plots"
    args = [odd, *PER_FRAME, "--fail-above", "inf", "--report", page, "--plot", plots]
    result = cli("score", *args)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert page_data(text)["threshold"] is None  # JSON has no inf
    assert "x$^$y_a_$\\frac$.npy" in text  # drawn as text, not as mathematics
    assert [p.name for p in plots.iterdir()] == ["x$^$y_a_$\\frac$.png"]


def test_resume_with_report_shows_the_whole_table(batch, tmp_path):
    runs = batch["tree"]["runs"][:2]
    table, page = tmp_path / "r.tsv", tmp_path / "r.html"
    common = ["--mask", "auto", *PER_FRAME, "-o", table, "--resume", "--report", page]
    assert cli("score", runs[0], *common).exit_code == 0
    assert cli("score", *runs, *common).exit_code == 0  # the first is done already
    shown = sorted(r["path"] for r in page_data(page.read_text())["runs"])
    assert shown == sorted(map(str, runs))
    assert cli("score", *runs, *common).exit_code == 0  # every one done: still a page
    assert len(page_data(page.read_text())["runs"]) == 2


def test_rows_that_would_mix_are_refused(batch, tmp_path):
    from .conftest import ROOT

    mask = ROOT / "tests" / "data" / "dvars" / "fmri2_mask.nii.gz"
    from .conftest import SHARED_DATA

    bold = SHARED_DATA / "fmri2.nii.gz"
    dv = tmp_path / "dv.tsv"
    assert cli("dvars", bold, "--mask", mask, "-o", dv).exit_code == 0
    mixed = cli("report", batch["table"], dv, "-o", tmp_path / "mix.html")
    assert mixed.exit_code == 2 and "tables of different kinds" in mixed.stderr
    copy = tmp_path / "copy.tsv"
    copy.write_bytes(batch["table"].read_bytes())
    twice = cli("report", batch["table"], copy, "-o", tmp_path / "twice.html")
    assert twice.exit_code == 2 and "is in both" in twice.stderr
    same = cli("report", batch["table"], batch["table"], "-o", tmp_path / "same.html")
    assert same.exit_code == 0  # one table named twice is read once
    npz = tmp_path / "two.npz"
    np.savez(npz, a=np.ones((3, 9)), b=np.arange(27.0).reshape(3, 9))
    cut = tmp_path / "cut.tsv"
    assert cli("score", npz, *PER_FRAME, "--columns", "path,status,score,frame", "-o", cut)
    merged = cli("report", cut, "-o", tmp_path / "cut.html")
    assert merged.exit_code == 2 and "several arrays" in merged.stderr


def test_nan_frames_flag_a_run_and_keep_its_numbers(tmp_path):
    table = _series_table(
        tmp_path / "nan.tsv", {"a.npy": [1.0, float("nan"), 3.0], "b.npy": [1, 2]}
    )
    page = tmp_path / "nan.html"
    assert cli("report", table, "-o", page).exit_code == 0
    a, b = page_data(page.read_text())["runs"]
    assert (a["max"], a["mean"], a["n_nan"], a["flagged"]) == (3.0, 2.0, 1, True)
    assert not b["flagged"]
    assert "1 NaN value(s)" in page.read_text()


def test_outliers_need_a_spread(tmp_path):
    same = {f"r{i}.npy": [0.5, 1.0] for i in range(9)} | {"x.npy": [0.5, 1.0000001]}
    table = _series_table(tmp_path / "same.tsv", same | {"y.npy": [0.5, 0.9]})
    page = tmp_path / "same.html"
    assert cli("report", table, "-o", page).exit_code == 0
    assert not any(r["outlier"] for r in page_data(page.read_text())["runs"])  # IQR 0
    spread = {f"r{i}.npy": [0.0, 1.0 + i / 10] for i in range(9)} | {"low.npy": [0.0, -5.0]}
    table = _series_table(tmp_path / "spread.tsv", spread)
    assert cli("report", table, "-o", page).exit_code == 0
    (low,) = [r for r in page_data(page.read_text())["runs"] if r["outlier"]]
    assert low["path"] == "low.npy" and low["outlier"] == "low"


def test_a_short_run_has_integer_frame_ticks():
    from smoothcli.report import Run
    from smoothcli.report._plots import trace_svg

    run = Run("a.npy", None, [1, 2, 3], np.array([1.0, 2.0, 1.5]), 1.5, 2.0, 2)
    svg = trace_svg(run, None, "score", "t")
    ticks = re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)
    assert ticks == ["1", "2", "3"]
