"""People, pedigrees and their genomes.

The cohort is simulated in three layers, each the job of a well-kept tool:

1. **Who is in the cohort** (:func:`make_people`): rare-disease trios and quads plus unrelated
   people of three populations, as the :data:`~workbench.synth.model.PEOPLE_COLUMNS` table.
2. **Their genomes, one contig at a time** (:func:`simulate_contig`): msprime's fixed-pedigree
   model passes parental haplotypes to children with real recombination, then a coalescent run
   under :func:`demography` completes the founders' ancestry, and mutations are placed on every
   branch, the children's own germline included — so each child carries background de novo
   variants as well as any planted one. A reference panel (people *not* in the cohort) is
   simulated in the same genealogy; it is the source of the population allele frequencies in
   ``knowledge/``.
3. **Planted variants** (:func:`plant_variants`): clinically meaningful alleles placed on the
   branch of the tree sequence that gives exactly the intended carriers.

The X chromosome. msprime's fixed-pedigree model treats every contig as an autosome. For X we
keep that machinery and state the biology through the mapping from nodes to genotypes and one
edit of the pedigree edges: a male's X is his maternally inherited node (node 1); his node 0 is
a placeholder for the Y and never appears in a genotype. A daughter's paternal node (node 0) must
be a copy of her father's X, so after the pedigree step its edges are replaced by a single edge
to the father's node 1 (fathers do not recombine X with Y outside the pseudo-autosomal regions,
which the synthetic X does not model).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import msprime
import numpy as np
import pandas as pd
import tskit

from ..errors import InputError
from ..genome.genemodels import GRCH38_LENGTHS
from .calling import CallingNoise
from .clinical import PhenotypeNoise
from .model import HOSPITALS, PEOPLE_COLUMNS, POPULATIONS, REGIONS

__all__ = [
    "PRESETS",
    "ContigGenomes",
    "Preset",
    "demography",
    "join_pieces",
    "make_people",
    "mutation_model",
    "rate_maps",
    "simulate_contig",
]

# Share of each population in the cohort (the majority and two groups of other ancestry).
_POPULATION_SHARE = {"NOR": 0.86, "MEN": 0.08, "SAS": 0.06}
# Share of people by region (roughly the Danish population).
_REGION_SHARE = {
    "Hovedstaden": 0.32,
    "Sjælland": 0.14,
    "Syddanmark": 0.21,
    "Midtjylland": 0.23,
    "Nordjylland": 0.10,
}


@dataclasses.dataclass(frozen=True)
class Preset:
    """The size of a synthetic cohort.

    Attributes
    ----------
    samples
        People in the cohort (families included).
    trios, quads
        Rare-disease families: a proband and both parents, plus a sibling in a quad.
    contigs
        Contig name → length in bp. The last contig is ``chrX``.
    panel_per_population
        People per population in the separately sampled reference panel.
    reads_families
        Families for which FASTQ reads are simulated (pipeline exercises).
    write_vcf
        Whether to write the bgzipped VCF copy next to the VCF Zarr store.
    calling_noise
        Missing calls and genotype errors of the genotype files (:mod:`.calling`).
    phenotype_noise
        Dropout, imprecision and noise of the probands' phenotypes
        (:class:`~workbench.synth.clinical.PhenotypeNoise`).
    genes
        ``0``: the compact genome model (the catalogue's genes on short contigs, sequence
        throughout). Otherwise the exome-scale model: this many protein-coding genes at human
        sizes on ``contigs`` at their real lengths, with sequence only around exons and in
        neutral windows (:func:`workbench.genome.genemodels.build_genome`).
    samples_chunk_size
        People per chunk of the VCF Zarr store's call arrays (``None``: bio2zarr's default,
        10,000). A case reads a family's few columns: with every person in one chunk it
        decodes the whole cohort's calls to get them.
    """

    samples: int
    trios: int
    quads: int
    contigs: Mapping[str, int]
    panel_per_population: int
    reads_families: int = 0
    write_vcf: bool = True
    calling_noise: CallingNoise = dataclasses.field(default_factory=CallingNoise)
    phenotype_noise: PhenotypeNoise = dataclasses.field(default_factory=PhenotypeNoise)
    genes: int = 0
    samples_chunk_size: int | None = None


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        samples=60,
        trios=8,
        quads=2,
        contigs={"chr1": 300_000, "chr2": 250_000, "chrX": 250_000},
        panel_per_population=60,
        reads_families=1,
    ),
    # The exome-scale genome model (:func:`workbench.genome.genemodels.build_genome`): 19,000
    # protein-coding genes on chr1–22 and chrX at GRCh38 lengths. ``make run`` makes it.
    "teaching": Preset(
        samples=2_000,
        trios=32,
        quads=6,
        contigs=dict(GRCH38_LENGTHS),
        panel_per_population=500,
        reads_families=3,
        genes=19_000,
        # Measured on a seed-32 store (1.04 M sites × 2,000 people): one family's calls over
        # the whole genome read in 4.7 s with one chunk of all 2,000 people, 2.0 s with chunks
        # of 500 and 1.4 s with 100; a read of every person (analytics) 2.5, 3.3 and 6.2 s per
        # 200,000 sites. 500 serves both.
        samples_chunk_size=500,
    ),
    # Still the compact model: 60,000 people on the exome-scale model need far more than the
    # national budget (30 minutes, 8 GB) on two cores; see the README's presets section.
    "national": Preset(
        samples=60_000,
        trios=250,
        quads=50,
        contigs={"chr1": 2_400_000, "chr2": 2_000_000, "chr3": 1_600_000, "chrX": 1_000_000},
        panel_per_population=1_000,
        write_vcf=False,
    ),
}

RECOMBINATION_RATE = 1e-8
MUTATION_RATE = 1.25e-8
#: Recombination between sequence windows in the coalescent, as a share of the human rate
#: (:func:`rate_maps`). Measured on chr20 of the teaching genome (seed 77, 500 unrelated
#: people, common SNPs): mean r² at 50–150 kb is 0.168 at 0.01, 0.108 at 0.1, 0.071 at 0.2 and
#: 0.058 at 0.3, against 0.05–0.07 in European genomes (Nelis et al. 2009); at 1–10 kb it
#: stays 0.23–0.27 throughout.
DEFAULT_COMPRESSION = 0.2
#: The coalescent's piece of a chromosome (:func:`_sim_ancestry_in_pieces`). On chr20 at
#: compression 0.3 one piece took 102 s, 10 Mb pieces 50 s and 5 Mb pieces 25 s (the same
#: LD); at 0.2 in 5 Mb pieces, 15 s against 7 s for one piece at 0.01.
PIECE_LENGTH = 5_000_000


#: Transition/transversion rate ratio: kappa = 4 gives the Ti/Tv of about 2 seen in human
#: genomes (msprime's default Jukes–Cantor model gives 0.5, a QC red flag).
KAPPA = 4.0


def mutation_model() -> msprime.HKY:
    """HKY with a transition bias, so Ti/Tv is realistic (about 2)."""
    return msprime.HKY(kappa=KAPPA)


#: Recent explosive growth of the majority population: Tennessen et al. 2012 (Science 337:64)
#: fitted 1.95 % growth per generation over the last 204 generations (5,115 years), from 9,475
#: to 512,000 for Europeans, the cause of the excess of rare variants. Their sizes, like those
#: of every published human model fitted with a mutation rate near 2.36e-8 (Gutenkunst 2009,
#: Gravel 2011; ancestral size 7,300), are scaled here by 2.36 / 1.25 = 1.89 for the direct
#: estimate of the rate this simulation uses, so that diversity stays the same (about 0.0007
#: heterozygosity per bp).
RECENT_GROWTH_GENERATIONS = 204
RECENT_GROWTH_RATE = 0.0195
MODEL_RATE_SCALE = 2.36 / 1.25
MAJORITY_SIZE_NOW = round(512_000 * MODEL_RATE_SCALE)
MAJORITY_SIZE_BEFORE_GROWTH = round(9_475 * MODEL_RATE_SCALE)
ANCESTRAL_SIZE = round(7_300 * MODEL_RATE_SCALE)
#: The two groups of other ancestry: illustrative sizes, smaller than the majority's.
OTHER_SIZE = 11_000


def demography() -> msprime.Demography:
    """Three populations that split from one ancestor, all growing in the last 204 generations.

    The majority population grows as Tennessen et al. 2012 fitted for Europeans (see
    :data:`RECENT_GROWTH_RATE`); the two groups of other ancestry grow at half that rate from
    smaller sizes. The older structure (split 1,800 generations ago, sizes 11,000–17,900,
    migration 2e-5) is illustrative, chosen so that principal components and Fst show clear
    structure (Fst between the majority and either other group ≈ 0.05–0.1).
    """
    t = RECENT_GROWTH_GENERATIONS
    dem = msprime.Demography()
    dem.add_population(
        name="NOR",
        description="majority population (recent explosive growth)",
        initial_size=MAJORITY_SIZE_NOW,
        growth_rate=RECENT_GROWTH_RATE,
    )
    for name in ("MEN", "SAS"):
        dem.add_population(
            name=name,
            description="group of other ancestry (recent growth)",
            initial_size=OTHER_SIZE * np.exp(RECENT_GROWTH_RATE / 2 * t),
            growth_rate=RECENT_GROWTH_RATE / 2,
        )
    dem.add_population(
        name="ANC", description="shared ancestral population", initial_size=ANCESTRAL_SIZE
    )
    dem.add_population_parameters_change(
        time=t, population="NOR", initial_size=10_000, growth_rate=0
    )
    for name in ("MEN", "SAS"):
        dem.add_population_parameters_change(
            time=t, population=name, initial_size=OTHER_SIZE, growth_rate=0
        )
    dem.add_symmetric_migration_rate_change(time=0, populations=["NOR", "MEN", "SAS"], rate=2e-5)
    dem.add_population_split(time=1_800, derived=["NOR", "MEN", "SAS"], ancestral="ANC")
    dem.sort_events()
    return dem


def _parse_samples(samples, preset: Preset) -> int:
    if samples is None:
        return preset.samples
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer):
        raise InputError(f"samples must be a whole number, got {samples!r}")
    family_people = 3 * preset.trios + 4 * preset.quads
    if samples <= family_people:
        raise InputError(
            f"samples must exceed the {family_people} people in this preset's families, got "
            f"{samples}; choose a larger --samples or a smaller preset"
        )
    if samples > 200_000:
        raise InputError(
            f"samples must be at most 200000 on one machine, got {samples}; use the national "
            "preset (60000) for the largest cohort"
        )
    return int(samples)


def make_people(preset: Preset, *, samples: int | None = None, rng) -> pd.DataFrame:
    """The cohort's people table (see :mod:`workbench.synth.model`).

    Families come first (father, mother, proband, then a sibling in quads), then unrelated
    people. Parents share a population; members of a family share region and hospital.
    """
    n = _parse_samples(samples, preset)
    reference_year = 2026
    pops = list(_POPULATION_SHARE)
    pop_p = np.array(list(_POPULATION_SHARE.values()))
    regions = list(_REGION_SHARE)
    region_p = np.array(list(_REGION_SHARE.values()))
    rows = []

    def person(**kw):
        kw["person_id"] = f"P{len(rows) + 1:05d}"
        rows.append(kw)
        return kw["person_id"]

    def place():
        region = regions[rng.choice(len(regions), p=region_p)]
        hospitals = HOSPITALS[region]
        return region, hospitals[rng.integers(len(hospitals))]

    kinds = ["trio"] * preset.trios + ["quad"] * preset.quads
    for i, kind in enumerate(kinds):
        family_id = f"F{i + 1:04d}"
        pop = pops[rng.choice(len(pops), p=pop_p)]
        region, hospital = place()
        parent_year = int(rng.integers(1975, 1996))
        common = dict(family_id=family_id, population=pop, region=region, hospital=hospital)
        father = person(
            **common,
            father_id=None,
            mother_id=None,
            sex="male",
            role="father",
            affected=False,
            birth_year=parent_year - int(rng.integers(0, 5)),
        )
        mother = person(
            **common,
            father_id=None,
            mother_id=None,
            sex="female",
            role="mother",
            affected=False,
            birth_year=parent_year,
        )
        child_roles = ["proband"] + (["sibling"] if kind == "quad" else [])
        for role in child_roles:
            person(
                **common,
                father_id=father,
                mother_id=mother,
                sex="male" if rng.random() < 0.5 else "female",
                role=role,
                affected=role == "proband",
                birth_year=int(rng.integers(max(parent_year + 20, 2008), 2025)),
            )
    while len(rows) < n:
        region, hospital = place()
        person(
            family_id=None,
            father_id=None,
            mother_id=None,
            sex="male" if rng.random() < 0.5 else "female",
            population=pops[rng.choice(len(pops), p=pop_p)],
            role="unrelated",
            affected=False,
            birth_year=int(rng.integers(1940, reference_year - 1)),
            region=region,
            hospital=hospital,
        )
    people = pd.DataFrame(rows, columns=list(PEOPLE_COLUMNS))
    assert set(people.population) <= set(POPULATIONS)
    assert set(people.region) <= set(REGIONS)
    return people


@dataclasses.dataclass
class ContigGenomes:
    """The simulated genomes of one contig.

    Attributes
    ----------
    contig
        Contig name.
    ts
        The tree sequence: cohort people and the reference panel; site positions are 0-based.
    cohort_nodes
        ``(n_people, 2)`` node ids, in people order; ``-1`` where a male has no second X.
    panel_nodes
        ``(n_panel, 2)`` node ids of the reference panel, likewise.
    panel_population
        Population label of each panel person.
    is_x
        Whether this contig is the X chromosome.
    """

    contig: str
    ts: tskit.TreeSequence
    cohort_nodes: np.ndarray
    panel_nodes: np.ndarray
    panel_population: np.ndarray
    is_x: bool


def _genotype_nodes(nodes: np.ndarray, male: np.ndarray, is_x: bool) -> np.ndarray:
    out = nodes.copy()
    if is_x:
        # A male's X is his maternal node (1); node 0 stands for the Y.
        out[male, 0] = nodes[male, 1]
        out[male, 1] = -1
    return out


def simulate_contig(
    people: pd.DataFrame,
    *,
    contig: str,
    length: int,
    panel_per_population: int,
    seed: int,
    is_x: bool | None = None,
    windows: Sequence[tuple[int, int]] | None = None,
    compression: float = DEFAULT_COMPRESSION,
    piece_length: int = PIECE_LENGTH,
) -> ContigGenomes:
    """Simulate one contig for the cohort and the reference panel.

    Parameters
    ----------
    people
        The people table; ``father_id``/``mother_id`` define the pedigree.
    contig, length
        Contig name and length in bp.
    panel_per_population
        Reference-panel size per population.
    seed
        Seed for msprime (ancestry and mutations use seeds drawn from it).
    is_x
        Whether the contig is the X chromosome; by default, when it is named ``chrX``.
    windows
        0-based half-open intervals where the contig has sequence (a chromosome at real
        length, :mod:`workbench.genome.genemodels`). Mutations fall only inside them. The
        pedigree step recombines at the human rate over the whole length, so relatives share
        segments as real relatives do; the coalescent before it recombines at the human
        rate inside the windows and at ``compression`` times that rate between them (see
        :func:`rate_maps`). ``None``: the whole contig is sequence, at uniform rates.
    compression
        The recombination rate between windows in the coalescent, as a fraction of the
        human rate.
    piece_length
        The coalescent runs on pieces of the contig at most this long, one after another
        (:func:`_sim_ancestry_in_pieces`); a contig no longer than this is one piece.
    """
    if is_x is None:
        is_x = contig == "chrX"
    dem = demography()
    ss = np.random.SeedSequence(seed)
    seed_ped, seed_anc, seed_mut = (int(s.generate_state(1)[0]) for s in ss.spawn(3))

    index = {pid: i for i, pid in enumerate(people.person_id)}
    founders = people.father_id.isna() & people.mother_id.isna()
    pb = msprime.PedigreeBuilder(demography=dem)
    ind_of = np.empty(len(people), dtype=np.int32)
    # Parents enter one generation earlier than the children; everyone is genotyped.
    parent_ids = set(people.father_id.dropna()) | set(people.mother_id.dropna())
    for i, row in enumerate(people.itertuples(index=False)):
        if founders.iloc[i]:
            time = 1 if row.person_id in parent_ids else 0
            ind_of[i] = pb.add_individual(time=time, population=row.population, is_sample=True)
        else:
            ind_of[i] = pb.add_individual(
                time=0,
                population=row.population,
                is_sample=True,
                parents=[ind_of[index[row.father_id]], ind_of[index[row.mother_id]]],
            )
    panel_population = np.repeat(np.array(POPULATIONS), panel_per_population)
    panel_ind = np.array(
        [pb.add_individual(time=0, population=p, is_sample=True) for p in panel_population],
        dtype=np.int32,
    )
    tables = pb.finalise(sequence_length=length)
    ts = msprime.sim_ancestry(
        initial_state=tables,
        model="fixed_pedigree",
        recombination_rate=RECOMBINATION_RATE,
        random_seed=seed_ped,
    )
    if windows is None:
        recombination, mutation = RECOMBINATION_RATE, MUTATION_RATE
    else:
        recombination, mutation = rate_maps(length, windows, compression=compression)
    individual_nodes = _individual_nodes(ts)
    if is_x:
        ts = _make_x_paternal_transmission(ts, people, index, ind_of, individual_nodes)
    ts = _sim_ancestry_in_pieces(
        ts, demography=dem, recombination=recombination, seed=seed_anc, piece=piece_length
    )
    # Mutations on every branch, the last generation's included: each child carries de novo
    # mutations at the human rate (about 1.2e-8 per bp per generation, Kong et al. 2012),
    # not only where a diagnosis is planted.
    ts = msprime.sim_mutations(ts, rate=mutation, model=mutation_model(), random_seed=seed_mut)
    male = (people.sex == "male").to_numpy()
    cohort_nodes = _genotype_nodes(individual_nodes[ind_of], male, is_x)
    panel_male = np.zeros(len(panel_ind), dtype=bool)
    if is_x:
        # Half the panel is male, as in gnomAD's X: their allele number counts one X each.
        panel_male[1::2] = True
    panel_nodes = _genotype_nodes(individual_nodes[panel_ind], panel_male, is_x)
    return ContigGenomes(
        contig=contig,
        ts=ts,
        cohort_nodes=cohort_nodes,
        panel_nodes=panel_nodes,
        panel_population=panel_population,
        is_x=is_x,
    )


def rate_maps(
    length: int, windows: Sequence[tuple[int, int]], *, compression: float = DEFAULT_COMPRESSION
) -> tuple[msprime.RateMap, msprime.RateMap]:
    """Recombination and mutation rate maps for a contig known only in ``windows``.

    Mutations fall at :data:`MUTATION_RATE` inside the windows and nowhere else (there is no
    sequence there). Recombination runs at :data:`RECOMBINATION_RATE` inside the windows and
    at ``compression`` times that rate between them: the coalescent's cost grows faster than
    the map's total length, and whole chromosomes at the full rate take hours at the
    teaching size. At the default (:data:`DEFAULT_COMPRESSION`) a stretch of 100 kb between
    windows recombines as 20 kb of real sequence would: LD at 50–150 kb matches European
    genomes, and beyond a few hundred kb it fades faster than in them.
    """
    if not 0 <= compression <= 1:
        raise InputError(f"compression must be between 0 and 1, got {compression}")
    edges = [0.0]
    inside = []
    for a, b in windows:
        if not edges[-1] <= a < b <= length:
            raise InputError(
                f"window ({a}, {b}) is not sorted, non-overlapping and inside 0..{length}"
            )
        if a > edges[-1]:
            edges.append(float(a))
            inside.append(False)
        elif len(edges) > 1 and inside and inside[-1]:
            edges[-1] = float(b)  # merge with the window before
            continue
        edges.append(float(b))
        inside.append(True)
    if edges[-1] < length:
        edges.append(float(length))
        inside.append(False)
    inside_arr = np.array(inside)
    recombination = np.where(inside_arr, RECOMBINATION_RATE, RECOMBINATION_RATE * compression)
    mutation = np.where(inside_arr, MUTATION_RATE, 0.0)
    position = np.array(edges)
    return (
        msprime.RateMap(position=position, rate=recombination),
        msprime.RateMap(position=position, rate=mutation),
    )


def _sim_ancestry_in_pieces(
    ts: tskit.TreeSequence, *, demography, recombination, seed: int, piece: int
) -> tskit.TreeSequence:
    """The coalescent above the pedigree's tree sequence ``ts``, one piece of it at a time.

    Hudson's algorithm costs about the square of the recombination map's length (on chr20,
    tripling the map made it 4 times slower), so a chromosome cut into pieces of ``piece``
    bases costs roughly the pieces' share of it. The pedigree step is not cut: relatives
    share segments across the cuts as before. Between pieces the deep genealogies are
    independent, as if a free recombination sat at each cut: LD never spans one (of pairs
    100 kb apart, 2 % straddle a cut between 5 Mb pieces), and :func:`join_pieces` puts the
    pieces together. A contig no longer than ``piece`` runs in one call, as plain
    :func:`msprime.sim_ancestry`.
    """
    length = int(ts.sequence_length)
    n = max(1, math.ceil(length / piece))
    if n == 1:
        return msprime.sim_ancestry(
            initial_state=ts,
            demography=demography,
            recombination_rate=recombination,
            random_seed=seed,
        )
    bounds = np.linspace(0, length, n + 1).round().astype(np.int64)
    seeds = np.random.SeedSequence(seed).generate_state(n)
    parts = []
    for a, b, s in zip(bounds[:-1], bounds[1:], seeds, strict=True):
        rate = (
            recombination.slice(a, b, trim=True)
            if isinstance(recombination, msprime.RateMap)
            else recombination
        )
        parts.append(
            msprime.sim_ancestry(
                initial_state=ts.keep_intervals([[a, b]], simplify=False).trim(),
                demography=demography,
                recombination_rate=rate,
                random_seed=int(s),
            )
        )
    return join_pieces(parts, bounds, shared=ts.num_nodes)


def join_pieces(parts, bounds, *, shared: int) -> tskit.TreeSequence:
    """One tree sequence from pieces simulated apart: ``parts[k]`` covers ``bounds[k]`` to
    ``bounds[k + 1]`` in its own coordinates, and its first ``shared`` nodes are the same
    nodes in every piece (the samples, or a pedigree's nodes); the others are its own.

    This is what :meth:`tskit.TreeSequence.concatenate` does with node mappings, and gives the
    same tables, but directly: concatenate's union per piece took 31 s for 12 pieces of a
    chromosome of 3,500 people, against 0.1 s here.
    """
    first = parts[0].dump_tables()
    tables = first.copy()
    tables.nodes.truncate(shared)
    tables.edges.clear()
    tables.sequence_length = float(bounds[-1])
    columns = []
    for a, part in zip(bounds[:-1], parts, strict=True):
        nodes = part.tables.nodes
        new = nodes[shared:]
        remap = np.arange(nodes.num_rows, dtype=np.int32)
        remap[shared:] += tables.nodes.num_rows - shared
        tables.nodes.append_columns(
            flags=new.flags, time=new.time, population=new.population, individual=new.individual
        )
        e = part.tables.edges
        columns.append((e.left + a, e.right + a, remap[e.parent], remap[e.child]))
    left, right, parent, child = (np.concatenate(c) for c in zip(*columns, strict=True))
    tables.edges.set_columns(left=left, right=right, parent=parent, child=child)
    tables.sort()
    tables.edges.squash()  # edges of shared nodes, cut at each piece's ends, joined again
    tables.sort()
    return tables.tree_sequence()


def _individual_nodes(ts: tskit.TreeSequence) -> np.ndarray:
    """``(num_individuals, 2)`` node ids, node 0 from parent 0 (the father)."""
    nodes = np.full((ts.num_individuals, 2), -1, dtype=np.int32)
    ind = ts.nodes_individual
    for node in np.flatnonzero(ind >= 0):
        i = ind[node]
        slot = 0 if nodes[i, 0] == -1 else 1
        nodes[i, slot] = node
    return nodes


def _make_x_paternal_transmission(ts, people, index, ind_of, individual_nodes):
    """Replace each daughter's paternal X edges by one edge to her father's X (his node 1)."""
    tables = ts.dump_tables()
    edges = tables.edges
    replace = {}
    for i, row in enumerate(people.itertuples(index=False)):
        if pd.isna(row.father_id) or row.sex != "female":
            continue
        child_node = individual_nodes[ind_of[i], 0]
        father_x = individual_nodes[ind_of[index[row.father_id]], 1]
        replace[child_node] = father_x
    if not replace:
        return ts
    keep = ~np.isin(edges.child, list(replace))
    left, right = edges.left[keep], edges.right[keep]
    parent, child = edges.parent[keep], edges.child[keep]
    new_child = np.fromiter(replace.keys(), dtype=np.int32)
    new_parent = np.fromiter(replace.values(), dtype=np.int32)
    edges.set_columns(
        left=np.concatenate([left, np.zeros(len(new_child))]),
        right=np.concatenate([right, np.full(len(new_child), ts.sequence_length)]),
        parent=np.concatenate([parent, new_parent]),
        child=np.concatenate([child, new_child]),
    )
    tables.sort()
    return tables.tree_sequence()
