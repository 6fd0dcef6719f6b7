"""The Human Phenotype Ontology, loaded once and checked at the boundary.

A thin layer over ``hpo3`` (imported as :mod:`pyhpo`): the ontology, its gene and OMIM disease
annotations, and the checks the workbench needs because neither Phenopackets nor ``hpo3``
make them for us — an HPO id must exist and the label written beside it must be the
ontology's label for that id.

``hpo3`` ships the ontology and its annotations inside the package, so everything here works
offline and loads in about a second; :func:`ontology` caches the loaded object for the
process. ``hpo3`` links genes and diseases to terms but not genes to diseases, and carries no
annotation frequencies; :func:`gene_has_disease` therefore infers the link (see there).

References
----------
Gargano et al., "The Human Phenotype Ontology in 2024", Nucleic Acids Res 2024;52:D1333.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from .errors import InputError

__all__ = [
    "INHERITANCE_TERMS",
    "PHENOTYPIC_ABNORMALITY",
    "disease",
    "disease_inheritance",
    "disease_phenotype_terms",
    "gene_has_disease",
    "is_a",
    "label",
    "less_specific",
    "ontology",
    "parents",
    "parse_disease_id",
    "pick_unrelated",
    "related",
    "term",
    "validate_terms",
    "version",
]

#: Root of the phenotype branch; terms outside it describe inheritance, onset, frequency…
PHENOTYPIC_ABNORMALITY = "HP:0000118"

#: Inheritance terms the workbench recognises, with the short code it uses for them.
INHERITANCE_TERMS = {
    "HP:0000006": "AD",  # Autosomal dominant inheritance
    "HP:0000007": "AR",  # Autosomal recessive inheritance
    "HP:0001417": "XL",  # X-linked inheritance
    "HP:0001419": "XLR",  # X-linked recessive inheritance
    "HP:0001423": "XLD",  # X-linked dominant inheritance
}

_HPO_ID = re.compile(r"^HP:\d{7}$")
_OMIM_ID = re.compile(r"^OMIM:(\d{6})$")


@functools.lru_cache(maxsize=1)
def ontology():
    """The loaded ``hpo3`` ontology (``pyhpo.Ontology``), built once per process."""
    from pyhpo import Ontology

    Ontology()
    return Ontology


def version() -> str:
    """The HPO release ``hpo3`` ships (``"2025-11-24"`` style)."""
    return str(ontology().version())


def term(hpo_id: str):
    """The ``HPOTerm`` for ``hpo_id`` (``"HP:0001250"``).

    Raises
    ------
    InputError
        ``hpo_id`` is not of the form ``HP:`` + seven digits, or the ontology has no such term.
    """
    if not isinstance(hpo_id, str) or not _HPO_ID.match(hpo_id):
        raise InputError(
            f"expected an HPO id like 'HP:0001250', got {hpo_id!r}; "
            "write the id with the 'HP:' prefix and seven digits"
        )
    try:
        found = ontology().get_hpo_object(hpo_id)
    except (RuntimeError, KeyError, ValueError) as e:
        raise InputError(
            f"HPO term {hpo_id} does not exist in HPO release {version()}; "
            "look the term up on https://hpo.jax.org and use a current id"
        ) from e
    return found


def label(hpo_id: str) -> str:
    """The ontology's label for ``hpo_id``."""
    return str(term(hpo_id).name)


def validate_terms(ids_and_labels: Iterable[tuple[str, str]]) -> None:
    """Check that every ``(hpo_id, label)`` pair names an existing term by its own label.

    Raises
    ------
    InputError
        Naming every bad pair (unknown id, or a label differing from the ontology's).
    """
    problems = []
    for pair in ids_and_labels:
        try:
            hpo_id, given = pair
        except (TypeError, ValueError):
            problems.append(f"{pair!r} is not an (id, label) pair")
            continue
        try:
            expected = label(hpo_id)
        except InputError as e:
            problems.append(str(e).split(";")[0])
            continue
        if given != expected:
            problems.append(f"{hpo_id} is labelled {given!r} but HPO calls it {expected!r}")
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError(
            f"expected HPO terms with their current labels, found {len(problems)} bad "
            f"term(s): {shown}{more}; correct the ids or labels to HPO release {version()}"
        )


@functools.lru_cache(maxsize=1 << 16)
def _lineage(hpo_id: str) -> frozenset[str]:
    """``hpo_id`` and every ancestor of it (cached: panels and rankings ask about the same
    few thousand terms millions of times)."""
    return frozenset({hpo_id, *(str(t.id) for t in term(hpo_id).all_parents)})


def is_a(hpo_id: str, ancestor_id: str) -> bool:
    """True when ``hpo_id`` is ``ancestor_id`` or one of its descendants.

    Raises
    ------
    InputError
        Either id is malformed or not a term of the shipped HPO release.
    """
    lineage = _lineage(hpo_id)
    _lineage(ancestor_id)  # an unknown ancestor is an error, not a "no"
    return ancestor_id in lineage


def parents(hpo_id: str) -> tuple[str, ...]:
    """The direct parents (``is_a``) of ``hpo_id``, sorted."""
    return tuple(sorted(str(t.id) for t in term(hpo_id).parents))


def related(a: str, b: str) -> bool:
    """True when one of the two terms is the other or an ancestor of it."""
    return is_a(a, b) or is_a(b, a)


def less_specific(hpo_id: str, rng) -> str:
    """A random parent of ``hpo_id``, or ``hpo_id`` itself when it has none below the organ
    systems (the children of "Phenotypic abnormality" are never returned): the imprecision
    of simulated patients (Köhler et al. 2009). ``rng`` is a ``numpy.random.Generator``."""
    options = [
        p
        for p in parents(hpo_id)
        if p != PHENOTYPIC_ABNORMALITY and PHENOTYPIC_ABNORMALITY not in parents(p)
    ]
    return options[int(rng.integers(len(options)))] if options else hpo_id


def pick_unrelated(candidates, avoid, k: int, rng) -> list[str]:
    """Up to ``k`` of ``candidates`` (in random order) unrelated to ``avoid`` and each other
    (neither is the other or its ancestor)."""
    chosen: list[str] = []
    for i in rng.permutation(len(candidates)):
        if len(chosen) == k:
            break
        cand = candidates[int(i)]
        if any(related(cand, other) for other in [*avoid, *chosen]):
            continue
        chosen.append(cand)
    return chosen


def parse_disease_id(disease_id: str) -> int:
    """The OMIM number in ``"OMIM:607208"``; InputError for anything else."""
    m = _OMIM_ID.match(disease_id) if isinstance(disease_id, str) else None
    if not m:
        raise InputError(
            f"expected an OMIM disease id like 'OMIM:607208', got {disease_id!r}; "
            "the workbench identifies diseases by their OMIM number"
        )
    return int(m.group(1))


def disease(disease_id: str):
    """The ``hpo3`` OMIM disease for ``"OMIM:nnnnnn"``; InputError when HPO does not annotate it."""
    number = parse_disease_id(disease_id)
    ontology()
    from pyhpo import Omim

    try:
        return Omim.get(number)
    except (KeyError, RuntimeError) as e:
        raise InputError(
            f"{disease_id} has no annotations in HPO release {version()}; "
            "choose a disease HPO annotates"
        ) from e


def _hp(number: int) -> str:
    return f"HP:{int(number):07d}"


@functools.lru_cache(maxsize=4096)
def disease_phenotype_terms(disease_id: str) -> tuple[str, ...]:
    """HPO ids annotated to the disease under *Phenotypic abnormality*, sorted."""
    root = term(PHENOTYPIC_ABNORMALITY)
    ont = ontology()
    out = []
    for number in disease(disease_id).hpo:
        t = ont.hpo(int(number))
        if t.child_of(root):
            out.append(_hp(number))
    return tuple(sorted(out))


def disease_inheritance(disease_id: str) -> frozenset[str]:
    """Inheritance codes (``"AD"``, ``"AR"``, ``"XL"``, ``"XLR"``, ``"XLD"``) annotated to it."""
    ids = {_hp(n) for n in disease(disease_id).hpo}
    return frozenset(code for hp, code in INHERITANCE_TERMS.items() if hp in ids)


@functools.lru_cache(maxsize=1)
def _genes_by_symbol() -> dict:
    return {g.name: g for g in ontology().genes}


def gene_has_disease(gene: str, disease_id: str) -> bool:
    """Whether HPO's annotations support the gene–disease link.

    ``hpo3`` keeps no gene→disease table; a gene's terms are the union of the terms of the
    diseases it causes, so a disease whose every term is also a term of the gene is taken as
    linked. This is a check of a curated link, not a way to discover links (small diseases are
    subsets of big genes by chance).
    """
    g = _genes_by_symbol().get(gene)
    if g is None:
        return False
    return set(disease(disease_id).hpo) <= set(g.hpo)
