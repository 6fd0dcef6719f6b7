"""Align reads with minimap2 (through mappy), mark duplicates, and measure coverage.

:func:`align` maps read pairs with minimap2's short-read preset, writes SAM records through
pysam (flags, mate fields, MAPQ, CIGAR with soft clips, ``NM``/``MD`` tags, a read group whose
``SM`` is the sample), then runs the usual samtools steps through pysam:
``fixmate -m`` → ``sort`` → ``markdup`` → ``index``. Reads are written pair by pair, so the
unsorted file is already name-grouped and needs no ``collate``. Only each read's primary
alignment is written (no secondary or supplementary records).

:func:`coverage` reports mean depth and the fraction of target bases reaching a minimum depth,
per gene (its canonical transcript's exons) and per exon, or per region, counting as
``samtools depth``/mosdepth do: every aligned base of a mapped, primary, non-duplicate,
QC-passing read, whatever its quality.

References
----------
Li H. Minimap2: pairwise alignment for nucleotide sequences. Bioinformatics 34:3094 (2018).
Danecek P et al. Twelve years of SAMtools and BCFtools. GigaScience 10:giab008 (2021).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, PipelineInputError
from .qc import _check_path, _iter_chunks

__all__ = ["MAX_PROPER_INSERT", "MIN_MAPPED_FRACTION", "align", "coverage"]

#: A pair is "proper" when its mates face each other on one contig at most this far apart.
MAX_PROPER_INSERT = 1000
#: Below this share of mapped reads :func:`align` concludes the reads are from elsewhere.
MIN_MAPPED_FRACTION = 0.2

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_BATCH = 2000


def _revcomp(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def _contigs_from_fai(fasta: Path) -> list[tuple[str, int]]:
    import pysam

    fai = Path(str(fasta) + ".fai")
    if not fai.is_file():
        try:
            pysam.faidx(str(fasta))
        except (pysam.utils.SamtoolsError, OSError) as e:
            raise PipelineInputError(
                f"{fasta} has no index {fai.name} and one could not be made ({e}); run "
                f"`samtools faidx {fasta}` where the folder is writable",
                path=fasta,
            ) from e
    contigs = []
    for line in fai.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) < 2:
            raise PipelineInputError(f"{fai} is not a FASTA index; delete it", path=fai)
        contigs.append((cols[0], int(cols[1])))
    return contigs


def _hit_fields(h) -> tuple:
    return (
        h.read_num,
        h.ctg,
        h.r_st,
        h.r_en,
        h.q_st,
        h.q_en,
        h.strand,
        h.cigar_str,
        h.NM,
        h.mapq,
        h.MD,
    )


class _Mapper:
    """Maps batches of pairs on worker threads (mappy releases the GIL while mapping)."""

    def __init__(self, aligner):
        self.aligner = aligner
        self.local = threading.local()

    def __call__(self, batch):
        import mappy

        buf = getattr(self.local, "buf", None)
        if buf is None:
            buf = self.local.buf = mappy.ThreadBuffer()
        out = []
        for rec in batch:
            if isinstance(rec, tuple):
                hits = self.aligner.map(rec[0].sequence, rec[1].sequence, buf=buf, MD=True)
            else:
                hits = self.aligner.map(rec.sequence, buf=buf, MD=True)
            primary = {}
            for h in hits:
                if h.is_primary and h.read_num not in primary:
                    primary[h.read_num] = _hit_fields(h)
            out.append(primary)
        return out


def _segment(header, tid, name, seq, qual, hit, mate_hit, read_num, paired, sample):
    import pysam

    a = pysam.AlignedSegment(header)
    a.query_name = name
    flag = 0
    if paired:
        flag |= 0x1 | (0x40 if read_num == 1 else 0x80)
    length = len(seq)
    if hit is not None:
        _, ctg, r_st, _, q_st, q_en, strand, cigar, nm, mapq, md = hit
        rev = strand == -1
        if rev:
            seq, qual = _revcomp(seq), qual[::-1]
            left, right = length - q_en, q_st
            flag |= 0x10
        else:
            left, right = q_st, length - q_en
        a.reference_id = tid[ctg]
        a.reference_start = r_st
        a.mapping_quality = mapq
        a.cigarstring = (f"{left}S" if left else "") + cigar + (f"{right}S" if right else "")
    else:
        flag |= 0x4
        a.reference_id = -1
        a.reference_start = -1
        a.mapping_quality = 0
    if paired:
        if mate_hit is not None:
            m_ctg, m_st, m_rev = mate_hit[1], mate_hit[2], mate_hit[6] == -1
            a.next_reference_id = tid[m_ctg]
            a.next_reference_start = m_st
            if m_rev:
                flag |= 0x20
            if hit is None:  # an unmapped read sits at its mate's position
                a.reference_id, a.reference_start = tid[m_ctg], m_st
            elif hit[1] == m_ctg:
                lo, hi = min(hit[2], m_st), max(hit[3], mate_hit[3])
                first = hit[2] < m_st or (hit[2] == m_st and read_num == 1)
                a.template_length = (hi - lo) if first else -(hi - lo)
                fwd, rev_ = (hit, mate_hit) if hit[6] == 1 else (mate_hit, hit)
                if hit[6] != mate_hit[6] and fwd[2] <= rev_[3] and hi - lo <= MAX_PROPER_INSERT:
                    flag |= 0x2
        else:
            flag |= 0x8
            if hit is not None:
                a.next_reference_id, a.next_reference_start = a.reference_id, a.reference_start
    a.flag = flag
    a.query_sequence = seq
    a.query_qualities = pysam.qualitystring_to_array(qual)
    tags = [("RG", sample)]
    if hit is not None:
        tags = [("NM", int(nm)), ("MD", md), *tags]
    a.set_tags(tags)
    return a


def align(
    reference_fasta,
    r1,
    r2=None,
    *,
    out_bam,
    sample: str,
    threads: int = 2,
    preset: str = "sr",
) -> Path:
    """Align reads to a reference; write a coordinate-sorted, duplicate-marked, indexed BAM.

    Parameters
    ----------
    reference_fasta : path
        The reference FASTA (``<cohort>/reference/genome.fa``). Its ``.fai`` index is created
        beside it when missing; the BAM header lists its contigs.
    r1, r2 : path
        FASTQ files (gzipped or plain); ``r2=None`` for single-end reads.
    out_bam : path
        The BAM to write; ``<out_bam>.bai`` is written beside it. Existing files are replaced,
        and only once everything succeeded.
    sample : str
        Sample name for the read group (``@RG ID:<sample> SM:<sample>``).
    threads : int
        Threads for mapping and sorting.
    preset : str
        minimap2 preset (``"sr"`` for short reads).

    Returns
    -------
    Path
        ``out_bam``.

    Raises
    ------
    PipelineInputError
        When the FASTA or reads are missing, empty, corrupt or mismatched, or fewer than
        :data:`MIN_MAPPED_FRACTION` of the reads align (reads from another reference).
    """
    import mappy
    import pysam

    fasta = Path(reference_fasta)
    if not fasta.is_file():
        raise PipelineInputError(
            f"reference FASTA {fasta} does not exist; pass <cohort>/reference/genome.fa",
            path=fasta,
        )
    paths = (_check_path(r1),) if r2 is None else (_check_path(r1), _check_path(r2))
    if not isinstance(sample, str) or not sample or any(c.isspace() for c in sample):
        raise InputError(f"sample must be a non-empty name without spaces, got {sample!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    contigs = _contigs_from_fai(fasta)
    aligner = mappy.Aligner(fn_idx_in=str(fasta), preset=preset, n_threads=threads)
    if not aligner:
        raise PipelineInputError(
            f"minimap2 could not index {fasta} with preset {preset!r}; check that it is a "
            "FASTA file and the preset a minimap2 preset such as 'sr'",
            path=fasta,
        )
    missing = sorted(set(aligner.seq_names) - {c for c, _ in contigs})
    if missing:
        raise PipelineInputError(
            f"{fasta}.fai does not list {missing}; delete the stale index and retry", path=fasta
        )
    header = pysam.AlignmentHeader.from_dict(
        {
            "HD": {"VN": "1.6", "SO": "unsorted", "GO": "query"},
            "SQ": [{"SN": c, "LN": n} for c, n in contigs],
            "RG": [{"ID": sample, "SM": sample, "LB": sample, "PL": "ILLUMINA"}],
            "PG": [
                {
                    "ID": "minimap2",
                    "PN": "minimap2",
                    "VN": getattr(mappy, "__version__", "unknown"),
                    "CL": f"mappy preset={preset}",
                }
            ],
        }
    )
    tid = {c: i for i, (c, _) in enumerate(contigs)}
    out_bam = Path(out_bam)
    out_bam.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_bam.name}.", suffix=".partial", dir=out_bam.parent))
    paired = len(paths) == 2
    try:
        raw = tmp / "raw.bam"
        n_reads = n_mapped = 0
        mapper = _Mapper(aligner)
        with (
            pysam.AlignmentFile(str(raw), "wbu", header=header) as out,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            for chunk in _iter_chunks(paths, None):
                batches = [chunk[i : i + _BATCH] for i in range(0, len(chunk), _BATCH)]
                for batch, results in zip(batches, pool.map(mapper, batches), strict=True):
                    for rec, hits in zip(batch, results, strict=True):
                        mates = rec if paired else (rec,)
                        name = mates[0].name.split()[0]
                        for num, m in enumerate(mates, 1):
                            hit = hits.get(num)
                            mate_hit = hits.get(3 - num) if paired else None
                            out.write(
                                _segment(
                                    header,
                                    tid,
                                    name,
                                    m.sequence,
                                    m.qualities,
                                    hit,
                                    mate_hit,
                                    num,
                                    paired,
                                    sample,
                                )
                            )
                            n_reads += 1
                            n_mapped += hit is not None
        if n_mapped < MIN_MAPPED_FRACTION * n_reads:
            raise PipelineInputError(
                f"only {n_mapped:,} of {n_reads:,} reads of {paths[0]} align to {fasta} "
                f"(expected at least {MIN_MAPPED_FRACTION:.0%}); the reads seem to come from "
                "another reference or organism — check which cohort they were simulated from",
                path=paths[0],
            )
        fixed, ordered, marked = tmp / "fixmate.bam", tmp / "sorted.bam", tmp / "marked.bam"
        # Intermediate files are uncompressed: they are read once, straight away.
        pysam.fixmate("-u", "-m", "--no-PG", str(raw), str(fixed), catch_stdout=False)
        pysam.sort(
            "--no-PG",
            "-l",
            "0",
            "-@",
            str(threads),
            "-T",
            str(tmp / "sort"),
            "-o",
            str(ordered),
            str(fixed),
            catch_stdout=False,
        )
        pysam.markdup(
            "--no-PG",
            "-@",
            str(threads),
            "-T",
            str(tmp / "markdup"),
            str(ordered),
            str(marked),
            catch_stdout=False,
        )
        pysam.index(str(marked))
        os.replace(marked, out_bam)
        os.replace(str(marked) + ".bai", str(out_bam) + ".bai")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_bam


# -- coverage --------------------------------------------------------------------------------


def _as_reference(reference):
    from ..genome import Reference

    if isinstance(reference, Reference):
        return reference
    if hasattr(reference, "reference") and isinstance(reference.reference, Reference):
        return reference.reference  # a Cohort
    if isinstance(reference, str | os.PathLike):
        folder = Path(reference)
        return Reference.read(folder.parent if folder.is_file() else folder)
    raise InputError(
        "reference must be a workbench.genome.Reference, a Cohort or a reference folder, "
        f"got {type(reference).__name__}"
    )


def _targets(ref, genes, regions) -> list[dict]:
    if genes is None and regions is None:
        genes = [g.symbol for g in ref.genes]
    if isinstance(genes, str):
        genes = [genes]
    rows = []
    for symbol in genes or ():
        gene = ref.gene(symbol)
        tx = gene.transcript
        exons = tx.exons_in_transcript_order()
        rows.append(
            {
                "level": "gene",
                "gene": gene.symbol,
                "exon": None,
                "contig": gene.contig,
                "segments": tuple(tx.exons),
            }
        )
        for rank, (s, e) in enumerate(exons, 1):
            rows.append(
                {
                    "level": "exon",
                    "gene": gene.symbol,
                    "exon": rank,
                    "contig": gene.contig,
                    "segments": ((s, e),),
                }
            )
    if isinstance(regions, tuple) and len(regions) == 3 and isinstance(regions[0], str):
        regions = [regions]
    for item in regions or ():
        if not (isinstance(item, Sequence) and len(item) == 3):
            raise InputError(f"each region must be a (contig, start, end) tuple, got {item!r}")
        contig, start, end = item
        if contig not in ref.contigs or not 1 <= int(start) <= int(end) <= ref.contigs[contig]:
            raise InputError(
                f"region {item!r} is not within the reference (1-based, inclusive; contigs "
                f"{', '.join(f'{c}:1-{n}' for c, n in ref.contigs.items())})"
            )
        rows.append(
            {
                "level": "region",
                "gene": None,
                "exon": None,
                "contig": contig,
                "segments": ((int(start), int(end)),),
            }
        )
    return rows


def coverage(bam, reference, *, genes=None, regions=None, min_depth: int = 20) -> pd.DataFrame:
    """Depth of coverage per gene and exon (and/or per region) from an indexed BAM.

    Parameters
    ----------
    bam : path
        A coordinate-sorted BAM with its ``.bai`` index (as :func:`align` writes).
    reference : Reference, Cohort or path
        Gene models and contig lengths; must match the BAM's contigs.
    genes : list of str, optional
        Gene symbols: one ``gene`` row (the canonical transcript's exons) and one ``exon``
        row per exon (numbered in transcript order). Default: every gene, unless ``regions``
        is given.
    regions : list of (contig, start, end), optional
        1-based inclusive regions, one ``region`` row each.
    min_depth : int
        Depth a base needs to count as covered.

    Returns
    -------
    DataFrame
        ``level, gene, exon, contig, start, end, bases, mean_depth, median_depth,
        min_observed, fraction_ge_min_depth``; ``attrs["min_depth"]`` holds ``min_depth``.
        Duplicates, secondary and QC-failed reads are not counted.

    Raises
    ------
    PipelineInputError
        When the BAM or its index is missing, or its contigs do not match the reference.
    """
    import pysam

    bam = Path(bam)
    if not bam.is_file():
        raise PipelineInputError(f"BAM {bam} does not exist; make one with align()", path=bam)
    if not Path(str(bam) + ".bai").is_file() and not bam.with_suffix(".bai").is_file():
        raise PipelineInputError(
            f"{bam} has no index ({bam.name}.bai); index it with pysam.index({str(bam)!r})",
            path=bam,
        )
    if isinstance(min_depth, bool) or not isinstance(min_depth, int) or min_depth < 0:
        raise InputError(f"min_depth must be a non-negative integer, got {min_depth!r}")
    ref = _as_reference(reference)
    targets = _targets(ref, genes, regions)
    try:
        handle = pysam.AlignmentFile(str(bam), "rb")
    except (OSError, ValueError) as e:
        raise PipelineInputError(f"cannot read BAM {bam}: {e}", path=bam) from e
    with handle:
        bam_contigs = dict(zip(handle.references, handle.lengths, strict=True))
        wrong = {c: n for c, n in bam_contigs.items() if ref.contigs.get(c) != n}
        if wrong or not bam_contigs:
            raise PipelineInputError(
                f"{bam} was aligned to another reference: its contigs "
                f"{dict(list(bam_contigs.items())[:5])} do not match the reference's "
                f"{dict(list(ref.contigs.items())[:5])}; align the reads to this reference",
                path=bam,
            )
        depth_of: dict[str, tuple[int, np.ndarray]] = {}
        for contig in dict.fromkeys(t["contig"] for t in targets):
            segs = [s for t in targets if t["contig"] == contig for s in t["segments"]]
            lo, hi = min(s for s, _ in segs), max(e for _, e in segs)
            if contig in bam_contigs:
                acgt = handle.count_coverage(
                    contig, lo - 1, hi, quality_threshold=0, read_callback="all"
                )
                depth = np.sum(np.asarray(acgt, dtype=np.int64), axis=0)
            else:
                depth = np.zeros(hi - lo + 1, np.int64)
            depth_of[contig] = (lo, depth)
    rows = []
    for t in targets:
        lo, depth = depth_of[t["contig"]]
        d = np.concatenate([depth[s - lo : e - lo + 1] for s, e in t["segments"]])
        rows.append(
            {
                "level": t["level"],
                "gene": t["gene"],
                "exon": t["exon"],
                "contig": t["contig"],
                "start": t["segments"][0][0],
                "end": t["segments"][-1][1],
                "bases": int(d.size),
                "mean_depth": float(d.mean()),
                "median_depth": float(np.median(d)),
                "min_observed": int(d.min()),
                "fraction_ge_min_depth": float((d >= min_depth).mean()),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "level",
            "gene",
            "exon",
            "contig",
            "start",
            "end",
            "bases",
            "mean_depth",
            "median_depth",
            "min_observed",
            "fraction_ge_min_depth",
        ],
    )
    table["exon"] = table["exon"].astype("Int64")
    table.attrs["min_depth"] = min_depth
    return table
