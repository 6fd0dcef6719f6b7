"""The cohort analytics on a real SLURM cluster (one node on 127.0.0.1), and what travels there.

The cluster is :class:`workbench._slurm_local.OneNodeSlurm`: Debian's ``slurm-wlm`` and
``munge``, which ``make test`` installs when run as root. Where they cannot run (not root, not
installed) the SLURM tests skip with the reason; on CI (``CI`` set) that is a failure instead,
so a broken install cannot pass unseen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import compute
from workbench._slurm_local import OneNodeSlurm, unavailable
from workbench.analysis.kernels import fused_stats
from workbench.analysis.qc import sample_qc, variant_qc
from workbench.analysis.structure import pca
from workbench.errors import ConfigurationError

_REASON = unavailable()


def _needs_slurm():
    if _REASON is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the SLURM tests, but: {_REASON}")
    pytest.skip(_REASON)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    _needs_slurm()
    with OneNodeSlurm(memory_mb=6000, folder=tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
    # Every daemon, job and worker it started is gone.
    left = subprocess.run(
        ["pgrep", "-f", f"{cluster.folder}|dask_worker"], capture_output=True, text=True
    )
    assert not left.stdout.strip(), f"left running after stop: {left.stdout}"


def _worker_cluster(slurm, tmp_path, **overrides):
    """A dask-jobqueue SLURMCluster of one-core worker jobs on the test node."""
    return slurm.worker_cluster(
        log_directory=tmp_path / "logs", local_directory=tmp_path / "scratch", **overrides
    )


@pytest.fixture(scope="module")
def research_cohort(tiny_cohort_path, tmp_path_factory):
    """A private copy of the tiny cohort: sessions write their audit log (conftest's rules)."""
    return Path(shutil.copytree(tiny_cohort_path, tmp_path_factory.mktemp("slurm-cohort") / "c"))


@pytest.fixture(scope="module")
def research_view(research_cohort):
    cohort = workbench.open_cohort(research_cohort)
    session = cohort.session(user="lab.researcher", purpose=workbench.Research(project="EPI-7"))
    return session.genotype_view()


def _analysis(view):
    """Variant and sample QC, fused statistics and PCA of a view: what notebook 05/06 compute."""
    variants = variant_qc(view)
    samples = sample_qc(view)
    vs, ss = fused_stats(view.genotypes(), populations=view.samples().population)
    coords, explained = pca(view.genotypes(), sample_ids=view.sample_ids, seed=1)
    return {
        "variants": variants,
        "samples": samples,
        "allele_counts": np.asarray(vs.allele_counts),
        "sample_het": np.asarray(ss.n_het),
        "pca": coords,
        "explained": explained,
    }


def _squeue(slurm) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%j %T"],
        env={**os.environ, **slurm.env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split("\n")


@pytest.mark.slow
def test_the_analysis_through_slurm_jobs_equals_the_local_run(slurm, research_view, tmp_path):
    import distributed

    with compute.use("threads"):
        local = _analysis(research_view)
    with compute.use(_worker_cluster(slurm, tmp_path), jobs=2, timeout=120) as handle:
        running = [line for line in _squeue(slurm) if line.startswith("dask-worker RUNNING")]
        assert len(running) == 2, f"expected two running worker jobs, squeue says {running}"
        with distributed.get_task_stream(handle.client) as stream:
            remote = _analysis(research_view)
        workers = {t["worker"] for t in stream.data}
        assert len(workers) == 2, f"tasks ran on {workers}, not on both SLURM workers"
    pd.testing.assert_frame_equal(remote["variants"], local["variants"])
    pd.testing.assert_frame_equal(remote["samples"], local["samples"])
    np.testing.assert_array_equal(remote["allele_counts"], local["allele_counts"])
    np.testing.assert_array_equal(remote["sample_het"], local["sample_het"])
    np.testing.assert_allclose(remote["explained"], local["explained"], rtol=1e-6)
    # Components are defined up to sign.
    a, b = remote["pca"].to_numpy(), local["pca"].to_numpy()
    signs = np.sign((a * b).sum(axis=0))
    np.testing.assert_allclose(a * signs, b, rtol=1e-5, atol=1e-6)
    assert list(remote["pca"].index) == research_view.sample_ids
    # Closing the handle ended the jobs (they pass through COMPLETING for a moment).
    deadline = time.monotonic() + 30
    while (queue := [line for line in _squeue(slurm) if line.strip()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not queue, f"worker jobs still queued after the handle was closed: {queue}"


@pytest.mark.slow
def test_jobs_that_cannot_start_give_a_clear_error_not_a_hang(slurm, tmp_path):
    # SLURM accepts the job but holds it for an hour: its worker never arrives.
    cluster = _worker_cluster(slurm, tmp_path, job_extra_directives=["--begin=now+3600"])
    with pytest.raises(ConfigurationError, match=r"did not start within 5 s.*squeue"):
        compute.use(cluster, jobs=1, timeout=5)
    assert cluster.status.name == "closed"


@pytest.mark.parametrize(("kwargs", "match"), [({"jobs": 0}, "jobs"), ({"timeout": 0}, "timeout")])
def test_cluster_arguments_are_checked(kwargs, match):
    class _Cluster:  # the duck type use() recognises; never scaled
        scheduler_address = "tcp://127.0.0.1:1"

        def scale(self, **_):
            raise AssertionError("scaled before the arguments were checked")

    with pytest.raises(workbench.errors.InputError, match=match):
        compute.use(_Cluster(), **kwargs)


def test_what_travels_to_workers_carries_no_key_and_no_identifier(research_view, research_cohort):
    """A view is decided and audited where the keys are; workers get chunk reads and columns.

    The dask graph of a view's genotypes is what a scheduler ships to SLURM workers. It must
    hold no key (the keyholder's, the project-pseudonym or the audit key), no internal id or
    pseudonym, and no way back to the registry.
    """
    graph = dict(research_view.genotypes().values.__dask_graph__())
    shipped = cloudpickle.dumps(graph)  # as distributed ships a graph
    for name in ("service/audit.key", "service/project-pseudonym.key"):
        key = json.loads((research_cohort / name).read_text())["key"]
        assert key.encode() not in shipped and bytes.fromhex(key) not in shipped, name
    keyholder = (research_cohort / "keyholder" / "pseudonym.key").read_text()
    secret = json.loads(keyholder)["key"]
    assert secret.encode() not in shipped and bytes.fromhex(secret) not in shipped
    cohort = workbench.open_cohort(research_cohort)
    for person in [*cohort.sample_ids, *research_view.sample_ids]:
        assert person.encode() not in shipped, "a person's id or pseudonym travels to workers"
    assert b"registry.sqlite" not in shipped
