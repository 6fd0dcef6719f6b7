"""Plan the clinical content of a synthetic cohort: diagnoses, findings and phenotypes.

:func:`plan_cases` decides, for every rare-disease family of the people table, what explains
the proband's disease (or that nothing does), which variants must be planted where to make
that true, and which HPO terms the proband presents with. It also plans secondary findings
in adults and benign variants in the same genes, so that filtering has something to remove.
The plan is data only; ``synth.population`` places the variants into the genomes.

Case mix (over the families with an affected proband, in this order of priority so a small
cohort still gets one of each):

=================================  =========================================================
``de_novo_dominant``               a dominant disease from a variant new in the child
``recessive_homozygous``           one variant on both haplotypes, one from each parent
                                   (the parents are carriers; consanguinity)
``compound_heterozygous``          two variants in one recessive gene, one from each parent
``x_linked``                       a boy, hemizygous for a variant from his carrier mother
``dominant_incomplete_penetrance`` a dominant variant inherited from an unaffected parent
unsolved                           the phenotype of a disease whose variant is not planted
vus_only                           only a missense of uncertain effect in a matching gene
dual                               two diagnoses (de novo dominant + a recessive or a second
                                   de novo), the phenotype a blend of both diseases
=================================  =========================================================

References
----------
Richards et al., Genet Med 2015;17:405–424 (ACMG/AMP variant classification); Miller et al.,
Genet Med 2023;25:100866 (ACMG SF v3.2); Köhler et al., the Human Phenotype Ontology.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError
from .model import PEOPLE_COLUMNS, PLANT_COLUMNS

__all__ = [
    "CASE_COLUMNS",
    "CASE_MODES",
    "CAUSAL_EFFECTS",
    "EXCLUDED_TERM_POOL",
    "LOF_EFFECTS",
    "NOISE_TERM_POOL",
    "PHENOTYPE_COLUMNS",
    "ClinicalPlan",
    "PhenotypeNoise",
    "plan_cases",
]

CASE_MODES = (
    "de_novo_dominant",
    "recessive_homozygous",
    "compound_heterozygous",
    "x_linked",
    "dominant_incomplete_penetrance",
)

CASE_COLUMNS = (
    "family_id",
    "proband_id",
    "status",
    "mode",
    "gene",
    "disease_id",
    "disease_name",
    "mode2",
    "gene2",
    "disease_id2",
    "disease_name2",
    "phenotype_disease_ids",
    "variant_keys",
)
PHENOTYPE_COLUMNS = ("person_id", "hpo_id", "label", "excluded")
#: The answer key's view of a phenotype: how each recorded term came about. ``kind`` is
#: ``disease`` (annotated to the disease), ``imprecise`` (a parent of the annotated term
#: ``source``), ``noise`` (unrelated to the disease) or ``excluded``.
PHENOTYPE_TRUTH_COLUMNS = ("person_id", "hpo_id", "kind", "source")
FAMILY_COLUMNS = ("family_id", "proband_id", "indication")
SKIPPED_COLUMNS = ("family_id", "reason")

#: Null-variant effects (ACMG PVS1 types).
LOF_EFFECTS = (
    "stop_gained",
    "frameshift_variant",
    "splice_donor_variant",
    "splice_acceptor_variant",
    "start_lost",
)
#: Effects of causal variants and how often each is drawn.
CAUSAL_EFFECTS = {
    "stop_gained": 0.25,
    "frameshift_variant": 0.25,
    "splice_donor_variant": 0.08,
    "splice_acceptor_variant": 0.08,
    "start_lost": 0.04,
    "missense_variant": 0.30,
}
_BENIGN_RARE_EFFECTS = ("missense_variant", "synonymous_variant", "intron_variant")
_BENIGN_COMMON_EFFECTS = (
    "synonymous_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "intron_variant",
)

#: Common, unspecific findings added to a proband's phenotype as noise.
NOISE_TERM_POOL = (
    "HP:0000545",  # Myopia
    "HP:0002019",  # Constipation
    "HP:0000964",  # Eczematoid dermatitis
    "HP:0000403",  # Recurrent otitis media
    "HP:0002099",  # Asthma
    "HP:0001763",  # Pes planus
    "HP:0000486",  # Strabismus
    "HP:0002315",  # Headache
    "HP:0000988",  # Skin rash
    "HP:0002020",  # Gastroesophageal reflux
    "HP:0001513",  # Obesity
)
#: Features a clinician typically records as absent.
EXCLUDED_TERM_POOL = (
    "HP:0001250",  # Seizure
    "HP:0001249",  # Intellectual disability
    "HP:0000252",  # Microcephaly
    "HP:0000256",  # Macrocephaly
    "HP:0000365",  # Hearing impairment
    "HP:0001627",  # Abnormal heart morphology
    "HP:0001252",  # Hypotonia
    "HP:0000729",  # Autistic behavior
    "HP:0004322",  # Short stature
    "HP:0000077",  # Abnormality of the kidney
    "HP:0001638",  # Cardiomyopathy
    "HP:0000505",  # Visual impairment
)

# Share of families per kind; one of each first (in this order) when there are enough.
_KIND_WEIGHTS = {
    "de_novo_dominant": 0.36,
    "recessive_homozygous": 0.12,
    "compound_heterozygous": 0.12,
    "x_linked": 0.08,
    "unsolved": 0.10,
    "dominant_incomplete_penetrance": 0.07,
    "vus_only": 0.08,
    "dual": 0.0,  # exactly one (when there are at least _DUAL_MIN_FAMILIES families)
}
_DUAL_MIN_FAMILIES = 10
_SECONDARY_RATE = 0.02
_ADULT_AGE = 18
_MODE_GENE = {
    "de_novo_dominant": "AD",
    "dominant_incomplete_penetrance": "AD",
    "recessive_homozygous": "AR",
    "compound_heterozygous": "AR",
    "x_linked": "XL",
}


@dataclass(frozen=True)
class PhenotypeNoise:
    """How a referral's phenotype differs from the disease's HPO annotations.

    The model of simulated patients in Köhler et al. 2009 (Am J Hum Genet 85:457, the
    Phenomizer) and in the LIRICAL and Exomiser benchmarks: a sample of the annotations
    (the rest drop out), **imprecision** (a term replaced by a less specific parent) and
    **noise** (terms unrelated to the disease), plus features recorded as absent.

    Attributes
    ----------
    terms
        Disease terms recorded, as an inclusive range, for a proband with one diagnosis (a
        dual diagnosis records 3–6 of each disease).
    few_terms_share
        Share of probands described by only 1–3 disease terms (a short referral).
    imprecision
        Probability that a recorded term is replaced by one of its parents (never by an
        organ-system term just below "Phenotypic abnormality").
    noise_terms, excluded_terms
        Unrelated terms and absent features, as inclusive ranges.
    """

    terms: tuple[int, int] = (4, 10)
    few_terms_share: float = 0.15
    imprecision: float = 0.3
    noise_terms: tuple[int, int] = (1, 3)
    excluded_terms: tuple[int, int] = (1, 2)

    def __post_init__(self):
        for name in ("terms", "noise_terms", "excluded_terms"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise InputError(f"phenotype noise {name} must be a range lo <= hi, got {lo, hi}")
        for name in ("few_terms_share", "imprecision"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"phenotype noise {name} must be in [0, 1]")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ClinicalPlan:
    """What to plant and what the probands look like.

    Attributes
    ----------
    cases
        One row per planned family (:data:`CASE_COLUMNS`): ``status`` is ``"solved"``,
        ``"unsolved"``, ``"vus_only"`` or ``"dual"``; ``mode``/``gene``/``disease_*`` name the
        (first) diagnosis, ``*2`` the second of a dual diagnosis; ``phenotype_disease_ids``
        the disease(s) the phenotype was drawn from (for unsolved cases a disease whose
        variant is *not* planted); ``variant_keys`` the planted variants explaining the case
        (comma separated). This is instructor truth.
    plants
        One row per planted allele copy, columns :data:`workbench.synth.model.PLANT_COLUMNS`.
    phenotypes
        ``person_id, hpo_id, label, excluded`` for each proband.
    phenotype_truth
        How each of those terms came about (:data:`PHENOTYPE_TRUTH_COLUMNS`; instructor truth).
    families
        ``family_id, proband_id, indication`` (the referral text, free of the diagnosis).
    skipped
        ``family_id, reason`` for families without a suitable proband.
    """

    cases: pd.DataFrame
    plants: pd.DataFrame
    phenotypes: pd.DataFrame
    phenotype_truth: pd.DataFrame
    families: pd.DataFrame
    skipped: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# input checks


def _parse_people(people) -> pd.DataFrame:
    if not isinstance(people, pd.DataFrame):
        raise InputError(f"expected people as a pandas DataFrame, got {type(people).__name__}")
    missing = [c for c in PEOPLE_COLUMNS if c not in people.columns]
    if missing:
        raise InputError(
            f"people table lacks columns {missing}; build it with the columns of "
            "workbench.synth.model.PEOPLE_COLUMNS"
        )
    if people["person_id"].duplicated().any():
        dup = people.loc[people["person_id"].duplicated(), "person_id"].iloc[0]
        raise InputError(f"person ids must be unique; {dup!r} appears more than once")
    out = people.reset_index(drop=True).copy()
    for col in ("family_id", "father_id", "mother_id"):
        out[col] = [None if pd.isna(v) else str(v) for v in out[col]]
    return out


def _parse_catalogue(catalogue) -> pd.DataFrame:
    if not isinstance(catalogue, pd.DataFrame):
        raise InputError(
            f"expected catalogue as a pandas DataFrame, got {type(catalogue).__name__}; "
            "build it with workbench.synth.genes.gene_catalogue"
        )
    need = ("gene", "role", "disease_id", "disease_name", "mode", "contig_kind")
    missing = [c for c in need if c not in catalogue.columns]
    if missing:
        raise InputError(f"catalogue lacks columns {missing}; use synth.genes.gene_catalogue")
    return catalogue.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# families and the case mix


@dataclass
class _Family:
    family_id: str
    proband: str
    sex: str
    father: str | None
    mother: str | None
    father_affected: bool
    mother_affected: bool
    size: int

    def fits(self, kind: str) -> bool:
        both = self.father is not None and self.mother is not None
        if kind in ("recessive_homozygous", "compound_heterozygous"):
            return both
        if kind == "x_linked":
            return self.sex == "male" and self.mother is not None and not self.mother_affected
        if kind == "dominant_incomplete_penetrance":
            return bool(self.unaffected_parents())
        return True

    def unaffected_parents(self) -> list[tuple[str, str]]:
        out = []
        if self.father is not None and not self.father_affected:
            out.append(("paternal", self.father))
        if self.mother is not None and not self.mother_affected:
            out.append(("maternal", self.mother))
        return out


def _families(people: pd.DataFrame) -> tuple[list[_Family], list[tuple[str, str]]]:
    by_id = people.set_index("person_id")
    families, skipped = [], []
    members = people[people["family_id"].notna()]
    for family_id, group in sorted(members.groupby("family_id"), key=lambda kv: kv[0]):
        probands = sorted(group.loc[group["role"] == "proband", "person_id"])
        if not probands:
            skipped.append((family_id, "no member has role 'proband'"))
            continue
        pid = probands[0]
        row = by_id.loc[pid]
        if not bool(row["affected"]):
            skipped.append((family_id, f"proband {pid} is not marked affected"))
            continue
        if row["sex"] not in ("male", "female"):
            skipped.append((family_id, f"proband {pid} has sex {row['sex']!r}"))
            continue
        father = row["father_id"] if row["father_id"] in by_id.index else None
        mother = row["mother_id"] if row["mother_id"] in by_id.index else None
        families.append(
            _Family(
                family_id=family_id,
                proband=pid,
                sex=row["sex"],
                father=father,
                mother=mother,
                father_affected=bool(by_id.loc[father, "affected"]) if father else False,
                mother_affected=bool(by_id.loc[mother, "affected"]) if mother else False,
                size=len(group),
            )
        )
    return families, skipped


def _kind_counts(n: int) -> dict[str, int]:
    """How many families get each kind: one of each first, then by weight."""
    counts = dict.fromkeys(_KIND_WEIGHTS, 0)
    order = [k for k in _KIND_WEIGHTS if k != "dual" or n >= _DUAL_MIN_FAMILIES]
    for kind in order[:n]:
        counts[kind] = 1
    for _ in range(n - sum(counts.values())):
        kind = max(
            (k for k in _KIND_WEIGHTS if k != "dual"),
            key=lambda k: _KIND_WEIGHTS[k] * n - counts[k],
        )
        counts[kind] += 1
    return counts


def _assign_kinds(families: list[_Family], rng) -> dict[str, str]:
    counts = _kind_counts(len(families))
    order = [families[i] for i in rng.permutation(len(families))]
    # The most constrained kinds choose first; a shortfall becomes de novo dominant.
    strict = (
        "x_linked",
        "recessive_homozygous",
        "compound_heterozygous",
        "dominant_incomplete_penetrance",
    )
    kinds: dict[str, str] = {}
    for kind in strict:
        fitting = [f for f in order if f.family_id not in kinds and f.fits(kind)]
        for fam in fitting[: counts[kind]]:
            kinds[fam.family_id] = kind
        counts["de_novo_dominant"] += max(0, counts[kind] - len(fitting))
    flexible = [
        k for k in ("dual", "unsolved", "vus_only", "de_novo_dominant") for _ in range(counts[k])
    ]
    rest = [f for f in order if f.family_id not in kinds]
    for fam, kind in zip(rest, flexible, strict=False):
        kinds[fam.family_id] = kind
    for fam in rest[len(flexible) :]:
        kinds[fam.family_id] = "de_novo_dominant"
    return kinds


class _GenePicker:
    """Hands out rare-disease genes of a mode, each once before any is reused."""

    def __init__(self, catalogue: pd.DataFrame, rng):
        rare = catalogue[catalogue["role"].str.contains("rare_disease")]
        self.rows = {r.gene: r for r in rare.itertuples(index=False)}
        self.pools = {}
        for mode in ("AD", "AR", "XL"):
            genes = sorted(rare.loc[rare["mode"] == mode, "gene"])
            if mode == "XL" and "inheritance" in rare.columns:
                # a boy with a carrier mother: X-linked recessive diseases first
                xlr = set(rare.loc[rare["inheritance"] == "XLR", "gene"])
                genes = [genes[i] for i in rng.permutation(len(genes))]
                genes = [g for g in genes if g in xlr] + [g for g in genes if g not in xlr]
            else:
                genes = [genes[i] for i in rng.permutation(len(genes))]
            self.pools[mode] = genes
        self.used: set[str] = set()

    def take(self, mode: str, *, avoid: set[str] = frozenset()):
        pool = self.pools[mode]
        if not pool:
            raise InputError(
                f"the catalogue has no rare-disease gene with mode {mode}; "
                "use a gene_catalogue preset that covers every mode"
            )
        fresh = [g for g in pool if g not in self.used and g not in avoid]
        gene = fresh[0] if fresh else next((g for g in pool if g not in avoid), pool[0])
        self.used.add(gene)
        return self.rows[gene]

    def decoy(self, rng, *, sex: str):
        """A rare-disease gene no planted case uses (for an unsolved phenotype).

        A girl does not get the phenotype of an X-linked recessive disease.
        """

        def fits(gene: str) -> bool:
            row = self.rows[gene]
            return sex == "male" or getattr(row, "inheritance", row.mode) != "XLR"

        unused = sorted(g for g in set(self.rows) - self.used if fits(g))
        pool = unused or sorted(g for g in self.rows if fits(g))
        gene = pool[int(rng.integers(len(pool)))]
        self.used.add(gene)
        return self.rows[gene]


# ---------------------------------------------------------------------------------------------
# phenotypes


def _disease_terms(disease_id: str, k: int, rng) -> list[str]:
    """``k`` terms of the disease, no term an ancestor of another.

    HPO's annotation frequencies are not shipped by ``hpo3``, so terms are drawn uniformly.
    """
    pool = list(hpo.disease_phenotype_terms(disease_id))
    chosen: list[str] = []
    for i in rng.permutation(len(pool)):
        if len(chosen) == k:
            break
        cand = pool[int(i)]
        if any(hpo.related(cand, other) for other in chosen):
            continue
        chosen.append(cand)
    return chosen


def _phenotype(
    disease_ids: list[str], rng, noise: PhenotypeNoise
) -> list[tuple[str, bool, str, str]]:
    """``(hpo_id, excluded, kind, source)`` of a proband (see PHENOTYPE_TRUTH_COLUMNS)."""
    if len(disease_ids) > 1:
        per = (3, 6)
    elif rng.random() < noise.few_terms_share:
        per = (1, 3)
    else:
        per = noise.terms
    observed: list[tuple[str, str]] = []  # (recorded term, annotated term)
    for disease_id in disease_ids:
        k = int(rng.integers(per[0], per[1] + 1))
        for t in _disease_terms(disease_id, k, rng):
            shown = hpo.less_specific(t, rng) if rng.random() < noise.imprecision else t
            if not any(hpo.related(shown, o) for o, _ in observed):
                observed.append((shown, t))
    annotated = sorted({t for d in disease_ids for t in hpo.disease_phenotype_terms(d)})
    recorded = [o for o, _ in observed]
    n_noise = int(rng.integers(noise.noise_terms[0], noise.noise_terms[1] + 1))
    unrelated = hpo.pick_unrelated(NOISE_TERM_POOL, annotated + recorded, n_noise, rng)
    n_excluded = int(rng.integers(noise.excluded_terms[0], noise.excluded_terms[1] + 1))
    excluded = hpo.pick_unrelated(
        EXCLUDED_TERM_POOL, annotated + recorded + unrelated, n_excluded, rng
    )
    return (
        [(o, False, "disease" if o == t else "imprecise", t) for o, t in observed]
        + [(t, False, "noise", "") for t in unrelated]
        + [(t, True, "excluded", "") for t in excluded]
    )


_INDICATION_GROUPS = (
    ("HP:0001250", "seizures"),
    ("HP:0012759", "neurodevelopmental delay"),
    ("HP:0001249", "intellectual disability"),
    ("HP:0001252", "hypotonia"),
    ("HP:0000707", "neurological findings"),
    ("HP:0001626", "cardiovascular findings"),
    ("HP:0001939", "metabolic derangement"),
    ("HP:0000924", "skeletal anomalies"),
    ("HP:0000152", "dysmorphic features"),
    ("HP:0003011", "muscle weakness or myopathy"),
    ("HP:0002715", "immune dysfunction"),
    ("HP:0000478", "eye findings"),
    ("HP:0025031", "gastrointestinal findings"),
)


def _indication(observed: list[str], age: int, size: int, rng) -> str:
    """A referral text naming the clinical picture, never the diagnosis."""
    groups = []
    for root, words in _INDICATION_GROUPS:
        if any(hpo.is_a(t, root) for t in observed) and words not in groups:
            groups.append(words)
    if not groups:
        groups = ["multiple congenital anomalies"]
    picture = " and ".join(groups[:2])
    who = "Infant" if age < 2 else "Child" if age < _ADULT_AGE else "Adult"
    design = {1: "singleton", 2: "duo", 3: "trio"}.get(size, "family")
    return (
        f"{who} with {picture}; suspected monogenic disorder. "
        f"Referred for {design} whole-genome sequencing."
    )


# ---------------------------------------------------------------------------------------------
# the plan


def _draw(rng, options: dict[str, float]) -> str:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def plan_cases(
    *,
    people: pd.DataFrame,
    catalogue: pd.DataFrame,
    rng: np.random.Generator,
    reference_year: int = 2025,
    phenotype_noise: PhenotypeNoise | None = None,
) -> ClinicalPlan:
    """Plan diagnoses, planted variants and phenotypes for the families in ``people``.

    Parameters
    ----------
    people
        The people table (:data:`workbench.synth.model.PEOPLE_COLUMNS`); families are the
        people sharing a ``family_id``, each needing one affected member with role
        ``"proband"``.
    catalogue
        From :func:`workbench.synth.genes.gene_catalogue`.
    rng
        The only source of randomness: the same generator state gives the same plan.
    reference_year
        "Now" for ages: adults (secondary-finding carriers) are born at least 18 years
        before it.
    phenotype_noise
        How referrals describe the probands (:class:`PhenotypeNoise`; its defaults if
        ``None``).

    Returns
    -------
    ClinicalPlan
        Every plant names an existing person and a catalogue gene; ``origin`` follows
        :mod:`workbench.synth.model` (``founder`` only for people without parents in the
        cohort; ``paternal``/``maternal`` implies the parent carries the allele too, so the
        parent gets no row of their own for it).

    Notes
    -----
    Secondary findings (null variants in dominant ACMG SF genes) go to about 2 % of adults
    among parents and unrelated people. Benign variants are planted in every gene that
    carries a causal, VUS or secondary variant: ``benign_rare`` (2–6 unrelated founder
    carriers) and, for a handful of genes, ``benign_common`` (carried by 10–30 % of founders,
    homozygous at Hardy–Weinberg proportions).
    """
    people = _parse_people(people)
    catalogue = _parse_catalogue(catalogue)
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"expected rng to be a numpy.random.Generator, got {type(rng).__name__}; "
            "pass numpy.random.default_rng(seed)"
        )
    if not isinstance(reference_year, int | np.integer) or isinstance(reference_year, bool):
        raise InputError(f"expected reference_year as an int, got {reference_year!r}")

    phenotype_noise = PhenotypeNoise() if phenotype_noise is None else phenotype_noise
    if not isinstance(phenotype_noise, PhenotypeNoise):
        raise InputError(
            f"expected phenotype_noise as a PhenotypeNoise, got {type(phenotype_noise).__name__}"
        )
    families, skipped = _families(people)
    kinds = _assign_kinds(families, rng)
    genes = _GenePicker(catalogue, rng)
    by_id = people.set_index("person_id")

    plants: list[tuple] = []
    counter = iter(range(1, 10**7))

    def new_key() -> str:
        return f"V{next(counter):04d}"

    def plant(key, category, gene, effect, person, origin, copies=1):
        plants.append((key, category, gene, effect, person, origin, copies))

    def causal(fam: _Family, mode: str, row) -> list[str]:
        """Plant one diagnosis of ``mode`` in ``row.gene``; return its variant keys."""
        effect = _draw(rng, CAUSAL_EFFECTS)
        if mode == "de_novo_dominant":
            key = new_key()
            plant(key, "causal", row.gene, effect, fam.proband, "de_novo")
            return [key]
        if mode == "recessive_homozygous":
            key = new_key()
            plant(key, "causal", row.gene, effect, fam.proband, "paternal")
            plant(key, "causal", row.gene, effect, fam.proband, "maternal")
            return [key]
        if mode == "compound_heterozygous":
            k1, k2 = new_key(), new_key()
            plant(k1, "causal", row.gene, effect, fam.proband, "paternal")
            plant(k2, "causal", row.gene, _draw(rng, CAUSAL_EFFECTS), fam.proband, "maternal")
            return [k1, k2]
        if mode == "x_linked":
            key = new_key()
            plant(key, "causal", row.gene, effect, fam.proband, "maternal")
            return [key]
        if mode == "dominant_incomplete_penetrance":
            parents = fam.unaffected_parents()
            origin, _ = parents[int(rng.integers(len(parents)))]
            key = new_key()
            plant(key, "causal", row.gene, effect, fam.proband, origin)
            return [key]
        raise AssertionError(mode)  # pragma: no cover - modes are fixed above

    case_rows, pheno_rows, pheno_truth, family_rows = [], [], [], []
    for fam in families:
        kind = kinds[fam.family_id]
        rec = dict.fromkeys(CASE_COLUMNS)
        rec.update(family_id=fam.family_id, proband_id=fam.proband)
        keys: list[str] = []
        if kind in CASE_MODES:
            row = genes.take(_MODE_GENE[kind])
            keys = causal(fam, kind, row)
            rec.update(status="solved", mode=kind)
            diseases = [row]
        elif kind == "dual":
            row = genes.take("AD")
            keys = causal(fam, "de_novo_dominant", row)
            second_mode = (
                "compound_heterozygous" if fam.fits("compound_heterozygous") else "de_novo_dominant"
            )
            row2 = genes.take(_MODE_GENE[second_mode], avoid={row.gene})
            keys += causal(fam, second_mode, row2)
            rec.update(
                status="dual",
                mode="de_novo_dominant",
                mode2=second_mode,
                gene2=row2.gene,
                disease_id2=row2.disease_id,
                disease_name2=row2.disease_name,
            )
            diseases = [row, row2]
        elif kind == "vus_only":
            row = genes.take("AD")
            # Inherited from an unaffected parent, so that ACMG rules leave it uncertain: a
            # de novo missense in a dominant gene would be Likely pathogenic (PS2 + PM2),
            # and the answer key would contradict the guideline it teaches.
            origins = [o for o, _ in fam.unaffected_parents()] or ["de_novo"]
            origin = origins[int(rng.integers(len(origins)))]
            key = new_key()
            plant(key, "vus", row.gene, "missense_variant", fam.proband, origin)
            keys = [key]
            rec.update(status="vus_only")
            diseases = [row]
        else:  # unsolved: the phenotype of a disease nobody carries a variant for
            row = None
            rec.update(status="unsolved")
            diseases = [genes.decoy(rng, sex=fam.sex)]
        if row is not None:
            rec.update(gene=row.gene, disease_id=row.disease_id, disease_name=row.disease_name)
        rec["phenotype_disease_ids"] = ",".join(d.disease_id for d in diseases)
        rec["variant_keys"] = ",".join(keys)
        case_rows.append(rec)
        features = _phenotype([d.disease_id for d in diseases], rng, phenotype_noise)
        for hpo_id, excluded, kind, source in features:
            pheno_rows.append((fam.proband, hpo_id, hpo.label(hpo_id), excluded))
            pheno_truth.append((fam.proband, hpo_id, kind, source))
        age = reference_year - int(by_id.loc[fam.proband, "birth_year"])
        observed = [t for t, excluded, _, _ in features if not excluded]
        family_rows.append((fam.family_id, fam.proband, _indication(observed, age, fam.size, rng)))

    _plan_secondary(people, catalogue, reference_year, rng, new_key, plant)
    target_genes = sorted({p[2] for p in plants})
    _plan_benign(people, target_genes, rng, new_key, plant)

    return ClinicalPlan(
        cases=pd.DataFrame(case_rows, columns=list(CASE_COLUMNS)),
        plants=pd.DataFrame(plants, columns=list(PLANT_COLUMNS)),
        phenotypes=pd.DataFrame(pheno_rows, columns=list(PHENOTYPE_COLUMNS)),
        phenotype_truth=pd.DataFrame(pheno_truth, columns=list(PHENOTYPE_TRUTH_COLUMNS)),
        families=pd.DataFrame(family_rows, columns=list(FAMILY_COLUMNS)),
        skipped=pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS)),
    )


def _founders(people: pd.DataFrame) -> list[str]:
    """People with neither parent in the cohort (their haplotypes can take ``founder``)."""
    ids = set(people["person_id"])
    trios = zip(people["person_id"], people["father_id"], people["mother_id"], strict=True)
    return [p for p, f, m in trios if f not in ids and m not in ids]


def _plan_secondary(people, catalogue, reference_year, rng, new_key, plant) -> None:
    sf = catalogue[catalogue["role"].str.contains("acmg_sf") & (catalogue["mode"] == "AD")]
    if sf.empty:
        return
    ids = set(people["person_id"])
    adult = people["birth_year"].astype(int) <= reference_year - _ADULT_AGE
    eligible = people[adult & people["role"].isin(["father", "mother", "unrelated"])]
    if eligible.empty:
        return
    n = max(1, round(_SECONDARY_RATE * len(eligible)))
    chosen = eligible.iloc[np.sort(rng.choice(len(eligible), size=n, replace=False))]
    sf_genes = sorted(sf["gene"])
    for row in chosen.itertuples(index=False):
        gene = sf_genes[int(rng.integers(len(sf_genes)))]
        effect = LOF_EFFECTS[int(rng.integers(len(LOF_EFFECTS)))]
        both = (("paternal", row.father_id), ("maternal", row.mother_id))
        parents = [(o, p) for o, p in both if p in ids]
        origin = parents[int(rng.integers(len(parents)))][0] if parents else "founder"
        plant(new_key(), "secondary", gene, effect, row.person_id, origin)


def _plan_benign(people, target_genes, rng, new_key, plant) -> None:
    founders = _founders(people)
    if len(founders) < 2:
        return
    for gene in target_genes:
        for _ in range(int(rng.integers(1, 3))):
            n = int(min(len(founders), rng.integers(2, 7)))
            carriers = sorted(founders[i] for i in rng.choice(len(founders), n, replace=False))
            effect = _BENIGN_RARE_EFFECTS[int(rng.integers(len(_BENIGN_RARE_EFFECTS)))]
            key = new_key()
            for person in carriers:
                plant(key, "benign_rare", gene, effect, person, "founder")
    n_common = min(6, len(target_genes))
    for i in np.sort(rng.choice(len(target_genes), size=n_common, replace=False)):
        gene = target_genes[int(i)]
        carrier_share = rng.uniform(0.10, 0.30)
        p = 1 - np.sqrt(1 - carrier_share)  # allele frequency giving that carrier share (HWE)
        effect = _BENIGN_COMMON_EFFECTS[int(rng.integers(len(_BENIGN_COMMON_EFFECTS)))]
        key = new_key()
        draws = rng.random((len(founders), 2)) < p
        for person, (a, b) in zip(founders, draws, strict=True):
            if a or b:
                plant(key, "benign_common", gene, effect, person, "founder", int(a) + int(b))
