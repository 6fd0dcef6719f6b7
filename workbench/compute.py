"""Where dask work runs: local threads (the default), processes, a local cluster, a remote
dask.distributed scheduler, or an HPC cluster through SLURM.

>>> import workbench.compute as compute
>>> with compute.use("threads"):          # the default; returns to the previous setting on exit
...     pass
>>> handle = compute.use("local")          # doctest: +SKIP  (a LocalCluster on this machine)
>>> handle = compute.use("tcp://10.0.0.5:8786")  # doctest: +SKIP  (an existing scheduler)

The workbench does no distribution of its own: every dask computation of the analysis
functions (``pca`` on the national cohort, kinship over variant blocks …) runs on whatever
scheduler is selected here. See ``docs/compute.md`` for SLURM.
"""

from __future__ import annotations

import contextlib
import os

import dask

from .errors import ConfigurationError, InputError

__all__ = ["Compute", "slurm_cluster", "use"]

_LOCAL_NAMES = ("threads", "processes", "local")


class Compute:
    """The scheduler selected by :func:`use`; a context manager restoring the previous one.

    Attributes
    ----------
    target : str
        ``"threads"``, ``"processes"``, ``"local"`` or the scheduler address.
    client : distributed.Client or None
        The client, for ``"local"``, an address or a client you passed.
    cluster : distributed.LocalCluster or None
        The cluster started for ``"local"`` (closed by :meth:`close`).
    """

    def __init__(self, target: str, *, scheduler, client=None, cluster=None, owns_client=False):
        self.target = target
        self.client = client
        self.cluster = cluster
        self._owns_client = owns_client
        self._previous = dask.config.get("scheduler", None)
        self._closed = False
        dask.config.set(scheduler=scheduler)

    @property
    def dashboard_link(self) -> str | None:
        """The dask dashboard of a distributed client (when its dependencies are installed)."""
        return getattr(self.client, "dashboard_link", None) if self.client is not None else None

    def close(self) -> None:
        """Restore the previous scheduler; close the client and cluster started by :func:`use`."""
        if self._closed:
            return
        self._closed = True
        if self._previous is None:
            dask.config.config.pop("scheduler", None)
        else:
            dask.config.set(scheduler=self._previous)
        if self._owns_client and self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> Compute:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "active"
        return f"<Compute {self.target!r} {state}>"


def use(
    target=None,
    *,
    n_workers: int = 1,
    threads_per_worker: int | None = None,
    memory_limit: str | int = "4GiB",
    jobs: int = 1,
    timeout: float = 300.0,
) -> Compute:
    """Select where dask computations run, until the returned handle is closed.

    Parameters
    ----------
    target
        ``None`` or ``"threads"``: a local thread pool (the default; numpy releases the GIL,
        so this is usually fastest on one machine). ``"processes"``: a local process pool.
        ``"local"``: a :class:`distributed.LocalCluster` on this machine (its memory limit
        spills and restarts workers instead of exhausting the machine). ``"tcp://host:port"``
        (or ``tls://``): connect to a running ``dask scheduler``, e.g. one started by
        :func:`slurm_cluster`. A :class:`distributed.Client`: use it as it is. A dask cluster
        object such as :func:`slurm_cluster` returns: submit ``jobs`` worker jobs, wait for
        them, and compute there; closing the handle closes the cluster (cancelling its jobs).
    n_workers, threads_per_worker, memory_limit
        For ``"local"`` only. The defaults suit a 2-core laptop: one worker process using
        every core (``threads_per_worker=None`` → ``os.cpu_count()``), at most 4 GiB.
    jobs, timeout
        For a cluster object only: how many jobs to submit (``cluster.scale(jobs=…)``) and how
        many seconds to wait for all their workers before giving up with a
        :class:`~workbench.errors.ConfigurationError` (the jobs are cancelled then).

    Returns
    -------
    Compute
        Use it as a context manager (``with use("local"): …``) or call ``close()``.
    """
    if target is None or target == "threads":
        return Compute("threads", scheduler="threads")
    if target == "processes":
        return Compute("processes", scheduler="processes")
    if target == "local":
        return _local_cluster(n_workers, threads_per_worker, memory_limit)
    if isinstance(target, str) and target.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        distributed = _distributed()
        try:
            client = distributed.Client(target, set_as_default=False, timeout="10s")
        except OSError as e:
            raise ConfigurationError(
                f"could not reach a dask scheduler at {target}: {e}; check the address and that "
                "the scheduler is running (`dask scheduler` prints its address)"
            ) from e
        return Compute(target, scheduler=client, client=client, owns_client=True)
    if hasattr(target, "scale") and hasattr(target, "scheduler_address"):
        return _on_cluster(target, jobs=jobs, timeout=timeout)
    if hasattr(target, "scheduler_info") and hasattr(target, "submit"):
        address = getattr(getattr(target, "scheduler", None), "address", None) or "client"
        return Compute(str(address), scheduler=target, client=target)
    raise InputError(
        f"compute target must be None, 'threads', 'processes', 'local', a scheduler address "
        f"such as 'tcp://10.0.0.5:8786' or a distributed.Client; got {target!r}"
    )


def _distributed():
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ConfigurationError(
            "dask.distributed is not installed; `pip install distributed` to use a cluster"
        ) from e
    return distributed


def _on_cluster(cluster, *, jobs, timeout) -> Compute:
    """Submit ``jobs`` jobs to a dask cluster object (SLURM …) and wait for their workers."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a whole number >= 1, got {jobs!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    distributed = _distributed()
    client = distributed.Client(cluster, set_as_default=False)
    workers = jobs
    try:
        cluster.scale(jobs=jobs)
        # A SpecCluster job runs one worker per entry of its spec's group (dask-jobqueue's
        # `processes`); other cluster objects count one worker per job.
        workers = jobs * max(1, len(getattr(cluster, "new_spec", {}).get("group", ())))
        client.wait_for_workers(workers, timeout=timeout)
    except TimeoutError as e:
        _close_quietly(client, cluster)
        raise ConfigurationError(
            f"{workers} worker(s) did not start within {timeout:g} s of submitting {jobs} "
            "job(s); check the queue (`squeue -u $USER` shows each job's reason) and that the "
            "jobs' partition, memory and walltime fit the cluster"
        ) from e
    except BaseException:
        _close_quietly(client, cluster)
        raise
    return Compute(
        str(cluster.scheduler_address),
        scheduler=client,
        client=client,
        cluster=cluster,
        owns_client=True,
    )


def _close_quietly(*things) -> None:
    """Close each of ``things``; a failure to close must not hide the error being raised."""
    for thing in things:
        with contextlib.suppress(Exception):
            thing.close()


def _local_cluster(n_workers, threads_per_worker, memory_limit) -> Compute:
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise InputError(f"n_workers must be a whole number >= 1, got {n_workers!r}")
    if threads_per_worker is None:
        threads_per_worker = max(1, (os.cpu_count() or 2) // n_workers)
    if (
        isinstance(threads_per_worker, bool)
        or not isinstance(threads_per_worker, int)
        or threads_per_worker < 1
    ):
        raise InputError(
            f"threads_per_worker must be a whole number >= 1, got {threads_per_worker!r}"
        )
    distributed = _distributed()
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        memory_limit=memory_limit,
        processes=True,
        dashboard_address=None,
    )
    client = distributed.Client(cluster, set_as_default=False)
    return Compute("local", scheduler=client, client=client, cluster=cluster, owns_client=True)


def slurm_cluster(
    *,
    cores: int = 16,
    memory: str = "64GB",
    walltime: str = "04:00:00",
    queue: str | None = None,
    account: str | None = None,
    processes: int = 1,
    job_extra_directives: list[str] | tuple[str, ...] = (),
    local_directory: str | None = None,
    interface: str | None = None,
    log_directory: str | None = None,
    job_script_prologue: list[str] | tuple[str, ...] = (),
    **kwargs,
):
    """A :class:`dask_jobqueue.SLURMCluster`: each SLURM job runs dask workers.

    Constructing it starts a dask scheduler in this process but submits no job; call
    ``cluster.scale(jobs=N)`` (or ``cluster.adapt(maximum_jobs=N)``) to submit, then
    ``workbench.compute.use(Client(cluster))`` or ``use(cluster.scheduler_address)``.
    Inspect the batch script first with ``print(cluster.job_script())``.

    Parameters
    ----------
    cores
        CPU cores per job (``#SBATCH --cpus-per-task``).
    memory
        Memory per job (``#SBATCH --mem``), shared by its worker processes.
    walltime
        ``#SBATCH -t``; workers stop when the job ends, so allow for the whole analysis.
    queue
        The partition (``#SBATCH -p``).
    account
        The project to charge (``#SBATCH -A``).
    processes
        Worker processes per job; 1 (all cores as threads of one worker) suits numpy/BLAS
        work such as PCA and kinship.
    job_extra_directives
        More ``#SBATCH`` options, e.g. ``["--qos=normal", "--constraint=cpu"]``.
    local_directory
        Node-local scratch for spilled data, e.g. ``"$TMPDIR"`` or ``"/scratch/$USER"``.
    interface
        Network interface workers and scheduler bind to (e.g. ``"ib0"`` for InfiniBand);
        ``None`` lets dask choose.
    log_directory
        Where SLURM writes the jobs' output.
    job_script_prologue
        Shell lines run before the worker starts, e.g. ``["module load python",
        "source ~/venvs/workbench/bin/activate"]``.
    **kwargs
        Passed to :class:`dask_jobqueue.SLURMCluster` unchanged.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ConfigurationError(
            "dask-jobqueue is not installed; `pip install dask-jobqueue` to use SLURM"
        ) from e
    for name, value in (("cores", cores), ("processes", processes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    if processes > cores:
        raise InputError(f"processes ({processes}) cannot exceed cores ({cores})")
    for name, value in (("memory", memory), ("walltime", walltime)):
        if not isinstance(value, str) or not value:
            raise InputError(f"{name} must be a string such as '64GB' or '04:00:00', got {value!r}")
    options = dict(
        cores=cores,
        memory=memory,
        walltime=walltime,
        processes=processes,
        queue=queue,
        account=account,
        job_extra_directives=list(job_extra_directives),
        job_script_prologue=list(job_script_prologue),
        local_directory=local_directory,
        interface=interface,
        log_directory=log_directory,
    )
    # A random dashboard port: a fixed one collides on shared login nodes.
    scheduler_options = {"dashboard_address": ":0", **kwargs.pop("scheduler_options", {})}
    options.update(kwargs, scheduler_options=scheduler_options)
    return SLURMCluster(**{k: v for k, v in options.items() if v is not None})
