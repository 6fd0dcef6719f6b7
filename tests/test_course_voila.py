"""A course module and the trainer's progress dashboard in a real browser.

One Voila server (the project's configuration, nothing pre-heated) serves the repository over a
copy of the tiny cohort (``$WORKBENCH_COHORT``), with ``$WORKBENCH_PROGRESS`` pointing at a
temporary database so no home-folder state is read or written. Module 1 of the
genomic-medicine course must show its exercises with the code hidden, mark an answer when
Check is clicked and record the attempt; the class-progress dashboard must show a table.
Screenshots go to ``_artifacts/courses/``.

The browser helpers (Debian's chromium, the ``browser`` fixture, :class:`Visit`) are those of
``test_dashboards_browser.py``; without chromium the module is skipped, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dashboards_browser import (  # the same browser, server and page helpers
    CHROMIUM,
    REPO,
    Visit,
    _local,
    _start,
    _stop,
    _wait_http,
    browser,  # noqa: F401 (a fixture)
)

from workbench.serve import free_port, serve_environment, voila_command, voila_config
from workbench.serve import write_voila_config as _write_config
from workbench.teach import ProgressStore
from workbench.teach.exercises import load_answer_key

ARTIFACTS = REPO / "_artifacts" / "courses"
MODULE = "courses/genomic-medicine/01_genome_and_variants.ipynb"
DASHBOARD = "notebooks/dashboards/class_progress.ipynb"
LEARNER = "browser.learner"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"Debian's chromium is not installed at {CHROMIUM} (`make test` installs it: "
        "apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def progress_db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("progress") / "progress.sqlite"


@pytest.fixture(scope="module")
def server(tiny_cohort_path, progress_db, tmp_path_factory):
    """Voila over the repository root, as ``workbench serve`` configures it, minus pre-heating."""
    import shutil

    cohort = tmp_path_factory.mktemp("served") / "cohort"
    shutil.copytree(tiny_cohort_path, cohort)  # sessions write audit entries
    config = tmp_path_factory.mktemp("voila-config")
    _write_config(config, voila_config(preheat=()))
    env = serve_environment(cohort=cohort)
    env.update(WORKBENCH_PROGRESS=str(progress_db), WORKBENCH_LEARNER=LEARNER)
    port = free_port()
    proc = _start(
        voila_command(REPO, port=port, config_dir=config),
        env=env,
        cwd=config,
        log=config / "voila.log",
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def _shot(visit: Visit, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Voila scrolls inside a container, so a "full page" is one viewport: grow it to the content
    height = visit.page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')].map(e => e.scrollHeight))"
    )
    visit.page.set_viewport_size({"width": 1300, "height": min(max(height, 800), 12_000)})
    visit.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    visit.page.close()


def test_course_module_shows_exercises_with_code_hidden(browser, server, progress_db):  # noqa: F811
    key = load_answer_key(REPO / "courses" / "genomic-medicine" / "answers.yml")["exercises"]
    module_ids = [i for i in key if i.startswith("m1.")]
    visit = Visit(browser, f"{server}/voila/render/{MODULE}")
    visit.wait(".jupyter-widgets")
    page = visit.page
    checks = page.get_by_role("button", name="Check")
    checks.first.wait_for(timeout=60_000)
    assert checks.count() == len(module_ids)
    for exercise_id in module_ids:
        assert page.get_by_text(f"Exercise {exercise_id}.").is_visible()
    assert all(checks.nth(i).is_visible() for i in range(checks.count()))
    assert page.get_by_text("what is a variant?").first.is_visible()  # m1.q1's question
    # the code is hidden: no code-cell input (markdown cells keep theirs), no source text
    assert page.locator(".jp-MarkdownCell").count() >= 5
    assert page.locator(".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor").count() == 0
    text = page.locator("body").inner_text()
    for source in ("open_cohort(", 'exercise("m1.q1")', "workbench.record(", "import "):
        assert source not in text
    # nothing a learner must not see: instructor notes, solution output, the harness's echo
    assert "Instructor note" not in text and "Feedback(" not in text
    assert "recorded " not in text
    assert page.locator(".jp-OutputArea-output img").count() >= 1  # the histogram is drawn

    m1q1 = page.locator(".widget-vbox:has-text('Exercise m1.q1.')").last
    right = key["m1.q1"]["answer"]
    m1q1.locator(".widget-radio-box label", has_text=f"{right})").click()
    m1q1.get_by_role("button", name="Check").click()
    m1q1.get_by_text("✔ Right").wait_for(timeout=30_000)
    visit.check_clean(local=_local(server))
    _shot(visit, "genomic_medicine_01")

    attempts = ProgressStore(progress_db, learner=LEARNER).attempts()
    assert attempts[["exercise_id", "attempt", "correct"]].values.tolist() == [["m1.q1", 1, True]]


def test_an_exercise_can_be_done_by_keyboard_and_figures_are_captioned(browser, server):  # noqa: F811
    visit = Visit(browser, f"{server}/voila/render/{MODULE}")
    visit.wait(".jupyter-widgets")
    page = visit.page
    page.get_by_role("button", name="Check").first.wait_for(timeout=60_000)
    # Every figure has a text alternative: a "Figure: …" caption in the page.
    figures = page.locator(".jp-OutputArea-output img").count()
    assert figures >= 1
    assert page.get_by_text("Figure:").count() >= figures
    # m1.q2 (numeric) by keyboard only: into the answer box, type, Tab to Check, Enter.
    m1q2 = page.locator(".widget-vbox:has-text('Exercise m1.q2.')").last
    from playwright.sync_api import expect

    box = m1q2.locator("input").first
    box.focus()
    page.keyboard.type("0.18", delay=40)
    # Under load a keystroke can race the widget's sync; the answer must be what was typed
    # before it is checked (still by keyboard: nothing is filled in for the learner).
    expect(box).to_have_value("0.18", timeout=10_000)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement && document.activeElement.innerText")
    assert "Check" in focused, f"Tab from the answer box went to {focused!r}, not Check"
    page.keyboard.press("Enter")
    status = m1q2.locator("[role=status]")
    status.wait_for(timeout=30_000)
    assert "Not yet" in status.inner_text()  # the wrong answer, announced in a live region
    assert status.get_attribute("aria-live") == "polite"
    visit.check_clean(local=_local(server))
    visit.page.close()


def test_class_progress_dashboard_shows_the_table(browser, server, progress_db):  # noqa: F811
    ProgressStore(progress_db, learner="ana").record(
        course="genomic-medicine", exercise_id="m1.q2", response="0.1", correct=False
    )
    visit = Visit(browser, f"{server}/voila/render/{DASHBOARD}")
    visit.wait("table.wb-table")
    table, grid = visit.page.locator("table.wb-table").all()  # per exercise; per learner
    assert "Progress per exercise" in table.locator("caption").inner_text()
    assert table.locator("td", has_text="m1.q2").count() == 1
    assert "Each learner and exercise" in grid.locator("caption").inner_text()
    learners = grid.locator("tbody tr").all_inner_texts()  # ana tried m1.q2 once, not right
    assert any(row.split("\t")[0].strip() == "ana" and "✘ 1" in row for row in learners)
    assert "Demo" not in visit.page.locator(".wb-note").inner_text()  # the server's store
    assert visit.wait(".widget-image img, img.widget-image").count() == 1  # the bar charts
    visit.check_clean(local=_local(server))
    _shot(visit, "class_progress")
