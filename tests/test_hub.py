"""Hosting a class with JupyterHub (workbench.hub): the roster, and a real hub on 127.0.0.1.

The hub test starts ``workbench hub run`` — JupyterHub, its configurable-http-proxy (from the
npm registry, installed by ``make test`` into ``.hub/``) and the data-access service as a
hub-managed service — signs learners and a trainer in through the hub's login form, and checks
that the service knows each by their hub identity alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import REPO, _free_port

import workbench
from workbench import Teaching
from workbench.cli import main
from workbench.errors import AccessDenied, AuthenticationError, InputError
from workbench.hub.content import unreachable_by_others
from workbench.hub.roster import Roster

PROXY = REPO / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"


# -- the roster ------------------------------------------------------------------------------
def test_the_roster_keeps_hashes_never_passwords(tmp_path):
    roster = Roster(tmp_path)
    password = roster.add("student.ali")
    assert roster.check_password("student.ali", password)
    assert not roster.check_password("student.ali", password + "x")
    assert not roster.check_password("nobody.x", password)
    text = roster.path.read_text()
    assert password not in text and "$argon2id$" in text
    assert stat.S_IMODE(roster.path.stat().st_mode) == 0o600
    again = roster.reset("student.ali")
    assert roster.check_password("student.ali", again) and not roster.check_password(
        "student.ali", password
    )
    roster.remove("student.ali")
    assert roster.members() == {} and not roster.check_password("student.ali", again)


def test_a_class_is_imported_whole_or_not_at_all(tmp_path):
    roster = Roster(tmp_path)
    roster.add("student.ali")
    good = tmp_path / "class.csv"
    good.write_text("name,role\nstudent.bo,learner\nteacher.berg,trainer\n")
    added = roster.import_csv(good)
    assert [(n, r) for n, r, _ in added] == [("student.bo", "learner"), ("teacher.berg", "trainer")]
    assert all(roster.check_password(n, p) for n, _, p in added)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,role\nstudent.cy,learner\nstudent.ali,learner\n")  # ali is on it
    with pytest.raises(InputError, match=r"student\.ali is on the roster already"):
        roster.import_csv(bad)
    assert "student.cy" not in roster.members()  # nobody of a refused import is added
    for name, role, problem in [
        ("Ali", "learner", "not a roster name"),
        ("student.dy", "admin", "role must be one of"),
    ]:
        with pytest.raises(InputError, match=problem):
            roster.add(name, role=role)


# -- the class's content, handed out by link -------------------------------------------------
@pytest.fixture(scope="module")
def content(tmp_path_factory):
    from workbench.hub.config import member_server_config
    from workbench.hub.content import build_content

    dest = tmp_path_factory.mktemp("class") / "content"
    build_content(dest, courses=[REPO / "courses" / "genomic-medicine"],
                  dashboards=REPO / "notebooks" / "dashboards",
                  server_config=member_server_config())  # fmt: skip
    return dest


def test_the_content_is_the_student_edition_readable_by_all_and_writable_by_none(content):
    import json

    from workbench.hub.content import load_index

    index = load_index(content)
    assert list(index["courses"]) == ["genomic-medicine"]
    assert "class_progress.ipynb" in index["dashboards"]
    module = content / "genomic-medicine" / "07_acmg_classification.ipynb"
    text = module.read_text()
    assert "solution" not in json.dumps([c.get("metadata", {}).get("tags") for c in
                                         json.loads(text)["cells"]])  # fmt: skip
    assert not (content / "genomic-medicine" / "answers.yml").exists()  # sealed only
    assert (content / "genomic-medicine" / "answers.sealed.json").is_file()
    for path in [content, *content.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    config = json.loads((content / "jupyter" / "jupyter_server_config.json").read_text())
    assert config["VoilaConfiguration"]["strip_sources"] is True
    assert config["VoilaConfiguration"]["show_tracebacks"] is False
    enabled = json.loads((content / "jupyter" / "jupyter_server_config.d" / "workbench.json")
                         .read_text())  # fmt: skip
    assert enabled["ServerApp"]["jpserver_extensions"] == {"workbench.hub.extension": True}


def test_a_link_copies_a_module_once_and_keeps_the_learners_work(content, tmp_path):
    from workbench.hub.content import place_copy

    home = tmp_path / "home"
    relpath = "genomic-medicine/07_acmg_classification.ipynb"
    copy = place_copy(content, relpath, home)
    assert copy == home / relpath and copy.read_bytes() == (content / relpath).read_bytes()
    assert (copy.parent / "answers.sealed.json").is_file()  # the exercises check answers
    copy.write_text(copy.read_text().replace("Classifying", "My notes on classifying"))
    mine = copy.read_bytes()
    assert place_copy(content, relpath, home).read_bytes() == mine  # her work is kept
    again = place_copy(content, relpath, home, fresh=True)  # … unless she starts again
    assert again.read_bytes() == (content / relpath).read_bytes()
    (aside,) = copy.parent.glob("07_acmg_classification.before-*.ipynb")
    assert aside.read_bytes() == mine
    # Dashboards are applications, refreshed at every visit
    board = place_copy(content, "dashboards/class_progress.ipynb", home)
    board.write_text("{}")
    assert (
        place_copy(content, "dashboards/class_progress.ipynb", home).read_bytes()
        == (content / "dashboards" / "class_progress.ipynb").read_bytes()
    )
    # Nothing else of the content, nor anything outside it, can be opened by link
    for other in ("index.json", "genomic-medicine/answers.sealed.json", "../content/index.json",
                  "/etc/passwd", "dashboards/../genomic-medicine/07_acmg_classification.ipynb",
                  "genomic-medicine/99_missing.ipynb"):  # fmt: skip
        with pytest.raises(InputError, match="is not a module or dashboard of this class"):
            place_copy(content, other, home)


def test_links_name_one_url_per_module_and_dashboard(content):
    from workbench.hub.content import content_links

    links = content_links(content, "https://class.example.org/")
    assert len(links) == 8 + 5
    title, url = links[6]
    assert title.endswith("7. Classifying a variant with the ACMG/AMP criteria")
    assert url == ("https://class.example.org/hub/user-redirect/workbench/open/"
                   "genomic-medicine/07_acmg_classification.ipynb?ui=voila")  # fmt: skip
    assert content_links(content, "http://h", ui="lab")[0][1].endswith("?ui=lab")
    with pytest.raises(InputError, match="ui must be one of"):
        content_links(content, "http://h", ui="notebook")


# -- a hub for a class -----------------------------------------------------------------------
def _login(base: str, name: str, password: str):
    http = requests.Session()
    page = http.get(f"{base}/hub/login", timeout=10)
    xsrf = http.cookies.get("_xsrf") or re.search(r'name="_xsrf" value="([^"]+)"', page.text)[1]
    answer = http.post(
        f"{base}/hub/login",
        data={"username": name, "password": password, "_xsrf": xsrf},
        allow_redirects=False,
        timeout=10,
    )
    return http, answer


def _hub_token(http: requests.Session, base: str, name: str) -> str:
    made = http.post(
        f"{base}/hub/api/users/{name}/tokens",
        json={"note": "test"},
        headers={"X-XSRFToken": http.cookies.get("_xsrf")},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["token"]


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the hub stopped:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


@pytest.fixture
def hub(cohort_copy, tmp_path):
    """``workbench hub run`` for a class of two learners and a trainer, stopped after."""
    with _running_hub(cohort_copy, tmp_path) as running:
        yield running


@contextlib.contextmanager
def _running_hub(cohort_copy, tmp_path, *, init_options=()):
    """The hub of a class; as root it makes members' OS accounts, removed when it stops."""

    assert PROXY.is_file(), "configurable-http-proxy is missing: `make test` installs it in .hub/"
    with _python_for_every_account():
        yield from _hub_running(cohort_copy, tmp_path, init_options)


def _hub_running(cohort_copy, tmp_path, init_options):
    import pwd

    accounts = {p.pw_name for p in pwd.getpwall()}
    port, service_port = _free_port(), _free_port()
    run = CliRunner()
    service_state, state = tmp_path / "service", tmp_path / "hub"
    # The class's content must be readable by the members' accounts, which pytest's own
    # temporary folder (0700) is not: a folder of /tmp opened to them, removed after.
    content = Path(tempfile.mkdtemp(prefix="workbench-class-", dir="/tmp"))
    content.chmod(0o755)
    api = f"http://127.0.0.1:{port}/hub/api"
    steps = [
        ["service", "init", cohort_copy, "--state", service_state, "--hub-api", api],
        ["hub", "init", "--state", state, "--service-state", service_state, "--port", port,
         "--service-port", service_port, "--proxy", PROXY, "--content", content / "content",
         "--courses", REPO / "courses", *init_options],
    ]  # fmt: skip
    for args in steps:
        done = run.invoke(main, [str(a) for a in args])
        assert done.exit_code == 0, done.output
    passwords = {}
    for name, role in (("student.ali", "learner"), ("teacher.berg", "trainer")):
        done = run.invoke(main, ["hub", "roster", "add", name, "--role", role, "--state", state])
        assert done.exit_code == 0, done.output
        passwords[name] = done.output.split(": ", 1)[1].split()[0]
    # A steward's token, to enrol the new learner once the hub (and so the service) runs
    from workbench.service import open_state

    steward_token = tmp_path / "steward.token"
    steward_token.write_text(open_state(service_state).issue_token("steward.larsen")[1])
    log = tmp_path / "hub.log"
    exe = Path(sys.executable).with_name("workbench")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [exe, "hub", "run", "--state", state], stdout=out, stderr=subprocess.STDOUT
        )
    base, service = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{service_port}"
    try:
        _wait_for(f"{base}/hub/api/", process, log)
        _wait_for(f"{service}/api/v1/health", process, log)
        # A learner joins the running class: on the roster, and a principal of the registry
        args = ["hub", "roster", "add", "student.bo", "--state", state, "--enrol-with",
                steward_token, "--sandbox"]  # fmt: skip
        done = run.invoke(main, [str(a) for a in args])
        assert done.exit_code == 0 and "enrolled in the registry" in done.output, done.output
        assert "teaching.sandbox granted to student.bo" in done.output
        passwords["student.bo"] = done.output.split(": ", 1)[1].split()[0]
        yield {"base": base, "service": service, "passwords": passwords, "state": state,
               "process": process, "log": log, "cohort": cohort_copy,
               "content": content / "content", "steward_token": steward_token}  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(content, ignore_errors=True)
        _remove_accounts({p.pw_name for p in pwd.getpwall()} - accounts)


def test_a_class_signs_in_to_the_hub_and_the_service_knows_each_by_their_hub_identity(hub):
    base, passwords = hub["base"], hub["passwords"]
    tokens = {}
    for name, password in passwords.items():
        http, answer = _login(base, name, password)
        assert answer.status_code == 302, f"{name} could not sign in"
        tokens[name] = (http, _hub_token(http, base, name))
    # Wrong passwords, and names not on the roster, do not get in
    assert _login(base, "student.ali", passwords["student.bo"])[1].status_code == 403
    assert _login(base, "student.cy", passwords["student.ali"])[1].status_code == 403
    # Roles: a learner acts as herself only; a trainer sees the class's users
    ali_http, ali_token = tokens["student.ali"]
    assert ali_http.get(f"{base}/hub/api/user", timeout=10).json()["roles"] == ["learner"]
    assert ali_http.get(f"{base}/hub/api/users", timeout=10).status_code == 403
    berg_http, berg_token = tokens["teacher.berg"]
    listed = berg_http.get(f"{base}/hub/api/users", timeout=10)
    assert listed.status_code == 200
    assert {u["name"] for u in listed.json()} >= {"student.ali", "student.bo", "teacher.berg"}
    # The data-access service, started by the hub, knows each user by their hub token
    ali = workbench.connect(hub["service"], token=ali_token)
    bo = workbench.connect(hub["service"], token=tokens["student.bo"][1])
    assert (ali.user, bo.user) == ("student.ali", "student.bo")
    # bo was enrolled with the teaching sandbox (course module 1 reads record-level); ali not
    assert len(bo.session(purpose=Teaching(sandbox=True)).samples()) > 0
    with pytest.raises(AccessDenied, match="sandbox entitlement"):
        ali.session(purpose=Teaching(sandbox=True))
    ali.record_attempt(course="genomic-medicine", exercise_id="m1.q1", response="a", correct=False)
    ali.record_attempt(course="genomic-medicine", exercise_id="m1.q1", response="b", correct=True)
    bo.record_attempt(course="genomic-medicine", exercise_id="m1.q1", response="d", correct=False)
    trainer = workbench.connect(hub["service"], token=berg_token)
    seen = trainer.class_attempts()
    assert seen.groupby("learner").size().to_dict() == {"student.ali": 2, "student.bo": 1}
    with pytest.raises(AccessDenied, match="only a trainer"):
        ali.class_attempts()
    # A class imported at once: enrolled with the steward's token, or told to ask for it
    for name, enrol in (("student.cy", []), ("student.dy", ["--enrol-with", hub["steward_token"]])):
        csv = hub["state"].parent / f"{name}.csv"
        csv.write_text(f"name,role\n{name},learner\n")
        args = ["hub", "roster", "import", csv, "--state", hub["state"], "--passwords-out",
                csv.with_suffix(".passwords"), *enrol]  # fmt: skip
        done = CliRunner().invoke(main, [str(a) for a in args])
        assert done.exit_code == 0, done.output
        assert ("enrolled in the registry" in done.output) == bool(enrol)
        password = csv.with_suffix(".passwords").read_text().splitlines()[1].split(",")[2]
        http, answer = _login(base, name, password)
        assert answer.status_code == 302
        tokens[name] = (http, _hub_token(http, base, name))
    assert workbench.connect(hub["service"], token=tokens["student.dy"][1]).user == "student.dy"
    with pytest.raises(AuthenticationError, match=r"student\.cy is not enrolled in the registry"):
        workbench.connect(hub["service"], token=tokens["student.cy"][1])
    # A learner taken off the roster cannot sign in again
    done = CliRunner().invoke(main, ["hub", "roster", "remove", "student.bo", "--state",
                                     str(hub["state"])])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert _login(base, "student.bo", passwords["student.bo"])[1].status_code == 403
    # The trainer's links, one per module and dashboard, lead into this hub
    done = CliRunner().invoke(main, ["hub", "links", "--state", str(hub["state"])])
    assert done.exit_code == 0, done.output
    link = f"{base}/hub/user-redirect/workbench/open/genomic-medicine/01_genome_and_variants"
    assert f"{link}.ipynb?ui=voila" in done.output and len(done.output.splitlines()) == 13 + 5
    # Nothing the hub logged names a password
    log = hub["log"].read_text()
    assert not any(p in log for p in passwords.values())


def test_stopping_the_hub_stops_its_proxy_and_the_service(hub):
    hub["process"].terminate()
    hub["process"].wait(timeout=60)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{hub['service']}/api/v1/health", timeout=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{hub['base']}/hub/api/", timeout=2)


def test_hub_set_up_mistakes_get_one_line_and_a_non_zero_exit(cohort_copy, tmp_path):
    run = CliRunner()
    service_state = tmp_path / "service"
    assert run.invoke(main, ["service", "init", str(cohort_copy), "--state",
                             str(service_state)]).exit_code == 0  # fmt: skip
    cases = [
        (["--proxy", str(PROXY)], "does not ask this hub who its users are"),
        (["--proxy", str(tmp_path / "no-proxy")], "no configurable-http-proxy found"),
        (["--proxy", str(PROXY), "--port", "70000"], "port must be a port number"),
        (["--proxy", str(PROXY), "--idle-timeout", "0"], "--idle-timeout must be a number"),
        (["--proxy", str(PROXY), "--courses", str(tmp_path)], "no courses in"),
    ]
    if os.geteuid() == 0:  # members' servers run as their own accounts, which must read it
        closed = tmp_path / "closed"
        closed.mkdir(mode=0o700)
        cases.append((["--proxy", str(PROXY), "--content", str(closed / "content")],
                      "learners' accounts could not read the content"))  # fmt: skip
    readable = Path(tempfile.mkdtemp(prefix="workbench-class-", dir="/tmp"))
    readable.chmod(0o755)

    def refused(extra, problem):
        args = ["hub", "init", "--state", str(tmp_path / "hub"), "--service-state",
                str(service_state), "--content", str(readable / "content"), *extra]  # fmt: skip
        done = run.invoke(main, args)
        assert done.exit_code != 0 and problem in done.output, done.output
        assert "Traceback" not in done.output and not (tmp_path / "hub" / "hub.json").exists()
        assert not (readable / "content").exists()

    try:
        python = unreachable_by_others(Path(sys.executable).resolve())
        if os.geteuid() == 0 and python is not None:  # as root, before the Python is opened
            refused(["--proxy", str(PROXY)], "could not run the workbench's Python")
        with _python_for_every_account():
            for extra, problem in cases:
                refused(extra, problem)
    finally:
        shutil.rmtree(readable)
    done = run.invoke(main, ["hub", "roster", "add", "student.ali", "--state", str(tmp_path)])
    assert done.exit_code != 0 and "not a hub's state folder" in done.output


def test_a_roster_name_cannot_be_someone_else_in_the_registry(hub, tmp_path):
    # The service takes a hub name as the principal's id: a learner named dr.jensen would
    # read as the clinician, a trainer named steward.larsen as the steward
    run, state = CliRunner(), str(hub["state"])
    for name, role, kind in (("dr.jensen", "learner", "clinician"),
                             ("steward.larsen", "trainer", "steward")):  # fmt: skip
        done = run.invoke(main, ["hub", "roster", "add", name, "--role", role, "--state", state])
        assert done.exit_code == 2, done.output
        assert f"{name} is a {kind} in the registry" in done.output
    csv = tmp_path / "class.csv"
    csv.write_text("name,role\nstudent.new,learner\ndr.jensen,learner\n")
    done = run.invoke(main, ["hub", "roster", "import", str(csv), "--state", state,
                             "--passwords-out", str(tmp_path / "pw.csv")])  # fmt: skip
    assert done.exit_code == 2 and "dr.jensen is a clinician" in done.output
    members = Roster(hub["state"]).members()
    assert "dr.jensen" not in members and "student.new" not in members  # all or none
    assert not (tmp_path / "pw.csv").exists()
    # … while a name already of the roster role's kind, or new to the registry, is fine
    assert run.invoke(main, ["hub", "roster", "add", "student.cy", "--state", state]).exit_code == 0


# -- single-user servers under the members' own OS accounts (root only) ----------------------
@pytest.fixture
def os_accounts():
    """The class's OS accounts, which the hub makes at each member's first sign-in.

    LocalProcessSpawner starts each member's server as their own account. Looking an account
    up before its member signed in is a KeyError; the hub fixture removes the accounts it made.
    """
    import os

    if os.geteuid() != 0:
        pytest.skip("OS accounts need root (CI runs as root)")
    return _Accounts(("student.ali", "student.bo", "teacher.berg"))


@contextlib.contextmanager
def _python_for_every_account():
    """Let other accounts run this test run's Python for the duration (root only).

    The interpreter may live under root's private home (0700): other accounts may traverse
    it (0711: no listing), as an administrator installs a Python every account can run.
    """
    import os

    opened = {}
    try:
        while os.geteuid() == 0:
            closed = unreachable_by_others(Path(sys.executable).resolve())
            if closed is None:
                break
            opened[closed] = stat.S_IMODE(closed.stat().st_mode)
            closed.chmod(opened[closed] | 0o011)
        yield
    finally:
        for folder, mode in opened.items():
            folder.chmod(mode)


def _remove_accounts(names) -> None:
    """Stop every process of these OS accounts, then remove them with their homes."""
    import os
    import pwd
    import signal

    for name in names:
        uid = pwd.getpwnam(name).pw_uid
        for _ in range(100):  # userdel refuses an account that still runs processes
            pids = _pids_of(uid)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        subprocess.run(["userdel", "-r", name], check=True, capture_output=True)
        shutil.rmtree(f"/home/{name}", ignore_errors=True)


class _Accounts:
    """The class's OS accounts by name, looked up when asked (the hub makes them)."""

    def __init__(self, names):
        self.names = tuple(names)

    def __iter__(self):
        return iter(self.names)

    def __getitem__(self, name):
        import pwd

        return pwd.getpwnam(name)

    def made(self):
        """The accounts that exist now."""
        import pwd

        found = {}
        for name in self.names:
            with contextlib.suppress(KeyError):
                found[name] = pwd.getpwnam(name)
        return found


def _pids_of(uid: int, needle: str = "") -> list[int]:
    """Processes of an OS account (read from /proc: no procps needed)."""
    import os

    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and os.stat(entry).st_uid == uid
                and needle.encode() in (entry / "cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pids


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_learners_server_runs_as_their_own_account_and_is_theirs_alone(os_accounts, hub):
    import os

    base, passwords = hub["base"], hub["passwords"]
    tokens = {n: _hub_token(_login(base, n, passwords[n])[0], base, n) for n in os_accounts}
    ali = {"Authorization": f"token {tokens['student.ali']}"}
    started = requests.post(f"{base}/hub/api/users/student.ali/server", headers=ali, timeout=60)
    assert started.status_code in (201, 202), started.text
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        model = requests.get(f"{base}/hub/api/users/student.ali", headers=ali, timeout=10).json()
        if model.get("servers", {}).get("", {}).get("ready"):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"ali's server did not start:\n{hub['log'].read_text()[-3000:]}")
    status = requests.get(f"{base}/user/student.ali/api/status", headers=ali, timeout=10)
    assert status.status_code == 200
    # … as her own OS account, in her own home
    (pid,) = _pids_of(os_accounts["student.ali"].pw_uid, "jupyterhub-singleuser")
    assert os.stat(f"/proc/{pid}").st_uid == os_accounts["student.ali"].pw_uid
    env = _environ(pid)
    assert env["HOME"] == os_accounts["student.ali"].pw_dir
    # … where notebooks reach the data-access service as her, with the server's own token
    assert env["WORKBENCH_SERVICE"] == hub["service"]
    assert (
        workbench.connect(hub["service"], token=env["JUPYTERHUB_API_TOKEN"]).user == "student.ali"
    )
    # Another learner cannot open her server, with his token or his browser session
    bo = {"Authorization": f"token {tokens['student.bo']}"}
    assert requests.get(f"{base}/user/student.ali/api/status", headers=bo,
                        timeout=10).status_code == 403  # fmt: skip
    bo_browser, _ = _login(base, "student.bo", passwords["student.bo"])
    peek = bo_browser.get(f"{base}/user/student.ali/api/contents", timeout=10)
    assert peek.status_code == 403, (peek.status_code, peek.url)
    # … nor can her account read the cohort: only the service's account does
    script = "open(__import__('sys').argv[1], 'rb')"
    registry = str(hub["cohort"] / "registry.sqlite")
    command = f'"{sys.executable}" -c "{script}" {registry}'
    tried = subprocess.run(
        ["su", "-s", "/bin/sh", "student.ali", "-c", command], capture_output=True, text=True
    )
    assert tried.returncode != 0 and "PermissionError" in tried.stderr
    # Stopping the hub stops her server too
    hub["process"].terminate()
    hub["process"].wait(timeout=60)
    for _ in range(40):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.25)
    assert not Path(f"/proc/{pid}").exists()


def test_an_idle_learners_server_is_stopped_and_her_files_stay(os_accounts, cohort_copy, tmp_path):
    # jupyterhub-idle-culler, a hub-managed service, stops servers idle past --idle-timeout
    options = ("--idle-timeout", "4", "--cull-every", "2")
    with _running_hub(cohort_copy, tmp_path, init_options=options) as hub:
        base = hub["base"]
        token = _hub_token(_login(base, "student.ali", hub["passwords"]["student.ali"])[0],
                           base, "student.ali")  # fmt: skip
        ali = {"Authorization": f"token {token}"}
        assert requests.post(f"{base}/hub/api/users/student.ali/server", headers=ali,
                             timeout=60).status_code in (201, 202)  # fmt: skip
        uid = os_accounts["student.ali"].pw_uid
        deadline, seen_running = time.monotonic() + 90, False
        while time.monotonic() < deadline:
            running = bool(_pids_of(uid, "jupyterhub-singleuser"))
            seen_running = seen_running or running
            servers = requests.get(f"{base}/hub/api/users/student.ali", headers=ali,
                                   timeout=10).json().get("servers", {})  # fmt: skip
            if seen_running and not servers and not running:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"not culled:\n{hub['log'].read_text()[-3000:]}")
        assert "Culling server" in hub["log"].read_text()
        assert Path(os_accounts["student.ali"].pw_dir).is_dir()
