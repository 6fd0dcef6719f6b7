"""The realism scorecard: a cohort's figures next to published ranges.

A synthetic cohort is only useful for teaching and for prototyping methods if it behaves like
real genomes: a ranking method that scores 100 % on it has learnt nothing. The scorecard puts
each figure a real cohort is judged by next to the range published for real data, with its
source, and flags what falls outside:

* **per person** (median over people): variants, the indel share, Ti/Tv, the het/hom ratio,
  protein-altering and loss-of-function variants, whole chromosomes without a heterozygous
  site;
* **per trio**: true de novo mutations (rate per bp), de novo candidate calls (true and false),
  Mendelian errors, and the default interpretation's funnel — candidate genes per proband;
* **per cohort**: the share of rare variant sites, kinship of known relatives and of
  unrelated pairs (KING), Fst between the populations.

Counts that depend on how much genome is simulated (variants, protein-altering and LoF per
person) are compared with the published exome figure scaled to the coding length the cohort
simulates; where too few are expected to judge, the row says so instead of passing.

The scorecard reads the whole cohort folder, answer key included (``truth/de_novo.tsv``
separates true from false de novo calls): it is a steward's and an instructor's tool, not a
research session, and reads no registry table.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .analysis.relatedness import expected_relatives, king_kinship, mendel_errors
from .analysis.structure import ld_bands, pairwise_fst
from .errors import InputError
from .genome import gene_impact
from .interpret.filter import filter_variants
from .interpret.funnel import FUNNEL_STEPS, funnel

__all__ = ["RANGES", "PublishedRange", "format_scorecard", "plot_scorecard", "scorecard"]

#: Protein-coding sequence of the human genome (CCDS, GRCh38), the exome the counts scale to.
EXOME_CDS_BP = 34_000_000
#: A row is judged only when at least this many events are expected.
MIN_EXPECTED = 10


@dataclasses.dataclass(frozen=True)
class PublishedRange:
    """A figure of real genomes: where it should lie, and who says so."""

    key: str
    section: str
    label: str
    low: float
    high: float
    source: str
    #: The range is for a whole exome and scales with the simulated coding length.
    per_exome: bool = False
    #: Cohorts with fewer people are too small for this figure.
    min_people: int = 0
    #: The figure is judged only on at least this much data (``count_label`` says of what).
    min_count: float = 0
    count_label: str = ""


RANGES: tuple[PublishedRange, ...] = (
    PublishedRange(
        "variants",
        "person",
        "variant sites per person, in coding sequence",
        20_000,
        25_000,
        "about 20,000–24,000 coding variants per exome (Bamshad et al. 2011, Nat Rev Genet 12:745)",
        per_exome=True,
    ),
    PublishedRange(
        "indel_share",
        "person",
        "share of small indels among a person's small variants outside coding sequence",
        0.08,
        0.14,
        "4.1–5.0 M SNVs and ~0.5–0.6 M indels per genome (1000 Genomes 2015, Nature 526:68), "
        "nearly all of it non-coding; in coding sequence selection removes most frameshifts",
    ),
    PublishedRange(
        "titv",
        "person",
        "transition/transversion ratio of a person's SNVs",
        1.9,
        2.2,
        "2.0–2.1 genome-wide (DePristo et al. 2011, Nat Genet 43:491); the simulated sites "
        "carry no coding CpG excess, so the genome-wide range applies",
        min_count=1_000,
        count_label="SNVs per person",
    ),
    PublishedRange(
        "het_hom",
        "person",
        "heterozygous / homozygous-alternate calls (autosomes)",
        1.3,
        2.3,
        "about 1.5 (European) to 2 (African ancestry) (Wang et al. 2015, Bioinformatics 31:318)",
        min_count=300,
        count_label="homozygous-alternate calls per person",
    ),
    PublishedRange(
        "protein_altering",
        "person",
        "protein-altering variants per person",
        10_000,
        12_000,
        "10,000–12,000 peptide-altering sites per genome (1000 Genomes 2015)",
        per_exome=True,
    ),
    PublishedRange(
        "lof",
        "person",
        "loss-of-function variants per person",
        100,
        180,
        "about 100 (MacArthur et al. 2012, Science 335:823) to 149–182 protein-truncating "
        "sites (1000 Genomes 2015) per genome",
        per_exome=True,
    ),
    PublishedRange(
        "homozygous_chromosome",
        "person",
        "share of people with a whole chromosome without a heterozygous site",
        0.0,
        0.001,
        "uniparental isodisomy, the only cause, in about 1 of 2,000 people (Nakka et al. "
        "2019, Am J Hum Genet 105:921)",
        min_count=20,
        count_label="Mb in the shortest chromosome",
    ),
    PublishedRange(
        "de_novo_rate",
        "trio",
        "true de novo mutation rate per bp per generation",
        1.0e-8,
        1.6e-8,
        "1.20e-8 (Kong et al. 2012, Nature 488:471); 1.29e-8 (Jónsson et al. 2017, Nature 549:519)",
    ),
    PublishedRange(
        "apparent_de_novo",
        "trio",
        "de novo candidate calls per trio (child carries an allele the reference panel lacks, "
        "both parents homozygous reference)",
        1.0,
        5.0,
        "about one true coding de novo variant per exome trio (Veltman & Brunner 2012, Nat "
        "Rev Genet 13:565), with a few false candidate calls after standard filters, absence "
        "from population databases among them",
        min_count=20,
        count_label="trios",
    ),
    PublishedRange(
        "mendel_error_rate",
        "trio",
        "Mendelian errors per variant site of a trio",
        0.001,
        0.015,
        "about 0.5 % of SNVs in GIAB trios called with DeepVariant (TrioTrain, Genome Res "
        "2024, gr.279542)",
        min_count=5_000,
        count_label="trio variant sites",
    ),
    PublishedRange(
        "candidate_genes",
        "trio",
        "candidate genes per proband after the default trio filter (median)",
        5,
        30,
        "13.1 per real and 13.9 per simulated UDN patient (Alsentzer et al. 2023, Nat Commun "
        "14:4400)",
        min_count=5,
        count_label="trio probands",
    ),
    PublishedRange(
        "rare_share",
        "cohort",
        "share of coding SNV sites with minor allele frequency < 0.5 % in the cohort",
        0.80,
        0.95,
        "86 % of coding SNVs in 2,440 exomes (Tennessen et al. 2012, Science 337:64)",
        min_people=1_000,
    ),
    PublishedRange(
        "king_first_degree",
        "cohort",
        "share of known parent–child and sibling pairs inferred as first degree by KING",
        0.95,
        1.0,
        "KING's first-degree band 0.177–0.354 (Manichaikul et al. 2010, Bioinformatics 26:2867)",
        min_count=300,
        count_label="Mb of simulated genome (KING is noisy on short genomes)",
    ),
    PublishedRange(
        "king_unrelated_related",
        "cohort",
        "share of unrelated pairs inferred third degree or closer by KING",
        0.0,
        0.001,
        "107,162 pairs up to third degree among 488,377 UK Biobank participants, ~1e-6 of "
        "pairs (Bycroft et al. 2018, Nature 562:203)",
        min_count=300,
        count_label="Mb of simulated genome (KING is noisy on short genomes)",
    ),
    PublishedRange(
        "ld_5kb",
        "cohort",
        "mean r² of common SNP pairs 1–10 kb apart (unrelated people of the majority)",
        0.15,
        0.35,
        "genome-wide mean r² 0.24–0.28 at 5 kb in European populations (Nelis et al. 2009, "
        "PLoS ONE 4:e5472), widened for sampling",
        min_people=1_000,
        min_count=200,
        count_label="SNP pairs in the band",
    ),
    PublishedRange(
        "ld_100kb",
        "cohort",
        "mean r² of common SNP pairs 50–150 kb apart (unrelated people of the majority)",
        0.03,
        0.10,
        "genome-wide mean r² 0.05–0.07 at 100 kb in European populations (Nelis et al. "
        "2009, PLoS ONE 4:e5472), widened for sampling",
        min_people=1_000,
        min_count=200,
        count_label="SNP pairs in the band",
    ),
    PublishedRange(
        "fst",
        "cohort",
        "Hudson's Fst between the majority and each other population (range over pairs)",
        0.005,
        0.12,
        "0.01–0.04 between neighbouring continental groups, ~0.1 between the most distant "
        "(1000 Genomes 2015; Bhatia et al. 2013, Genome Res 23:1514)",
        min_count=50,
        count_label="people in the smallest population",
    ),
)

_BY_KEY = {r.key: r for r in RANGES}
SCORECARD_COLUMNS = ("section", "figure", "value", "low", "high", "status", "detail", "source")


def scorecard(
    cohort,
    *,
    max_unrelated: int = 1_500,
    funnel: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """The realism scorecard of a cohort (:data:`SCORECARD_COLUMNS`, one row per figure).

    Parameters
    ----------
    cohort
        An open cohort (:func:`workbench.open_cohort`); its answer key must be present.
    max_unrelated
        People outside the rare-disease families, at most, read for the per-person and
        per-cohort figures (the first ones in genotype order; every family member is read).
    funnel
        Run the default trio filter for every proband with both parents (the slowest row).
    progress
        Show progress bars.

    ``status`` is ``inside``, ``outside`` or ``not judged`` (``detail`` says why).
    """
    if isinstance(max_unrelated, bool) or not isinstance(max_unrelated, int) or max_unrelated < 0:
        raise InputError(f"max_unrelated must be a non-negative whole number, got {max_unrelated}")
    data = _Data.read(cohort, max_unrelated=max_unrelated, progress=progress)
    rows = []
    rows += _person_rows(data)
    rows += _trio_rows(data, funnel=funnel, progress=progress)
    rows += _cohort_rows(data)
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


# -- reading --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Data:
    cohort: object
    samples: pd.DataFrame  # the people read, in column order
    variants: pd.DataFrame  # every site: contig, position, ref, alt
    calls: np.ndarray  # sites × people read × 2
    is_x: np.ndarray
    is_indel: np.ndarray
    is_ti: np.ndarray
    is_tv: np.ndarray
    impact: np.ndarray  # HIGH/MODERATE/LOW/MODIFIER of the first alternate allele
    coding_bp: int
    genome_bp: int
    mutable_bp: int  # where mutations can fall: the sequence windows of a sparse genome
    de_novo: pd.DataFrame  # every true de novo variant of every child
    novel: np.ndarray  # per site: no alternate allele of it is in the reference panel
    planted: pd.DataFrame  # contig, position of the planted variants

    @classmethod
    def read(cls, cohort, *, max_unrelated: int, progress: bool) -> _Data:
        samples = cohort.samples()
        in_family = samples.family_id.notna().to_numpy()
        unrelated = np.flatnonzero(~in_family)[:max_unrelated]
        columns = np.sort(np.concatenate([np.flatnonzero(in_family), unrelated]))
        calls = cohort.zarr["call_genotype"].get_orthogonal_selection(
            (slice(None), columns, slice(None))
        )
        variants = cohort.variants().reset_index(drop=True)
        first_alt = variants.alt.str.split(",").str[0]
        ref_len, alt_len = variants.ref.str.len(), first_alt.str.len()
        snv = ((ref_len == 1) & (alt_len == 1)).to_numpy()
        transition = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}
        ti = np.array([(r, a) in transition for r, a in zip(variants.ref, first_alt, strict=True)])
        reference = cohort.reference
        impact = np.array(
            [
                gene_impact(reference, c, int(p), r, a)
                for c, p, r, a in tqdm(
                    zip(variants.contig, variants.position, variants.ref, first_alt, strict=True),
                    total=len(variants),
                    desc="annotate",
                    disable=not progress,
                )
            ]
        )
        coding = sum(b - a + 1 for t in reference.transcripts for a, b in t.cds_segments())
        truth = cohort.path / "truth" / "de_novo.tsv"
        planted = cohort.path / "truth" / "variants.tsv"
        if not truth.is_file() or not planted.is_file():
            raise InputError(
                f"{truth} is missing: the scorecard needs the answer key of a cohort made by "
                "this version of `workbench generate`; regenerate the cohort"
            )
        return cls(
            cohort=cohort,
            samples=samples.iloc[columns].reset_index(drop=True),
            variants=variants,
            calls=np.asarray(calls),
            is_x=variants.contig.isin(["chrX", "X"]).to_numpy(),
            is_indel=(ref_len != alt_len).to_numpy(),
            is_ti=snv & ti,
            is_tv=snv & ~ti,
            impact=impact,
            coding_bp=int(coding),
            genome_bp=int(sum(cohort.contigs.values())),
            mutable_bp=int(
                sum(b - a for c in reference.contigs for a, b in reference.known_windows(c))
            ),
            de_novo=pd.read_csv(truth, sep="\t"),
            novel=_novel_sites(variants, cohort.knowledge.frequencies),
            planted=pd.read_csv(planted, sep="\t", usecols=["contig", "position"]),
        )


def _novel_sites(variants: pd.DataFrame, frequencies: pd.DataFrame) -> np.ndarray:
    """Per site of ``variants``: whether none of its alternate alleles is in the panel."""
    seen = frequencies[frequencies.ac > 0]
    seen = pd.MultiIndex.from_frame(seen[["contig", "position", "alt"]])
    alleles = variants.assign(alt=variants.alt.str.split(",")).explode("alt")
    known = pd.MultiIndex.from_frame(alleles[["contig", "position", "alt"]]).isin(seen)
    return ~pd.Series(known, index=alleles.index).groupby(level=0).any().to_numpy()


# -- judging --------------------------------------------------------------------------------


def _row(
    key,
    value,
    *,
    data: _Data,
    detail: str = "",
    expected: float | None = None,
    count: float | None = None,
    interval: tuple[float, float] | None = None,
) -> dict:
    """One scorecard row. ``interval`` is the value's 95 % sampling interval when it is a
    count of rare events: the figure is inside when the interval reaches the range."""
    r = _BY_KEY[key]
    low, high = r.low, r.high
    if r.per_exome:
        scale = data.coding_bp / EXOME_CDS_BP
        low, high = low * scale, high * scale
        detail = (
            f"exome range scaled to the {data.coding_bp / 1e6:.2f} Mb of coding sequence "
            f"simulated ({scale:.2%} of an exome)" + (f"; {detail}" if detail else "")
        )
        expected = low if expected is None else expected
    if value is None or (isinstance(value, float) and math.isnan(value)):
        status = "not judged"
        detail = detail or "nothing to measure"
    elif count is not None and count < r.min_count:
        status = "not judged"
        detail = f"needs at least {r.min_count:,} {r.count_label}, has {count:,.4g}" + (
            f"; {detail}" if detail else ""
        )
    elif len(data.samples) < r.min_people:
        status = "not judged"
        detail = f"needs a cohort of at least {r.min_people:,} people" + (
            f"; {detail}" if detail else ""
        )
    elif expected is not None and expected < MIN_EXPECTED:
        status = "not judged"
        detail = f"about {expected:.1f} expected, too few to judge" + (
            f"; {detail}" if detail else ""
        )
    elif interval is not None:
        status = "inside" if interval[0] <= high and interval[1] >= low else "outside"
        detail = f"95 % interval {interval[0]:.3g}–{interval[1]:.3g}" + (
            f"; {detail}" if detail else ""
        )
    else:
        status = "inside" if low <= value <= high else "outside"
    return dict(
        section=r.section,
        figure=r.label,
        value=value,
        low=low,
        high=high,
        status=status,
        detail=detail,
        source=r.source,
    )


def _person_counts(data: _Data, chunk: int = 50_000) -> dict[str, np.ndarray]:
    """Per person: how many sites of each kind they carry, and their autosomal het and hom
    calls, counted a chunk of variants at a time (an exome-scale cohort's calls are
    gigabytes, and each whole-array temporary would be as large again)."""
    coding = np.isin(data.impact, ["HIGH", "MODERATE", "LOW"])
    noncoding = data.impact == "MODIFIER"
    kinds = {
        "coding": coding,
        "altering": np.isin(data.impact, ["HIGH", "MODERATE"]),
        "lof": data.impact == "HIGH",
        "noncoding": noncoding,
        "noncoding_indel": noncoding & data.is_indel,
        "ti": data.is_ti,
        "tv": data.is_tv,
    }
    masks = np.stack(list(kinds.values()), axis=1).astype(np.float32)
    people = data.calls.shape[1]
    sums = np.zeros((len(kinds), people))
    het = np.zeros(people, dtype=np.int64)
    hom = np.zeros(people, dtype=np.int64)
    for a in range(0, len(data.calls), chunk):
        a0, a1 = data.calls[a : a + chunk, :, 0], data.calls[a : a + chunk, :, 1]
        carried = (a0 > 0) | (a1 > 0)
        sums += masks[a : a + chunk].T @ carried.astype(np.float32)  # exact below 2**24
        called = (a0 >= 0) & (a1 >= 0) & ~data.is_x[a : a + chunk, None]
        het += (called & (a0 != a1) & carried).sum(axis=0)
        hom += (called & (a0 == a1) & (a0 > 0)).sum(axis=0)
    out = {k: np.rint(v).astype(np.int64) for k, v in zip(kinds, sums, strict=True)}
    return out | {"het": het, "hom": hom}


def _person_rows(data: _Data) -> list[dict]:
    n = _person_counts(data)
    indel, noncoding = n["noncoding_indel"], n["noncoding"]
    ti, tv, het, hom = n["ti"], n["tv"], n["het"], n["hom"]
    rows = [
        _row("variants", float(np.median(n["coding"])), data=data),
        _row("indel_share", float(np.median(indel / np.maximum(noncoding, 1))), data=data),
        _row(
            "titv",
            float(np.median(ti / np.maximum(tv, 1))),
            data=data,
            count=float(np.median(ti + tv)),
        ),
        _row(
            "het_hom",
            float(np.median(het / np.maximum(hom, 1))),
            data=data,
            count=float(np.median(hom)),
        ),
        _row("protein_altering", float(np.median(n["altering"])), data=data),
        _row("lof", float(np.median(n["lof"])), data=data),
    ]
    homozygous = _homozygous_chromosomes(data)
    detail = ", ".join(f"{p} ({c})" for p, c in homozygous[:5])
    rows.append(
        _row(
            "homozygous_chromosome",
            len({p for p, _ in homozygous}) / len(data.samples),
            data=data,
            detail=(f"{detail}{' …' if len(homozygous) > 5 else ''}" if homozygous else ""),
            count=min(data.cohort.contigs.values()) / 1e6,
        )
    )
    return rows


def _homozygous_chromosomes(data: _Data) -> list[tuple[str, str]]:
    """(person, contig) where a person has no heterozygous call on a whole chromosome."""
    out = []
    female = (data.samples.sex == "female").to_numpy()
    for contig in pd.unique(data.variants.contig):
        sites = (data.variants.contig == contig).to_numpy()
        g = data.calls[sites]
        het = ((g[..., 0] != g[..., 1]) & (g[..., 0] >= 0) & (g[..., 1] >= 0)).sum(axis=0)
        diploid = female if data.is_x[sites].all() else np.ones(len(female), dtype=bool)
        for k in np.flatnonzero(diploid & (het == 0)):
            out.append((str(data.samples.person_id.iloc[k]), str(contig)))
    return out


def _trios(samples: pd.DataFrame) -> list[tuple[int, int, int]]:
    col = {p: i for i, p in enumerate(samples.person_id)}
    return [
        (col[r.person_id], col[r.father_id], col[r.mother_id])
        for r in samples.itertuples(index=False)
        if r.father_id in col and r.mother_id in col
    ]


def _trio_rows(data: _Data, *, funnel: bool, progress: bool) -> list[dict]:
    trios = _trios(data.samples)
    if not trios:
        return [
            _row(k, None, data=data, detail="no child with both parents in the cohort")
            for k in ("de_novo_rate", "apparent_de_novo", "mendel_error_rate", "candidate_genes")
        ]
    g = data.calls
    children = [data.samples.person_id.iloc[c] for c, _, _ in trios]
    true_dn = data.de_novo[data.de_novo.person_id.isin(children)]
    # the rate counts background mutations only: planted diagnoses are no mutation rate
    planted = pd.MultiIndex.from_frame(data.planted[["contig", "position"]])
    background = true_dn[~pd.MultiIndex.from_frame(true_dn[["contig", "position"]]).isin(planted)]
    # per bp where mutations can fall (on an exome-scale genome, its sequence windows)
    haploid_bp = 2 * data.mutable_bp * len(trios)
    rate = len(background) / haploid_bp
    expected = haploid_bp * 1.2e-8
    key = pd.MultiIndex.from_frame(data.variants[["contig", "position"]])
    # Mendelian errors as the cohort QC counts them, over the sites where a trio varies
    errors = int(mendel_errors(g, data.samples).per_trio.errors.sum())
    apparent_true = apparent_false = raw = sites = 0
    for c, f, m in trios:
        child, father, mother = g[:, c], g[:, f], g[:, m]
        called = (child >= 0).any(axis=1) & ~(child == -1).any(axis=1)
        called &= ~(father == -1).any(axis=1) & ~(mother == -1).any(axis=1)
        parents_ref = ((father <= 0).all(axis=1)) & ((mother <= 0).all(axis=1))
        apparent = called & (child > 0).any(axis=1) & parents_ref
        raw += int(apparent.sum())
        # the standard filter of de novo calling: an allele no population database holds
        apparent &= data.novel
        mine = data.de_novo[data.de_novo.person_id == data.samples.person_id.iloc[c]]
        is_true = key.isin(pd.MultiIndex.from_frame(mine[["contig", "position"]]))
        apparent_true += int((apparent & is_true).sum())
        apparent_false += int((apparent & ~is_true).sum())
        any_alt = called & (
            (child > 0).any(axis=1) | (father > 0).any(axis=1) | (mother > 0).any(axis=1)
        )
        sites += int(any_alt.sum())
    n = len(trios)
    rows = [
        _row(
            "de_novo_rate",
            rate,
            data=data,
            expected=expected,
            detail=f"{len(background)} background de novo variants in {n} children, over "
            f"{data.mutable_bp / 1e6:,.1f} Mb of sequence",
            interval=_poisson_interval(len(background), haploid_bp),
        ),
        _row(
            "apparent_de_novo",
            (apparent_true + apparent_false) / n,
            data=data,
            detail=f"{apparent_true / n:.2f} true and {apparent_false / n:.2f} false per trio; "
            f"{raw / n:.1f} before the population filter",
            count=n,
        ),
        _row(
            "mendel_error_rate",
            errors / max(sites, 1),
            data=data,
            detail=f"{errors} errors",
            count=sites,
        ),
    ]
    if funnel:
        rows.append(_funnel_row(data, trios, progress=progress))
    return rows


def _poisson_interval(events: int, exposure: float) -> tuple[float, float]:
    """Exact 95 % interval of a Poisson rate: ``events`` over ``exposure``."""
    from scipy.stats import chi2

    low = chi2.ppf(0.025, 2 * events) / 2 if events else 0.0
    high = chi2.ppf(0.975, 2 * events + 2) / 2
    return float(low / exposure), float(high / exposure)


def _funnel_row(data: _Data, trios, *, progress: bool) -> dict:
    knowledge = data.cohort.knowledge
    variants = data.variants
    steps = []
    for c, f, m in tqdm(trios, desc="funnel", disable=not progress):
        family = data.samples.iloc[[c, f, m]]
        genotypes = {
            "variants": variants,
            "samples": list(family.person_id),
            "calls": data.calls[:, [c, f, m]],
        }
        result = filter_variants(
            genotypes,
            proband=str(family.person_id.iloc[0]),
            family=family[["person_id", "father_id", "mother_id", "sex", "affected"]],
            reference=data.cohort.reference,
            gene_disease=knowledge.gene_disease,
            frequencies=knowledge.frequencies,
        )
        steps.append(funnel(result.table).set_index("step").genes)
    genes = pd.DataFrame(steps)  # one row per proband, one column per step
    median = genes.median()
    final = genes[FUNNEL_STEPS[-1]].to_numpy()
    return _row(
        "candidate_genes",
        float(median.iloc[-1]),
        data=data,
        detail=(
            f"{len(final)} trio probands; median genes "
            + " → ".join(f"{step} {median[step]:g}" for step in FUNNEL_STEPS[1:])
            + f"; {int((final <= 1).sum())} probands with at most one, most {int(final.max())}"
        ),
        count=len(final),
    )


def _allele_counts(g: np.ndarray, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Called and non-reference alleles per variant, a chunk of variants at a time (an
    exome-scale cohort's calls are gigabytes; a whole-array temporary of int64 is 8 times that)."""
    called = np.empty(len(g), dtype=np.int64)
    alt = np.empty(len(g), dtype=np.int64)
    for a in range(0, len(g), chunk):
        block = g[a : a + chunk]
        called[a : a + chunk] = (block >= 0).sum(axis=(1, 2))
        alt[a : a + chunk] = (block > 0).sum(axis=(1, 2))
    return called, alt


#: Distance bands (bp) of the LD-decay rows; the last is shown, not judged (no published
#: figure for it is at hand).
LD_BANDS = {"ld_5kb": (1_000, 10_000), "ld_100kb": (50_000, 150_000), None: (500_000, 2_000_000)}
#: LD is measured on SNPs with at least this minor allele frequency (as on a genotyping chip),
#: in at most this many unrelated people.
LD_MIN_MAF = 0.05
LD_MAX_PEOPLE = 500


def _ld_rows(data: _Data) -> list[dict]:
    samples = data.samples
    majority = samples.population.value_counts().index[0]
    people = np.flatnonzero(
        (samples.family_id.isna() & (samples.population == majority)).to_numpy()
    )
    people = people[:LD_MAX_PEOPLE]
    snv = np.flatnonzero(
        ~data.is_x
        & (data.variants.alt.str.len() == 1).to_numpy()
        & (data.variants.ref.str.len() == 1).to_numpy()
    )
    decay = ld_bands(
        data.calls[np.ix_(snv, people)],
        data.variants.contig.to_numpy()[snv],
        data.variants.position.to_numpy()[snv],
        LD_BANDS,
        min_maf=LD_MIN_MAF,
    )
    far, far_pairs = decay[None]
    rows = []
    for key in ("ld_5kb", "ld_100kb"):
        value, n = decay[key]
        detail = f"{n:,} pairs, {len(people):,} people"
        if key == "ld_100kb" and far_pairs:
            detail += f"; at 0.5–2 Mb: {far:.3f} ({far_pairs:,} pairs; shown, not judged)"
        rows.append(_row(key, value, data=data, detail=detail, count=n))
    return rows


def _cohort_rows(data: _Data) -> list[dict]:
    g = data.calls
    alleles, alt = _allele_counts(g)
    maf = np.minimum(alt, alleles - alt) / np.maximum(alleles, 1)
    coding_snv = (data.is_ti | data.is_tv) & (data.impact != "MODIFIER")
    rows = [
        _row(
            "rare_share",
            float((maf[coding_snv] < 0.005).mean()) if coding_snv.any() else None,
            data=data,
            detail=f"{int(coding_snv.sum()):,} coding SNV sites; all sites "
            f"{float((maf < 0.005).mean()):.2f}",
        )
    ]

    samples = data.samples
    auto = ~data.is_x
    # chrX comes last in a cohort: the autosomes are then a view, not a gigabyte-sized copy
    n_auto = int(auto.sum())
    autosomes = g[:n_auto] if auto[:n_auto].all() else g[auto]
    kin = king_kinship(autosomes, sample_ids=list(samples.person_id))
    pairs = expected_relatives(samples)
    phi = kin.to_numpy()
    idx = {p: i for i, p in enumerate(kin.index)}
    first = [phi[idx[a], idx[b]] for a, b in zip(pairs.sample_a, pairs.sample_b, strict=True)]
    first = np.array(first)
    rows.append(
        _row(
            "king_first_degree",
            float(((first >= 0.177) & (first <= 0.354)).mean()) if len(first) else None,
            data=data,
            detail=f"{len(first)} known pairs, kinship {first.min():.3f}–{first.max():.3f}"
            if len(first)
            else "no known relatives",
            count=data.genome_bp / 1e6,
        )
    )
    family = samples.family_id.to_numpy()
    same = (family[:, None] == family[None, :]) & pd.notna(family)[:, None]
    upper = np.triu(np.ones_like(same, dtype=bool), k=1) & ~same
    same_population = samples.population.to_numpy()
    upper &= same_population[:, None] == same_population[None, :]
    close = (phi > 0.0442) & upper
    rows.append(
        _row(
            "king_unrelated_related",
            float(close.sum() / max(upper.sum(), 1)),
            data=data,
            detail=f"{int(close.sum())} of {int(upper.sum()):,} unrelated same-population pairs",
            count=data.genome_bp / 1e6,
        )
    )
    rows += _ld_rows(data)
    sizes = samples.population.value_counts()
    majority, others, values = sizes.index[0], [], []
    if len(sizes) > 1:
        fst = pairwise_fst(g, populations=samples.population.to_numpy())
        others = [p for p in fst.index if p != majority]
        values = [float(fst.loc[majority, p]) for p in others]
    rows.append(
        _row(
            "fst",
            float(np.median(values)) if values else None,
            data=data,
            detail=", ".join(
                f"{majority}–{p} {v:.3f}" for p, v in zip(others, values, strict=True)
            ),
            count=int(sizes.min()),
        )
    )
    return rows


# -- showing --------------------------------------------------------------------------------


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if value == 0:
        return "0"
    if abs(value) < 0.01:
        return f"{value:.2e}"
    if abs(value) < 10:
        return f"{value:.3g}"
    return f"{value:,.0f}"


def format_scorecard(table: pd.DataFrame) -> str:
    """The scorecard as plain text, one figure per line, flagged where outside."""
    marks = {"inside": "ok ", "outside": "OUT", "not judged": " - "}
    lines = []
    for section, rows in table.groupby("section", sort=False):
        lines.append(f"per {section}")
        for r in rows.itertuples(index=False):
            lines.append(
                f"  [{marks[r.status]}] {r.figure}: {_fmt(r.value)} "
                f"(published {_fmt(r.low)}–{_fmt(r.high)})" + (f" — {r.detail}" if r.detail else "")
            )
    inside = int((table.status == "inside").sum())
    outside = int((table.status == "outside").sum())
    lines.append(
        f"{inside} inside, {outside} outside, {len(table) - inside - outside} not judged; "
        "sources: scorecard(...).source"
    )
    return "\n".join(lines)


def plot_scorecard(table: pd.DataFrame, *, ax=None):
    """Each judged figure's place in its published range (0 = low end, 1 = high end)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(table) + 1))
    judged = table[table.status != "not judged"].reset_index(drop=True)
    span = (judged.high - judged.low).replace(0, 1)
    where = ((judged.value.astype(float) - judged.low) / span).clip(-0.5, 1.5)
    colours = ["tab:green" if s == "inside" else "tab:red" for s in judged.status]
    ax.axvspan(0, 1, color="0.9", label="published range")
    ax.scatter(where, range(len(judged)), c=colours, zorder=3)
    ax.set_yticks(range(len(judged)), judged.figure, fontsize=8)
    ax.set_xlim(-0.6, 1.6)
    ax.set_xlabel("position in the published range (clipped)")
    ax.invert_yaxis()
    ax.set_title("Realism scorecard")
    return ax
