"""A one-node SLURM cluster on 127.0.0.1, for the tests and benchmarks of :mod:`workbench.compute`.

:class:`OneNodeSlurm` writes a private configuration (``slurm.conf``, a munge key) into a
folder of its own, starts ``munged``, ``slurmctld`` and ``slurmd`` from Debian's
``slurm-wlm`` and ``munge`` packages bound to the loopback address on free ports, waits (for a
bounded time) until the node is idle, and on :meth:`~OneNodeSlurm.stop` ends every daemon it
started. Nothing under ``/etc`` or ``/run`` is read or written: the daemons, ``sbatch`` and
``squeue`` find the configuration through ``SLURM_CONF``, and munge's socket is named in
``AuthInfo``.

The node offers the machine's CPUs as one-CPU job slots (``select/cons_tres`` with
``CR_Core_Memory``), so a 2-core machine runs two single-core worker jobs side by side. Jobs
run as the user who started the cluster, which must be root (``slurmd`` launches job steps
through setuid/setgid); :func:`unavailable` says why a cluster cannot be started here.

This is test infrastructure, not a way to run a real site: a site's cluster has its own
controller, accounting and cgroup confinement (see ``docs/compute.md``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["OneNodeSlurm", "unavailable"]

_DAEMONS = ("munged", "slurmctld", "slurmd")
_CLIENTS = ("sbatch", "squeue", "sinfo", "scancel")


def unavailable() -> str | None:
    """Why a one-node cluster cannot start on this machine, or ``None`` if it can."""
    missing = [p for p in (*_DAEMONS, *_CLIENTS) if shutil.which(p) is None and not _sbin(p)]
    if missing:
        return (
            f"SLURM is not installed ({', '.join(missing)} missing); as root, "
            "`apt-get install slurm-wlm munge` (make test does this)"
        )
    if os.geteuid() != 0:
        return "slurmd must run as root to launch jobs; run the SLURM tests as root (CI does)"
    return None


def _sbin(name: str) -> str | None:
    for folder in ("/usr/sbin", "/sbin"):
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _which(name: str) -> str:
    path = shutil.which(name) or _sbin(name)
    if path is None:
        raise ConfigurationError(f"{name} is not installed; `apt-get install slurm-wlm munge`")
    return path


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class OneNodeSlurm:
    """A SLURM controller and one compute node on 127.0.0.1; a context manager.

    Parameters
    ----------
    cpus
        CPUs the node offers (default: this machine's).
    memory_mb
        Memory the node offers to jobs, in MB.
    folder
        Where configuration, state, logs and the munge key go (default: a new temporary
        folder, removed by :meth:`stop`).
    partition
        The partition's name (``#SBATCH -p``).
    timeout
        Seconds to wait for the node to become idle before giving up.

    Attributes
    ----------
    conf : pathlib.Path
        The ``slurm.conf``; ``env`` holds ``SLURM_CONF`` pointing at it.
    """

    def __init__(
        self,
        *,
        cpus: int | None = None,
        memory_mb: int = 4000,
        folder: str | os.PathLike | None = None,
        partition: str = "workbench",
        timeout: float = 30.0,
    ):
        self.cpus = int(cpus or os.cpu_count() or 1)
        self.memory_mb = int(memory_mb)
        self.partition = partition
        self.timeout = float(timeout)
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="workbench-slurm-"))
        self.conf = self.folder / "slurm.conf"
        self._pids: dict[str, Path] = {}
        self._previous_conf: str | None = None
        self._started = False

    @property
    def env(self) -> dict[str, str]:
        """Environment variables a SLURM client needs to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    # -- configuration ---------------------------------------------------------------------

    def _write_config(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "log", "munge"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        # munged insists on a private key and lets only its owner into the key's folder.
        (f / "munge").chmod(0o700)
        key = f / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        ctld_port, slurmd_port = _free_ports(2)
        self.conf.write_text(
            "\n".join(
                [
                    "# Written by workbench._slurm_local.OneNodeSlurm: one node on 127.0.0.1.",
                    "ClusterName=workbench-test",
                    "SlurmctldHost=localhost(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "AuthType=auth/munge",
                    "CryptoType=crypto/munge",
                    f"AuthInfo=socket={f / 'munge' / 'munge.sock'}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"StateSaveLocation={f / 'state'}",
                    f"SlurmdSpoolDir={f / 'spool'}",
                    f"SlurmctldPidFile={f / 'slurmctld.pid'}",
                    f"SlurmdPidFile={f / 'slurmd.pid'}",
                    f"SlurmctldLogFile={f / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={f / 'log' / 'slurmd.log'}",
                    # No cgroups: containers and CI machines seldom delegate them.
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MpiDefault=none",
                    "SwitchType=switch/none",
                    "SchedulerType=sched/backfill",
                    # Cores and memory are allocated separately, so single-core jobs share
                    # the node: each CPU is a job slot.
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "ReturnToService=2",
                    "SlurmdTimeout=30",
                    "InactiveLimit=0",
                    "MinJobAge=30",
                    "KillWait=5",
                    f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={self.memory_mb} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes=localhost Default=YES MaxTime=60 "
                    "State=UP",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def worker_cluster(self, *, log_directory, local_directory, **overrides):
        """A :func:`workbench.compute.slurm_cluster` of one-core worker jobs on this node.

        Scheduler and workers listen on the loopback address (a test host has no other) and
        the workers run this process's Python. ``overrides`` replace any option.
        """
        import sys

        from .compute import slurm_cluster

        options = dict(
            cores=1,
            processes=1,
            memory="1GB",
            walltime="00:10:00",
            queue=self.partition,
            python=sys.executable,
            log_directory=str(log_directory),
            local_directory=str(local_directory),
            scheduler_options={"host": "127.0.0.1"},
            worker_extra_args=["--host", "127.0.0.1"],
        )
        options.update(overrides)
        return slurm_cluster(**options)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> OneNodeSlurm:
        """Start munged, slurmctld and slurmd, and wait until the node is idle."""
        reason = unavailable()
        if reason:
            raise ConfigurationError(f"cannot start a one-node SLURM cluster: {reason}")
        self._write_config()
        self._previous_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.conf)
        self._started = True
        f = self.folder
        try:
            self._run(
                "munged",
                [
                    "--force",
                    f"--socket={f / 'munge' / 'munge.sock'}",
                    f"--key-file={f / 'munge' / 'munge.key'}",
                    f"--log-file={f / 'log' / 'munged.log'}",
                    f"--pid-file={f / 'munge' / 'munged.pid'}",
                    f"--seed-file={f / 'munge' / 'munged.seed'}",
                ],
                f / "munge" / "munged.pid",
            )
            self._run("slurmctld", ["-f", str(self.conf)], f / "slurmctld.pid")
            self._run("slurmd", ["-f", str(self.conf), "-N", "localhost"], f / "slurmd.pid")
            self._wait_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, daemon: str, args: list[str], pid_file: Path) -> None:
        proc = subprocess.run(
            [_which(daemon), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        self._pids[daemon] = pid_file
        if proc.returncode:
            raise ConfigurationError(
                f"{daemon} did not start (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[:300]}; see {self.folder / 'log'}"
            )

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                [_which("sinfo"), "-h", "-N", "-o", "%t"],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                check=False,
            )
            state = proc.stdout.strip()
            if proc.returncode == 0 and state == "idle":
                return
            time.sleep(0.25)
        raise ConfigurationError(
            f"the SLURM node did not become idle within {self.timeout:.0f} s (state "
            f"{state or 'unknown'!r}); see the logs in {self.folder / 'log'}"
        )

    def stop(self) -> None:
        """End every daemon this cluster started (slurmd first) and restore ``SLURM_CONF``."""
        if not self._started:
            return
        self._started = False
        if "slurmctld" in self._pids:
            self._cancel_jobs()
        for daemon in reversed(_DAEMONS):
            pid_file = self._pids.pop(daemon, None)
            if pid_file is not None:
                _terminate(pid_file)
        if self._previous_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self._previous_conf
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _cancel_jobs(self) -> None:
        """Cancel every job and wait (bounded) until none is left, so no worker outlives us."""
        env = {**os.environ, **self.env}
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [_which("scancel"), f"--partition={self.partition}"],
                env=env,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                proc = subprocess.run(
                    [_which("squeue"), "-h", "-o", "%i"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                )
                if proc.returncode or not proc.stdout.strip():
                    return
                time.sleep(0.25)

    def __enter__(self) -> OneNodeSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._started else "stopped"
        return f"<OneNodeSlurm cpus={self.cpus} partition={self.partition!r} {state}>"


def _terminate(pid_file: Path, *, timeout: float = 10.0) -> None:
    """SIGTERM the process named in ``pid_file``, then SIGKILL it if it outlives ``timeout``."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
