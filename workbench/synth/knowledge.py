"""The knowledge databases of a synthetic cohort (the ``knowledge/`` folder).

Miniatures of the resources a clinical scientist consults while interpreting a variant:

``population_frequencies.tsv.gz``
    gnomAD-like allele counts: ``contig, position, ref, alt, ac, an, af`` overall and
    ``ac_<POP>, an_<POP>, af_<POP>`` per synthetic population.
``clinical_assertions.tsv``
    ClinVar-like assertions (:data:`ASSERTION_COLUMNS`): the classification in the ACMG/AMP
    five-tier wording, review status with its stars, submitters, when last evaluated and
    whether submitters conflict or the entry is outdated (classified long ago; the evidence
    has moved on since).
``gene_disease.tsv``
    Gene–disease pairs with mode of inheritance and the diagnostic panels the gene is on.
``acmg_sf_v3.2.tsv``
    The ACMG secondary-findings list, with its source citation.

All files are byte-identical for equal inputs (sorted rows, fixed float format, gzip without
a timestamp).

References
----------
Richards et al., Genet Med 2015;17:405–424 (five-tier wording); Landrum et al., "ClinVar",
Nucleic Acids Res 2018;46:D1062 (review status stars); Karczewski et al., "gnomAD", Nature
2020;581:434; Miller et al., Genet Med 2023;25:100866 (ACMG SF v3.2).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import CohortFormatError, InputError, require_columns
from ..io import atomic_file

__all__ = [
    "ASSERTION_COLUMNS",
    "CLASSIFICATIONS",
    "GENE_DISEASE_COLUMNS",
    "PANELS",
    "REVIEW_STARS",
    "Knowledge",
    "make_assertions",
    "read_knowledge",
    "write_knowledge",
]

FREQUENCIES_FILE = "population_frequencies.tsv.gz"
ASSERTIONS_FILE = "clinical_assertions.tsv"
GENE_DISEASE_FILE = "gene_disease.tsv"
ACMG_SF_FILE = "acmg_sf_v3.2.tsv"

#: ACMG/AMP five-tier wording, most to least pathogenic.
CLASSIFICATIONS = (
    "Pathogenic",
    "Likely pathogenic",
    "Uncertain significance",
    "Likely benign",
    "Benign",
)

#: ClinVar review status → gold stars.
REVIEW_STARS = {
    "no assertion criteria provided": 0,
    "criteria provided, single submitter": 1,
    "criteria provided, conflicting classifications": 1,
    "criteria provided, multiple submitters, no conflicts": 2,
    "reviewed by expert panel": 3,
    "practice guideline": 4,
}

ASSERTION_COLUMNS = (
    "variation_id",
    "contig",
    "position",
    "ref",
    "alt",
    "gene",
    "hgvs_c",
    "hgvs_p",
    "classification",
    "review_status",
    "stars",
    "submitters",
    "last_evaluated",
    "conflicting",
    "outdated",
)
GENE_DISEASE_COLUMNS = ("gene", "disease_id", "disease_name", "mode", "panels")

#: Diagnostic panels: a disease is on a panel when HPO annotates a term at or below the root.
PANELS = {
    "epilepsy": ("HP:0001250",),
    "intellectual_disability": ("HP:0001249", "HP:0001263"),
    "cardiomyopathy": ("HP:0001638",),
    "arrhythmia": ("HP:0011675",),
    "aortopathy": ("HP:0004942",),
    "cancer_predisposition": ("HP:0002664",),
    "metabolic": ("HP:0001939",),
    "hearing_loss": ("HP:0000365",),
    "retinal_disorders": ("HP:0000479",),
    "neuromuscular": ("HP:0003198", "HP:0001324", "HP:0003560"),
    "immunodeficiency": ("HP:0002721",),
}

_SINGLE_SUBMITTER = ("no assertion criteria provided", "criteria provided, single submitter")
_YEARS_OUTDATED = 10  # an assertion evaluated longer ago than this is considered outdated
_POP_COLUMN = re.compile(r"^(af|ac|an)_(.+)$")


@dataclass(frozen=True)
class Knowledge:
    """The knowledge databases as DataFrames (see the module docstring)."""

    frequencies: pd.DataFrame
    assertions: pd.DataFrame
    gene_disease: pd.DataFrame
    acmg_sf: pd.DataFrame


def _contig_key(contig: str) -> tuple:
    name = str(contig).removeprefix("chr")
    if name.isdigit():
        return (0, int(name), "")
    return (1, {"X": 0, "Y": 1, "M": 2, "MT": 2}.get(name, 3), name)


def _sort_variants(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` in genome order: contig (chr1…chr22, chrX, chrY, chrM), position, ref, alt."""
    if df.empty:
        return df.reset_index(drop=True)
    contigs = sorted(set(df["contig"].astype(str)), key=_contig_key)
    keys = pd.DataFrame(
        {
            "contig": df["contig"].astype(str).map({c: i for i, c in enumerate(contigs)}),
            "position": df["position"].astype(np.int64),
            "ref": df["ref"].astype(str),
            "alt": df["alt"].astype(str),
        },
        index=df.index,
    )
    order = keys.reset_index(drop=True).sort_values(list(keys.columns), kind="stable").index
    return df.iloc[order.to_numpy()].reset_index(drop=True)


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"expected rng to be a numpy.random.Generator, got {type(rng).__name__}; "
            "pass numpy.random.default_rng(seed)"
        )


def _parse_date(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as e:
        raise InputError(f"expected {name} as an ISO date 'YYYY-MM-DD', got {value!r}") from e


# ---------------------------------------------------------------------------------------------
# assertions


def _variant_table(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df.rename(columns={"pos": "position"}) if "position" not in df.columns else df
    require_columns(df, name, ("contig", "position", "ref", "alt"))
    return df


def make_assertions(
    *,
    planted: pd.DataFrame,
    common: pd.DataFrame,
    rng: np.random.Generator,
    reference_date: dt.date | str = "2025-01-01",
) -> pd.DataFrame:
    """ClinVar-like assertions for the planted variants and some common background variants.

    Parameters
    ----------
    planted
        One row per planted variant (copies are collapsed): ``contig, pos`` (or
        ``position``), ``ref, alt, gene, category, hgvs_c, hgvs_p, consequence``; an
        ``origin`` column, when present, lets novel de novo variants stay unreported.
    common
        Background variants: ``contig, position`` (or ``pos``), ``ref, alt, af``; ``gene``,
        ``hgvs_c``, ``hgvs_p`` are used when present.
    rng
        The only source of randomness.
    reference_date
        "Today" for the last-evaluated dates.

    Returns
    -------
    pandas.DataFrame
        :data:`ASSERTION_COLUMNS`, sorted by position. What is asserted:

        - causal: mostly Pathogenic (null variants) or Likely pathogenic (missense); about a
          third of de novo ones are absent (novel), some are Uncertain significance;
        - secondary: Pathogenic or Likely pathogenic, a few with conflicting submitters;
        - vus: Uncertain significance or absent;
        - benign_rare: Likely benign or Benign or absent; benign_common and ``common``:
          Benign when the frequency is ≥ 5 % (BA1), else Likely benign;
        - some entries conflict (two or more submitters disagree; the classification shown
          is the majority's) and some are outdated (last evaluated more than ten years ago,
          with a classification the planted truth contradicts). With more than ten planted
          variants there is at least one of each.
    """
    planted = _variant_table(planted, "planted")
    require_columns(planted, "planted", ("gene", "category", "hgvs_c", "hgvs_p", "consequence"))
    common = _variant_table(common, "common")
    require_columns(common, "common", ("af",))
    _check_rng(rng)
    today = _parse_date(reference_date, "reference_date")

    keys = ["contig", "position", "ref", "alt"]
    planted = _sort_variants(planted.drop_duplicates(subset=keys).reset_index(drop=True))
    common = _sort_variants(common.drop_duplicates(subset=keys).reset_index(drop=True))
    planted_keys = set(map(tuple, planted[keys].astype(str).to_numpy()))

    rows = []

    def add(v, classification, *, conflicting=False, outdated=False, gene=None):
        if conflicting:
            status = "criteria provided, conflicting classifications"
            submitters = int(rng.integers(2, 6))
        else:
            status = _draw_status(rng, classification)
            single = status in _SINGLE_SUBMITTER
            submitters = 1 if single else int(rng.integers(2, 9))
        if outdated:
            years = int(rng.integers(_YEARS_OUTDATED + 1, _YEARS_OUTDATED + 7))
        else:
            years = int(rng.integers(0, 7))
        evaluated = today - dt.timedelta(days=365 * years + int(rng.integers(0, 365)))
        rows.append(
            {
                "contig": str(v["contig"]),
                "position": int(v["position"]),
                "ref": str(v["ref"]),
                "alt": str(v["alt"]),
                "gene": gene if gene is not None else _text(v.get("gene")),
                "hgvs_c": _text(v.get("hgvs_c")),
                "hgvs_p": _text(v.get("hgvs_p")),
                "classification": classification,
                "review_status": status,
                "stars": REVIEW_STARS[status],
                "submitters": submitters,
                "last_evaluated": evaluated.isoformat(),
                "conflicting": bool(conflicting),
                "outdated": bool(outdated),
            }
        )

    # Decide per planted variant: absent, or (classification, conflicting, outdated).
    decisions = []
    for _, v in planted.iterrows():
        decisions.append(_decide(v, rng))
    _ensure_teaching_examples(planted, decisions, rng)
    for (_, v), decision in zip(planted.iterrows(), decisions, strict=True):
        if decision is not None:
            classification, conflicting, outdated = decision
            add(v, classification, conflicting=conflicting, outdated=outdated)

    background = _background_assertions(common, planted_keys, rng, today)
    columns = [c for c in ASSERTION_COLUMNS if c != "variation_id"]
    out = pd.DataFrame(rows, columns=columns)
    if len(background):
        out = pd.concat([out, background[columns]], ignore_index=True) if len(out) else background
    out = _sort_variants(out[columns])
    gaps = rng.integers(1, 5000, size=len(out))
    out.insert(0, "variation_id", (100_000 + np.cumsum(gaps)).astype(np.int64))
    return out


def _background_assertions(
    common: pd.DataFrame, planted_keys: set, rng: np.random.Generator, today: dt.date
) -> pd.DataFrame:
    """Benign (frequency >= 5 %, BA1) or Likely benign entries for the common variants that
    were not planted, their statuses drawn from :data:`_STATUS_DRAWS` for all of them at once.
    """
    keys = ["contig", "position", "ref", "alt"]
    common = common[
        [tuple(k) not in planted_keys for k in common[keys].astype(str).to_numpy()]
    ].reset_index(drop=True)
    n = len(common)
    benign = common["af"].astype(float).to_numpy() >= 0.05
    u = rng.random(n)
    status = np.empty(n, dtype=object)
    for cls, table in _STATUS_DRAWS.items():
        names = np.array([name for name, _ in table], dtype=object)
        edges = np.cumsum([p for _, p in table])[:-1]
        mine = benign == cls
        status[mine] = names[np.searchsorted(edges, u[mine], side="right")]
    single = np.isin(status, _SINGLE_SUBMITTER)
    submitters = np.where(single, 1, rng.integers(2, 9, n))
    days = 365 * rng.integers(0, 7, n) + rng.integers(0, 365, n)
    evaluated = pd.Timestamp(today) - pd.to_timedelta(days, unit="D")

    def text(column):
        if column not in common:
            return [""] * n
        return [_text(v) for v in common[column]]

    return pd.DataFrame(
        {
            "contig": common["contig"].astype(str).to_numpy(),
            "position": common["position"].astype(np.int64).to_numpy(),
            "ref": common["ref"].astype(str).to_numpy(),
            "alt": common["alt"].astype(str).to_numpy(),
            "gene": text("gene"),
            "hgvs_c": text("hgvs_c"),
            "hgvs_p": text("hgvs_p"),
            "classification": np.where(benign, "Benign", "Likely benign"),
            "review_status": status,
            "stars": [REVIEW_STARS[s] for s in status],
            "submitters": submitters.astype(np.int64),
            "last_evaluated": evaluated.strftime("%Y-%m-%d").to_numpy(),
            "conflicting": np.zeros(n, dtype=bool),
            "outdated": np.zeros(n, dtype=bool),
        }
    )


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


#: Review statuses an assertion is drawn with, and their probabilities: firm classifications
#: (keyed ``True``: Pathogenic, Benign) are more often from several submitters or an expert
#: panel than likely or uncertain ones (``False``).
_STATUS_DRAWS = {
    True: (
        ("criteria provided, single submitter", 0.45),
        ("criteria provided, multiple submitters, no conflicts", 0.45),
        ("reviewed by expert panel", 0.10),
    ),
    False: (
        ("no assertion criteria provided", 0.10),
        ("criteria provided, single submitter", 0.70),
        ("criteria provided, multiple submitters, no conflicts", 0.20),
    ),
}


def _draw_status(rng, classification: str) -> str:
    table = _STATUS_DRAWS[classification in ("Pathogenic", "Benign")]
    return table[int(rng.choice(len(table), p=[p for _, p in table]))][0]


def _is_null(consequence) -> bool:
    text = _text(consequence)
    return any(
        term in text
        for term in (
            "stop_gained",
            "frameshift",
            "splice_donor",
            "splice_acceptor",
            "start_lost",
        )
    )


def _decide(v, rng):
    """``None`` (not in the database) or ``(classification, conflicting, outdated)``."""
    category = str(v["category"])
    u = rng.random()
    if category == "causal":
        novel = 0.35 if _text(v.get("origin")) == "de_novo" else 0.10
        if u < novel:
            return None
        if u < novel + 0.10:
            return ("Uncertain significance", False, False)
        if u < novel + 0.17:
            return ("Likely pathogenic", True, False)
        best = "Pathogenic" if _is_null(v["consequence"]) else "Likely pathogenic"
        return (best, False, False)
    if category == "secondary":
        if u < 0.10:
            return ("Pathogenic", True, False)
        return ("Pathogenic" if u < 0.75 else "Likely pathogenic", False, False)
    if category == "vus":
        if u < 0.45:
            return None
        return ("Uncertain significance", u > 0.90, False)
    if category == "benign_rare":
        if u < 0.40:
            return None
        return ("Likely benign" if u < 0.85 else "Benign", False, False)
    if category == "benign_common":
        return ("Benign", False, False)
    raise InputError(
        f"planted variant category {category!r} is unknown; expected one of causal, secondary, "
        "vus, benign_rare, benign_common"
    )


def _ensure_teaching_examples(planted: pd.DataFrame, decisions: list, rng) -> None:
    """Make sure a cohort of some size shows a conflicting and an outdated entry."""
    if len(planted) <= 10:
        return
    categories = planted["category"].astype(str).tolist()
    if not any(d is not None and d[1] for d in decisions):
        pool = [i for i, c in enumerate(categories) if c in ("causal", "secondary")]
        if pool:
            i = pool[int(rng.integers(len(pool)))]
            decisions[i] = ("Likely pathogenic", True, False)
    # Outdated: a since-disproved classification — a pathogenic variant once called VUS, or
    # a benign one once called likely pathogenic (the kind of entry a reanalysis catches).
    n_outdated = max(1, len(planted) // 40)
    pool = [
        i
        for i, c in enumerate(categories)
        if c in ("causal", "benign_rare") and not (decisions[i] and decisions[i][1])
    ]
    for i in sorted(rng.permutation(pool)[:n_outdated].tolist()):
        old = "Uncertain significance" if categories[i] == "causal" else "Likely pathogenic"
        decisions[i] = (old, False, True)


# ---------------------------------------------------------------------------------------------
# writing and reading


def _panels(row) -> str:
    names = []
    try:
        terms = hpo.disease_phenotype_terms(str(row.disease_id))
    except InputError:
        terms = ()
    for panel, roots in PANELS.items():
        if any(hpo.is_a(t, root) for t in terms for root in roots):
            names.append(panel)
    if "acmg_sf" in str(row.role):
        names.append("acmg_secondary_findings")
    return ",".join(names) if names else "other"


def _frequency_table(frequencies: pd.DataFrame) -> pd.DataFrame:
    require_columns(frequencies, "frequencies", ("contig", "position", "ref", "alt"))
    pops = []
    for col in frequencies.columns:
        m = _POP_COLUMN.match(col)
        if m and m.group(2) not in pops:
            pops.append(m.group(2))
    if not pops:
        raise InputError(
            "frequencies has no per-population columns; expected ac_<POP>, an_<POP>, af_<POP>"
        )
    require_columns(frequencies, "frequencies", [f"{k}_{p}" for p in pops for k in ("ac", "an")])
    out = frequencies[["contig", "position", "ref", "alt"]].copy()
    out["position"] = out["position"].astype(np.int64)
    ac = sum(frequencies[f"ac_{p}"].astype(np.int64) for p in pops)
    an = sum(frequencies[f"an_{p}"].astype(np.int64) for p in pops)
    out["ac"] = ac.to_numpy()
    out["an"] = an.to_numpy()
    out["af"] = np.where(an > 0, ac / np.maximum(an, 1), 0.0)
    for p in pops:
        pac = frequencies[f"ac_{p}"].astype(np.int64).to_numpy()
        pan = frequencies[f"an_{p}"].astype(np.int64).to_numpy()
        out[f"ac_{p}"] = pac
        out[f"an_{p}"] = pan
        out[f"af_{p}"] = np.where(pan > 0, pac / np.maximum(pan, 1), 0.0)
    return _sort_variants(out)


def _tsv_text(df: pd.DataFrame) -> str:
    return df.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")


def write_knowledge(
    folder,
    *,
    frequencies: pd.DataFrame,
    assertions: pd.DataFrame,
    catalogue: pd.DataFrame,
) -> None:
    """Write the four knowledge files into ``folder`` (created if missing), atomically each.

    Parameters
    ----------
    folder
        Usually ``<cohort>/knowledge``.
    frequencies
        ``contig, position, ref, alt`` and ``ac_<POP>, an_<POP>`` (``af_<POP>`` is recomputed
        from them) for each population; overall ``ac, an, af`` are added.
    assertions
        From :func:`make_assertions`.
    catalogue
        From :func:`workbench.synth.genes.gene_catalogue`.
    """
    folder = Path(folder)
    freq = _frequency_table(frequencies)
    require_columns(assertions, "assertions", ASSERTION_COLUMNS)
    require_columns(catalogue, "catalogue", ("gene", "disease_id", "disease_name", "mode", "role"))
    bad = sorted(set(assertions["classification"]) - set(CLASSIFICATIONS))
    if bad:
        raise InputError(f"assertion classifications {bad} are not ACMG five-tier terms")

    raw = _tsv_text(freq).encode("utf-8")
    # mtime=0 and no file name in the gzip header: the same table gives the same bytes
    with (
        atomic_file(folder / FREQUENCIES_FILE, "wb") as f,
        gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz,
    ):
        gz.write(raw)

    claims = _sort_variants(assertions[list(ASSERTION_COLUMNS)].copy())
    with atomic_file(folder / ASSERTIONS_FILE, "w", encoding="utf-8", newline="") as f:
        f.write(_tsv_text(claims))

    genes = catalogue.sort_values("gene", kind="stable")
    panel_rows = [
        (r.gene, r.disease_id, r.disease_name, r.mode, _panels(r))
        for r in genes.itertuples(index=False)
    ]
    panels = pd.DataFrame(panel_rows, columns=list(GENE_DISEASE_COLUMNS))
    with atomic_file(folder / GENE_DISEASE_FILE, "w", encoding="utf-8", newline="") as f:
        f.write(_tsv_text(panels))

    source = resources.files("workbench").joinpath("data", ACMG_SF_FILE).read_bytes()
    with atomic_file(folder / ACMG_SF_FILE, "wb") as f:
        f.write(source)


def read_knowledge(folder) -> Knowledge:
    """Read the knowledge folder written by :func:`write_knowledge`.

    Raises
    ------
    CohortFormatError
        A file is missing or unreadable.
    """
    folder = Path(folder)
    paths = {
        name: folder / name
        for name in (FREQUENCIES_FILE, ASSERTIONS_FILE, GENE_DISEASE_FILE, ACMG_SF_FILE)
    }
    for name, path in paths.items():
        if not path.is_file():
            raise CohortFormatError(
                f"knowledge file {name} is missing from {folder}; regenerate the cohort "
                "(workbench generate) or restore the file",
                path=path,
            )
    try:
        with gzip.open(paths[FREQUENCIES_FILE], "rt", encoding="utf-8") as f:
            frequencies = pd.read_csv(f, sep="\t", dtype={"contig": str, "ref": str, "alt": str})
        assertions = pd.read_csv(
            paths[ASSERTIONS_FILE],
            sep="\t",
            dtype={"contig": str, "ref": str, "alt": str, "gene": str},
            keep_default_na=False,
        )
        gene_disease = pd.read_csv(paths[GENE_DISEASE_FILE], sep="\t", dtype=str)
        acmg_sf = pd.read_csv(paths[ACMG_SF_FILE], sep="\t", comment="#", dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise CohortFormatError(
            f"cannot read the knowledge files in {folder}: {e}; regenerate the cohort",
            path=folder,
        ) from e
    for col in ("conflicting", "outdated"):
        assertions[col] = assertions[col].astype(str).map({"True": True, "False": False})
    return Knowledge(
        frequencies=frequencies,
        assertions=assertions,
        gene_disease=gene_disease,
        acmg_sf=acmg_sf,
    )
