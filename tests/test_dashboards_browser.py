"""The dashboards in a real browser: Voila serving them, Debian's chromium driving them.

One Voila server (the project's configuration, pre-heated kernels included) serves every
dashboard in ``notebooks/dashboards/`` over a copy of the tiny cohort (sessions write audit
entries). For each page: no Voila error, no console error, nothing requested beyond
127.0.0.1, the main widgets drawn, and one interaction that visibly changes the page. The
published bundle (started from its own folder) and the static snapshot (``file://``) are
opened the same way. Screenshots go to ``_artifacts/dashboards/``.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``), never a downloaded
browser; without it the module is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from workbench.serve import (
    DASHBOARD_DIR,
    free_port,
    serve_environment,
    voila_command,
    voila_config,
    write_voila_config,
)

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "_artifacts" / "dashboards"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"Debian's chromium is not installed at {CHROMIUM} (`make test` installs it: "
        "apt-get install -y chromium)",
    ),
]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _start(cmd, *, env, cwd, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def served_cohort(tiny_cohort_path, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("served") / "cohort"
    shutil.copytree(tiny_cohort_path, dest)
    return dest


@pytest.fixture(scope="module")
def voila_server(served_cohort, tmp_path_factory):
    """One Voila serving the whole dashboard folder, configured as ``workbench serve --all``."""
    config = tmp_path_factory.mktemp("voila-config")
    write_voila_config(config, voila_config())
    port = free_port()
    env = serve_environment(cohort=served_cohort)
    cmd = voila_command(REPO / DASHBOARD_DIR, port=port, config_dir=config)
    proc = _start(cmd, env=env, cwd=config, log=config / "voila.log")
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1300, "height": 2400},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class Visit:
    """A page with everything it requested and every console error recorded."""

    def __init__(self, context, url: str):
        self.page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url, timeout=RENDER_TIMEOUT_MS)

    def wait(self, selector: str):
        self.page.wait_for_selector(selector, timeout=RENDER_TIMEOUT_MS)
        return self.page.locator(selector)

    def check_clean(self, *, local: tuple[str, ...]) -> None:
        assert self.page.locator(".voila-error").count() == 0
        assert self.errors == []
        outside = [u for u in self.requests if not u.startswith(local)]
        assert outside == [], f"requests beyond the local server: {outside}"

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        self.page.close()


def _local(base: str) -> tuple[str, ...]:
    host = base.split("//", 1)[1]
    return (f"http://{host}", f"ws://{host}", f"blob:http://{host}", "data:")


def _render(browser, base: str, name: str) -> Visit:
    visit = Visit(browser, f"{base}/voila/render/{name}.ipynb")
    visit.wait(".jupyter-widgets")
    return visit


def _select(visit: Visit, label: str, value: str) -> None:
    visit.page.locator(f".widget-dropdown:has(label:text-is('{label}')) select").select_option(
        label=value
    )


def test_consent_console(browser, voila_server):
    visit = _render(browser, voila_server, "consent_console")
    tables = visit.wait(".wb-table")
    assert tables.count() >= 3  # consents, one person's history, grants, audit log
    visit.page.get_by_role("button", name="Verify audit chain").click()
    visit.page.wait_for_selector(".wb-verify:has-text('Chain intact')", timeout=30_000)
    _select(visit, "Consents", "withdrawn")
    visit.page.wait_for_selector("caption:has-text('current consents')", timeout=30_000)
    visit.check_clean(local=_local(voila_server))
    visit.shot("consent_console")


def test_cohort_explorer(browser, voila_server):
    visit = _render(browser, voila_server, "cohort_explorer")
    assert visit.wait(".widget-image img, img.widget-image").count() >= 2  # PCA and QC plots
    count = visit.wait(".wb-count")
    everyone = count.inner_text()
    assert "55" in everyone
    pca = visit.page.locator("img").first
    drawn = pca.get_attribute("src")
    _select(visit, "Population", "MEN")
    visit.page.wait_for_function(
        "before => document.querySelector('.wb-count').innerText !== before", arg=everyone
    )
    assert count.inner_text().split()[0] == "6"
    visit.page.wait_for_function(
        "([el, before]) => el.getAttribute('src') !== before",
        arg=[pca.element_handle(), drawn],
        timeout=30_000,
    )  # the filtered people are ringed in the PCA
    assert visit.page.locator("caption:has-text('6 people match')").count() == 1
    visit.check_clean(local=_local(voila_server))
    visit.shot("cohort_explorer")


def test_case_review(browser, voila_server):
    visit = _render(browser, voila_server, "case_review")
    visit.wait("h3.wb-case:has-text('P00003')")
    _select(visit, "Family", "F0003 — P00009 (dr.hansen)")
    visit.page.wait_for_selector("h3.wb-case:has-text('P00009')", timeout=60_000)
    result = visit.page.locator(".widget-html:has-text('points')").last
    before = result.inner_text()
    box = visit.page.locator(".widget-checkbox:has-text('PS3') input[type=checkbox]")
    assert not box.is_checked()
    box.check()
    visit.page.wait_for_function(
        "([el, before]) => el.innerText !== before",
        arg=[result.element_handle(), before],
        timeout=30_000,
    )
    visit.page.get_by_role("button", name="Report").click()
    visit.page.wait_for_selector("text=Secondary findings", timeout=30_000)
    visit.check_clean(local=_local(voila_server))
    visit.shot("case_review")


def test_pipeline_qc(browser, voila_server):
    visit = _render(browser, voila_server, "pipeline_qc")
    visit.wait(".widget-image img, img.widget-image")
    caption = visit.wait("caption:has-text('read pairs')")
    first = caption.inner_text()
    options = visit.page.locator(".widget-dropdown:has(label:text-is('Member')) option")
    second = options.nth(1).inner_text()
    _select(visit, "Member", second)
    visit.page.wait_for_selector(f"caption:has-text('{second}:')", timeout=30_000)
    assert first.split(":")[0] != second
    assert visit.page.locator("caption:has-text('planted truth')").count() == 1
    visit.check_clean(local=_local(voila_server))
    visit.shot("pipeline_qc")


def test_published_bundle_starts_from_its_folder(browser, served_cohort, tmp_path):
    from workbench.serve.publish import publish_bundle

    bundle = publish_bundle(
        "consent_console", out=tmp_path / "bundle", root=REPO, cohort=served_cohort
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_COHORT", "PYTHONPATH")}
    # an existing environment with the locked packages (creating .venv needs the registry)
    env.update(WORKBENCH_PYTHON=sys.executable, PORT=str(port))
    proc = _start(["sh", str(bundle / "start.sh")], env=env, cwd=tmp_path, log=tmp_path / "log")
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/", proc)
        visit = Visit(browser, f"{base}/")
        visit.wait(".wb-table")
        visit.page.get_by_role("button", name="Verify audit chain").click()
        visit.page.wait_for_selector(".wb-verify:has-text('Chain intact')", timeout=30_000)
        visit.check_clean(local=_local(base))
        visit.shot("bundle_consent_console")
    finally:
        _stop(proc)


def test_static_snapshot_opens_from_a_file(browser, served_cohort, tmp_path):
    from workbench.serve.publish import static_snapshot

    page_path = static_snapshot("case_review", out=tmp_path / "static", cohort=served_cohort)
    visit = Visit(browser, page_path.as_uri())
    visit.wait("h3.wb-case")
    assert visit.page.locator("input[type=checkbox]:checked").count() >= 1  # ACMG ticks
    assert visit.page.locator("select[disabled]").count() >= 1
    assert visit.page.locator("script[type='application/vnd.jupyter.widget-state+json']").count()
    visit.check_clean(local=("file://", "data:"))
    visit.shot("static_case_review")
