"""How far the workbench's annotator agrees with an independent one (bcftools csq).

:func:`compare_with_bcftools_csq` annotates the sites of a VCF with
:func:`workbench.genome.annotate.annotate` and with ``bcftools csq`` (pysam's bcftools, each
record on its own: ``--local-csq``), maps csq's terms to Sequence Ontology terms, and returns
one row per (variant, gene) with both most severe terms, both protein changes and a
``category`` for every disagreement. :func:`summarise` gives the agreement figures the
annotation benchmark prints. bcftools csq reports nothing for intergenic variants, and only
genes of biotype ``protein_coding``; those rows are left out of the comparison.

References
----------
Danecek P, McCarthy SA (2017) BCFtools/csq: haplotype-aware variant consequences.
Bioinformatics 33:2037–2039.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from ._sequence import AA3
from .annotate import CONSEQUENCES, annotate, most_severe

__all__ = [
    "CSQ_TO_SO",
    "EXPLAINED",
    "SNPEFF_TO_SO",
    "compare_with_bcftools_csq",
    "compare_with_snpeff",
    "designed_variants",
    "summarise",
    "write_gtf",
    "write_sites",
]

#: bcftools csq's consequence names → Sequence Ontology terms.
CSQ_TO_SO = {
    "intron": "intron_variant",
    "synonymous": "synonymous_variant",
    "missense": "missense_variant",
    "stop_gained": "stop_gained",
    "stop_lost": "stop_lost",
    "start_lost": "start_lost",
    "stop_retained": "stop_retained_variant",
    "start_retained": "start_retained_variant",
    "frameshift": "frameshift_variant",
    "inframe_deletion": "inframe_deletion",
    "inframe_insertion": "inframe_insertion",
    "inframe_altering": "inframe_deletion",  # a delins of whole codons; ranked alike
    "splice_donor": "splice_donor_variant",
    "splice_acceptor": "splice_acceptor_variant",
    "splice_region": "splice_region_variant",
    "5_prime_utr": "5_prime_UTR_variant",
    "3_prime_utr": "3_prime_UTR_variant",
    "coding_sequence": "coding_sequence_variant",
    # csq's one term for any base of a non-coding transcript, exon or intron
    "non_coding": "non_coding_transcript_variant",
}
_ONE = {v: k for k, v in AA3.items()}


def _csq_terms(text: str) -> list[str]:
    return [CSQ_TO_SO.get(t.lstrip("*"), t) for t in text.split("&") if t]


def _csq_protein(text: str) -> str | None:
    """csq's ``11Y>11H`` (or ``11Y``) as ``11Y>H``; ``None`` when there is none."""
    if not text or ">" not in text:
        return None
    left, right = text.split(">", 1)
    digits = "".join(ch for ch in right if ch.isdigit())
    return f"{left}>{right[len(digits) :]}"


def _our_protein(hgvs_p: str | None) -> str | None:
    """``p.(Tyr11His)`` as ``11Y>H``, ``p.(Arg41Ter)`` as ``41R>*``; other forms → ``None``."""
    if not hgvs_p or not hgvs_p.startswith("p.(") or "=" in hgvs_p:
        return None
    body = hgvs_p[3:-1]
    ref, rest = body[:3], body[3:]
    digits = "".join(ch for ch in rest if ch.isdigit())
    alt = rest[len(digits) :]
    if not digits or (alt not in _ONE and alt != "Ter"):
        return None
    return f"{digits}{_ONE.get(ref, '?')}>{'*' if alt == 'Ter' else _ONE[alt]}"


def _ours(vcf: Path, reference) -> pd.DataFrame:
    import pysam

    rows = []
    with pysam.VariantFile(str(vcf)) as f:
        for rec in f:
            for alt in rec.alts or ():
                anns = [a for a in annotate(reference, rec.chrom, rec.pos, rec.ref, alt) if a.gene]
                by_gene: dict[str, list] = {}
                for a in anns:
                    by_gene.setdefault(a.gene, []).append(a)
                for gene, group in by_gene.items():
                    terms = [t for a in group for t in a.consequences]
                    # the protein change on the gene's MANE Select / canonical transcript
                    coding = sorted(
                        (a for a in group if a.hgvs_p),
                        key=lambda a: (not a.mane_select, not a.canonical),
                    )
                    rows.append((rec.chrom, rec.pos, rec.ref, alt, gene, most_severe(terms),
                                 "&".join(sorted(set(terms))),
                                 _our_protein(coding[0].hgvs_p) if coding else None,
                                 coding[0].transcript if coding else None))  # fmt: skip
    columns = ["contig", "pos", "ref", "alt", "gene", "ours", "ours_terms", "ours_p", "ours_tx"]
    return pd.DataFrame(rows, columns=columns)


_CSQ = "import sys; from pysam import bcftools; sys.stdout.write(bcftools.csq(*sys.argv[1:]))"


def _bcftools(vcf: Path, fasta: Path, gff3: Path, transcripts=None) -> pd.DataFrame:
    """csq's most severe term and protein change per (variant, gene), from its entries for
    ``transcripts`` only (ids without version) when given: a transcript our reader refuses
    (an incomplete CDS, say) is not compared."""
    import subprocess
    import sys

    # pysam runs bcftools' main() in-process, and csq keeps static state between calls (a
    # second file is checked against the first one's last position): a process per call.
    proc = subprocess.run(
        [sys.executable, "-c", _CSQ, "--local-csq", "-f", str(fasta), "-g", str(gff3),
         "-s", "-", "-Ov", str(vcf)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode:
        raise RuntimeError(f"bcftools csq failed: {proc.stderr.strip()[-500:]}")
    out = proc.stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        chrom, pos, _, ref, alt, _, _, info = line.split("\t", 8)[:8]
        bcsq = next((kv[5:] for kv in info.split(";") if kv.startswith("BCSQ=")), None)
        if bcsq is None:
            continue
        by_gene: dict[str, tuple[list, dict]] = {}
        for entry in bcsq.split(","):
            parts = entry.split("|")
            if parts[0].startswith("@") or len(parts) < 2:
                continue  # a pointer to another record's compound consequence
            if (transcripts is not None and len(parts) > 2 and parts[2]
                    and parts[2].split(".")[0] not in transcripts):  # fmt: skip
                continue
            terms, proteins = by_gene.setdefault(parts[1], ([], {}))
            terms += _csq_terms(parts[0])
            protein = _csq_protein(parts[5]) if len(parts) > 5 else None
            if protein:
                proteins.setdefault(parts[2].split(".")[0] if len(parts) > 2 else "", protein)
        for gene, (terms, proteins) in by_gene.items():
            known = [t for t in terms if t in CONSEQUENCES]
            rows.append((chrom, int(pos), ref, alt.split(",")[0], gene,
                         most_severe(known) if known else "+".join(terms),
                         next(iter(proteins.values()), None), proteins))  # fmt: skip
    columns = ["contig", "pos", "ref", "alt", "gene", "theirs", "theirs_p", "theirs_p_by_tx"]
    return pd.DataFrame(rows, columns=columns)


#: Why the annotators differ, for the differences understood (see the benchmark's report).
EXPLAINED = {
    # Where we follow VEP (Ensembl's VariationEffect.pm) or the Sequence Ontology and csq
    # does not. Keyed by (our most severe term, csq's).
    ("stop_gained", "frameshift_variant"): "a frameshift whose changed codons read a stop: "
    "VEP reports stop_gained and frameshift_variant, stop_gained ranked first; csq names one",
    ("frameshift_variant", "splice_donor_variant"): "an insertion at the exon-intron junction: "
    "the GT is unchanged, so no splice-site term (SO; VEP's overlap test agrees); csq judges "
    "by position",
    ("frameshift_variant", "splice_acceptor_variant"): "an insertion at the intron-exon "
    "junction: the AG is unchanged, so no splice-site term (SO, VEP); csq judges by position",
    ("inframe_insertion", "splice_donor_variant"): "as above, an in-frame insertion at the "
    "junction",
    ("inframe_insertion", "splice_acceptor_variant"): "as above, an in-frame insertion at the "
    "junction",
    ("stop_gained", "splice_donor_variant"): "as above, an insertion at the junction that "
    "makes a stop",
    ("stop_gained", "splice_acceptor_variant"): "as above, an insertion at the junction that "
    "makes a stop",
    ("splice_region_variant", "splice_donor_variant"): "as above, an insertion at the junction "
    "of a UTR exon",
    ("splice_region_variant", "splice_acceptor_variant"): "as above, an insertion at the "
    "junction of a UTR exon",
    ("splice_donor_variant", "5_prime_UTR_variant"): "a deletion across a UTR exon's junction "
    "that removes bases of the GT: the site is changed (SO, VEP); csq names the UTR part only",
    ("splice_acceptor_variant", "5_prime_UTR_variant"): "a deletion across a UTR exon's "
    "junction that removes bases of the AG: the site is changed (SO, VEP); csq names the UTR "
    "part only",
    ("start_retained_variant", "start_lost"): "the mutated transcript still holds the whole CDS "
    "from its ATG (SO start_retained_variant); csq judges by position",
    ("start_retained_variant", "frameshift_variant"): "as above; csq calls it a frameshift",
    ("5_prime_UTR_variant", "start_retained_variant"): "a deletion in the 5' UTR beside the ATG, "
    "which stays where it was: only the UTR changes (VEP); csq calls it start_retained",
    ("stop_retained_variant", "inframe_insertion"): "inserted bases after the first stop base "
    "that keep the stop codon: the protein is unchanged (VEP stop_retained_variant)",
    ("stop_retained_variant", "frameshift_variant"): "an insertion inside the stop codon that "
    "keeps a stop there: the protein is unchanged, so VEP calls it stop_retained_variant and "
    "never a frameshift; csq judges by length",
    ("stop_retained_variant", "stop_gained"): "a stop codon inserted just before the old one: "
    "the protein is unchanged (VEP stop_retained_variant); csq calls the new codon stop_gained",
    ("stop_retained_variant", "stop_lost"): "a deletion from the stop codon into the 3' UTR "
    "after which a stop is read in the same place: retained (VEP); csq judges by position",
    ("stop_retained_variant", "coding_sequence_variant"): "as above, a retained stop; csq gives "
    "the generic term",
    ("start_lost", "coding_sequence_variant"): "a deletion that removes bases of the ATG: the "
    "start is lost; csq gives the generic term for a deletion across the start codon",
    ("stop_lost", "coding_sequence_variant"): "a deletion that removes bases of the stop codon "
    "into the 3' UTR: the stop is lost; csq gives the generic term",
    ("frameshift_variant", "coding_sequence_variant"): "a deletion from the stop codon into the "
    "3' UTR whose coding part is not a multiple of three: VEP adds frameshift_variant to "
    "stop_lost and ranks it first; csq gives the generic term",
    ("frameshift_variant", "stop_lost"): "as above; csq names stop_lost",
    ("frameshift_variant", "start_lost"): "an indel at the start codon whose coding part is not "
    "a multiple of three: VEP reports frameshift_variant (with start_lost when ATG bases go) "
    "and ranks it first; csq names start_lost for any indel beside the start codon",
    ("inframe_insertion", "start_lost"): "an in-frame insertion after the ATG, or inside it "
    "where the next bases rebuild it: the start is kept (VEP); csq calls any indel beside the "
    "start codon start_lost",
    ("stop_gained", "inframe_deletion"): "an in-frame deletion whose joined codon is a stop: "
    "VEP reports stop_gained; csq names the deletion",
    # Real Ensembl files (bcftools' own test excerpts of human transcripts)
    ("non_coding_transcript_exon_variant", "non_coding_transcript_variant"): "a base of a "
    "non-coding transcript: csq has one term for its exons and introns alike (SO "
    "non_coding_transcript_variant), which we report too, as VEP does, below the exon term",
    ("intron_variant", "non_coding_transcript_variant"): "as above, an intron base of a "
    "non-coding transcript",
    ("splice_region_variant", "non_coding_transcript_variant"): "as above, a splice-region "
    "base of a non-coding transcript",
    ("splice_donor_variant", "non_coding_transcript_variant"): "as above, a splice-site base of "
    "a non-coding transcript",
    ("splice_acceptor_variant", "non_coding_transcript_variant"): "as above, a splice-site base "
    "of a non-coding transcript",
    ("non_coding_transcript_exon_variant", "intron_variant"): "exonic in a non-coding "
    "transcript and intronic in a coding one of the gene: VEP ranks the exon term above "
    "intron_variant; csq's non_coding ranks below it",
    ("5_prime_UTR_variant", "intron_variant"): "an exon base before the CDS in a GFF3 without "
    "UTR rows: the exon rows make it UTR (SO, VEP); csq builds UTRs from UTR rows only and "
    "calls it intronic",
    ("3_prime_UTR_variant", "intron_variant"): "as above, an exon base after the CDS",
    ("splice_donor_variant", "3_prime_UTR_variant"): "a deletion across a UTR exon's junction "
    "that removes bases of the GT: the site is changed (SO, VEP); csq names the UTR part only",
    ("3_prime_UTR_variant", "splice_region_variant"): "an insertion between the 3rd and 4th "
    "exon base from the junction of a 3' UTR exon: csq takes the annotation of the base 3' of "
    "it, ours needs both flanks in the region",
    ("synonymous_variant", "splice_region_variant"): "an exon base 4-6 bases from a 2-base "
    "intron (Ensembl's model of a frameshift in the reference genome): no splice term by "
    "position (SO; VEP gives none beside such introns); csq widens the region",
    ("splice_donor_variant", "intron_variant"): "a splice base beside an exon that holds both "
    "UTR and CDS: csq answers intron_variant naming no transcript; by position it is the "
    "splice site (SO, VEP)",
    ("splice_acceptor_variant", "intron_variant"): "as above, an acceptor base",
    ("splice_region_variant", "intron_variant"): "as above, a splice-region base",
    ("5_prime_UTR_variant", "splice_region_variant"): "an insertion between the 3rd and 4th "
    "exon base from a junction: csq takes the annotation of the base 3' of it, ours needs both "
    "flanks in the region",
}


def _category(row) -> str:
    if row.ours == row.theirs:
        return "agree"
    indel = len(row.ref) != len(row.alt)
    kind = "indel" if indel else ("SNV" if len(row.ref) == 1 else "MNV")
    return f"{kind}: ours {row.ours}, theirs {row.theirs}"


#: snpEff's effect names that differ from the Sequence Ontology terms the annotator uses.
SNPEFF_TO_SO = {
    "conservative_inframe_deletion": "inframe_deletion",
    "disruptive_inframe_deletion": "inframe_deletion",
    "conservative_inframe_insertion": "inframe_insertion",
    "disruptive_inframe_insertion": "inframe_insertion",
    "5_prime_UTR_premature_start_codon_gain_variant": "5_prime_UTR_variant",
    "exon_loss_variant": "transcript_ablation",
    "start_retained": "start_retained_variant",
    "stop_retained": "stop_retained_variant",
}


def write_gtf(reference, path: str | os.PathLike) -> Path:
    """The reference's gene models as GTF (CDS without the stop codon, a ``stop_codon`` row),
    the dialect snpEff builds its database from."""
    path = Path(path)
    lines = []
    for g in reference.genes:
        for t in g.transcripts:
            attrs = (f'gene_id "{g.gene_id}"; transcript_id "{t.transcript_id}"; '
                     f'gene_name "{g.symbol}"; gene_biotype "protein_coding"; '
                     f'transcript_biotype "{t.biotype}";')  # fmt: skip
            rows = [("transcript", (t.start, t.end)), *(("exon", e) for e in t.exons)]
            cds = list(t.cds_segments())
            if cds:
                if t.strand == "+":
                    stop = (cds[-1][1] - 2, cds[-1][1])
                    cds[-1] = (cds[-1][0], cds[-1][1] - 3)
                else:
                    stop = (cds[0][0], cds[0][0] + 2)
                    cds[0] = (cds[0][0] + 3, cds[0][1])
                rows += [*(("CDS", c) for c in cds if c[0] <= c[1]), ("stop_codon", stop)]
            lines += [f"{t.contig}\tworkbench\t{k}\t{a}\t{b}\t.\t{t.strand}\t.\t{attrs}"
                      for k, (a, b) in rows]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def _snpeff(vcf: Path, reference, fasta: Path, work: Path) -> pd.DataFrame:
    """snpEff (Debian's ``snpEff``) on ``vcf``, its database built here from a GTF."""
    import shutil
    import subprocess

    data = work / "data" / "cohort"
    data.mkdir(parents=True)
    write_gtf(reference, data / "genes.gtf")
    shutil.copy(fasta, data / "sequences.fa")
    config = work / "snpEff.config"
    config.write_text(f"data.dir = {work / 'data'}\ncohort.genome : workbench cohort\n")
    common = ["-c", str(config), "-dataDir", str(work / "data")]
    build = ["build", "-gtf22", "-noCheckCds", "-noCheckProtein", *common, "cohort"]
    annotate_ = ["ann", "-noStats", "-noLog", "-noInteraction", *common, "cohort", str(vcf)]
    for args in (build, annotate_):
        proc = subprocess.run(["snpEff", *args], capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f"snpEff {args[0]} failed: {proc.stderr.strip()[-400:]}")
    rows = []
    for line in proc.stdout.splitlines():
        cols = line.split("\t", 8)
        if line.startswith("#") or len(cols) < 8:  # headers, and snpEff's own messages
            continue
        chrom, pos, _, ref, alt, _, _, info = cols[:8]
        ann = next((kv[4:] for kv in info.split(";") if kv.startswith("ANN=")), None)
        if ann is None:
            continue
        by_gene: dict[str, tuple[list, str | None]] = {}
        for entry in ann.split(","):
            parts = entry.split("|")
            if len(parts) < 11 or parts[5] != "transcript":
                continue
            terms, protein = by_gene.get(parts[3], ([], None))
            terms += [SNPEFF_TO_SO.get(t, t) for t in parts[1].split("&")]
            protein = protein or _our_protein(parts[10].replace("p.", "p.(", 1) + ")"
                                              if parts[10] else None)  # fmt: skip
            by_gene[parts[3]] = (terms, protein)
        for gene, (terms, protein) in by_gene.items():
            known = [t for t in terms if t in CONSEQUENCES]
            if known:
                rows.append((chrom, int(pos), ref, alt.split(",")[0], gene, most_severe(known),
                             protein))  # fmt: skip
    return pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt", "gene", "theirs", "theirs_p"])


def compare_with_snpeff(
    vcf: str | os.PathLike, *, reference, fasta: str | os.PathLike
) -> pd.DataFrame:
    """As :func:`compare_with_bcftools_csq`, against snpEff (its database built from the
    reference's models as GTF; snpEff's inframe and UTR variants mapped to the SO terms here).
    Variants snpEff calls only up- or downstream of a gene are left out (ours does not)."""
    from pysam import bcftools

    with tempfile.TemporaryDirectory() as tmp:
        sites = Path(tmp) / "sites.vcf"
        bcftools.view("-G", "-Ov", "-o", str(sites), str(vcf), catch_stdout=False)
        ours = _ours(sites, reference)
        theirs = _snpeff(sites, reference, Path(fasta), Path(tmp) / "snpeff")
    return _join(ours, theirs)


def compare_with_bcftools_csq(
    vcf: str | os.PathLike, *, reference, fasta: str | os.PathLike, gff3: str | os.PathLike
) -> pd.DataFrame:
    """One row per (variant, gene) that both annotators report, with a ``category``.

    Parameters
    ----------
    vcf
        Sites to compare (genotypes are ignored); normalised, as csq expects.
    reference
        The :class:`~workbench.genome.Reference` of ``fasta`` and ``gff3``.
    fasta, gff3
        The same reference and gene models as files, for bcftools csq (Ensembl-style GFF3).
        Only the transcripts ``reference`` holds are compared: those our reader refused
        (:func:`~workbench.genome.gff.load_reference`) are left out of csq's answer too.

    Returns
    -------
    pandas.DataFrame
        ``contig, pos, ref, alt, gene, ours, ours_terms, theirs, ours_p, theirs_p, term_agrees,
        term_compatible, explained, protein_agrees, category`` (``protein_agrees`` is NA for
        indels and where either has no single-residue protein change; ``explained`` names
        the reason for a known kind of difference, see :data:`EXPLAINED`).
    """
    from pysam import bcftools

    vcf = Path(vcf)
    with tempfile.TemporaryDirectory() as tmp:
        sites = Path(tmp) / "sites.vcf.gz"
        bcftools.view("-G", "-Oz", "-o", str(sites), str(vcf), catch_stdout=False)
        ours = _ours(sites, reference)
        known = {t.transcript_id for t in reference.transcripts}
        theirs = _bcftools(sites, Path(fasta), Path(gff3), known)
    return _join(ours, theirs, EXPLAINED)


def _join(ours: pd.DataFrame, theirs: pd.DataFrame, explained=None) -> pd.DataFrame:
    """Our and their answers side by side; ``explained`` maps (ours, theirs) to the reason
    for a known kind of difference (:data:`EXPLAINED` holds bcftools csq's)."""
    explained = explained or {}
    both = ours.merge(theirs, on=["contig", "pos", "ref", "alt", "gene"], how="inner")
    if "theirs_p_by_tx" in both:  # compare protein changes on the same transcript
        both["theirs_p"] = [
            by_tx.get(tx, by_tx.get("")) if isinstance(by_tx, dict) else p
            for tx, p, by_tx in zip(both.ours_tx, both.theirs_p, both.theirs_p_by_tx, strict=True)
        ]
        both = both.drop(columns="theirs_p_by_tx")
    both["term_agrees"] = both.ours == both.theirs
    # csq's most severe term is among ours (VEP lists every term; csq often one)
    both["term_compatible"] = [
        c in o.split("&") for c, o in zip(both.theirs, both.ours_terms, strict=True)
    ]
    both["explained"] = [
        None if a else explained.get((o, c))
        for a, o, c in zip(both.term_agrees, both.ours, both.theirs, strict=True)
    ]
    # Protein changes compare for substitutions only: for an indel csq spells out the whole
    # changed stretch ("48SRNRD…*>*"), HGVS names its first residue and the new stop.
    same_length = both.ref.str.len() == both.alt.str.len()
    has_p = both.ours_p.notna() & both.theirs_p.notna() & same_length
    both["protein_agrees"] = (both.ours_p == both.theirs_p).where(has_p)
    both["category"] = [_category(r) for r in both.itertuples(index=False)]
    return both


def summarise(table: pd.DataFrame) -> dict:
    """Agreement figures: overall, for SNVs and indels, and for the protein change."""
    indel = table.ref.str.len() != table.alt.str.len()
    protein = table.protein_agrees.dropna()
    return {
        "compared": len(table),
        "term_agreement": float(table.term_agrees.mean()) if len(table) else float("nan"),
        "term_compatible": float(table.term_compatible.mean()) if len(table) else float("nan"),
        "unexplained": int((~table.term_agrees & table.explained.isna()).sum()),
        "snv_term_agreement": float(table.term_agrees[~indel].mean()),
        "indel_term_agreement": float(table.term_agrees[indel].mean()) if indel.any() else 1.0,
        "indels": int(indel.sum()),
        "protein_compared": len(protein),
        "protein_agreement": float(protein.astype(bool).mean()) if len(protein) else 1.0,
        "disagreements": table.category[~table.term_agrees].value_counts().to_dict(),
    }


def designed_variants(reference, *, genes=None, flank: int = 10, max_indel: int = 3) -> list:
    """Variants that stress every boundary: around each exon–intron junction, the start and
    the stop codon (``flank`` bases either side), every SNV, and every deletion and insertion
    (a copy of the bases before it, and a run of a different base) of 1..``max_indel`` bases.
    Returned normalised (as ``bcftools norm``) and without duplicates, sorted.
    """
    from .normalize import normalize

    chosen = [g for g in reference.genes if genes is None or g.symbol in genes]
    out = set()
    for g in chosen:
        t = g.transcript
        seq = reference.sequence(t.contig)
        points = {t.cds_start, t.cds_end} - {None}
        for s_, e_ in t.exons:
            points |= {s_, e_}
        sites = sorted({x for p in points for x in range(p - flank, p + flank + 1)})
        for x in sites:
            if not 2 <= x <= len(seq) - max_indel - 1:
                continue
            base = seq[x - 1]
            out |= {(t.contig, x, base, b) for b in "ACGT" if b != base}
            for n in range(1, max_indel + 1):
                # deleting bases x..x+n-1, anchored on x-1
                out.add((t.contig, *normalize(seq, x - 1, seq[x - 2 : x - 1 + n], seq[x - 2])))
                copy = seq[x - 1 : x - 1 + n]
                other = next(b for b in "ACGT" if b != base) * n
                for ins in (copy, other):  # inserting before x
                    out.add((t.contig, *normalize(seq, x - 1, seq[x - 2], seq[x - 2] + ins)))
    return sorted(out)


def write_sites(variants, path: str | os.PathLike, *, contigs: dict[str, int]) -> Path:
    """A sites-only VCF of ``(contig, pos, ref, alt)`` (bgzipped, indexed)."""
    import pysam

    path = Path(path)
    header = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={c},length={n}>\n" for c, n in contigs.items()
    )
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    order = {c: i for i, c in enumerate(contigs)}
    rows = sorted(variants, key=lambda v: (order[v[0]], v[1], v[2], v[3]))
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for c, p, r, a in rows)
    with pysam.BGZFile(str(path), "wb") as f:
        f.write((header + body).encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path
