"""A class on the hub, in a real browser: two learners and a trainer, by link (root only).

``workbench hub run`` (JupyterHub, its proxy, the data-access service, the idle culler) on
127.0.0.1; each member signs in through the hub's login page in Debian's chromium, following
the link a trainer hands out, and the hub makes their OS account at that first sign-in.
Learners answer module 7's first exercise (one right, one wrong) in Voila; the trainer's
class-progress dashboard shows both attempts; a learner can open neither the other's
notebook, nor the class's progress, nor the cohort.
Screenshots go to ``_artifacts/hub/``.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_dashboards_browser import CHROMIUM, CHROMIUM_ARGS, REPO
from test_hub import _pids_of, _running_hub, os_accounts  # noqa: F401 (a fixture)

from workbench.hub.content import content_links
from workbench.teach.exercises import load_answer_key

ARTIFACTS = REPO / "_artifacts" / "hub"
MODULE = "genomic-medicine/07_acmg_classification.ipynb"
TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"Debian's chromium is not installed at {CHROMIUM} (`make test` installs it)",
    ),
]


def _sign_in_by_link(context, url: str, name: str, password: str):
    """Follow a link as a member who is not signed in yet: the hub's login page comes first."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#login_submit", timeout=TIMEOUT_MS)
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_two_learners_and_a_trainer_work_by_link_and_see_only_what_is_theirs(
    os_accounts,  # noqa: F811
    cohort_copy,
    tmp_path,
):
    from playwright.sync_api import sync_playwright

    key = load_answer_key(REPO / "courses" / "genomic-medicine" / "answers.yml")["exercises"]
    right = key["m7.q1"]["answer"]
    wrong = next(o for o in key["m7.q1"]["options"] if o != right)
    with _running_hub(cohort_copy, tmp_path) as hub, sync_playwright() as p:
        base, passwords = hub["base"], hub["passwords"]
        links = dict(content_links(hub["content"], base))
        module = next(u for t, u in links.items() if "7. Classifying" in t)
        progress = next(u for t, u in links.items() if t == "Dashboard: class progress")
        assert module.startswith(f"{base}/hub/user-redirect/workbench/open/{MODULE}")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        members = {n: browser.new_context(viewport={"width": 1300, "height": 2400})
                   for n in ("student.ali", "student.bo", "teacher.berg")}  # fmt: skip
        try:
            # Each learner follows the module's link, signs in, and lands in her own copy
            answers = {"student.ali": right, "student.bo": wrong}
            pages = {}
            for name, answer in answers.items():
                page = _sign_in_by_link(members[name], module, name, passwords[name])
                page.wait_for_url(f"**/user/{name}/voila/render/{MODULE}", timeout=TIMEOUT_MS)
                page.get_by_role("button", name="Check").first.wait_for(timeout=TIMEOUT_MS)
                assert page.locator(".cm-editor, .jp-InputArea-editor").count() == 0  # no code
                box = page.locator(".widget-vbox:has-text('Exercise m7.q1.')").last
                box.locator(".widget-radio-box label", has_text=f"{answer})").click()
                box.get_by_role("button", name="Check").click()
                verdict = "✔ Right" if answer == right else "Not yet"
                box.get_by_text(verdict).first.wait_for(timeout=TIMEOUT_MS)
                pages[name] = page
                home = Path(os_accounts[name].pw_dir)  # her account, made at her first sign-in
                assert stat.S_IMODE(home.stat().st_mode) == 0o700 and home.stat().st_uid == (
                    os_accounts[name].pw_uid
                )
                assert (home / MODULE).is_file()  # her own copy, in her own home
                assert (home / MODULE).stat().st_uid == os_accounts[name].pw_uid
            _shot(pages["student.bo"], "learner_module_07")

            # The trainer opens the class-progress dashboard by its link: both attempts
            page = _sign_in_by_link(members["teacher.berg"], progress, "teacher.berg",
                                    passwords["teacher.berg"])  # fmt: skip
            grid = page.locator("table.wb-table").nth(1)
            grid.wait_for(timeout=TIMEOUT_MS)
            rows = {r.split("\t")[0].strip(): r for r in grid.locator("tbody tr").all_inner_texts()}
            assert "✔ 1" in rows["student.ali"] and "✘ 1" in rows["student.bo"], rows
            assert page.get_by_role("button", name="Reset learner").is_visible()
            assert page.locator(".voila-error").count() == 0
            _shot(page, "trainer_class_progress")

            # A learner cannot open the other's notebook …
            bo = pages["student.bo"]
            seen = bo.goto(f"{base}/user/student.ali/voila/render/{MODULE}")
            assert seen.status == 403, seen.status
            seen = bo.goto(f"{base}/user/student.ali/files/{MODULE}")
            assert seen.status == 403, seen.status
            # … nor the class's progress: the dashboard opens, the service refuses the data
            bo.goto(progress)
            bo.get_by_text("only a trainer").first.wait_for(timeout=TIMEOUT_MS)
            assert "student.ali" not in bo.locator("body").inner_text()
            assert bo.locator(".voila-error").count() == 0  # the refusal, and nothing broken
            broken = "els => els.filter(e => e.offsetParent && !e.naturalWidth).length"
            assert bo.locator("img").evaluate_all(broken) == 0
            assert bo.get_by_role("button", name="Reset learner").is_hidden()
            _shot(bo, "learner_refused_class_progress")
            # … nor the cohort's files: outside her server's folder, and closed to her account
            registry = hub["cohort"] / "registry.sqlite"
            seen = bo.goto(f"{base}/user/student.bo/files{registry}")
            assert seen.status == 404, seen.status
            script = "open(__import__('sys').argv[1], 'rb')"
            tried = subprocess.run(
                ["su", "-s", "/bin/sh", "student.bo", "-c",
                 f'"{sys.executable}" -c "{script}" {registry}'],
                capture_output=True, text=True,
            )  # fmt: skip
            assert tried.returncode != 0 and "PermissionError" in tried.stderr
        finally:
            for context in members.values():
                context.close()
            browser.close()
    # Everything is stopped at the end: the hub, its proxy, the service, every member's server
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        _pids_of(a.pw_uid) for a in os_accounts.made().values()
    ):
        time.sleep(0.5)
    left = {n: _cmdlines(_pids_of(a.pw_uid)) for n, a in os_accounts.made().items()}
    assert not any(left.values()), f"still running: {left}"


def _cmdlines(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except FileNotFoundError:
            continue
    return out
