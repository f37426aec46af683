"""The HTML report in a real browser: headless Chromium opens the page, which must render
without a console error, and its screenshot must not be blank.

The harness (tests/browser.py: Playwright driving the system's Chromium) is tested first, on
pages made to fail. Without Chromium these tests skip, except on CI ($CI or
$SMOOTHCLI_REQUIRE_CHROMIUM set), where they fail: .ci/run installs Chromium from Debian's
packages when it is missing.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
import struct
from pathlib import Path

import numpy as np
import pytest
import typer

from smoothcli.cli import app

from .browser import Browser, find_chromium
from .conftest import SHARED_DATA, cli_runner

runner = cli_runner()

# clicks every table header (the sortable tables' handlers run), twice: both orders
CLICK_HEADERS = "for (const th of document.querySelectorAll('th')) { th.click(); th.click(); }"


# -- what a screenshot shows ---------------------------------------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", png[16:24])


def ink(png: bytes) -> float:
    """The fraction of the screenshot's pixels that differ visibly (more than 24 levels of
    255 in a channel) from its background, taken to be its most common colour."""
    import matplotlib.image

    rgb = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    rgb = np.round(rgb * 255).astype(np.int16)
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    values, counts = np.unique(packed[::4, ::4], return_counts=True)  # a sample is enough
    mode = values[counts.argmax()]
    background = np.array([(mode >> 16) & 255, (mode >> 8) & 255, mode & 255], np.int16)
    return float((np.abs(rgb - background).max(axis=-1) > 24).mean())


def is_blank(png: bytes, min_ink: float = 0.002) -> bool:
    """Blank: (almost) every pixel is the background colour, whatever that colour is."""
    return ink(png) < min_ink


# -- the browser -----------------------------------------------------------------------------


def chromium_or_skip() -> str:
    path = find_chromium()
    if path is None:
        why = (
            "no Chromium on PATH (chromium, chromium-browser, google-chrome) nor in "
            "$SMOOTHCLI_TEST_CHROMIUM: install Debian's 'chromium' package "
            "(.ci/run does, as root)"
        )
        if os.environ.get("CI") or os.environ.get("SMOOTHCLI_REQUIRE_CHROMIUM"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def browser():
    with Browser(chromium_or_skip(), timeout=30) as b:
        yield b


def page(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head>"
        f"<body style='margin:0;background:#fff'>{body}</body></html>",
        encoding="utf-8",
    )
    return path


SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='600' height='400'>"
    "<rect x='20' y='20' width='560' height='360' fill='none' stroke='#333' stroke-width='2'/>"
    "<polyline fill='none' stroke='#1f77b4' stroke-width='3' "
    "points='20,300 100,120 180,260 260,80 340,220 420,140 500,330 580,60'/>"
    "<circle cx='300' cy='200' r='60' fill='#d62728'/></svg>"
)


# -- (a) the harness itself ----------------------------------------------------------------


def test_a_clean_page_has_no_errors_and_its_svg_is_not_blank(browser, tmp_path):
    visit = browser.visit(page(tmp_path, "svg", f"<h1>A plot</h1>{SVG}"), script=CLICK_HEADERS)
    assert visit.errors == []
    assert not is_blank(visit.png), f"ink {ink(visit.png):.4f}"
    assert png_size(visit.png) == (1280, 800)
    assert visit.requests == [visit.url]


@pytest.mark.parametrize("background", ["#ffffff", "#202830"])
def test_a_page_of_one_colour_is_blank(browser, tmp_path, background):
    blank = page(tmp_path, "blank", f"<div style='height:100vh;background:{background}'></div>")
    errors, png = browser.render(blank)
    assert errors == []
    assert is_blank(png) and ink(png) == 0.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<script>console.error('x')</script>", "console.error: x"),
        ("<script>console.assert(1 === 2, 'one is two')</script>", "console.assert: one is two"),
        ("<script>throw new Error('boom')</script>", "uncaught: Error: boom"),
        ("<script>null.sort()</script>", "uncaught: TypeError"),
        ("<script>function (</script>", "uncaught: SyntaxError"),
        ("<script>Promise.reject(new Error('nobody waits'))</script>", "nobody waits"),
        ("<script>setTimeout(() => { throw new Error('later') }, 50)</script>", "later"),
        # an error in an event handler shows only once the handler runs: headers are clicked
        ("<table><tr><th onclick='sortBy(this)'>a</th></tr></table>", "sortBy is not defined"),
        ("<img src='missing.png'>", "ERR_FILE_NOT_FOUND"),
        # no network: a page that is not self-contained fails to load what it asks for
        ("<img src='https://cdn.example.com/plot.png'>", "ERR_NAME_NOT_RESOLVED"),
    ],
    ids=[
        "console-error",
        "console-assert",
        "throw",
        "type-error",
        "syntax-error",
        "unhandled-rejection",
        "error-in-a-timer",
        "error-in-a-click-handler",
        "missing-file",
        "network",
    ],
)
def test_a_page_errors_are_detected(browser, tmp_path, body, expected):
    errors, png = browser.render(page(tmp_path, "bad", body), script=CLICK_HEADERS)
    assert errors, "no error detected"
    assert all(expected in e for e in errors), errors  # (a handler clicked twice: two)
    assert png_size(png)[0] == 1280  # a screenshot still


def test_a_screenshot_is_the_whole_page(browser, tmp_path):
    tall = page(tmp_path, "tall", f"<div style='height:3000px'>{SVG}</div><p>the end</p>")
    errors, png = browser.render(tall)
    assert errors == []
    width, height = png_size(png)
    assert width == 1280 and height > 3000


def test_a_page_that_is_not_there_is_an_error(browser, tmp_path):
    errors, png = browser.render(tmp_path / "absent.html")
    assert errors == ["navigation failed: net::ERR_FILE_NOT_FOUND"] and png == b""


# -- (b) the report ------------------------------------------------------------------------


def command_names() -> set[str]:
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def options(command: str) -> set[str]:
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {opt for param in cmd.params for opt in param.opts}


needs_report = pytest.mark.skipif(
    "report" not in command_names(), reason="no 'smoothcli report' command yet"
)

# how each command is asked for per-frame values of the runs: 'score' as DVARS (an RMS over
# the mask's voxels), 'dvars' as fMRIPrep's dvars, std_dvars and vx_std_dvars
HOW = {"score": ["--scalarise", "rms(axis=space)"], "dvars": []}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> list[Path]:
    """A batch: a real BOLD run, a truncated copy of it (which fails) and a brain mask."""
    import nibabel as nib

    folder = tmp_path_factory.mktemp("batch")
    bold = SHARED_DATA / "fmri2.nii.gz"
    image = nib.load(bold)
    mean = np.asarray(image.dataobj, dtype=np.float64).mean(axis=-1)
    mask = folder / "sub-01_desc-brain_mask.nii.gz"
    nib.save(nib.Nifti1Image((mean > np.median(mean)).astype(np.uint8), image.affine), mask)
    good = folder / "sub-01_task-rest_bold.nii.gz"
    shutil.copyfile(bold, good)
    data = bold.read_bytes()
    bad = folder / "sub-02_task-rest_bold.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    return [good, bad, mask]


@pytest.fixture(scope="module", params=list(HOW))
def table(request, batch) -> tuple[str, Path, float]:
    """The batch's table from 'score' or 'dvars' (one row per frame, an error row for the
    truncated run), and a threshold that about half the frames exceed."""
    command = request.param
    good, bad, mask = batch
    table = good.parent / f"{command}.tsv"
    args = [good, bad, "--mask", mask, *HOW[command], "-o", table]
    result = runner.invoke(app, [command, *map(str, args)])
    assert result.exit_code == 3, result.output  # an input could not be scored
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert {r["status"] for r in rows} == {"ok", "error"}
    column = "score" if command == "score" else "std_dvars"
    values = [float(r[column]) for r in rows if r["status"] == "ok" and r[column] != "n/a"]
    assert len(values) == 39
    return command, table, statistics.median(values)


def check_page(browser: Browser, html: Path, screenshot: Path) -> None:
    assert html.is_file() and html.stat().st_size > 0
    visit = browser.visit(html, script=CLICK_HEADERS)
    screenshot.write_bytes(visit.png)
    if where := os.environ.get("SMOOTHCLI_TEST_SCREENSHOTS"):  # e.g. CI keeps them
        Path(where).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, Path(where) / screenshot.name)
    assert visit.errors == [], f"the page logged errors (screenshot: {screenshot}):\n" + (
        "\n".join(visit.errors)
    )
    assert not is_blank(visit.png), f"blank screenshot ({ink(visit.png):.5f}): {screenshot}"
    # self-contained: the page asked for nothing but itself (data: URLs are inline)
    assert [u for u in visit.requests if u != visit.url and not u.startswith("data:")] == []


@needs_report
def test_b_report_page_renders_without_errors(browser, table, tmp_path):
    command, path, threshold = table
    html = tmp_path / "page.html"
    result = runner.invoke(
        app, ["report", str(path), "-o", str(html), "--threshold", f"{threshold}"]
    )
    assert result.exit_code == 0, result.output  # flagged runs and failed inputs are content
    check_page(browser, html, tmp_path / f"report-{command}.png")


def test_b_report_option_page_renders_without_errors(browser, batch, table, tmp_path):
    command, _, threshold = table  # the same run, this time with --report
    if "--report" not in options(command):
        pytest.skip(f"no '{command} --report' yet")
    good, bad, mask = batch
    html = tmp_path / f"{command}.html"
    args = [good, bad, "--mask", mask, *HOW[command], "--fail-above", threshold]
    args += ["-o", tmp_path / f"{command}.tsv", "--report", html]
    result = runner.invoke(app, [command, *map(str, args)])
    assert result.exit_code == 3, result.output  # the truncated input could not be scored
    check_page(browser, html, tmp_path / f"{command}-report.png")


def test_b_qc_report_of_a_tree_renders_without_errors(browser, tmp_path):
    """The page of a tree judged by fMRIPrep's rules (tests/data/qc: the spike run fails),
    carpet plot included, opens without a console error."""
    import json
    import re

    from .test_qc import SPIKE, TREE

    html = tmp_path / "qc.html"
    args = ["dvars", str(TREE), "--mask", "auto", "--fail-above", "1.5"]
    args += ["--max-fail-fraction", "0.005", "--report", str(html)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    check_page(browser, html, tmp_path / "qc-report.png")
    found = re.search(r'id="runs">(.*?)</script>', html.read_text(), re.S)
    runs = json.loads(found.group(1))["runs"]
    assert runs[0]["path"] == str(SPIKE) and runs[0]["verdict"] == "fail"
    assert {r["verdict"] for r in runs[1:]} == {"pass"}
