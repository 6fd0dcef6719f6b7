"""The tables the synthetic-cohort generator passes between its steps.

They are plain pandas DataFrames with the columns listed here, so each step (population,
clinical planting, registry, knowledge, phenopackets) can be written and tested on its own.

people
    One row per person in the cohort, in genotype (VCF sample) order.

    ============  =====================================================================
    person_id     ``"P00001"``: the genome centre's internal id; also the VCF sample id.
                  It is a pseudonym: national identifiers live only in the keyholder store.
    family_id     ``"F0001"`` for members of rare-disease families, else ``None``
    father_id     person id of the father when he is in the cohort, else ``None``
    mother_id     person id of the mother when she is in the cohort, else ``None``
    sex           ``"female"`` or ``"male"``
    population    one of :data:`POPULATIONS`
    role          ``"proband"``, ``"father"``, ``"mother"``, ``"sibling"`` or ``"unrelated"``
    affected      bool
    birth_year    int
    region        one of :data:`REGIONS`
    hospital      a hospital of that region
    ============  =====================================================================

planned variants (produced by ``synth.clinical``, placed by ``synth.population``)
    One row per planted allele copy.

    ============  =====================================================================
    variant_key   id shared by every copy of one variant (``"V0001"``)
    category      ``"causal"``, ``"secondary"``, ``"vus"``, ``"benign_rare"``, ``"benign_common"``
    gene          gene symbol
    effect        intended Sequence Ontology term (e.g. ``"stop_gained"``)
    person_id     the carrier whose haplotype receives the allele
    origin        ``"de_novo"`` (only this person), ``"paternal"`` / ``"maternal"`` (the
                  haplotype this person inherited from that parent — the parent carries it
                  too), or ``"founder"`` (one haplotype of a person whose parents are not in
                  the cohort)
    copies        1, or 2 for homozygous (both haplotypes; with origin ``"founder"`` only)
    ============  =====================================================================
"""

from __future__ import annotations

__all__ = [
    "HOSPITALS",
    "PEOPLE_COLUMNS",
    "PLANT_COLUMNS",
    "POPULATIONS",
    "REGIONS",
]

#: Synthetic populations: a majority and two groups of other ancestry. The labels describe
#: the demographic model, not real people (see ``synth.population.demography``).
POPULATIONS = ("NOR", "MEN", "SAS")

#: The five Danish regions.
REGIONS = (
    "Hovedstaden",
    "Sjælland",
    "Syddanmark",
    "Midtjylland",
    "Nordjylland",
)

#: Hospitals with genetics departments, by region.
HOSPITALS = {
    "Hovedstaden": ("Rigshospitalet", "Herlev Hospital"),
    "Sjælland": ("Sjællands Universitetshospital",),
    "Syddanmark": ("Odense Universitetshospital", "Vejle Sygehus"),
    "Midtjylland": ("Aarhus Universitetshospital",),
    "Nordjylland": ("Aalborg Universitetshospital",),
}

PEOPLE_COLUMNS = (
    "person_id",
    "family_id",
    "father_id",
    "mother_id",
    "sex",
    "population",
    "role",
    "affected",
    "birth_year",
    "region",
    "hospital",
)

PLANT_COLUMNS = ("variant_key", "category", "gene", "effect", "person_id", "origin", "copies")
