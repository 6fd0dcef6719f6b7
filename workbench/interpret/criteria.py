"""ACMG/AMP criteria computed from data, as plain functions of plain values.

Each criterion function takes keyword-only plain values (consequence terms, allele
frequencies, genotypes, counts) and returns an :class:`~workbench.interpret.acmg.Evidence`
with a ``note`` saying why it applies, or ``None`` when it does not (or the data given cannot
tell). :func:`compute_criteria` runs them all on one :class:`VariantFacts` and resolves their
interactions (below). Criteria that need literature, functional data, other variants at the
residue or clinical judgement are left to the user: :data:`USER_CRITERIA`.

Where the inputs come from in a cohort folder
---------------------------------------------
* ``consequences``: :class:`workbench.genome.Annotation.consequences` (Sequence Ontology
  terms); :func:`facts_from_annotation` also fills ``gene`` and the synthetic in-silico score.
* ``af`` / ``an``: ``knowledge/population_frequencies.tsv.gz`` columns ``af_<POP>`` and
  ``an_<POP>``; pass ``af={}`` when the variant has no row (absent from the database) and
  ``af=None`` when the database was not consulted.
* ``mode``: the ``mode`` column of ``knowledge/gene_disease.tsv`` (``AD``, ``AR``, ``XL``).
* ``lof_mechanism``: whether loss of function causes the gene's disease. The gene–disease
  table has no mechanism column; in the synthetic cohorts every catalogue disease is planted
  with null variants in every mode (``synth.clinical``), so the caller passes ``True`` for a
  gene listed in ``gene_disease.tsv`` and ``None`` (unknown) otherwise. Real data would take
  it from ClinGen dosage sensitivity (haploinsufficiency) for dominant disease.
* genotypes: alternate-allele counts (0, 1, 2) of proband, father and mother from the
  genotype matrix; ``parentage_confirmed`` from a relatedness check (e.g. KING kinship of each
  parent with the proband near 0.25).

Thresholds (:class:`Thresholds`, all overridable)
-------------------------------------------------
* BA1: allele frequency > 5 % in a population with ≥ 2,000 observed alleles (ClinGen SVI,
  Ghosh et al. 2018).
* BS1: the highest population allele frequency (same ≥ 2,000-allele rule) exceeds the
  maximum credible allele frequency of the disorder (:func:`max_credible_af`, Whiffin et al.
  2017); not evaluated without that number.
* PM2: absent, or the pooled allele frequency and the highest well-sampled population
  frequency both below 1e-4 for dominant and X-linked disorders (and when the mode is
  unknown) and below 1e-3 for recessive ones. Richards 2015 asks for absence for dominant
  and an "extremely low frequency" for recessive disorders; these cut-offs are workbench
  defaults of the order ClinGen expert-panel specifications use (e.g. PAH: PM2 < 2e-4, BS1
  > 2e-3). Applied at moderate (2015); ClinGen SVI (2020) recommends ``strength="supporting"``.
* PP3 / BP4: synthetic score ≥ 0.644 / ≤ 0.290, the supporting-level REVEL cut-offs of
  Pejaver et al. 2022 (the score here is synthetic, see :func:`insilico_score`).
* PP1: informative meioses ≥ 3 supporting, ≥ 5 moderate, ≥ 7 strong (likelihood ratios 8,
  32, 128; Jarvik & Browning 2016).

Interactions :func:`compute_criteria` resolves
----------------------------------------------
PP3 is not added to a variant that has PVS1 (the predicted loss of function would count
twice); PM4 is not added beside PVS1; BS1 is not added beside BA1 (the same frequency twice);
PM2 is not added when BA1 or BS1 apply; PS2 and PM6 exclude each other.

References
----------
Richards S et al. (2015) Genet Med 17:405–424. Abou Tayoun AN et al. (2018) Recommendations
for interpreting the loss of function PVS1 ACMG/AMP variant criterion. Hum Mutat
39:1517–1524. Ghosh R et al. (2018) Updated recommendation for the benign stand-alone ACMG/AMP
criterion. Hum Mutat 39:1525–1530. Whiffin N et al. (2017) Using high-resolution variant
frequencies to empower clinical genome interpretation. Genet Med 19:1151–1158. Jarvik GP,
Browning BL (2016) Consideration of cosegregation in the pathogenicity classification of
genomic variants. Am J Hum Genet 98:1077–1081. Pejaver V et al. (2022) Calibration of
computational tools for missense variant pathogenicity classification and ClinGen
recommendations for PP3 and BP4 criteria. Am J Hum Genet 109:2163–2177. ClinGen SVI
recommendations for PM2 (v1.0, 2020) and PM3 (v1.0, 2019).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import InputError
from .acmg import CLASSES, CRITERIA, Evidence

__all__ = [
    "COMPUTED_CRITERIA",
    "DEFAULT_THRESHOLDS",
    "MODES",
    "NULL_CONSEQUENCES",
    "USER_CRITERIA",
    "Thresholds",
    "VariantFacts",
    "ba1",
    "bp7",
    "bs1",
    "bs2",
    "compute_criteria",
    "de_novo",
    "facts_from_annotation",
    "frequencies_from_row",
    "insilico_score",
    "max_credible_af",
    "pm2",
    "pm3",
    "pm4",
    "popmax",
    "pp1",
    "pp3_bp4",
    "pvs1",
    "trio_origin",
]

#: Modes of inheritance as ``knowledge/gene_disease.tsv`` writes them.
MODES = ("AD", "AR", "XL")

#: Consequences of a null variant (PVS1): nonsense, frameshift, canonical ±1/2 splice site,
#: start loss, and loss of the whole transcript.
NULL_CONSEQUENCES = frozenset(
    {
        "stop_gained",
        "frameshift_variant",
        "splice_donor_variant",
        "splice_acceptor_variant",
        "start_lost",
        "transcript_ablation",
    }
)
_INFRAME = frozenset({"inframe_insertion", "inframe_deletion"})
_SPLICE = frozenset({"splice_donor_variant", "splice_acceptor_variant", "splice_region_variant"})

#: Criteria :func:`compute_criteria` can decide from data.
COMPUTED_CRITERIA = (
    "PVS1",
    "PS2",
    "PM2",
    "PM3",
    "PM4",
    "PM6",
    "PP1",
    "PP3",
    "BA1",
    "BS1",
    "BS2",
    "BP4",
    "BP7",
)

#: Criteria the data in a cohort folder cannot decide: literature, functional studies, case
#: collections, other variants at the same residue, clinical judgement. Ticked by the user.
USER_CRITERIA = (
    "PS1",
    "PS3",
    "PS4",
    "PM1",
    "PM5",
    "PP2",
    "PP4",
    "PP5",
    "BS3",
    "BS4",
    "BP1",
    "BP2",
    "BP3",
    "BP5",
    "BP6",
)

_PATHOGENIC_CLASSES = ("Pathogenic", "Likely pathogenic")
_ORIGINS = ("paternal", "maternal", "de_novo", "biparental")


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs of the computed criteria (see the module docstring for their sources)."""

    ba1_af: float = 0.05
    min_an: int = 2000
    pm2_dominant_af: float = 1e-4
    pm2_recessive_af: float = 1e-3
    pm2_strength: str = "moderate"
    pp3_min: float = 0.644
    bp4_max: float = 0.290
    pp1_meioses: tuple[int, int, int] = (3, 5, 7)

    def __post_init__(self):
        for name in ("ba1_af", "pm2_dominant_af", "pm2_recessive_af", "pp3_min", "bp4_max"):
            _fraction(getattr(self, name), name)
        _count(self.min_an, "min_an")
        m = self.pp1_meioses
        if not (
            isinstance(m, tuple) and len(m) == 3 and all(isinstance(x, int) for x in m)
        ) or not (0 < m[0] <= m[1] <= m[2]):
            raise InputError(
                f"expected pp1_meioses as three increasing positive integers (supporting, "
                f"moderate, strong), got {m!r}"
            )
        if self.bp4_max >= self.pp3_min:
            raise InputError(
                f"bp4_max ({self.bp4_max}) must be below pp3_min ({self.pp3_min}), or one "
                "score would be evidence both ways"
            )
        Evidence("PM2", self.pm2_strength)  # checks the strength


# -- parsing at the boundary ----------------------------------------------------------------


def _fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected {name} as a number between 0 and 1, got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise InputError(f"expected {name} between 0 and 1, got {value}")
    return value


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputError(f"expected {name} as a non-negative integer, got {value!r}")
    value = int(value)
    if value < 0:
        raise InputError(f"expected {name} as a non-negative integer, got {value}")
    return value


def _optional_count(value, name: str) -> int | None:
    return None if value is None else _count(value, name)


def _genotype(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) not in (0, 1, 2):
        raise InputError(
            f"expected {name} as an alternate-allele count 0, 1 or 2 (None when unknown), "
            f"got {value!r}"
        )
    return int(value)


def _mode(value) -> str | None:
    if value is None:
        return None
    if value not in MODES:
        raise InputError(
            f"expected mode as one of {', '.join(MODES)} (gene_disease.tsv) or None, got {value!r}"
        )
    return value


def _consequences(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable):
        raise InputError(
            f"expected consequences as Sequence Ontology terms, got {type(value).__name__}"
        )
    terms = tuple(value)
    if not terms or not all(isinstance(t, str) and t for t in terms):
        raise InputError(
            "expected one or more Sequence Ontology terms such as 'missense_variant', "
            f"got {terms!r}"
        )
    return terms


def _frequencies(af, an) -> tuple[dict[str, float], dict[str, int]] | None:
    if af is None:
        return None
    if not isinstance(af, Mapping):
        raise InputError(
            f"expected af as a mapping population → allele frequency, got {type(af).__name__}"
        )
    if an is None:
        an = {}
    if not isinstance(an, Mapping):
        raise InputError(
            f"expected an as a mapping population → allele number, got {type(an).__name__}"
        )
    missing = sorted(set(af) - set(an))
    if missing:
        raise InputError(
            f"allele numbers are missing for populations {missing}; pass an={{population: "
            "allele number}} for every population in af (the an_<POP> columns)"
        )
    freqs = {str(p): _fraction(v, f"af[{p!r}]") for p, v in sorted(af.items())}
    numbers = {str(p): _count(an[p], f"an[{p!r}]") for p in sorted(af)}
    return freqs, numbers


def _origin(value, name: str) -> str | None:
    if value is None or value in _ORIGINS:
        return value
    raise InputError(f"expected {name} as one of {', '.join(_ORIGINS)} or None, got {value!r}")


#: The cut-offs :func:`compute_criteria` uses unless told otherwise.
DEFAULT_THRESHOLDS = Thresholds()


# -- the facts ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VariantFacts:
    """What is known about one variant in one proband, as plain values.

    Attributes
    ----------
    consequences
        Sequence Ontology terms (one string is accepted).
    gene
        Gene symbol, for the notes.
    mode
        ``"AD"``, ``"AR"``, ``"XL"`` or ``None`` (unknown).
    lof_mechanism
        Loss of function causes the disease (``None``: unknown; PVS1 then not applied).
    af, an
        Allele frequency and allele number per population; ``af={}`` absent from the
        database, ``af=None`` not looked up.
    insilico
        In-silico score in [0, 1] (:func:`insilico_score`), ``None`` when not computed.
    in_repeat
        The variant lies in a repeat region (PM4 does not apply to in-frame indels there).
    proband_genotype, father_genotype, mother_genotype
        Alternate-allele counts, ``None`` when not genotyped.
    parentage_confirmed
        Both parents confirmed biologically (PS2 rather than PM6).
    origin
        Parental origin of this variant; derived with :func:`trio_origin` from the
        genotypes when ``None``.
    partner_origin, partner_classification
        For PM3: origin and classification of the other variant in the same gene.
    affected_carriers, unaffected_noncarriers, affected_noncarriers
        Relatives of the proband (the proband not counted) by affection and carrier status:
        for a recessive disorder, carrier means the proband's genotype at the gene.
    healthy_adult_homozygotes, healthy_adult_heterozygotes
        Healthy adults seen with the variant (``None``: unknown). Hemizygous men count as
        homozygotes for an X-linked disorder.
    fully_penetrant
        The disorder is fully penetrant at an early age (BS2 from heterozygotes, dominant).
    max_credible_af
        Maximum credible population allele frequency for the disorder (BS1), see
        :func:`max_credible_af`.
    """

    consequences: tuple[str, ...]
    gene: str | None = None
    mode: str | None = None
    lof_mechanism: bool | None = None
    af: Mapping[str, float] | None = None
    an: Mapping[str, int] | None = None
    insilico: float | None = None
    in_repeat: bool = False
    proband_genotype: int | None = None
    father_genotype: int | None = None
    mother_genotype: int | None = None
    parentage_confirmed: bool = False
    origin: str | None = None
    partner_origin: str | None = None
    partner_classification: str | None = None
    affected_carriers: int = 0
    unaffected_noncarriers: int = 0
    affected_noncarriers: int = 0
    healthy_adult_homozygotes: int | None = None
    healthy_adult_heterozygotes: int | None = None
    fully_penetrant: bool = False
    max_credible_af: float | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("consequences", _consequences(self.consequences))
        put("mode", _mode(self.mode))
        if self.lof_mechanism not in (None, True, False):
            raise InputError(
                f"expected lof_mechanism as True, False or None, got {self.lof_mechanism!r}"
            )
        for name in ("in_repeat", "parentage_confirmed", "fully_penetrant"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"expected {name} as True or False, got {getattr(self, name)!r}")
        parsed = _frequencies(self.af, self.an)
        if parsed is not None:
            put("af", parsed[0])
            put("an", parsed[1])
        if self.insilico is not None:
            put("insilico", _fraction(self.insilico, "insilico"))
        if self.max_credible_af is not None:
            put("max_credible_af", _fraction(self.max_credible_af, "max_credible_af"))
        for who in ("proband", "father", "mother"):
            name = f"{who}_genotype"
            put(name, _genotype(getattr(self, name), name))
        for name in ("affected_carriers", "unaffected_noncarriers", "affected_noncarriers"):
            put(name, _count(getattr(self, name), name))
        for name in ("healthy_adult_homozygotes", "healthy_adult_heterozygotes"):
            put(name, _optional_count(getattr(self, name), name))
        put("origin", _origin(self.origin, "origin"))
        put("partner_origin", _origin(self.partner_origin, "partner_origin"))
        if self.partner_classification not in (None, *CLASSES):
            raise InputError(
                "expected partner_classification in the ACMG five-tier wording "
                f"({', '.join(CLASSES)}), got {self.partner_classification!r}"
            )


def facts_from_annotation(annotation, **facts) -> VariantFacts:
    """:class:`VariantFacts` with consequences, gene and in-silico score from an annotation.

    ``annotation`` is a :class:`workbench.genome.Annotation`; ``facts`` are the other
    :class:`VariantFacts` fields.
    """
    for name in ("consequences", "gene", "insilico"):
        if name in facts:
            raise InputError(f"{name} comes from the annotation; do not pass it as well")
    return VariantFacts(
        consequences=annotation.consequences,
        gene=annotation.gene,
        insilico=insilico_score(annotation),
        **facts,
    )


def frequencies_from_row(row) -> tuple[dict[str, float], dict[str, int]]:
    """``(af, an)`` per population from a ``population_frequencies.tsv.gz`` row.

    ``row`` is a mapping (a dict or a pandas Series) with ``af_<POP>`` and ``an_<POP>``
    entries, or ``None`` when the variant has no row — then ``({}, {})``: absent from the
    database. Overall ``af``/``an`` columns are ignored (populations are judged one by one).
    """
    if row is None:
        return {}, {}
    if not hasattr(row, "keys"):
        raise InputError(f"expected a frequency-table row as a mapping, got {type(row).__name__}")
    af, an = {}, {}
    keys = [str(k) for k in row.keys()]  # noqa: SIM118 - a pandas Series iterates over values
    for key in keys:
        kind, _, pop = str(key).partition("_")
        if pop and kind == "af":
            af[pop] = float(row[key])
            if f"an_{pop}" not in keys:
                raise InputError(f"the row has af_{pop} but no an_{pop} column")
            an[pop] = int(row[f"an_{pop}"])
    if not af:
        raise InputError("the row has no af_<POP> columns; pass a population_frequencies row")
    return af, an


# -- helpers --------------------------------------------------------------------------------


def popmax(af, an, *, min_an: int = 2000) -> tuple[str, float] | None:
    """The population with the highest allele frequency among those with ≥ ``min_an`` alleles.

    Returns ``(population, af)``, or ``None`` when no population has enough alleles. Ties go
    to the alphabetically first population.
    """
    parsed = _frequencies(af, an)
    if parsed is None:
        raise InputError("expected af as a mapping population → allele frequency, got None")
    freqs, numbers = parsed
    min_an = _count(min_an, "min_an")
    eligible = [(p, f) for p, f in freqs.items() if numbers[p] >= min_an]
    if not eligible:
        return None
    return max(eligible, key=lambda pf: (pf[1], [-ord(ch) for ch in pf[0]]))


def _pooled(freqs: dict[str, float], numbers: dict[str, int]) -> float | None:
    total = sum(numbers.values())
    if total == 0:
        return None
    return sum(freqs[p] * numbers[p] for p in freqs) / total


def max_credible_af(
    *,
    prevalence: float,
    mode: str,
    allelic_contribution: float = 1.0,
    genetic_contribution: float = 1.0,
    penetrance: float = 1.0,
) -> float:
    """Maximum credible population allele frequency of one causal variant (for BS1).

    Parameters
    ----------
    prevalence
        Prevalence of the disorder (for ``"XL"``: among males).
    mode
        ``"AD"``, ``"AR"`` or ``"XL"``.
    allelic_contribution
        Largest share of cases one variant explains (allelic heterogeneity).
    genetic_contribution
        Share of cases explained by this gene (genetic heterogeneity).
    penetrance
        Penetrance of the variant.

    Returns
    -------
    float
        Dominant: prevalence × allelic × genetic / (2 × penetrance), since an affected
        heterozygote carries one of two alleles. Recessive: allelic × sqrt(prevalence ×
        genetic / penetrance) (Hardy–Weinberg: cases ≈ q²). X-linked: prevalence in males ×
        allelic × genetic / penetrance (hemizygous males carry one allele).

    References
    ----------
    Whiffin N et al. (2017) Genet Med 19:1151–1158.
    """
    mode = _mode(mode)
    if mode is None:
        raise InputError("expected mode AD, AR or XL to compute a maximum credible AF, got None")
    prevalence = _fraction(prevalence, "prevalence")
    a = _fraction(allelic_contribution, "allelic_contribution")
    g = _fraction(genetic_contribution, "genetic_contribution")
    pen = _fraction(penetrance, "penetrance")
    if pen == 0.0:
        raise InputError("expected penetrance above 0, got 0")
    if mode == "AD":
        return min(1.0, prevalence * a * g / (2.0 * pen))
    if mode == "AR":
        return min(1.0, a * math.sqrt(prevalence * g / pen))
    return min(1.0, prevalence * a * g / pen)


def trio_origin(*, proband: int, father: int | None, mother: int | None) -> str | None:
    """Parental origin of a proband's allele from trio genotypes (alternate-allele counts).

    Returns
    -------
    str or None
        ``"de_novo"`` (heterozygous proband, both parents 0), ``"paternal"`` or
        ``"maternal"`` (only that parent carries it), ``"biparental"`` (homozygous proband,
        both parents carriers), or ``None`` when the genotypes cannot tell (a parent not
        genotyped, both parents carriers of a heterozygous proband, or a Mendelian
        inconsistency).
    """
    p = _genotype(proband, "proband")
    f = _genotype(father, "father")
    m = _genotype(mother, "mother")
    if p is None or p == 0:
        raise InputError(
            f"expected the proband to carry the variant (genotype 1 or 2), got {proband!r}"
        )
    if f is None or m is None:
        return None
    if p == 2:
        return "biparental" if f >= 1 and m >= 1 else None
    if f == 0 and m == 0:
        return "de_novo"
    if f >= 1 and m == 0:
        return "paternal"
    if m >= 1 and f == 0:
        return "maternal"
    return None


def insilico_score(annotation) -> float:
    """A SYNTHETIC, deterministic in-silico pathogenicity score in [0, 1] (REVEL-like scale).

    Not a prediction: there are no real proteins to predict on. The score is drawn from a
    range set by the most severe consequence, at a point fixed by a SHA-256 hash of
    ``contig:pos:ref:alt``, so the same variant always scores the same and teaching cases
    show both supportive and non-supportive predictions:

    ===================================================  ============
    null consequences (stop gained, frameshift, …)       0.85 – 1.00
    stop lost                                            0.60 – 0.95
    missense                                             0.02 – 0.98
    in-frame insertion / deletion                        0.30 – 0.90
    splice region                                        0.20 – 0.80
    synonymous, stop retained                            0.00 – 0.25
    UTR, intron, intergenic, other                       0.00 – 0.20
    ===================================================  ============

    ``annotation`` is a :class:`workbench.genome.Annotation` (or anything with ``contig``,
    ``pos``, ``ref``, ``alt`` and ``consequence``). Rounded to three decimals.
    """
    try:
        key = f"{annotation.contig}:{int(annotation.pos)}:{annotation.ref}:{annotation.alt}"
        consequence = annotation.consequence
    except (AttributeError, TypeError, ValueError) as e:
        raise InputError(
            "expected an Annotation (contig, pos, ref, alt, consequence) from "
            f"workbench.genome.annotate, got {type(annotation).__name__}"
        ) from e
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    lo, hi = _score_range(consequence)
    return round(lo + (hi - lo) * u, 3)


def _score_range(consequence: str) -> tuple[float, float]:
    if consequence in NULL_CONSEQUENCES:
        return 0.85, 1.0
    return {
        "stop_lost": (0.60, 0.95),
        "missense_variant": (0.02, 0.98),
        "inframe_insertion": (0.30, 0.90),
        "inframe_deletion": (0.30, 0.90),
        "splice_region_variant": (0.20, 0.80),
        "synonymous_variant": (0.0, 0.25),
        "stop_retained_variant": (0.0, 0.25),
    }.get(consequence, (0.0, 0.20))


def _fmt(af: float) -> str:
    return f"{af:.3g}"


# -- the criteria ---------------------------------------------------------------------------


def pvs1(*, consequences, lof_mechanism: bool | None) -> Evidence | None:
    """PVS1: a null variant in a gene where loss of function is the disease mechanism.

    ``lof_mechanism`` comes from the gene–disease knowledge (see the module docstring);
    ``None`` (unknown) or ``False`` never gives PVS1. Applied at very strong; the ClinGen
    PVS1 decision tree (NMD escape, last exon, alternative start codon) may lower it, which
    the user does by changing the strength.
    """
    terms = _consequences(consequences)
    null = [t for t in terms if t in NULL_CONSEQUENCES]
    if not null or lof_mechanism is not True:
        return None
    return Evidence(
        "PVS1",
        note=f"{null[0]} is a null variant and loss of function is the disease mechanism; "
        "check NMD and alternative start codons (ClinGen PVS1 decision tree) before keeping "
        "very strong",
    )


def de_novo(
    *, proband: int | None, father: int | None, mother: int | None, parentage_confirmed: bool
) -> Evidence | None:
    """PS2 (de novo, parentage confirmed) or PM6 (assumed de novo) from trio genotypes.

    The proband carries the variant (genotype ≥ 1) and both parents are genotyped and do
    not (genotype 0). ClinGen also asks that the phenotype fit the gene's disease; that is
    the user's check.
    """
    p = _genotype(proband, "proband")
    f = _genotype(father, "father")
    m = _genotype(mother, "mother")
    if not p or f is None or m is None or f or m:
        return None
    if not isinstance(parentage_confirmed, bool):
        raise InputError(
            f"expected parentage_confirmed as True or False, got {parentage_confirmed!r}"
        )
    if parentage_confirmed:
        return Evidence(
            "PS2",
            note="absent from both parents (genotype 0 in father and mother) with maternity "
            "and paternity confirmed: de novo",
        )
    return Evidence(
        "PM6",
        note="absent from both parents but parentage not confirmed: assumed de novo",
    )


def pm2(
    *,
    af,
    an=None,
    mode: str | None,
    dominant_af: float = 1e-4,
    recessive_af: float = 1e-3,
    min_an: int = 2000,
    strength: str = "moderate",
) -> Evidence | None:
    """PM2: absent from, or extremely rare in, the population database.

    Absent (``af={}`` or every frequency 0) always qualifies. Otherwise both the pooled
    frequency and the highest frequency among populations with ≥ ``min_an`` alleles must be
    below the threshold for the mode: ``recessive_af`` for ``"AR"``, ``dominant_af``
    otherwise (dominant, X-linked, or unknown mode — the stricter choice). ``af=None``
    (database not consulted) gives ``None``.
    """
    parsed = _frequencies(af, an)
    if parsed is None:
        return None
    freqs, numbers = parsed
    mode = _mode(mode)
    dominant_af = _fraction(dominant_af, "dominant_af")
    recessive_af = _fraction(recessive_af, "recessive_af")
    if not freqs or all(f == 0.0 for f in freqs.values()):
        if freqs and sum(numbers.values()) == 0:
            return None  # a row without any observed allele: the site was not covered
        return Evidence("PM2", strength, note="absent from the population database")
    threshold, kind = (
        (recessive_af, "recessive") if mode == "AR" else (dominant_af, "dominant/X-linked")
    )
    pooled = _pooled(freqs, numbers)
    top = popmax(freqs, numbers, min_an=min_an)
    if pooled is None or pooled >= threshold or (top is not None and top[1] >= threshold):
        return None
    where = f"; highest population {top[0]} {_fmt(top[1])}" if top else ""
    return Evidence(
        "PM2",
        strength,
        note=f"extremely rare: pooled allele frequency {_fmt(pooled)}{where}, below the "
        f"{kind} threshold {_fmt(threshold)}",
    )


def pm3(
    *,
    mode: str | None,
    origin: str | None,
    partner_origin: str | None,
    partner_classification: str | None,
) -> Evidence | None:
    """PM3: recessive disorder, in trans with a pathogenic or likely pathogenic variant.

    In trans means one variant came from the father and the other from the mother. With a
    Pathogenic partner PM3 applies at moderate; with a Likely pathogenic partner at
    supporting (ClinGen SVI PM3 points: 1 and 0.5 per proband).
    """
    if _mode(mode) != "AR" or partner_classification not in _PATHOGENIC_CLASSES:
        return None
    origin = _origin(origin, "origin")
    partner_origin = _origin(partner_origin, "partner_origin")
    if {origin, partner_origin} != {"paternal", "maternal"}:
        return None
    strength = "moderate" if partner_classification == "Pathogenic" else "supporting"
    return Evidence(
        "PM3",
        strength,
        note=f"in trans ({origin} here, {partner_origin} partner) with a "
        f"{partner_classification.lower()} variant in a recessive gene",
    )


def pm4(*, consequences, in_repeat: bool) -> Evidence | None:
    """PM4: protein length change — in-frame insertion/deletion outside a repeat, or stop loss.

    Not applied to null variants (PVS1 covers them).
    """
    terms = _consequences(consequences)
    if any(t in NULL_CONSEQUENCES for t in terms):
        return None
    if "stop_lost" in terms:
        return Evidence("PM4", note="stop lost: the protein is extended")
    inframe = [t for t in terms if t in _INFRAME]
    if inframe and not in_repeat:
        return Evidence("PM4", note=f"{inframe[0]} outside a repeat region changes protein length")
    return None


def pp1(
    *,
    mode: str | None,
    affected_carriers: int,
    unaffected_noncarriers: int,
    affected_noncarriers: int = 0,
    meioses: tuple[int, int, int] = (3, 5, 7),
) -> Evidence | None:
    """PP1: co-segregation with disease in the family, strength by informative meioses.

    Dominant or X-linked (and unknown mode): each affected relative carrying the variant and
    each unaffected relative without it counts one meiosis (the latter assumes full
    penetrance). Recessive: each affected relative with the proband's genotype counts two
    (an affected sibling shares it with probability 1/4); unaffected relatives are not
    counted. ``meioses`` gives the counts for supporting, moderate and strong (Jarvik &
    Browning 2016). Any affected relative without the variant stops PP1 (consider BS4).
    """
    mode = _mode(mode)
    carriers = _count(affected_carriers, "affected_carriers")
    clear = _count(unaffected_noncarriers, "unaffected_noncarriers")
    if _count(affected_noncarriers, "affected_noncarriers"):
        return None
    n = 2 * carriers if mode == "AR" else carriers + clear
    supporting, moderate, strong = meioses
    if n < supporting:
        return None
    strength = "strong" if n >= strong else "moderate" if n >= moderate else "supporting"
    return Evidence(
        "PP1",
        strength,
        note=f"co-segregates over {n} informative meioses ({carriers} affected carrier "
        f"relatives, {clear} unaffected non-carriers); likelihood ratio about {2**n}",
    )


def pp3_bp4(*, score: float | None, pp3_min: float = 0.644, bp4_max: float = 0.290):
    """PP3 (score ≥ ``pp3_min``) or BP4 (score ≤ ``bp4_max``) from an in-silico score.

    Returns ``None`` between the cut-offs or when there is no score.
    """
    if score is None:
        return None
    score = _fraction(score, "score")
    if score >= pp3_min:
        return Evidence(
            "PP3",
            note=f"synthetic in-silico score {score:.3f} ≥ {pp3_min} predicts a damaging effect",
        )
    if score <= bp4_max:
        return Evidence(
            "BP4",
            note=f"synthetic in-silico score {score:.3f} ≤ {bp4_max} predicts no impact",
        )
    return None


def ba1(*, af, an, min_an: int = 2000, threshold: float = 0.05) -> Evidence | None:
    """BA1: allele frequency above ``threshold`` in a population with ≥ ``min_an`` alleles."""
    if af is None:
        return None
    top = popmax(af, an, min_an=min_an)
    threshold = _fraction(threshold, "threshold")
    if top is None or top[1] <= threshold:
        return None
    return Evidence(
        "BA1",
        note=f"allele frequency {_fmt(top[1])} in {top[0]} (≥{min_an} alleles) is above "
        f"{_fmt(threshold)}",
    )


def bs1(*, af, an, max_credible_af: float | None, min_an: int = 2000) -> Evidence | None:
    """BS1: highest well-sampled population frequency above the disorder's maximum credible AF."""
    if af is None or max_credible_af is None:
        return None
    limit = _fraction(max_credible_af, "max_credible_af")
    top = popmax(af, an, min_an=min_an)
    if top is None or top[1] <= limit:
        return None
    return Evidence(
        "BS1",
        note=f"allele frequency {_fmt(top[1])} in {top[0]} is above the maximum credible "
        f"{_fmt(limit)} for the disorder",
    )


def bs2(
    *,
    mode: str | None,
    healthy_adult_homozygotes: int | None,
    healthy_adult_heterozygotes: int | None,
    fully_penetrant: bool,
) -> Evidence | None:
    """BS2: observed in a healthy adult where the disorder would have shown.

    Recessive or X-linked: a healthy adult homozygote (hemizygous man). Dominant: a healthy
    adult heterozygote (or homozygote), only for a disorder fully penetrant at an early age.
    Unknown mode or counts: ``None``.
    """
    mode = _mode(mode)
    hom = _optional_count(healthy_adult_homozygotes, "healthy_adult_homozygotes")
    het = _optional_count(healthy_adult_heterozygotes, "healthy_adult_heterozygotes")
    if mode in ("AR", "XL") and hom:
        kind = "homozygous" if mode == "AR" else "homozygous/hemizygous"
        return Evidence("BS2", note=f"{hom} healthy adult(s) {kind} for a {mode} disorder")
    if mode == "AD" and fully_penetrant and ((het or 0) + (hom or 0)) > 0:
        return Evidence(
            "BS2",
            note=f"{(het or 0) + (hom or 0)} healthy adult carrier(s) of a fully penetrant "
            "dominant disorder",
        )
    return None


def bp7(*, consequences) -> Evidence | None:
    """BP7: synonymous with no predicted splice impact (not in a splice site or region)."""
    terms = _consequences(consequences)
    if "synonymous_variant" not in terms:
        return None
    if any(t in _SPLICE or t in NULL_CONSEQUENCES for t in terms):
        return None
    return Evidence("BP7", note="synonymous and outside splice sites and splice regions")


# -- all together ---------------------------------------------------------------------------


def compute_criteria(
    facts: VariantFacts, *, thresholds: Thresholds | None = None
) -> list[Evidence]:
    """Every criterion the facts decide, in Richards' order, each with a note.

    Parameters
    ----------
    facts
        The variant's facts.
    thresholds
        Cut-offs; :data:`DEFAULT_THRESHOLDS` when ``None``.

    Returns
    -------
    list of Evidence
        Computed (``source="computed"``) criteria that apply, after the interactions in the
        module docstring. Criteria the data cannot decide are never included: see
        :data:`USER_CRITERIA`.
    """
    if not isinstance(facts, VariantFacts):
        raise InputError(f"expected VariantFacts, got {type(facts).__name__}")
    t = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    if not isinstance(t, Thresholds):
        raise InputError(f"expected thresholds as Thresholds, got {type(t).__name__}")

    found: dict[str, Evidence] = {}

    def add(e: Evidence | None) -> None:
        if e is not None:
            found[e.code] = e

    add(pvs1(consequences=facts.consequences, lof_mechanism=facts.lof_mechanism))
    add(
        de_novo(
            proband=facts.proband_genotype,
            father=facts.father_genotype,
            mother=facts.mother_genotype,
            parentage_confirmed=facts.parentage_confirmed,
        )
    )
    add(ba1(af=facts.af, an=facts.an, min_an=t.min_an, threshold=t.ba1_af))
    if "BA1" not in found:
        add(bs1(af=facts.af, an=facts.an, max_credible_af=facts.max_credible_af, min_an=t.min_an))
    if "BA1" not in found and "BS1" not in found:
        add(
            pm2(
                af=facts.af,
                an=facts.an,
                mode=facts.mode,
                dominant_af=t.pm2_dominant_af,
                recessive_af=t.pm2_recessive_af,
                min_an=t.min_an,
                strength=t.pm2_strength,
            )
        )
    origin = facts.origin
    if origin is None and facts.proband_genotype:
        origin = trio_origin(
            proband=facts.proband_genotype,
            father=facts.father_genotype,
            mother=facts.mother_genotype,
        )
    add(
        pm3(
            mode=facts.mode,
            origin=origin,
            partner_origin=facts.partner_origin,
            partner_classification=facts.partner_classification,
        )
    )
    if "PVS1" not in found:
        add(pm4(consequences=facts.consequences, in_repeat=facts.in_repeat))
    add(
        pp1(
            mode=facts.mode,
            affected_carriers=facts.affected_carriers,
            unaffected_noncarriers=facts.unaffected_noncarriers,
            affected_noncarriers=facts.affected_noncarriers,
            meioses=t.pp1_meioses,
        )
    )
    prediction = pp3_bp4(score=facts.insilico, pp3_min=t.pp3_min, bp4_max=t.bp4_max)
    if prediction is not None and not (prediction.code == "PP3" and "PVS1" in found):
        add(prediction)
    add(
        bs2(
            mode=facts.mode,
            healthy_adult_homozygotes=facts.healthy_adult_homozygotes,
            healthy_adult_heterozygotes=facts.healthy_adult_heterozygotes,
            fully_penetrant=facts.fully_penetrant,
        )
    )
    add(bp7(consequences=facts.consequences))
    return [found[code] for code in CRITERIA if code in found]
