"""Compare a family's calls with the generator's truth: precision, recall, genotype concordance.

The truth is what the synthetic genomes really carry: the simulated genotypes of the family's
members (:attr:`Cohort.simulated`, before the cohort's calling noise) over the called regions
(simulated *and* planted variants), with sites where a member is homozygous reference dropped
for that member. Truth and calls are normalised the same way
(``bcftools norm -f genome.fa -m -any``: multi-allelic sites split, indels left-aligned) and
matched per sample on ``contig, pos, ref, alt``:

* **TP** – the sample carries the ALT allele in the truth and in a ``PASS`` call;
* **FN** – in the truth, but not among the ``PASS`` calls (missed or filtered);
* **FP** – a ``PASS`` call the truth does not have.

Genotype concordance is the fraction of TPs whose ALT dosage (0, 1 or 2 copies; males are
haploid on chrX) agrees. Each miss is given one reason, the first that applies:

``low_coverage``
    fewer than ``min_depth`` usable reads (mapped, primary, not duplicate, MAPQ ≥
    ``min_mapq``) cover the site in that sample's BAM;
``near_indel``
    a true indel of the family starts within ``indel_window`` bases (alignments near indels
    are often wrong);
``duplicate_heavy``
    more than ``max_duplicate_fraction`` of the reads at the site are marked duplicate;
``other``
    none of the above (for example a borderline genotype likelihood).

References
----------
Krusche P et al. (2019) Best practices for benchmarking germline small-variant calls in
human genomes. Nat Biotechnol 37:555–560 (TP/FP/FN definitions, stratification of errors).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, PipelineInputError
from ..genome.reference import fasta_path
from .call import Region, _open_vcf, read_bed

__all__ = [
    "MISS_REASONS",
    "Comparison",
    "calls_table",
    "compare_calls",
    "pileup_text",
    "public_parts",
    "truth_table",
    "variant_type",
    "write_truth_vcf",
]

#: Reasons a miss can be given, in the order they are tested.
MISS_REASONS = ("low_coverage", "near_indel", "duplicate_heavy", "other")

_KEY = ["sample", "contig", "pos", "ref", "alt"]
_TABLE_COLUMNS = [*_KEY, "type", "dosage", "ploidy", "gt"]


def variant_type(ref: str, alt: str) -> str:
    """``"SNV"`` when REF and ALT have the same length (MNVs count here), else ``"indel"``."""
    return "SNV" if len(ref) == len(alt) else "indel"


def _regions(regions) -> list[Region]:
    if isinstance(regions, str | os.PathLike):
        return read_bed(regions)
    out = [(str(c), int(s), int(e)) for c, s, e in regions]
    if not out:
        raise InputError("regions is empty; compare over at least one interval")
    return out


def _gt_string(alleles: Sequence[int]) -> str:
    return "/".join(str(a) for a in sorted(alleles))


# -- truth ------------------------------------------------------------------------------------


def _truth_blocks(source, samples: Sequence[str], regions: Sequence[Region]):
    """``(variants, genotypes of samples)`` per region, of the genomes the reads came from.

    From a cohort's genotype stores (in process), or from a session's audited
    :meth:`~workbench.access.session.Session.true_genotypes` (through the service too).
    """
    if callable(getattr(source, "true_genotypes", None)):
        for contig, start, end in regions:
            got = source.true_genotypes(region=[contig, start, end])
            absent = [s for s in samples if s not in got["samples"]]
            if absent:
                raise InputError(f"samples {absent} are not among the people this session sees")
            cols = [got["samples"].index(s) for s in samples]
            yield got["variants"], np.asarray(got["calls"])[:, cols, :]
        return
    known = set(source.sample_ids)
    missing = [s for s in samples if s not in known]
    if missing:
        raise InputError(f"samples {missing} are not in cohort {source.name!r}")
    store = source.genomes(samples)
    index = {s: i for i, s in enumerate(store.sample_ids)}
    cols = [index[s] for s in samples]
    for contig, start, end in regions:
        variants = store.variants(contig=contig, region=(start, end))
        gt = np.asarray(store.genotypes(contig=contig, region=(start, end)))
        yield variants, gt[:, cols, :]


def _raw_truth_records(source, samples: Sequence[str], regions: Sequence[Region]):
    """``(contig, pos, ref, alts, {sample: allele tuple})`` of sites a member carries."""
    seen = set()
    for variants, gt in _truth_blocks(source, samples, regions):
        for k, row in enumerate(variants.itertuples(index=False)):
            key = (row.contig, int(row.position), row.ref, row.alt)
            g = gt[k]
            if key in seen or not (g > 0).any():
                continue
            seen.add(key)
            calls = {s: tuple(int(a) for a in g[j] if a != -2) for j, s in enumerate(samples)}
            yield row.contig, int(row.position), row.ref, row.alt.split(","), calls


def public_parts(source):
    """The cohort (or remote cohort) whose public parts — reference, knowledge, name and
    version — a pipeline source reads: the cohort itself, or a session's cohort."""
    return source.cohort if callable(getattr(source, "true_genotypes", None)) else source


def write_truth_vcf(
    cohort,
    *,
    samples: Sequence[str],
    regions,
    out_vcf: str | os.PathLike,
) -> Path:
    """Write the true genotypes of ``samples`` over ``regions`` as a normalised VCF.

    ``cohort`` is a :class:`~workbench.Cohort`, or a session that may see ``samples`` (its
    audited ``true_genotypes``; in process or through the data-access service). Sites where
    every one of ``samples`` is homozygous reference are left out; the VCF is normalised like
    the calls (``bcftools norm -m -any`` against the cohort's reference), bgzipped and
    tabix-indexed.
    """
    import pysam
    import pysam.bcftools

    regions = _regions(regions)
    samples = list(samples)
    out_vcf = Path(out_vcf)
    reference = public_parts(cohort)
    ref = fasta_path(reference.public_folder / "reference")
    out_vcf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".truth.", dir=out_vcf.parent) as tmp:
        raw = Path(tmp) / "raw.vcf"
        with open(raw, "w", encoding="utf-8") as f:
            f.write("##fileformat=VCFv4.2\n")
            for c, n in reference.reference.contigs.items():
                f.write(f"##contig=<ID={c},length={n}>\n")
            f.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="True genotype">\n')
            f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t")
            f.write("\t".join(samples) + "\n")
            for contig, pos, r, alts, calls in _raw_truth_records(cohort, samples, regions):
                gts = ["/".join(str(a) for a in calls[s]) or "." for s in samples]
                f.write(f"{contig}\t{pos}\t.\t{r}\t{','.join(alts)}\t.\t.\t.\tGT\t")
                f.write("\t".join(gts) + "\n")
        staged = Path(tmp) / "truth.vcf.gz"
        try:
            pysam.bcftools.norm(
                "--no-version", "-f", str(ref), "-m", "-any", "-Oz", "-o", str(staged),
                str(raw), catch_stdout=False,
            )  # fmt: skip
        except pysam.utils.SamtoolsError as e:
            raise PipelineInputError(
                f"normalising the truth against {ref} failed: {str(e).strip()[-300:]}", path=ref
            ) from e
        pysam.tabix_index(str(staged), preset="vcf", force=True)
        os.replace(staged, out_vcf)
        os.replace(str(staged) + ".tbi", str(out_vcf) + ".tbi")
    return out_vcf


def _vcf_table(vcf: Path, *, samples=None, pass_only: bool, extra: bool) -> pd.DataFrame:

    if not vcf.is_file():
        raise PipelineInputError(f"VCF {vcf} does not exist", path=vcf)
    rows = []
    try:
        f = _open_vcf(vcf)
    except (OSError, ValueError) as e:
        raise PipelineInputError(f"{vcf} is not a readable VCF ({e})", path=vcf) from e
    with f:
        names = list(f.header.samples)
        use = names if samples is None else [s for s in samples if s in names]
        for rec in f:
            filt = ";".join(rec.filter.keys()) or "."
            if pass_only and filt != "PASS":
                continue
            for s in use:
                call = rec.samples[s]
                gt = [a for a in (call["GT"] or ()) if a is not None]
                if not gt or not any(a > 0 for a in gt):
                    continue
                row = {
                    "sample": s,
                    "contig": rec.chrom,
                    "pos": rec.pos,
                    "ref": rec.ref,
                    "alt": rec.alts[0],
                    "type": variant_type(rec.ref, rec.alts[0]),
                    "dosage": sum(a == 1 for a in gt),
                    "ploidy": len(gt),
                    "gt": _gt_string(gt),
                }
                if extra:
                    fmt = call.keys()
                    row.update(
                        filter=filt,
                        qual=float(rec.qual) if rec.qual is not None else np.nan,
                        dp=call["DP"] if "DP" in fmt and call["DP"] is not None else -1,
                        gq=call["GQ"] if "GQ" in fmt and call["GQ"] is not None else -1,
                    )
                rows.append(row)
    cols = _TABLE_COLUMNS + (["filter", "qual", "dp", "gq"] if extra else [])
    return pd.DataFrame(rows, columns=cols)


def truth_table(cohort, *, samples: Sequence[str], regions) -> pd.DataFrame:
    """The true non-reference genotypes of ``samples`` over ``regions``, normalised.

    Returns
    -------
    DataFrame
        One row per sample and ALT allele it carries: ``sample, contig, pos, ref, alt, type,
        dosage, ploidy, gt`` (``gt`` unphased, e.g. ``"0/1"``; ``"1"`` for a haploid male X).
    """
    with tempfile.TemporaryDirectory() as tmp:
        vcf = write_truth_vcf(
            cohort, samples=samples, regions=regions, out_vcf=Path(tmp) / "t.vcf.gz"
        )
        return _vcf_table(vcf, samples=list(samples), pass_only=False, extra=False)


def calls_table(vcf: str | os.PathLike, *, pass_only: bool = True) -> pd.DataFrame:
    """Non-reference genotypes in a (normalised) VCF, one row per sample and ALT allele.

    Columns as :func:`truth_table` plus ``filter, qual, dp, gq``; ``pass_only`` keeps records
    whose ``FILTER`` is ``PASS``.
    """
    return _vcf_table(Path(vcf), pass_only=pass_only, extra=True)


def _inside(table: pd.DataFrame, regions: Sequence[Region]) -> pd.Series:
    mask = pd.Series(False, index=table.index)
    for c, s, e in regions:
        mask |= (table["contig"] == c) & (table["pos"] >= s) & (table["pos"] <= e)
    return mask


# -- comparison -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_calls`.

    Attributes
    ----------
    metrics : DataFrame
        Indexed by ``type`` (``SNV``, ``indel``, ``all``): ``tp, fp, fn, precision, recall,
        f1, genotype_concordance``.
    misses : DataFrame
        One row per FN, FP or genotype mismatch (``kind`` ``FN``/``FP``/``GT``):
        ``sample, contig, pos, ref, alt, type, kind, truth_gt, call_gt, filter, depth,
        duplicate_fraction, reason``.
    matched : DataFrame
        Every truth or call row with its ``status`` (``TP``, ``FN``, ``FP``).
    """

    metrics: pd.DataFrame
    misses: pd.DataFrame
    matched: pd.DataFrame

    def summary(self) -> dict:
        """Plain numbers (for JSON and notebooks): ``{type: {metric: value}}``."""
        out = {}
        for t, row in self.metrics.iterrows():
            out[t] = {
                k: (int(v) if k in ("tp", "fp", "fn") else round(float(v), 6))
                for k, v in row.items()
            }
        return out


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def _metrics(matched: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for t in ("SNV", "indel", "all"):
        m = matched if t == "all" else matched[matched["type"] == t]
        tp = int((m["status"] == "TP").sum())
        fp = int((m["status"] == "FP").sum())
        fn = int((m["status"] == "FN").sum())
        p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = 2 * p * r / (p + r) if tp else float("nan")
        gt_ok = int(((m["status"] == "TP") & m["gt_match"].astype(bool)).sum())
        rows[t] = dict(
            tp=tp, fp=fp, fn=fn, precision=p, recall=r, f1=f1,
            genotype_concordance=_ratio(gt_ok, tp),
        )  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("type")


def _site_depths(bam: Path, contig: str, pos: int, min_mapq: int) -> tuple[int, float]:
    """Usable depth and duplicate fraction of the reads covering ``contig:pos`` (1-based)."""
    import pysam

    total = dups = usable = 0
    with pysam.AlignmentFile(str(bam), "rb") as f:
        for read in f.fetch(contig, pos - 1, pos):
            if read.is_unmapped or read.is_secondary or read.is_supplementary or read.is_qcfail:
                continue
            if (
                read.reference_end is None
                or not read.reference_start <= pos - 1 < read.reference_end
            ):
                continue
            total += 1
            if read.is_duplicate:
                dups += 1
            elif read.mapping_quality >= min_mapq:
                usable += 1
    return usable, (dups / total if total else 0.0)


def compare_calls(
    vcf: str | os.PathLike,
    cohort,
    *,
    regions,
    samples: Sequence[str] | None = None,
    bams: Mapping[str, str | os.PathLike] | None = None,
    truth_vcf: str | os.PathLike | None = None,
    min_depth: int = 10,
    min_mapq: int = 20,
    indel_window: int = 10,
    max_duplicate_fraction: float = 0.3,
) -> Comparison:
    """Precision, recall, F1 and genotype concordance of ``vcf`` against the cohort's truth.

    Parameters
    ----------
    vcf : path
        Calls from :func:`~workbench.pipeline.call.call_variants` (normalised, filtered).
    cohort : workbench.Cohort or session
        The cohort the reads were simulated from, or the session they were read through
        (:meth:`workbench.access.session.Session.true_genotypes` gives the truth).
    regions : sequence of (contig, start, end) or BED path
        The regions that were called; the truth is restricted to them.
    samples : sequence of str, optional
        Samples to compare (default: every sample in the VCF).
    bams : mapping of sample to BAM path, optional
        Used to explain misses (depth and duplicates at the site); without them every miss
        not near an indel is ``other``.
    truth_vcf : path, optional
        Also write the normalised truth there (bgzipped, indexed).
    min_depth, min_mapq, indel_window, max_duplicate_fraction
        Thresholds of the miss reasons (module docstring).

    Returns
    -------
    Comparison
    """

    vcf = Path(vcf)
    regions = _regions(regions)
    if not vcf.is_file():
        raise PipelineInputError(f"VCF {vcf} does not exist", path=vcf)
    with _open_vcf(vcf) as f:
        in_vcf = list(f.header.samples)
    samples = in_vcf if samples is None else list(samples)
    absent = [s for s in samples if s not in in_vcf]
    if absent:
        raise InputError(f"samples {absent} are not in {vcf} (it has {in_vcf})")
    if not 0 <= max_duplicate_fraction <= 1:
        raise InputError(f"max_duplicate_fraction must be in [0, 1], got {max_duplicate_fraction}")
    bams = {s: Path(p) for s, p in (bams or {}).items()}
    for s, p in bams.items():
        if not p.is_file():
            raise PipelineInputError(f"BAM {p} for sample {s} does not exist", path=p)

    if truth_vcf is not None:
        tv = write_truth_vcf(cohort, samples=samples, regions=regions, out_vcf=truth_vcf)
        truth = _vcf_table(tv, samples=samples, pass_only=False, extra=False)
    else:
        truth = truth_table(cohort, samples=samples, regions=regions)
    all_calls = calls_table(vcf, pass_only=False)
    all_calls = all_calls[all_calls["sample"].isin(samples) & _inside(all_calls, regions)]
    calls = all_calls[all_calls["filter"] == "PASS"]

    merged = truth.merge(calls, on=_KEY, how="outer", suffixes=("_truth", "_call"), indicator=True)
    status = merged["_merge"].map({"both": "TP", "left_only": "FN", "right_only": "FP"})
    matched = pd.DataFrame(
        {
            **{k: merged[k] for k in _KEY},
            "type": merged["type_truth"].fillna(merged["type_call"]),
            "status": status.astype(str),
            "truth_gt": merged["gt_truth"].fillna("0"),
            "call_gt": merged["gt_call"].fillna("."),
        }
    )
    matched["gt_match"] = (
        (merged["dosage_truth"] == merged["dosage_call"])
        & (merged["ploidy_truth"] == merged["ploidy_call"])
    ).to_numpy()
    matched = matched.sort_values(_KEY, kind="stable").reset_index(drop=True)
    metrics = _metrics(matched)

    # Filter column of calls that exist but did not pass (explains many FNs).
    filt = {tuple(r[k] for k in _KEY): r["filter"] for _, r in all_calls.iterrows()}
    indels = truth[truth["type"] == "indel"][["contig", "pos", "ref", "alt"]].drop_duplicates()
    indel_pos: dict[str, np.ndarray] = {
        c: np.sort(g["pos"].to_numpy()) for c, g in indels.groupby("contig")
    }

    rows = []
    wrong_gt = (matched["status"] == "TP") & ~matched["gt_match"]
    for _, r in matched[(matched["status"] != "TP") | wrong_gt].iterrows():
        kind = "GT" if r["status"] == "TP" else r["status"]
        key = tuple(r[k] for k in _KEY)
        depth, dup = (-1, float("nan"))
        if r["sample"] in bams:
            depth, dup = _site_depths(bams[r["sample"]], r["contig"], int(r["pos"]), min_mapq)
        near = indel_pos.get(r["contig"])
        is_near = False
        if near is not None and len(near):
            d = np.abs(near - int(r["pos"]))
            own = r["type"] == "indel"
            is_near = bool(((d <= indel_window) & ~(own & (d == 0))).any())
        if 0 <= depth < min_depth:
            reason = "low_coverage"
        elif is_near:
            reason = "near_indel"
        elif dup == dup and dup > max_duplicate_fraction:
            reason = "duplicate_heavy"
        else:
            reason = "other"
        rows.append(
            {
                **{k: r[k] for k in _KEY},
                "type": r["type"],
                "kind": kind,
                "truth_gt": r["truth_gt"],
                "call_gt": r["call_gt"],
                "filter": filt.get(key, "."),
                "depth": depth,
                "duplicate_fraction": round(dup, 4) if dup == dup else dup,
                "reason": reason,
            }
        )
    misses = pd.DataFrame(
        rows,
        columns=[
            *_KEY, "type", "kind", "truth_gt", "call_gt", "filter", "depth",
            "duplicate_fraction", "reason",
        ],
    )  # fmt: skip
    return Comparison(metrics=metrics, misses=misses, matched=matched)


# -- a look at the reads ------------------------------------------------------------------------


def pileup_text(
    bam: str | os.PathLike,
    reference,
    contig: str,
    pos: int,
    *,
    flank: int = 20,
    max_reads: int = 20,
) -> str:
    """A text pileup of the reads over ``contig:pos`` (1-based), as ``samtools tview`` shows it.

    One line per read (duplicates, secondary and unmapped reads left out; the first
    ``max_reads`` by start position): ``.`` / ``,`` a base matching the reference on the
    forward / reverse strand, ``ACGT`` / ``acgt`` a mismatch, ``*`` a deleted base, ``+``
    the base before an insertion, blank where the read does not reach. A ``^`` marks ``pos``.

    Parameters
    ----------
    bam : path
        Indexed BAM.
    reference : workbench.genome.Reference
    contig, pos
        The site to look at.
    flank : int
        Bases shown on each side.
    max_reads : int
        Reads shown at most (the header says how many cover the site).
    """
    import pysam

    bam = Path(bam)
    if not bam.is_file():
        raise PipelineInputError(f"BAM {bam} does not exist", path=bam)
    seq = reference.sequence(contig)
    if not 1 <= int(pos) <= len(seq):
        raise InputError(f"{contig}:{pos} is outside {contig} (1..{len(seq)})")
    lo, hi = max(1, int(pos) - flank), min(len(seq), int(pos) + flank)
    width = hi - lo + 1
    lines = []
    with pysam.AlignmentFile(str(bam), "rb") as f:
        reads = [
            r
            for r in f.fetch(contig, pos - 1, pos)
            if not (r.is_unmapped or r.is_secondary or r.is_supplementary or r.is_duplicate)
        ]
        sample = ",".join(sorted({rg.get("SM", "?") for rg in f.header.to_dict().get("RG", [])}))
    reads.sort(key=lambda r: (r.reference_start, r.query_name, r.is_read2))
    for r in reads[:max_reads]:
        row = [" "] * width
        query = r.query_sequence or ""
        pairs = r.get_aligned_pairs()
        last_ref = None
        for q, ref_pos in pairs:
            if ref_pos is None:  # insertion: mark the base before it
                if last_ref is not None and lo - 1 <= last_ref <= hi - 1:
                    row[last_ref - lo + 1] = "+"
                continue
            last_ref = ref_pos
            if not lo - 1 <= ref_pos <= hi - 1:
                continue
            if q is None:
                ch = "*"
            else:
                base = query[q]
                if base == seq[ref_pos]:
                    ch = "," if r.is_reverse else "."
                else:
                    ch = base.lower() if r.is_reverse else base
            row[ref_pos - lo + 1] = ch
        lines.append("".join(row).rstrip())
    marker = " " * (int(pos) - lo) + "^"
    head = (
        f"{sample} {contig}:{lo}-{hi}, site {contig}:{pos}: {len(reads)} reads cover it"
        f"{f', {max_reads} shown' if len(reads) > max_reads else ''}"
    )
    return "\n".join([head, seq[lo - 1 : hi], marker, *lines]) + "\n"
