"""Choosing where dask work runs: threads, processes, a local cluster, SLURM job scripts."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from workbench import compute
from workbench.errors import InputError


def _small_sum():
    x = da.from_array(np.arange(40_000, dtype=np.float64).reshape(200, 200), chunks=50)
    return (x @ x.T).sum()


def test_default_is_local_threads_and_the_handle_restores_the_previous_setting():
    with dask.config.set(scheduler="sync"):
        with compute.use() as handle:
            assert dask.config.get("scheduler") == "threads"
            assert handle.target == "threads" and handle.client is None
            with compute.use("processes"):
                assert dask.config.get("scheduler") == "processes"
            assert dask.config.get("scheduler") == "threads"
        assert dask.config.get("scheduler") == "sync"
    assert "closed" in repr(handle)


def test_close_without_a_previous_setting_removes_ours():
    before = dask.config.get("scheduler", None)
    handle = compute.use("threads")
    handle.close()
    handle.close()  # idempotent
    assert dask.config.get("scheduler", None) == before


@pytest.mark.parametrize("target", ["gpu", "http://10.0.0.5:8786", 42, "", object()])
def test_a_bad_target_is_refused(target):
    with pytest.raises(InputError, match="compute target"):
        compute.use(target)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_workers": 0}, "n_workers"), ({"threads_per_worker": 1.5}, "threads_per_worker")],
)
def test_local_cluster_arguments_are_checked_before_starting_anything(kwargs, match):
    with pytest.raises(InputError, match=match):
        compute.use("local", **kwargs)


@pytest.mark.slow
def test_a_local_cluster_computes_what_threads_compute():
    with compute.use("threads"):
        expected = float(_small_sum().compute())
    with compute.use("local", n_workers=1, threads_per_worker=1, memory_limit="1GiB") as local:
        assert local.client is not None and local.cluster is not None
        assert float(_small_sum().compute()) == expected
        # The same cluster reached through its address, as a remote scheduler would be.
        with compute.use(local.cluster.scheduler_address) as remote:
            assert remote.target.startswith("tcp://")
            assert float(_small_sum().compute()) == expected
        # And a client passed in is used as it is (and left open).
        with compute.use(local.client) as passed:
            assert float(_small_sum().compute()) == expected
        assert passed.client.status == "running"
    assert local.client.status == "closed"


def test_slurm_job_script_carries_the_requested_resources():
    cluster = compute.slurm_cluster(
        cores=8,
        memory="32GB",
        walltime="02:30:00",
        queue="compute",
        account="ngc-research",
        job_extra_directives=["--qos=normal", "--constraint=cpu"],
        local_directory="/scratch/$USER",
        interface="lo",
        job_script_prologue=["module load python/3.11"],
    )
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for expected in (
        "#SBATCH -p compute",
        "#SBATCH -A ngc-research",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH -t 02:30:00",
        "#SBATCH --qos=normal",
        "#SBATCH --constraint=cpu",
        "module load python/3.11",
    ):
        assert expected in lines, f"{expected!r} missing from:\n{script}"
    assert any(line.startswith("#SBATCH --mem=") for line in lines)
    worker = next(line for line in lines if "dask_worker" in line)
    assert "--nthreads 8" in worker
    assert "--local-directory /scratch/$USER" in worker
    assert "--interface lo" in worker


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cores": 0}, "cores"),
        ({"cores": 2, "processes": 4}, "processes"),
        ({"memory": 64}, "memory"),
    ],
)
def test_slurm_cluster_checks_its_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        compute.slurm_cluster(**kwargs)
