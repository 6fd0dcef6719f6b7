"""Voila configuration, publishing, and the dashboards' plain functions and widgets.

Browser tests of the served pages are in ``test_dashboards_browser.py`` (slow).
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import workbench
from workbench.cli import main
from workbench.errors import InputError
from workbench.serve import (
    DASHBOARDS,
    HEAVY_DASHBOARDS,
    SHARE_DIR,
    TEMPLATE,
    dashboard_path,
    serve_environment,
    voila_command,
    voila_config,
    write_voila_config,
)
from workbench.serve.publish import publish_bundle, widget_html
from workbench.widgets import dashboards as d

REPO = Path(__file__).resolve().parents[1]


# -- Voila configuration -----------------------------------------------------------------------
def test_voila_config_is_safe_for_learners_and_offline():
    config = voila_config()
    vc = config["VoilaConfiguration"]
    assert vc["show_tracebacks"] is False
    assert vc["template"] == TEMPLATE
    assert vc["preheat_kernel"] is True
    pools = config["VoilaKernelManager"]["kernel_pools_config"]
    assert {k for k, v in pools.items() if v["pool_size"] > 0} == {
        f"{n}.ipynb" for n in HEAVY_DASHBOARDS
    }
    assert config["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert config["Voila"]["ip"] == "127.0.0.1"
    assert "mathjax_url" not in config["Voila"]  # unset: the front-end never loads MathJax


def test_voila_config_without_preheat_and_bad_values():
    assert voila_config(preheat=[])["VoilaConfiguration"]["preheat_kernel"] is False
    with pytest.raises(InputError, match="pool_size"):
        voila_config(pool_size=0)
    with pytest.raises(InputError, match="theme"):
        voila_config(theme="pink")
    with pytest.raises(InputError, match="cull_idle_timeout"):
        voila_config(cull_idle_timeout=-1)


def test_project_template_has_no_cdn_links():
    folder = SHARE_DIR / "voila" / "templates" / TEMPLATE
    assert json.loads((folder / "conf.json").read_text())["base_template"] == "lab"
    text = (folder / "index.html.j2").read_text()
    assert "http" not in text and "<link" not in text


def test_voila_command_reads_the_written_config(tmp_path):
    path = write_voila_config(tmp_path)
    assert json.loads(path.read_text()) == voila_config()
    cmd = voila_command(REPO / "notebooks" / "dashboards", port=9123, config_dir=tmp_path)
    assert cmd[1:3] == ["-m", "voila"]
    assert "--port=9123" in cmd and "--no-browser" in cmd
    assert f"--Voila.config_file_paths={tmp_path.resolve()}" in cmd
    with pytest.raises(InputError, match=r"voila\.json"):
        voila_command("x.ipynb", port=9123, config_dir=tmp_path / "none")
    with pytest.raises(InputError, match="port"):
        voila_command("x.ipynb", port=0, config_dir=tmp_path)


def test_serve_environment_names_the_cohort_and_the_template(tiny_cohort_path, tmp_path):
    env = serve_environment(cohort=tiny_cohort_path, base={"JUPYTER_PATH": "/elsewhere"})
    assert env["WORKBENCH_COHORT"] == str(tiny_cohort_path.resolve())
    assert env["JUPYTER_PATH"].split(":") == [str(SHARE_DIR), "/elsewhere"]
    # No forced backend: course modules show pyplot figures inline under Voila (dashboards
    # draw on matplotlib Figure objects and need no backend at all).
    assert "MPLBACKEND" not in env
    with pytest.raises(InputError, match="not a cohort folder"):
        serve_environment(cohort=tmp_path, base={})


def test_served_through_the_service_the_dashboards_open_no_folder(tiny_cohort_path):
    url = "http://127.0.0.1:8765"
    base = {"WORKBENCH_TOKEN": "cgw_x", "WORKBENCH_COHORT": str(tiny_cohort_path)}
    env = serve_environment(cohort=tiny_cohort_path, service=url, base=base)
    assert env["WORKBENCH_SERVICE"] == url and "WORKBENCH_COHORT" not in env
    with pytest.raises(InputError, match="set WORKBENCH_TOKEN"):
        serve_environment(service=url, base={})
    with pytest.raises(InputError, match="the service's URL"):
        serve_environment(service="127.0.0.1:8765", base=base)
    unset = {"WORKBENCH_TOKEN": None, "JUPYTERHUB_API_TOKEN": None}
    result = CliRunner().invoke(main, ["serve", "case_review", "--service", url], env=unset)
    assert result.exit_code != 0
    assert "set WORKBENCH_TOKEN" in result.output and "Traceback" not in result.output


def test_dashboard_path_finds_each_dashboard_and_names_them_when_wrong():
    for name in DASHBOARDS:
        assert dashboard_path(name, root=REPO).name == f"{name}.ipynb"
    with pytest.raises(InputError, match="case_review"):
        dashboard_path("nope", root=REPO)


# -- publishing ---------------------------------------------------------------------------------
def test_bundle_holds_everything_to_start(tiny_cohort_path, tmp_path):
    out = publish_bundle(
        "case_review", out=tmp_path / "b", root=REPO, cohort=tiny_cohort_path, copy_cohort=True
    )
    for name in ("case_review.ipynb", "voila.json", "requirements.lock", "start.sh",
                 "jupyterhub_service.py", "README.md"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "cohort" / "manifest.json").is_file()
    assert (out / "src" / "workbench" / "serve" / "share" / "voila" / "templates").is_dir()
    assert (out / "requirements.lock").read_bytes() == (REPO / "requirements.lock").read_bytes()
    config = json.loads((out / "voila.json").read_text())
    assert config["VoilaKernelManager"]["kernel_pools_config"]["case_review.ipynb"] == {
        "pool_size": 1
    }
    start = (out / "start.sh").read_text()
    assert "requirements.lock" in start and 'default_cohort="$here/cohort"' in start
    assert subprocess.run(["sh", "-n", str(out / "start.sh")]).returncode == 0
    compile((out / "jupyterhub_service.py").read_text(), "hub", "exec")
    nb = json.loads((out / "case_review.ipynb").read_text())
    assert all(not c.get("outputs") for c in nb["cells"])


def test_a_bundles_cohort_never_holds_the_hospital_side_and_the_answers_only_if_asked(
    tiny_cohort_path, tmp_path
):
    from workbench import open_cohort

    out = publish_bundle(
        "case_review", out=tmp_path / "b", root=REPO, cohort=tiny_cohort_path, copy_cohort=True
    )
    copied = {p.name for p in (out / "cohort").iterdir()}
    assert "keyholder" not in copied and "truth" not in copied
    assert {"registry.sqlite", "genotypes.vcz", "manifest.json"} <= copied
    assert open_cohort(out / "cohort").name  # withheld parts are absent, not missing
    answers = publish_bundle(
        "pipeline_qc",
        out=tmp_path / "a",
        root=REPO,
        cohort=tiny_cohort_path,
        copy_cohort=True,
        with_answers=True,
    )
    assert (answers / "cohort" / "truth").is_dir()
    assert not (answers / "cohort" / "keyholder").exists()
    with pytest.raises(InputError, match="--with-answers"):
        publish_bundle(
            "pipeline_qc", out=tmp_path / "q", root=REPO, cohort=tiny_cohort_path, copy_cohort=True
        )


def test_start_script_quotes_every_name(tiny_cohort_path, tmp_path):
    odd = tmp_path / "a cohort $(touch pwned) 'x' \"y\""
    shutil.copytree(tiny_cohort_path, odd)
    out = publish_bundle("consent_console", out=tmp_path / "b", root=REPO, cohort=odd)
    start = (out / "start.sh").read_text()
    line = next(x for x in start.splitlines() if x.startswith("default_cohort="))
    shown = subprocess.run(
        ["sh", "-c", f'{line}\nprintf %s "$default_cohort"'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert shown.stdout == str(odd.resolve())
    assert not (tmp_path / "pwned").exists()
    compile((out / "jupyterhub_service.py").read_text(), "hub", "exec")


def test_bundle_refers_to_the_cohort_and_refuses_a_full_folder(tiny_cohort_path, tmp_path):
    out = publish_bundle("consent_console", out=tmp_path / "b", root=REPO, cohort=tiny_cohort_path)
    assert not (out / "cohort").exists()
    assert str(tiny_cohort_path.resolve()) in (out / "start.sh").read_text()
    with pytest.raises(InputError, match="not an empty folder"):
        publish_bundle("consent_console", out=out, root=REPO, cohort=tiny_cohort_path)


def test_widget_html_renders_stored_state():
    png = b"\x89PNG fake"
    state = {
        "box": {
            "model_name": "VBoxModel",
            "state": {
                "children": [
                    "IPY_MODEL_h",
                    "IPY_MODEL_i",
                    "IPY_MODEL_dd",
                    "IPY_MODEL_cb",
                    "IPY_MODEL_x",
                ]
            },
        },
        "h": {"model_name": "HTMLModel", "state": {"value": "<b>hi</b>", "description": ""}},
        "i": {
            "model_name": "ImageModel",
            "state": {"format": "png", "layout": "IPY_MODEL_lay"},
            "buffers": [
                {"path": ["value"], "data": base64.b64encode(png).decode(), "encoding": "base64"}
            ],
        },
        "lay": {"model_name": "LayoutModel", "state": {"width": "300px"}},
        "dd": {
            "model_name": "DropdownModel",
            "state": {"description": "Pop", "_options_labels": ["any", "MEN"], "index": 1},
        },
        "cb": {"model_name": "CheckboxModel", "state": {"description": "PS3", "value": True}},
        "x": {"model_name": "FancyModel", "state": {}},
    }
    out = widget_html(state, "box")
    assert "<b>hi</b>" in out
    assert base64.b64encode(png).decode() in out and "width:300px" in out
    assert "<option selected>MEN</option>" in out
    assert "checked" in out and "PS3" in out
    assert "(Fancy widget)" in out
    assert "not saved" in widget_html(state, "missing")


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_serve_and_publish_refuse_bad_requests(tiny_cohort_path, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    r = runner.invoke(main, ["serve"])
    assert r.exit_code == 2 and "--all" in r.output
    r = runner.invoke(main, ["serve", "case_review", "--cohort", str(tmp_path)])
    assert r.exit_code == 2 and "not a cohort folder" in r.output
    r = runner.invoke(
        main,
        [
            "publish",
            "case_review",
            "--out",
            str(tmp_path / "s"),
            "--static",
            "--copy-cohort",
            "--cohort",
            str(tiny_cohort_path),
        ],
    )
    assert r.exit_code == 2 and "--copy-cohort" in r.output
    r = runner.invoke(
        main,
        [
            "publish",
            "pipeline_qc",
            "--out",
            str(tmp_path / "b"),
            "--cohort",
            str(tiny_cohort_path),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b" / "start.sh").is_file()


# -- dashboard functions ------------------------------------------------------------------------
def test_resolve_cohort_prefers_the_environment(tiny_cohort_path, tmp_path, monkeypatch):
    monkeypatch.delenv(d.COHORT_ENV, raising=False)
    assert d.resolve_cohort(str(tiny_cohort_path)) == tiny_cohort_path.resolve()
    monkeypatch.setenv(d.COHORT_ENV, str(tiny_cohort_path))
    assert d.resolve_cohort("../../datasets/synthetic/teaching") == tiny_cohort_path.resolve()
    monkeypatch.setenv(d.COHORT_ENV, str(tmp_path))
    with pytest.raises(InputError, match="workbench generate"):
        d.resolve_cohort("x")


def test_record_is_silent_under_voila_but_still_checks(monkeypatch):
    monkeypatch.setenv("VOILA_APP_PORT", "8866")
    assert d.in_voila()
    assert d.record("x.y", 3) == 3
    with pytest.raises(InputError):
        d.record("x.y", {1, 2})
    monkeypatch.delenv("VOILA_APP_PORT")
    for k in ("VOILA_BASE_URL", "VOILA_PREHEAT"):
        monkeypatch.delenv(k, raising=False)
    assert not d.in_voila()


def _table():
    return pd.DataFrame(
        {
            "sex": ["male", "female", "female"],
            "population": ["MEN", "NOR", "NOR"],
            "affected": [True, False, False],
            "outlier": [False, True, False],
        },
        index=pd.Index(["k1-AAA", "k1-BBB", "k1-ABC"], name="sample_id"),
    )


def test_filter_samples_combines_filters():
    t = _table()
    assert list(d.filter_samples(t, population="NOR").index) == ["k1-BBB", "k1-ABC"]
    assert list(d.filter_samples(t, population="NOR", outliers_only=True).index) == ["k1-BBB"]
    assert list(d.filter_samples(t, affected="yes").index) == ["k1-AAA"]
    assert list(d.filter_samples(t, search="ab").index) == ["k1-ABC"]
    assert d.filter_samples(t, sex="male", population="NOR").empty
    with pytest.raises(InputError, match="affected"):
        d.filter_samples(t, affected="maybe")


def test_table_html_escapes_captions_and_says_what_is_cut():
    t = pd.DataFrame({"a": ["<script>", "x", "y"]})
    out = d.table_html(t, caption="C & D", limit=2)
    assert "&lt;script&gt;" in out and "<script>" not in out
    assert "<caption>C &amp; D</caption>" in out and "1 more rows" in out
    assert "nothing to show" in d.table_html(t.iloc[:0], caption="Empty")


def test_consent_overview_and_grants_go_through_an_audited_steward_session(cohort_copy):
    import workbench

    cohort = workbench.open_cohort(cohort_copy)
    steward = cohort.session(user="steward.larsen", purpose=workbench.Stewardship())
    everyone = d.consent_overview(steward)
    assert everyone.person_id.is_unique and len(everyone) == len(cohort.consents())
    opted = d.consent_overview(steward, status="opted out")
    assert opted.research_opt_out.all() and len(opted) == everyone.research_opt_out.sum()
    assert d.consent_overview(steward, status="changed").version.gt(1).all()
    with pytest.raises(InputError, match="status"):
        d.consent_overview(steward, status="odd")
    grants = d.grants_table(steward)
    assert len(grants) > 0 and grants.in_force.dtype == bool
    assert not grants[grants.revoked_on.notna()].in_force.any()
    actions = steward.audit_log(user="steward.larsen").action.tolist()
    # the bad status is refused before any read: three audited consent reads
    assert actions.count("consents") == 3 and actions.count("grants") == 1
    researcher = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    with pytest.raises(workbench.errors.AccessDenied):
        researcher.consents()


def test_verify_html_says_it_in_words():
    assert "Chain intact" in d.verify_html({"ok": True, "entries": 4})
    broken = d.verify_html({"ok": False, "entries": 4, "problems": ["entry 3 <edited>"]})
    assert "Chain broken" in broken and "&lt;edited&gt;" in broken


def test_steward_console_withdraws_and_verifies(cohort_copy):
    c = workbench.open_cohort(cohort_copy, verify=False)
    console = d.StewardConsole(c.session(user="steward.larsen", purpose=workbench.Stewardship()))
    assert console.errors.outputs == ()
    person = next(p for p in console.person.options if p != console.person.value)
    console.person.value = person
    assert console.history.summary is not None
    console.withdraw_button.click()  # no note: refused, in words
    assert "note" in console.errors.outputs[0]["text"]
    console.withdraw_note.value = "asked by letter"
    console.withdraw_button.click()
    assert console.errors.outputs == ()
    assert console.history.summary["current"]["withdrawn"] is True
    console.status.value = "withdrawn"
    assert person in console.consents.value
    console.verify_button.click()
    assert "Chain intact" in console.verify_result.value
    assert "withdraw_consent" in console.audit.value


def test_case_review_follows_family_and_criteria(cohort_copy):
    c = workbench.open_cohort(cohort_copy, verify=False)
    review = d.CaseReview(c)
    assert review.errors.outputs == ()
    assert list(review.worklist.columns) == ["family_id", "clinician", "proband"]
    first = review.case.proband
    assert first in review.header.value
    assert review.funnel.value == d.funnel_html(review.case)
    review.family.value = review.worklist.family_id.iloc[1]
    assert review.case.proband != first and review.case.proband in review.header.value
    assert review.funnel.value == d.funnel_html(review.case)  # follows the family
    gene = review.browser.selected.value
    variant = d.best_variant(review.case, gene)
    assert html.escape(variant) in review.acmg_title.value
    ticked = {e.code for e in review.acmg.evidence}
    assert ticked == {e.code for e in review.case.classifications[variant].evidence}
    before = review.acmg.result.value
    review.acmg.checkboxes["PS3"].value = True
    assert review.acmg.result.value != before
