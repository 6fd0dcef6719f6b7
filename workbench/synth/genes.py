"""The genes a synthetic cohort is built around.

Two kinds of genes: the 81 genes of the ACMG secondary-findings list v3.2 (the adults' and
parents' secondary findings are planted there) and paediatric rare-disease genes (the
children's diagnoses). Every gene comes with one OMIM disease from HPO's annotations (the
``hpo3`` package), its mode of inheritance and how many phenotype terms HPO annotates to it.

The gene–disease pairs are curated here (``hpo3`` has no gene→disease table) and checked
against ``hpo3``: the disease must exist, carry the expected inheritance term and, for the
rare-disease genes, at least :data:`MIN_PHENOTYPE_TERMS` phenotype terms all of which HPO also
annotates to the gene. A pair ``hpo3`` does not support is left out.

References
----------
Miller et al., "ACMG SF v3.2 list for reporting of secondary findings in clinical exome and
genome sequencing", Genet Med 2023;25(8):100866 (PMID 37347242).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from importlib import resources

import numpy as np
import pandas as pd

from .. import hpo
from ..errors import InputError

__all__ = [
    "CATALOGUE_COLUMNS",
    "MIN_PHENOTYPE_TERMS",
    "PRESETS",
    "acmg_sf_table",
    "gene_catalogue",
]

PRESETS = ("tiny", "teaching", "national")

CATALOGUE_COLUMNS = (
    "gene",
    "contig_kind",
    "role",
    "sf_category",
    "disease_id",
    "disease_name",
    "mode",
    "inheritance",
    "hpo_terms_count",
)

#: A rare-disease gene needs this many phenotype terms so probands get a usable phenotype.
MIN_PHENOTYPE_TERMS = 8

# The disease and mode for which each ACMG SF v3.2 gene is on the list (Miller 2023, Table 1).
_SF_DISEASES = {
    "ACTA2": (611788, "AD"),
    "ACTC1": (612098, "AD"),
    "ACVRL1": (600376, "AD"),
    "APC": (175100, "AD"),
    "APOB": (144010, "AD"),
    "ATP7B": (277900, "AR"),
    "BAG3": (613881, "AD"),
    "BMPR1A": (174900, "AD"),
    "BRCA1": (604370, "AD"),
    "BRCA2": (612555, "AD"),
    "BTD": (253260, "AR"),
    "CACNA1S": (601887, "AD"),
    "CALM1": (616247, "AD"),
    "CALM2": (616249, "AD"),
    "CALM3": (618782, "AD"),
    "CASQ2": (611938, "AR"),
    "COL3A1": (130050, "AD"),
    "DES": (604765, "AD"),
    "DSC2": (610476, "AD"),
    "DSG2": (610193, "AD"),
    "DSP": (607450, "AD"),
    "ENG": (187300, "AD"),
    "FBN1": (154700, "AD"),
    "FLNC": (617047, "AD"),
    "GAA": (232300, "AR"),
    "GLA": (301500, "XL"),
    "HFE": (235200, "AR"),
    "HNF1A": (600496, "AD"),
    "KCNH2": (613688, "AD"),
    "KCNQ1": (192500, "AD"),
    "LDLR": (143890, "AD"),
    "LMNA": (115200, "AD"),
    "MAX": (171300, "AD"),
    "MEN1": (131100, "AD"),
    "MLH1": (609310, "AD"),
    "MSH2": (120435, "AD"),
    "MSH6": (614350, "AD"),
    "MUTYH": (608456, "AR"),
    "MYBPC3": (115197, "AD"),
    "MYH11": (132900, "AD"),
    "MYH7": (192600, "AD"),
    "MYL2": (608758, "AD"),
    "MYL3": (608751, "AD"),
    "NF2": (101000, "AD"),
    "OTC": (311250, "XL"),
    "PALB2": (114480, "AD"),
    "PCSK9": (603776, "AD"),
    "PKP2": (609040, "AD"),
    "PMS2": (614337, "AD"),
    "PRKAG2": (600858, "AD"),
    "PTEN": (158350, "AD"),
    "RB1": (180200, "AD"),
    "RBM20": (613172, "AD"),
    "RET": (171400, "AD"),
    "RPE65": (204100, "AR"),
    "RYR1": (145600, "AD"),
    "RYR2": (604772, "AD"),
    "SCN5A": (601144, "AD"),
    "SDHAF2": (601650, "AD"),
    "SDHB": (115310, "AD"),
    "SDHC": (605373, "AD"),
    "SDHD": (168000, "AD"),
    "SMAD3": (613795, "AD"),
    "SMAD4": (174900, "AD"),
    "STK11": (175200, "AD"),
    "TGFBR1": (609192, "AD"),
    "TGFBR2": (610168, "AD"),
    "TMEM127": (171300, "AD"),
    "TMEM43": (604400, "AD"),
    "TNNC1": (611879, "AD"),
    "TNNI3": (613690, "AD"),
    "TNNT2": (115195, "AD"),
    "TP53": (151623, "AD"),
    "TPM1": (115196, "AD"),
    "TRDN": (615441, "AR"),
    "TSC1": (191100, "AD"),
    "TSC2": (613254, "AD"),
    "TTN": (604145, "AD"),
    "TTR": (105210, "AD"),
    "VHL": (193300, "AD"),
    "WT1": (194070, "AD"),
}

# Paediatric rare-disease genes with the OMIM disease HPO annotates (mostly developmental and
# epileptic encephalopathies, intellectual disability syndromes and inborn errors).
_RARE_SEEDS = {
    "AD": {
        "SCN1A": 607208, "KCNQ2": 613720, "STXBP1": 612164, "SCN2A": 613721,
        "SCN8A": 614558, "ARID1B": 135900, "ANKRD11": 148050, "KMT2D": 147920,
        "CHD7": 214800, "CHD8": 615032, "SYNGAP1": 612621, "DYRK1A": 614104,
        "ADNP": 615873, "NSD1": 117550, "PTPN11": 163950, "NF1": 162200,
        "KAT6A": 616268, "SETD5": 615761, "FOXG1": 613454, "GRIN2B": 613970,
        "SATB2": 612313, "EHMT1": 610253, "MED13L": 616789, "TCF4": 610954,
        "KMT2A": 605130, "CREBBP": 180849, "EP300": 613684, "SHANK3": 606232,
        "NIPBL": 122470, "CTNNB1": 615075, "PURA": 616158, "FOXP1": 613670,
        "GNAO1": 615473, "TBR1": 606053, "HNRNPU": 617391, "SLC2A1": 606777,
        "MEF2C": 613443,
    },
    "AR": {
        "CFTR": 219700, "PAH": 261600, "ASPA": 271900, "ASPM": 608716, "CLN3": 204200,
        "POLG": 203700, "SURF1": 220110, "VPS13B": 216550, "CC2D2A": 612285,
        "AHI1": 608629, "TMEM67": 607361, "BBS1": 209900, "BBS10": 615987,
        "ALDH7A1": 266100, "PNPO": 610090, "GALC": 245200, "ARSA": 250100,
        "HEXA": 272800, "SMPD1": 257200, "IDUA": 607014, "NPC1": 257220, "ATM": 208900,
        "TSEN54": 277470, "PCCA": 606054, "MMUT": 251000, "ACADM": 201450,
        "GALT": 230400, "SLC26A4": 274600, "CEP290": 610188, "WWOX": 616211,
        "TPP1": 204500, "SMN1": 253300, "PEX1": 214100, "ERCC6": 133540,
        "RARS2": 611523,
    },
    "XL": {
        "DMD": 310200, "ARX": 308350, "SLC9A6": 300243, "OPHN1": 300486,
        "IL2RG": 300400, "BTK": 300755, "WAS": 301000, "PHF6": 301900, "KDM5C": 300534,
        "L1CAM": 307000, "ABCD1": 300100, "NDP": 310600, "OCRL": 309000,
        "PLP1": 312080, "SLC16A2": 300523, "MID1": 300000, "UBE2A": 300860,
        "HPRT1": 300322, "PQBP1": 309500, "MECP2": 312750, "CDKL5": 300672,
        "PCDH19": 300088, "ATRX": 301040, "FMR1": 300624, "CASK": 300749,
        "IQSEC2": 309530, "DDX3X": 300958, "SMC1A": 300590, "HUWE1": 309590,
        "RPGR": 300029,
    },
}  # fmt: skip

# Always in the catalogue (and the whole rare-disease part of "tiny"): every mode twice or more,
# including dominant genes where reduced penetrance is well described (SCN1A, KCNQ2, NF1).
_CORE_RARE = {
    "AD": ("SCN1A", "KCNQ2", "STXBP1", "ARID1B", "SYNGAP1", "NF1"),
    "AR": ("CFTR", "PAH", "POLG", "ASPA"),
    "XL": ("DMD", "ARX", "ABCD1", "MECP2"),
}
_TINY_SF = ("BRCA2", "KCNQ1", "LDLR", "MLH1", "MYBPC3", "OTC")

#: Rare-disease genes per mode in the "teaching" and "national" presets.
_TARGET_RARE = {"AD": 25, "AR": 20, "XL": 15}

_MODE_CODES = {"AD": {"AD"}, "AR": {"AR"}, "XL": {"XL", "XLR", "XLD"}}


def acmg_sf_table() -> pd.DataFrame:
    """The ACMG SF v3.2 gene list shipped with the package (gene, category, since)."""
    text = resources.files("workbench").joinpath("data", "acmg_sf_v3.2.tsv").read_text("utf-8")
    return pd.read_csv(io.StringIO(text), sep="\t", comment="#", dtype=str)


def _inheritance_detail(disease_id: str, mode: str) -> str | None:
    """The most specific inheritance code of the disease matching ``mode``, or None."""
    codes = hpo.disease_inheritance(disease_id) & _MODE_CODES[mode]
    for code in ("XLR", "XLD", "XL", "AD", "AR"):
        if code in codes:
            return code
    return None


def _row(gene: str, omim: int, mode: str, role: str, sf_category: str | None) -> dict | None:
    disease_id = f"OMIM:{omim}"
    try:
        disease = hpo.disease(disease_id)
    except InputError:
        return None
    detail = _inheritance_detail(disease_id, mode)
    if detail is None:
        return None
    n_terms = len(hpo.disease_phenotype_terms(disease_id))
    if role == "rare_disease" and (
        n_terms < MIN_PHENOTYPE_TERMS or not hpo.gene_has_disease(gene, disease_id)
    ):
        return None
    return {
        "gene": gene,
        "contig_kind": "X" if mode == "XL" else "autosome",
        "role": role,
        "sf_category": sf_category,
        "disease_id": disease_id,
        "disease_name": str(disease.name),
        "mode": mode,
        "inheritance": detail,
        "hpo_terms_count": n_terms,
    }


@functools.lru_cache(maxsize=1)
def _sf_rows() -> tuple[dict, ...]:
    table = acmg_sf_table()
    rows = []
    for gene, category in zip(table["gene"], table["category"], strict=True):
        if gene not in _SF_DISEASES:
            raise InputError(
                f"ACMG SF gene {gene} has no curated disease in workbench.synth.genes; "
                "add it to _SF_DISEASES"
            )
        omim, mode = _SF_DISEASES[gene]
        row = _row(gene, omim, mode, "acmg_sf", category)
        if row is None:
            raise InputError(
                f"HPO release {hpo.version()} does not annotate OMIM:{omim} as {mode} for the "
                f"ACMG SF gene {gene}; update _SF_DISEASES for this HPO release"
            )
        rows.append(row)
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def _rare_rows() -> dict[str, tuple[dict, ...]]:
    out = {}
    for mode, seeds in _RARE_SEEDS.items():
        rows = (_row(g, omim, mode, "rare_disease", None) for g, omim in sorted(seeds.items()))
        out[mode] = tuple(r for r in rows if r is not None)
    return out


def gene_catalogue(*, preset: str, rng: np.random.Generator) -> pd.DataFrame:
    """The genes, diseases and modes of inheritance a synthetic cohort uses.

    Parameters
    ----------
    preset
        ``"tiny"``: 6 ACMG SF genes and 14 rare-disease genes (every mode at least four
        times). ``"teaching"`` and ``"national"``: all 81 ACMG SF v3.2 genes plus 25
        autosomal dominant, 20 autosomal recessive and 15 X-linked rare-disease genes.
    rng
        Picks the rare-disease genes beyond a fixed core from the curated pool, so two seeds
        give two different (but each reproducible) catalogues.

    Returns
    -------
    pandas.DataFrame
        One row per gene, sorted by gene, with :data:`CATALOGUE_COLUMNS`: ``contig_kind`` is
        ``"X"`` for X-linked genes (including the SF genes GLA and OTC), ``role`` is
        ``"acmg_sf"`` or ``"rare_disease"``, ``mode`` is ``"AD"``, ``"AR"`` or ``"XL"``,
        ``inheritance`` the most specific HPO inheritance code (``"XLR"``…) and
        ``hpo_terms_count`` the number of phenotype terms HPO annotates to the disease.
    """
    if preset not in PRESETS:
        raise InputError(f"expected preset one of {PRESETS}, got {preset!r}")
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"expected rng to be a numpy.random.Generator, got {type(rng).__name__}; "
            "pass numpy.random.default_rng(seed)"
        )
    sf = [r for r in _sf_rows() if preset != "tiny" or r["gene"] in _TINY_SF]
    rare = []
    for mode, rows in _rare_rows().items():
        core = [r for r in rows if r["gene"] in _CORE_RARE[mode]]
        if preset == "tiny":
            rare.extend(core)
            continue
        pool = [r for r in rows if r["gene"] not in _CORE_RARE[mode]]
        n_extra = min(len(pool), max(0, _TARGET_RARE[mode] - len(core)))
        picks = sorted(rng.choice(len(pool), size=n_extra, replace=False).tolist())
        rare.extend(core + [pool[i] for i in picks])
    table = pd.DataFrame(sf + rare, columns=list(CATALOGUE_COLUMNS))
    return table.sort_values("gene", kind="stable").reset_index(drop=True)


#: HPO's X-linked inheritance terms (X-linked, X-linked recessive, X-linked dominant) and its
#: autosomal ones: a gene annotated only with the first is placed on chrX.
_X_TERMS = frozenset({1417, 1419, 1423})
_AUTOSOMAL_TERMS = frozenset({6, 7})
#: Prefix of background genes' names: no HGNC symbol starts with it.
BACKGROUND_PREFIX = "WBG"


def hpo_genes() -> dict[str, str]:
    """Every gene ``hpo3`` annotates, by HGNC symbol: ``"X"`` when HPO calls it only X-linked."""
    out = {}
    for g in hpo.ontology().genes:
        name = str(g.name)
        if not name[:1].isalnum():
            continue  # hpo3 lists a few genes without a symbol
        terms = set(g.hpo)
        out[name] = "X" if terms & _X_TERMS and not terms & _AUTOSOMAL_TERMS else "autosome"
    return dict(sorted(out.items()))


def exome_gene_set(
    catalogue: pd.DataFrame, *, chromosomes: list[str], n_genes: int, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """The ``(symbol, chromosome)`` genes of an exome-scale genome.

    Every gene ``hpo3`` knows keeps its HGNC symbol (about 5,200: the disease genes a
    phenotype-driven ranker can match), X-linked ones on chrX; the catalogue's genes are
    among them. Background genes named ``WBG00001``… make up the rest, so that each chromosome
    carries its share of ``n_genes`` in proportion to its real gene count
    (:func:`workbench.genome.genemodels.genes_per_chromosome`). A chromosome whose named
    genes exceed its share keeps them all, so a genome of few chromosomes may hold more than
    ``n_genes``; on all of GRCh38's it holds exactly ``n_genes``.
    """
    from ..genome.genemodels import genes_per_chromosome

    known = hpo_genes()
    for row in catalogue.itertuples(index=False):
        known[row.gene] = row.contig_kind
    if n_genes < len(known):
        raise InputError(
            f"an exome-scale genome needs at least the {len(known)} genes HPO knows, got "
            f"n_genes={n_genes}; ask for more genes"
        )
    target = genes_per_chromosome(chromosomes, n_genes)
    autosomes = [c for c in chromosomes if c != "chrX"]
    placed: dict[str, list[str]] = {c: [] for c in chromosomes}
    for symbol, kind in known.items():
        if kind == "X" and "chrX" in placed:
            placed["chrX"].append(symbol)
            continue
        room = np.array([max(0, target[c] - len(placed[c])) for c in autosomes], dtype=float)
        if room.sum() == 0:
            room = np.array([target[c] for c in autosomes], dtype=float)
        placed[autosomes[int(rng.choice(len(autosomes), p=room / room.sum()))]].append(symbol)
    n = 0
    for c in chromosomes:
        while len(placed[c]) < target[c]:
            n += 1
            placed[c].append(f"{BACKGROUND_PREFIX}{n:05d}")
    return [(s, c) for c in chromosomes for s in placed[c]]


#: A disease linked to a gene by its annotations needs this many phenotype terms: a small
#: disease is a subset of a large gene's terms by chance.
MIN_LINK_TERMS = 5


def hpo_gene_diseases(genes: Iterable[str]) -> pd.DataFrame:
    """A disease and mode for each of ``genes`` that ``hpo3`` annotates, as catalogue rows.

    ``hpo3`` keeps no gene→disease table (see :func:`workbench.hpo.gene_has_disease`); a gene's
    terms are the union of its diseases' terms. Each gene is linked here to the largest OMIM
    disease (at least :data:`MIN_LINK_TERMS` phenotype terms, an AD, AR or X-linked
    inheritance term) whose every term the gene carries. These links are inferred, not
    curated: they give the background disease genes of an exome-scale cohort a phenotype and
    a mode, so that filtering and ranking face realistic competition. Genes with no such
    disease are left out. Rows have :data:`CATALOGUE_COLUMNS`, ``role`` ``"disease_gene"``.
    """
    wanted = set(genes)
    ont = hpo.ontology()
    gene_terms = {str(g.name): frozenset(g.hpo) for g in ont.genes if str(g.name) in wanted}
    by_term: dict[int, set[str]] = {}
    for name, terms in gene_terms.items():
        for t in terms:
            by_term.setdefault(t, set()).add(name)
    best: dict[str, tuple[int, str, str]] = {}  # gene -> (terms, disease id, mode)
    for d in ont.omim_diseases:
        terms = frozenset(d.hpo)
        disease_id = f"OMIM:{d.id}"
        if len(terms) <= MIN_LINK_TERMS or any(t not in by_term for t in terms):
            continue
        codes = hpo.disease_inheritance(disease_id)
        modes = [m for m, mode_codes in _MODE_CODES.items() if codes & mode_codes]
        if len(modes) != 1:
            continue
        rarest = min(terms, key=lambda t: len(by_term[t]))
        for name in by_term[rarest]:
            if terms <= gene_terms[name] and len(terms) > best.get(name, (0,))[0]:
                best[name] = (len(terms), disease_id, modes[0])
    rows = []
    for name in sorted(best):
        _, disease_id, mode = best[name]
        row = _row(name, hpo.parse_disease_id(disease_id), mode, "disease_gene", None)
        if row is not None and row["hpo_terms_count"] >= MIN_LINK_TERMS:
            rows.append(row)
    return pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
