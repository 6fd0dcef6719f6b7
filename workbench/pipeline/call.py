"""Joint variant calling of a family with bcftools (through pysam), with hard filters.

:func:`call_variants` runs, in-process, the textbook short-read recipe on the sorted,
indexed, duplicate-marked BAMs of the members of one family::

    bcftools mpileup -f genome.fa -R regions.bed -a AD,DP   (reads flagged duplicate are skipped)
    bcftools call -m -v -a GQ --ploidy-file … -S sexes      (males are haploid on chrX/chrY)
    bcftools norm -f genome.fa -m -any                      (split multi-allelic, left-align)

then sets hard filters in the ``FILTER`` column (records are kept, not removed):

``LowQual``
    ``QUAL`` below ``min_qual``.
``LowDepth``
    a sample carrying an ALT allele was covered by fewer than ``min_depth`` reads.
``LowGQ``
    a sample carrying an ALT allele has a genotype quality below ``min_gq``.

The result is bgzipped and tabix-indexed. The header carries no dates, no command lines and
no paths, so the same reads and options give a byte-identical VCF.

References
----------
Danecek P et al. (2021) Twelve years of SAMtools and BCFtools. GigaScience 10:giab008.
Li H (2011) A statistical framework for SNP calling, mutation discovery, association mapping
and population genetical parameter estimation from sequencing data. Bioinformatics 27:2987.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import InputError, PipelineInputError

__all__ = [
    "FILTERS",
    "Region",
    "bam_sample",
    "call_variants",
    "gene_regions",
    "read_bed",
    "write_bed",
]

#: A genomic interval: contig, 1-based inclusive start and end.
Region = tuple[str, int, int]

#: FILTER ids this module sets, with the wording of their header line (``{}`` = threshold).
FILTERS = {
    "LowQual": "QUAL below {}",
    "LowDepth": "A sample carrying an ALT allele has FORMAT/DP below {}",
    "LowGQ": "A sample carrying an ALT allele has FORMAT/GQ below {}",
}

_HAPLOID_MALE = ("chrX", "chrY", "X", "Y")


# -- regions -------------------------------------------------------------------------------


def gene_regions(reference, genes: Iterable[str] | None = None, *, pad: int = 0) -> list[Region]:
    """The spans of ``genes`` (all genes when ``None``) widened by ``pad`` bases, merged.

    Parameters
    ----------
    reference : workbench.genome.Reference
    genes : iterable of str, optional
        Gene symbols. Unknown symbols raise :class:`~workbench.errors.InputError`.
    pad : int
        Bases added on both sides (clipped to the contig).

    Returns
    -------
    list of (contig, start, end)
        1-based inclusive, in reference contig order, overlapping spans merged.
    """
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise InputError(f"pad must be a non-negative integer, got {pad!r}")
    by_symbol = {g.symbol: g for g in reference.genes}
    if genes is None:
        chosen = list(by_symbol.values())
    else:
        names = [genes] if isinstance(genes, str) else list(genes)
        unknown = sorted(set(names) - set(by_symbol))
        if unknown:
            raise InputError(
                f"unknown gene(s) {', '.join(unknown)}; this reference has "
                f"{', '.join(sorted(by_symbol))}"
            )
        if not names:
            raise InputError("genes is empty; name at least one gene or pass None for all")
        chosen = [by_symbol[n] for n in dict.fromkeys(names)]
    order = {c: i for i, c in enumerate(reference.contigs)}
    spans = sorted(
        (
            (g.contig, max(1, g.start - pad), min(reference.contigs[g.contig], g.end + pad))
            for g in chosen
        ),
        key=lambda r: (order[r[0]], r[1], r[2]),
    )
    return _merge(spans)


def _merge(spans: Sequence[Region]) -> list[Region]:
    out: list[Region] = []
    for c, s, e in spans:
        if out and out[-1][0] == c and s <= out[-1][2] + 1:
            out[-1] = (c, out[-1][1], max(out[-1][2], e))
        else:
            out.append((c, s, e))
    return out


def write_bed(regions: Iterable[Region], path: str | os.PathLike) -> Path:
    """Write 1-based inclusive ``regions`` as a BED file (0-based half-open), atomically."""
    from ..io import atomic_file

    path = Path(path)
    with atomic_file(path, "w", encoding="utf-8") as f:
        for c, s, e in regions:
            f.write(f"{c}\t{int(s) - 1}\t{int(e)}\n")
    return path


def read_bed(path: str | os.PathLike) -> list[Region]:
    """Read a BED file back as 1-based inclusive ``(contig, start, end)`` tuples."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(f"regions file {path} does not exist", path=path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        parts = line.split("\t")
        try:
            c, s, e = parts[0], int(parts[1]) + 1, int(parts[2])
        except (IndexError, ValueError) as err:
            raise PipelineInputError(
                f"{path} line {n} is not BED (contig, start, end separated by tabs): {line!r}",
                path=path,
            ) from err
        out.append((c, s, e))
    return out


def _open_vcf(path, *args, **kwargs):
    """``pysam.VariantFile`` without htslib's header warnings on stderr (bcftools declares
    ``INFO/MQ`` as Integer, which htslib's sanity check reports on every open).

    A file opened for reading is checked first (:func:`check_vcf_records`): htslib ends the
    whole process on a record whose contig the header does not declare, which would kill a
    notebook's kernel without an exception.
    """
    import pysam

    mode = args[0] if args else kwargs.get("mode", "r")
    if "r" in mode:
        check_vcf_records(path)
    old = pysam.set_verbosity(0)
    try:
        return pysam.VariantFile(str(path), *args, **kwargs)
    finally:
        pysam.set_verbosity(old)


# -- input checks ---------------------------------------------------------------------------


def check_vcf_records(path: str | os.PathLike) -> None:
    """Check the fixed columns of every record of a VCF (plain or bgzipped) before htslib
    reads it: eight or more tab-separated columns, a whole-number POS, a contig the header
    declares (when it declares any).

    Raises
    ------
    PipelineInputError
        Naming the file, the line, the problem and the fix.
    """
    import gzip

    path = Path(path)
    contigs: set[str] = set()
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if line.startswith("##contig=<"):
                    fields = dict(
                        kv.split("=", 1)
                        for kv in line.strip()[len("##contig=<") : -1].split(",")
                        if "=" in kv
                    )
                    if "ID" in fields:
                        contigs.add(fields["ID"])
                    continue
                if line.startswith("#") or not line.strip():
                    continue
                cols = line.rstrip("\r\n").split("\t", 8)
                if len(cols) < 8:
                    raise PipelineInputError(
                        f"{path} line {n}: a VCF record needs 8 tab-separated columns (CHROM to "
                        f"INFO), found {len(cols)}; check the file is tab-separated and whole",
                        path=path,
                    )
                if not cols[1].isdigit():
                    raise PipelineInputError(
                        f"{path} line {n}: POS {cols[1]!r} is not a whole number; fix or remove "
                        "the record",
                        path=path,
                    )
                if contigs and cols[0] not in contigs:
                    raise PipelineInputError(
                        f"{path} line {n}: contig {cols[0]!r} is not declared in the header "
                        f"(##contig lines: {', '.join(sorted(contigs))}); add a ##contig line or "
                        "remove the record (bcftools reheader / bcftools view -t)",
                        path=path,
                    )
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise PipelineInputError(
            f"cannot read {path} as VCF: {e}; is it whole (re-copy it) and VCF or bgzipped VCF?",
            path=path,
        ) from e


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError as e:
        raise PipelineInputError(f"cannot open {path}: {e}", path=path) from e


def _fai_contigs(reference_fasta: Path) -> dict[str, int]:
    if not reference_fasta.is_file():
        raise PipelineInputError(
            f"reference FASTA {reference_fasta} does not exist; pass the cohort's "
            "reference/genome.fa",
            path=reference_fasta,
        )
    fai = reference_fasta.with_name(reference_fasta.name + ".fai")
    if not fai.is_file():
        raise PipelineInputError(
            f"reference FASTA {reference_fasta} has no index {fai.name}; create it with "
            "pysam.faidx(path) (samtools faidx)",
            path=fai,
        )
    out = {}
    for line in fai.read_text(encoding="utf-8").splitlines():
        name, length = line.split("\t")[:2]
        out[name] = int(length)
    return out


def bam_sample(bam: str | os.PathLike) -> str:
    """The sample name (``SM`` of the read groups) of a single-sample BAM."""
    import pysam
    import pysam.bcftools

    bam = Path(bam)
    try:
        with pysam.AlignmentFile(str(bam), "rb") as f:
            header = f.header.to_dict()
    except (OSError, ValueError) as e:
        raise PipelineInputError(f"{bam} is not a readable BAM file ({e})", path=bam) from e
    names = sorted({rg.get("SM") for rg in header.get("RG", []) if rg.get("SM")})
    if len(names) != 1:
        raise PipelineInputError(
            f"{bam} should have read groups naming exactly one sample (SM), found "
            f"{names or 'none'}; align with a read group such as @RG ID:x SM:P00003",
            path=bam,
        )
    return names[0]


def _check_bam(bam: Path, contigs: Mapping[str, int], reference_fasta: Path) -> str:
    import pysam

    if not bam.is_file():
        raise PipelineInputError(f"BAM {bam} does not exist", path=bam)
    if not any(
        p.is_file()
        for p in (
            bam.with_name(bam.name + ".bai"),
            bam.with_name(bam.name + ".csi"),
            bam.with_suffix(".bai"),
        )
    ):
        raise PipelineInputError(
            f"BAM {bam} has no index ({bam.name}.bai); index it with pysam.index(path) "
            "(samtools index) after sorting",
            path=bam,
        )
    sample = bam_sample(bam)
    with pysam.AlignmentFile(str(bam), "rb") as f:
        found = dict(zip(f.references, f.lengths, strict=True))
    if found != dict(contigs):
        differ = sorted(c for c in set(found) | set(contigs) if found.get(c) != contigs.get(c))[:5]
        raise PipelineInputError(
            f"BAM {bam} was aligned to another reference than {reference_fasta}: contigs "
            f"differ ({', '.join(differ)}); realign its reads to this reference",
            path=bam,
        )
    return sample


def _check_int(name: str, value, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def _check_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InputError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


# -- calling --------------------------------------------------------------------------------


def call_variants(
    reference_fasta: str | os.PathLike,
    bams: Sequence[str | os.PathLike],
    *,
    out_vcf: str | os.PathLike,
    regions: Sequence[Region] | str | os.PathLike,
    sexes: Mapping[str, str] | None = None,
    min_mapq: int = 20,
    min_baseq: int = 20,
    max_depth: int = 250,
    min_qual: float = 20.0,
    min_depth: int = 8,
    min_gq: int = 20,
) -> Path:
    """Call SNVs and indels jointly in the samples of ``bams``; write a filtered VCF.

    Parameters
    ----------
    reference_fasta : path
        The FASTA the BAMs were aligned to, with its ``.fai`` index.
    bams : sequence of path
        Sorted, indexed, single-sample BAMs (one read-group ``SM`` each; samples appear in
        the VCF in this order). Reads flagged as duplicates are ignored.
    out_vcf : path
        Output ``.vcf.gz``; its ``.tbi`` index is written beside it. Both appear only when
        complete.
    regions : sequence of (contig, start, end) or path to a BED file
        Where to call (1-based inclusive tuples, or a BED file).
    sexes : mapping of sample to ``"M"``/``"F"``, optional
        Males are called haploid on chrX and chrY (the synthetic X has no
        pseudo-autosomal region). Samples not named are diploid everywhere.
    min_mapq, min_baseq, max_depth
        ``bcftools mpileup`` ``-q``, ``-Q`` and ``-d``.
    min_qual, min_depth, min_gq
        Hard-filter thresholds (see the module docstring).

    Returns
    -------
    Path
        ``out_vcf``.

    Raises
    ------
    PipelineInputError
        A BAM or the reference is missing, unindexed, without a sample name, or the BAM
        was aligned to another reference; ``path`` names the file.
    InputError
        Options out of range, duplicate sample names.
    """
    import pysam

    reference_fasta = Path(reference_fasta)
    out_vcf = Path(out_vcf)
    if not str(out_vcf).endswith(".vcf.gz"):
        raise InputError(f"out_vcf must end with .vcf.gz, got {out_vcf}")
    min_mapq = _check_int("min_mapq", min_mapq)
    min_baseq = _check_int("min_baseq", min_baseq)
    max_depth = _check_int("max_depth", max_depth, 1)
    min_depth = _check_int("min_depth", min_depth)
    min_gq = _check_int("min_gq", min_gq)
    min_qual = _check_float("min_qual", min_qual)
    bams = [Path(b) for b in ([bams] if isinstance(bams, str | os.PathLike) else bams)]
    if not bams:
        raise InputError("bams is empty; pass the BAM of every family member")
    contigs = _fai_contigs(reference_fasta)
    samples = [_check_bam(b, contigs, reference_fasta) for b in bams]
    if len(set(samples)) != len(samples):
        raise InputError(f"two BAMs name the same sample: {samples}; each needs its own SM")
    sexes = dict(sexes or {})
    bad = {s: v for s, v in sexes.items() if v not in ("M", "F")}
    if bad:
        raise InputError(f"sexes must be 'M' or 'F', got {bad}")
    if isinstance(regions, str | os.PathLike):
        regions = read_bed(regions)
    regions = [(str(c), int(s), int(e)) for c, s, e in regions]
    unknown = sorted({c for c, _, _ in regions} - set(contigs))
    if unknown:
        raise InputError(f"regions name contigs not in the reference: {', '.join(unknown)}")
    if not regions:
        raise InputError("regions is empty; name at least one interval to call")

    out_vcf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".call.", dir=out_vcf.parent) as tmp:
        tmp = Path(tmp)
        bed = write_bed(regions, tmp / "regions.bed")
        (tmp / "sexes.txt").write_text(
            "".join(f"{s}\t{sexes.get(s, 'F')}\n" for s in samples), encoding="utf-8"
        )
        ploidy = "".join(f"{c}\t1\t{n}\tM\t1\n" for c, n in contigs.items() if c in _HAPLOID_MALE)
        (tmp / "ploidy.txt").write_text(ploidy + "*\t*\t*\tM\t2\n*\t*\t*\tF\t2\n")
        (tmp / "bams.txt").write_text("".join(f"{b.resolve()}\n" for b in bams))
        steps = [
            (
                "mpileup",
                ["--no-version", "-f", str(reference_fasta), "-R", str(bed), "-b",
                 str(tmp / "bams.txt"), "-q", str(min_mapq), "-Q", str(min_baseq),
                 "-d", str(max_depth), "-a", "FORMAT/AD,FORMAT/DP", "-Ou",
                 "-o", str(tmp / "pileup.bcf")],
            ),
            (
                "call",
                ["--no-version", "-m", "-v", "-a", "GQ", "--ploidy-file",
                 str(tmp / "ploidy.txt"), "-S", str(tmp / "sexes.txt"), "-Ou",
                 "-o", str(tmp / "calls.bcf"), str(tmp / "pileup.bcf")],
            ),
            (
                "norm",
                ["--no-version", "-f", str(reference_fasta), "-m", "-any", "-Ov",
                 "-o", str(tmp / "norm.vcf"), str(tmp / "calls.bcf")],
            ),
        ]  # fmt: skip
        for name, args in steps:
            quiet = pysam.set_verbosity(0)  # htslib's header warnings (INFO/MQ type)
            try:
                getattr(pysam.bcftools, name)(*args, catch_stdout=False)
            except pysam.utils.SamtoolsError as e:
                raise PipelineInputError(
                    f"bcftools {name} failed on {', '.join(map(str, bams))}: "
                    f"{str(e).strip()[-500:]}",
                    path=bams[0],
                ) from e
            finally:
                pysam.set_verbosity(quiet)
        staged = tmp / "out.vcf.gz"
        _filter(
            tmp / "norm.vcf",
            staged,
            regions=regions,
            min_qual=min_qual,
            min_depth=min_depth,
            min_gq=min_gq,
        )
        pysam.tabix_index(str(staged), preset="vcf", force=True)
        os.replace(staged, out_vcf)
        # The index is renamed after the VCF so it is never older than the file it indexes.
        shutil.move(str(staged) + ".tbi", str(out_vcf) + ".tbi")
    return out_vcf


def _filter(src: Path, dst: Path, *, regions, min_qual, min_depth, min_gq) -> None:
    import pysam

    spans: dict[str, list[tuple[int, int]]] = {}
    for c, s, e in regions:
        spans.setdefault(c, []).append((s, e))

    def inside(contig: str, pos: int) -> bool:
        return any(s <= pos <= e for s, e in spans.get(contig, ()))

    with _open_vcf(src) as vin:
        header = vin.header.copy()
        for rec in list(header.records):
            if rec.key == "reference" or rec.key.startswith("bcftools"):
                rec.remove()
        values = {"LowQual": f"{min_qual:g}", "LowDepth": min_depth, "LowGQ": min_gq}
        for fid, text in FILTERS.items():
            header.filters.add(fid, None, None, text.format(values[fid]))
        with pysam.VariantFile(str(dst), "wz", header=header) as vout:
            for rec in vin:
                if not inside(rec.chrom, rec.pos):
                    continue  # norm may left-shift an indel out of the called regions
                rec.translate(header)
                failed = []
                if rec.qual is not None and rec.qual < min_qual:
                    failed.append("LowQual")
                carriers = [
                    s for s in rec.samples.values() if any(a is not None and a > 0 for a in s["GT"])
                ]
                if any((s.get("DP") or 0) < min_depth for s in carriers):
                    failed.append("LowDepth")
                if any(s.get("GQ") is not None and s["GQ"] < min_gq for s in carriers):
                    failed.append("LowGQ")
                rec.filter.clear()
                for f in failed:
                    rec.filter.add(f)
                if not failed:
                    rec.filter.add("PASS")
                vout.write(rec)
