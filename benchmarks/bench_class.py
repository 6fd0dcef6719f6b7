"""A class under load: 25 learners sign in, spawn, open a module and answer, all at once.

``workbench hub run`` on 127.0.0.1 (JupyterHub, its proxy, the data-access service), a class of
learners on its roster and one trainer. Each simulated learner, in a thread of their own:

1. signs in through the hub's login form and makes a hub token (the hub's REST API);
2. asks for their server and waits until it is ready: **spawn time**;
3. follows the trainer's link to course module 7 (``/hub/user-redirect/workbench/open/…``):
   the hub's OAuth, the link extension copying the module into their home, and Voila running
   it in a kernel of their own until the page is rendered: **time to open a module**;
4. answers two exercises through the data-access service as themselves (what the exercise
   widgets do when Check is clicked).

Then the trainer reads the class's attempts (all of them, or it is an error), and the memory of
each learner's processes (server and kernel: proportional set size, so shared pages are
counted once across the class), of the hub's own (hub, proxy, service, culler) and of the
whole machine is read from /proc.
The peer, in the same run, is one learner alone on the idle hub: spawn and open times under
load are reported as ratios to it. Errors are counted, 0 expected.

Run as root, the hub makes each learner's OS account at first sign-in and starts their server
as it (LocalProcessSpawner); the benchmark removes the accounts ``wbload00`` … after. Otherwise
every server runs as the current account (SimpleLocalProcessSpawner), which measures the same.

    python benchmarks/bench_class.py               # 25 learners
    python benchmarks/bench_class.py --quick       # 5 learners
    python benchmarks/bench_class.py --learners 40
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
MODULE = "genomic-medicine/07_acmg_classification.ipynb"
COURSE = "genomic-medicine"
TRAINER = "teacher.berg"
TIMEOUT = 600


def emit(case, metric, value, unit):
    print(
        json.dumps(dict(benchmark="class", case=case, metric=metric, value=value, unit=unit)),
        flush=True,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def os_accounts(names):
    """Root only: the hub makes each member's OS account at first sign-in; removed after.

    The interpreter may live under root's home (0700): other accounts may traverse it (0711)
    while the benchmark runs, as an administrator installs a Python every account can run.
    """
    import pwd

    if os.geteuid() != 0:
        yield
        return
    existing = {p.pw_name for p in pwd.getpwall()}
    home = Path("/root")
    mode = home.stat().st_mode & 0o777
    try:
        home.chmod(mode | 0o011)
        yield
    finally:
        home.chmod(mode)
        for name in set(names) - existing:
            try:
                uid = pwd.getpwnam(name).pw_uid
            except KeyError:
                continue
            for _ in range(100):  # userdel refuses an account that still runs processes
                pids = [int(e.name) for e in Path("/proc").iterdir()
                        if e.name.isdigit() and _owner(e) == uid]  # fmt: skip
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, 9)
                time.sleep(0.1)
            subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


def _owner(entry: Path) -> int | None:
    try:
        return entry.stat().st_uid
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def running_hub(root: Path, learners: list[str]):
    """A class's hub; ``learners`` and the trainer join it (roster and registry) once it runs."""
    from click.testing import CliRunner

    from workbench.cli import main
    from workbench.synth.generate import ensure_cohort

    cohort = root / "cohort"
    shutil.copytree(ensure_cohort(REPO / "datasets" / "synthetic" / "tiny", preset="tiny"), cohort)
    port, service_port = _free_port(), _free_port()
    content = Path(tempfile.mkdtemp(prefix="workbench-class-", dir="/tmp"))
    content.chmod(0o755)
    api = f"http://127.0.0.1:{port}/hub/api"
    run = CliRunner()
    for args in (
        ["service", "init", cohort, "--state", root / "service", "--hub-api", api],
        ["hub", "init", "--state", root / "hub", "--service-state", root / "service",
         "--port", port, "--service-port", service_port, "--proxy", PROXY,
         "--content", content / "content", "--courses", REPO / "courses"],
    ):  # fmt: skip
        done = run.invoke(main, [str(a) for a in args])
        if done.exit_code:
            raise RuntimeError(done.output)
    from workbench.service import open_state

    steward = root / "steward.token"  # to enrol the class in the registry, as a steward does
    steward.write_text(open_state(root / "service").issue_token("steward.larsen")[1])
    log = root / "hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [Path(sys.executable).with_name("workbench"), "hub", "run", "--state", root / "hub"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        health = (f"{base}/hub/api/", f"http://127.0.0.1:{service_port}/api/v1/health")
        while not all(_answers(url) for url in health):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:])
            time.sleep(0.3)
        passwords = {}
        for name in [*learners, TRAINER]:
            role = "trainer" if name == TRAINER else "learner"
            args = ["hub", "roster", "add", name, "--role", role, "--state", root / "hub",
                    "--enrol-with", steward]  # fmt: skip
            done = run.invoke(main, [str(a) for a in args])
            if done.exit_code:
                raise RuntimeError(done.output)
            passwords[name] = done.output.split(": ", 1)[1].split()[0]
        yield base, f"http://127.0.0.1:{service_port}", passwords, proc
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        shutil.rmtree(content, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def sign_in(base: str, name: str, password: str) -> tuple[requests.Session, str]:
    """Through the hub's login form, as a browser does; then a hub token of one's own."""
    http = requests.Session()
    page = http.get(f"{base}/hub/login", timeout=60)
    xsrf = http.cookies.get("_xsrf") or re.search(r'name="_xsrf" value="([^"]+)"', page.text)[1]
    signed = http.post(
        f"{base}/hub/login",
        data={"username": name, "password": password, "_xsrf": xsrf},
        allow_redirects=False,
        timeout=60,
    )
    if signed.status_code != 302:
        raise RuntimeError(f"sign-in answered {signed.status_code}")
    made = http.post(f"{base}/hub/api/users/{name}/tokens", json={"note": "bench"},
                     headers={"X-XSRFToken": http.cookies.get("_xsrf")}, timeout=60)  # fmt: skip
    made.raise_for_status()
    return http, made.json()["token"]


def learner_visit(base: str, service: str, name: str, password: str) -> dict:
    """One learner's visit; returns its times (seconds) and the error, if any."""
    from workbench.service.client import connect

    out = {"name": name, "error": None}
    try:
        http, token = sign_in(base, name, password)
        auth = {"Authorization": f"token {token}"}
        t0 = time.perf_counter()
        started = requests.post(f"{base}/hub/api/users/{name}/server", headers=auth, timeout=120)
        if started.status_code not in (201, 202):
            raise RuntimeError(f"spawn answered {started.status_code}: {started.text[:200]}")
        while True:
            model = requests.get(f"{base}/hub/api/users/{name}", headers=auth, timeout=60).json()
            server = model.get("servers", {}).get("")
            if server is None:  # the hub gave up on it
                raise RuntimeError(f"the server did not start (see the hub's log): {model}")
            if server.get("ready"):
                break
            if time.perf_counter() - t0 > TIMEOUT:
                raise RuntimeError("the server did not start")
            time.sleep(0.25)
        out["spawn"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        link = f"{base}/hub/user-redirect/workbench/open/{MODULE}?ui=voila"
        opened = http.get(link, timeout=TIMEOUT)
        if opened.status_code != 200 or "Exercise m7.q1." not in opened.text:
            raise RuntimeError(f"the module answered {opened.status_code} at {opened.url}")
        if not opened.url.endswith(f"/user/{name}/voila/render/{MODULE}"):
            raise RuntimeError(f"the link led to {opened.url}")
        out["open"] = time.perf_counter() - t0
        me = connect(service, token=token)
        t0 = time.perf_counter()
        me.record_attempt(course=COURSE, exercise_id="m7.q1", response="a", correct=False)
        me.record_attempt(course=COURSE, exercise_id="m7.q1", response="b", correct=True)
        out["answer"] = (time.perf_counter() - t0) / 2
    except Exception as e:  # counted and reported, never hidden
        out["error"] = f"{type(e).__name__}: {e}"
    return out


def _pss(process: Path) -> float:
    """A process's proportional set size (MiB), from ``/proc/<pid>/smaps_rollup``."""
    rollup = (process / "smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)[1]) / 1024


def memory_by_user() -> dict[str, float]:
    """Proportional set size (MiB) of every process, summed by its ``JUPYTERHUB_USER``."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            prefix = b"JUPYTERHUB_USER="
            user = next((e[len(prefix) :].decode() for e in environ if e.startswith(prefix)), None)
            if user is None:
                continue
            pss = _pss(entry)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        totals[user] = totals.get(user, 0.0) + pss
    return totals


def machine_in_use() -> float:
    """MemTotal − MemAvailable (MiB): what the machine's processes hold."""
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kib = int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])
    return kib / 1024


def tree_pss(pid: int) -> float:
    """PSS (MiB) of a process and all its descendants (the hub, its proxy and services)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, TypeError):
            total += _pss(Path(f"/proc/{p}"))
    return total


def main(argv: list[str]) -> int:
    import signal

    # stopped from outside, it still stops the hub and removes the accounts it made
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    n = 5 if "--quick" in argv else 25
    if "--learners" in argv:
        n = int(argv[argv.index("--learners") + 1])
    if not PROXY.is_file():
        print("configurable-http-proxy is missing: run `make hub` first", file=sys.stderr)
        return 1
    names = [f"wbload{i:02d}" for i in range(n + 1)]  # wbload00 is the peer, alone
    case = f"{n} learners, module 7"
    spawner = "LocalProcessSpawner" if os.geteuid() == 0 else "SimpleLocalProcessSpawner"
    with (
        tempfile.TemporaryDirectory() as tmp,
        os_accounts([*names, TRAINER]),
        running_hub(Path(tmp), names) as (base, service, passwords, hub),
    ):
        idle, machine_idle = tree_pss(hub.pid), machine_in_use()
        alone = learner_visit(base, service, names[0], passwords[names[0]])
        if alone["error"]:
            print(f"the learner alone failed: {alone['error']}", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            visits = list(pool.map(lambda u: learner_visit(base, service, u, passwords[u]),
                                   names[1:]))  # fmt: skip
        wall = time.perf_counter() - t0
        memory, machine_loaded = memory_by_user(), machine_in_use()
        from workbench.service.client import connect

        _, token = sign_in(base, TRAINER, passwords[TRAINER])
        seen = connect(service, token=token).class_attempts()
    errors = [v for v in visits if v["error"]]
    ok = [v for v in visits if not v["error"]]
    emit(case, "spawner", spawner, "")
    emit(case, "errors", len(errors), "learners")
    for v in errors:
        print(f"{v['name']}: {v['error']}", file=sys.stderr)
    expected = 2 * (n + 1)
    emit(case, "attempts the trainer sees / recorded", f"{len(seen)}/{expected}", "")
    emit(case, "wall time, all learners from sign-in to answers", round(wall, 1), "s")
    if ok:
        for key, label in (("spawn", "spawn time"), ("open", "time to open module 7 in Voila")):
            times = sorted(v[key] for v in ok)
            emit(case, f"{label}, median", round(statistics.median(times), 2), "s")
            emit(case, f"{label}, slowest", round(times[-1], 2), "s")
            emit(case, f"{label}, median / one learner alone", round(
                statistics.median(times) / alone[key], 2), "x")  # fmt: skip
        emit(case, "answer recorded by the service, median", round(
            1000 * statistics.median(v["answer"] for v in ok), 1), "ms")  # fmt: skip
    per_learner = [memory[u] for u in names if u in memory]
    if per_learner:
        emit(case, "memory per learner (server + kernel, PSS), median",
             round(statistics.median(per_learner)), "MiB")  # fmt: skip
        emit(case, "memory per learner, largest", round(max(per_learner)), "MiB")
        emit(case, "memory of all learners", round(sum(per_learner)), "MiB")
    emit(case, "hub + proxy + service + culler, idle (PSS)", round(idle), "MiB")
    # PSS shares common pages among all their users, so under a class it is read machine-wide
    emit(case, "machine memory in use, hub idle", round(machine_idle), "MiB")
    emit(case, "machine memory in use, with the class", round(machine_loaded), "MiB")
    return 1 if errors or len(seen) != expected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
