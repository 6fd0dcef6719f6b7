"""The sequencing lab behind a session: a person's reads, and the genome they were read from.

:class:`Sequencing` is part of :class:`workbench.access.session.Session` (a mixin kept in its
own module). A clinician runs the pipeline (:func:`workbench.pipeline.steps.run_pipeline`) on
a treatment session rather than on the cohort folder: the session sequences each member of the
family it may see and returns the reads alone (gzipped FASTQ), and scores the calls against
the genomes the reads were simulated from. Each is one decided and audited record-level call,
so through the data-access service the genotype stores never reach the analyst's kernel.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["MAX_READ_PAIRS", "Sequencing", "region_calls"]

#: The most read pairs one call sequences (about 170 MB of reads in memory): far above a gene
#: panel at clinical depth, far below what would let one caller exhaust the service's memory.
MAX_READ_PAIRS = 500_000


def region_calls(store, sample_ids, people, contig: str, start: int, end: int):
    """``(variants, calls)`` of ``people`` over a region of a genotype store.

    ``sample_ids`` are the store's columns; ``calls`` is variants × people × 2 (int8).
    """
    variants = store.variants(contig=contig, region=(start, end))
    index = {p: i for i, p in enumerate(sample_ids)}
    cols = np.array([index[p] for p in people], dtype=np.int64)
    calls = store.calls_of(cols, contig=contig, region=(start, end))
    return variants.reset_index(drop=True), calls


class Sequencing:
    """The sequencing calls of a :class:`~workbench.access.session.Session`."""

    def reads(self, person: str, *, regions, seed: int, **options) -> dict:
        """Sequence one person this session may see: paired reads over ``regions``.

        Parameters
        ----------
        person
            Their id in care, their pseudonym otherwise (as :meth:`samples` lists them).
        regions
            Gene symbols and/or ``[contig, start, end]`` (1-based, inclusive).
        seed, **options
            The read model's options (:func:`workbench.synth.reads.simulate_reads`: depth,
            read_length, insert_mean, insert_sd, error_rate, indel_error_rate,
            duplicate_rate, adapter). A request for more than :data:`MAX_READ_PAIRS` read
            pairs is refused (:class:`InputError`, audited) before anything is made.

        Returns
        -------
        dict
            ``{"R1": bytes, "R2": bytes}``: gzipped FASTQ, read names carrying the person's
            label. :func:`~workbench.synth.reads.simulate_reads` given this session writes
            them to files.
        """
        query = {"person": person, "regions": _plain(regions), "seed": _plain(seed)}
        query.update(_plain(options))

        def compute(access, people):
            pid = self._resolve(person, people)
            label = self._labels([pid])[0]
            r1, r2 = self.cohort.sequence(
                pid, regions=regions, label=label, max_pairs=MAX_READ_PAIRS, seed=seed, **options
            )
            return {"R1": r1, "R2": r2}, 1

        out = self._call("reads", query, compute)
        return self._remember(out, kind="reads", record_level=True)

    def true_genotypes(self, *, gene: str | None = None, region=None) -> dict:
        """The genomes the reads are simulated from, of the people this session may see.

        As :meth:`genotypes` returns them, but without the calling noise: for members of the
        rare-disease families the simulated genotypes (``truth/genotypes.vcz``), for anyone
        else the calls. The pipeline's ``compare`` step scores its calls against these; they
        say nothing of which variant explains a case.
        """
        return self._calls_over("true_genotypes", gene, region, self.cohort.genomes)


def _plain(value):
    """``value`` as the audit log records it (JSON: tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InputError(f"{value!r} is not a plain value (a number, a string or a list of them)")
