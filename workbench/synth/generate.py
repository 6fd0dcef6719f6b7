"""``workbench generate``: write one synthetic cohort folder (see DESIGN.md, "The cohort folder").

The steps, each a function of its own module, run from one seed:

=====================  ==========================================================
people and families    :func:`workbench.synth.population.make_people`
genes and reference    :func:`workbench.synth.genes.gene_catalogue`,
                       :func:`workbench.genome.build_reference`
clinical plan          :func:`workbench.synth.clinical.plan_cases`
genomes                :func:`workbench.synth.population.simulate_contig` per contig, then
                       :func:`workbench.synth.indels.add_indels` and
                       :func:`workbench.synth.selection.purify`
planted variants       :func:`workbench.synth.genomes.plant_variants`
genotype files         bio2zarr (VCF Zarr) and pysam (bgzipped VCF + tabix), calls with
                       :mod:`workbench.synth.calling` noise; the families' simulated
                       genotypes without it in ``truth/genotypes.vcz``
registry, keyholder    :mod:`workbench.synth.registry`
service secrets        :func:`workbench.access.session.write_service_secrets`
knowledge              :mod:`workbench.synth.knowledge` (reference-panel frequencies …)
phenopackets, truth    :mod:`workbench.synth.phenopackets`, ``truth/``
=====================  ==========================================================

The folder is written under a temporary name and renamed into place when complete, so a
failed or interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import manifest as _manifest
from .. import provenance
from ..access.session import write_service_secrets
from ..errors import CohortFormatError, InputError
from ..genome import annotate, build_reference, design_variant
from ..genome.genemodels import build_genome
from ..genome.reference import fasta_path
from ..io import atomic_dir, atomic_file
from . import clinical, genes, knowledge, phenopackets, registry
from .genome_store import GenomeStore
from .genomes import (
    CohortSource,
    assign_reference_alleles,
    de_novo_sites,
    genotypes_at,
    panel_frequencies,
    plant_variants,
    write_vcf,
    write_vcz,
)
from .indels import INDEL_SHARE, add_indels
from .model import POPULATIONS
from .population import (
    MUTATION_RATE,
    PRESETS,
    RECOMBINATION_RATE,
    Preset,
    make_people,
    simulate_contig,
)
from .selection import purify

__all__ = ["ensure_cohort", "generate_cohort"]

REFERENCE_DATE = "2026-01-01"
#: The genome store's folder inside the cohort being written (removed before it is complete).
_TREES = ".trees"

_STEPS = (
    "people",
    "reference",
    "clinical plan",
    "genomes",
    "planting",
    "genotypes",
    "registry",
    "knowledge",
    "phenopackets",
    "manifest",
)


def _parse_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputError(f"seed must be a whole number, got {seed!r}")
    if not 0 <= seed < 2**32:
        raise InputError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    return int(seed)


#: Seeds the indel draws of a contig, next to the contig's simulation seed.
_INDEL_STREAM = 0x1D
#: Seeds the purifying-selection draws of a contig.
_SELECTION_STREAM = 0x5E


def _cds_intervals(reference, contig: str) -> list[tuple[int, int]]:
    """0-based half-open CDS segments of every transcript on ``contig``."""
    return [
        (a - 1, b) for t in reference.transcripts if t.contig == contig for a, b in t.cds_segments()
    ]


def _layout_genes(catalogue: pd.DataFrame, contigs: dict[str, int]) -> list[tuple[str, str]]:
    """Put X-linked genes on chrX and share the others among autosomes by length."""
    autosomes = [c for c in contigs if c != "chrX"]
    weights = np.array([contigs[c] for c in autosomes], dtype=float)
    load = np.zeros(len(autosomes))
    out = []
    for row in catalogue.sort_values("gene").itertuples(index=False):
        if row.contig_kind == "X":
            out.append((row.gene, "chrX"))
        else:
            k = int(np.argmin(load / weights))
            load[k] += 1
            out.append((row.gene, autosomes[k]))
    return out


def _contig_genomes(people, reference, preset: Preset, contig: str, seed: int):
    """One contig's genomes: simulated, on the reference's bases, with indels and selection."""
    g = simulate_contig(
        people,
        contig=contig,
        length=preset.contigs[contig],
        panel_per_population=preset.panel_per_population,
        seed=seed,
        windows=reference.known_windows(contig) if preset.genes else None,
    )
    g.ts = assign_reference_alleles(g.ts, reference.sequence(contig))
    g.ts = add_indels(
        g.ts,
        reference.sequence(contig),
        rng=np.random.default_rng([seed, _INDEL_STREAM]),
        coding=_cds_intervals(reference, contig),
    )
    g.ts = purify(g.ts, reference, contig, rng=np.random.default_rng([seed, _SELECTION_STREAM]))
    return g


#: What forked workers of :func:`_simulate_genomes` read (inherited, never pickled).
_SHARED: dict = {}


def _contig_genomes_shared(contig: str, seed: int) -> str:
    g = _contig_genomes(_SHARED["people"], _SHARED["reference"], _SHARED["preset"], contig, seed)
    _SHARED["store"].save(contig, g)
    return contig


def _simulate_genomes(
    people, reference, preset: Preset, seeds: list[int], store: GenomeStore, *, progress: bool
) -> GenomeStore:
    """Every contig's genomes, written to ``store`` in contig order.

    The exome-scale model simulates its chromosomes in parallel, one worker per core (forked,
    so the reference is shared rather than copied); each worker saves its contig to the store
    and the parent registers it, so no tree sequence passes through a pipe and none is held
    here. Each contig depends only on its own seed, so the result is the same for any number
    of workers. The compact model's few short contigs run in this process.
    """
    contigs = list(preset.contigs)
    workers = min(len(contigs), os.cpu_count() or 1) if preset.genes else 1
    bar = tqdm(total=len(contigs), desc="simulate", disable=not progress, leave=False)
    if workers == 1:
        for contig, seed in zip(contigs, seeds, strict=True):
            store[contig] = _contig_genomes(people, reference, preset, contig, seed)
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _SHARED.update(people=people, reference=reference, preset=preset, store=store)
        try:
            with ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork")
            ) as pool:
                # Longest first, so the last worker to finish is not left with chr1.
                order = sorted(range(len(contigs)), key=lambda i: -preset.contigs[contigs[i]])
                futures = {
                    i: pool.submit(_contig_genomes_shared, contigs[i], seeds[i]) for i in order
                }
                for i in order:
                    futures[i].result()
                    bar.update()
        finally:
            _SHARED.clear()
        for contig in contigs:  # in contig order, whatever order they finished in
            store.register(contig)
    bar.close()
    return store


def generate_cohort(
    *,
    preset: str,
    out: str | os.PathLike,
    samples: int | None = None,
    seed: int = 42,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Generate a synthetic cohort folder at ``out`` and return its path.

    Parameters
    ----------
    preset
        ``"tiny"`` (tests: ~60 people on ~0.8 Mb of the compact model), ``"teaching"``
        (2,000 people on the exome-scale genome model: 19,000 genes on chr1–22 and chrX at
        GRCh38 lengths) or ``"national"`` (60,000 genomes on ~7 Mb of the compact model,
        streamed to VCF Zarr; no VCF copy).
    out
        The cohort folder to write; it must not exist unless ``force``.
    samples
        Number of people (default: the preset's).
    seed
        Everything is determined by it: the same seed and package versions give
        byte-identical files.
    force
        Replace an existing folder (the old one stays until the new one is complete).
    progress
        Show progress bars.
    """
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    seed = _parse_seed(seed)
    out = Path(out)
    seeds = iter(np.random.SeedSequence(seed).spawn(16))

    def rng():
        return np.random.default_rng(next(seeds))

    bar = tqdm(total=len(_STEPS), desc=f"generate {preset}", disable=not progress, unit="step")

    def step(name):
        bar.set_postfix_str(name)

    with atomic_dir(out, force=force) as tmp:
        step("people")
        people = make_people(p, samples=samples, rng=rng())
        bar.update()

        step("reference")
        catalogue = genes.gene_catalogue(preset=preset, rng=rng())
        reference_rng = rng()
        if p.genes:
            gene_set = genes.exome_gene_set(
                catalogue, chromosomes=list(p.contigs), n_genes=p.genes, rng=reference_rng
            )
            reference = build_genome(
                chromosomes=dict(p.contigs),
                genes=gene_set,
                rng=reference_rng,
                multi_exon=set(catalogue.gene),
            )
        else:
            reference = build_reference(
                contigs=dict(p.contigs),
                genes=_layout_genes(catalogue, dict(p.contigs)),
                rng=reference_rng,
            )
        reference.write(tmp / "reference")
        bar.update()

        step("clinical plan")
        plan = clinical.plan_cases(
            people=people,
            catalogue=catalogue,
            rng=rng(),
            reference_year=int(REFERENCE_DATE[:4]),
            phenotype_noise=p.phenotype_noise,
        )
        bar.update()

        step("genomes")
        contig_seeds = next(seeds).generate_state(len(p.contigs))
        # The tree sequences wait on disk, one contig in memory at a time (genome_store); the
        # folder goes before the manifest is written.
        genomes = _simulate_genomes(
            people,
            reference,
            p,
            [int(x) for x in contig_seeds],
            GenomeStore(tmp / _TREES),
            progress=progress,
        )
        bar.update()

        step("planting")
        planted = plant_variants(
            genomes,
            plan.plants,
            people,
            reference=reference,
            design_variant=design_variant,
            rng=rng(),
        )
        truth_variants = _truth_variants(planted, plan.plants, genomes, people, reference)
        bar.update()

        step("genotypes")
        # Its own stream after the sixteen of the other steps, which it leaves unchanged.
        noise_seed = int(np.random.SeedSequence(seed, spawn_key=(16,)).generate_state(1)[0])
        source = CohortSource(
            genomes.as_sequence(),
            list(people.person_id),
            noise=p.calling_noise,
            noise_seed=noise_seed,
            # planted variants are called as planted (a course's diagnosis is never miscalled)
            exempt=planted.groupby("contig").position.apply(list).to_dict(),
        )
        _write_genotype_files(source, tmp, p, genomes=genomes, people=people, progress=progress)
        _write_ped(tmp / "pedigree.ped", people)
        bar.update()

        step("registry")
        registry.write_registry(
            tmp / "registry.sqlite",
            people=people,
            phenotypes=plan.phenotypes,
            families=plan.families,
            reference_date=REFERENCE_DATE,
            rng=rng(),
        )
        registry.write_keyholder(tmp / "keyholder", people=people, rng=rng())
        write_service_secrets(tmp / "service", rng=rng())
        bar.update()

        step("knowledge")
        freqs = panel_frequencies(genomes.values(), POPULATIONS)
        common = freqs[(freqs.af >= 0.01)]
        common = _annotate_table(common, reference)
        common = common[common.gene.notna()]
        assertions = knowledge.make_assertions(
            planted=truth_variants, common=common, rng=rng(), reference_date=REFERENCE_DATE
        )
        knowledge.write_knowledge(
            tmp / "knowledge",
            frequencies=freqs,
            assertions=assertions,
            catalogue=_known_disease_genes(catalogue, reference) if p.genes else catalogue,
        )
        bar.update()

        step("phenopackets")
        phenopackets.write_phenopackets(
            tmp / "phenopackets",
            people=people,
            phenotypes=plan.phenotypes,
            cases=plan.cases,
            families=plan.families,
            reference_date=REFERENCE_DATE,
        )
        _write_truth(
            tmp / "truth",
            plan.cases,
            truth_variants,
            de_novo=de_novo_sites(genomes.values(), people),
            phenotypes=plan.phenotype_truth,
            noise={
                "calling": p.calling_noise.as_dict(),
                "calling_seed": noise_seed,
                "phenotypes": p.phenotype_noise.as_dict(),
            },
        )
        bar.update()

        if p.reads_families:
            _write_reads(
                tmp,
                people,
                catalogue,
                p,
                seed=int(next(seeds).generate_state(1)[0]),
                progress=progress,
            )

        n_variants = int(source.num_records)
        del genomes, source
        shutil.rmtree(tmp / _TREES)

        step("manifest")
        parameters = {
            "samples": len(people),
            "contigs": dict(p.contigs),
            "trios": p.trios,
            "quads": p.quads,
            "panel_per_population": p.panel_per_population,
            "reference_date": REFERENCE_DATE,
            "mutation_rate": MUTATION_RATE,
            "recombination_rate": RECOMBINATION_RATE,
            "indel_share": INDEL_SHARE,
            "calling_noise": p.calling_noise.as_dict(),
            "phenotype_noise": p.phenotype_noise.as_dict(),
        }
        _manifest.write_manifest(
            tmp,
            {
                "name": out.name,
                "preset": preset,
                "seed": seed,
                "parameters": parameters,
                "summary": {
                    "people": len(people),
                    "families": int(people.family_id.nunique()),
                    "variants": n_variants,
                    "planted_variants": len(planted),
                    "populations": people.population.value_counts().sort_index().to_dict(),
                },
                "provenance": provenance.record(
                    "workbench generate",
                    {"preset": preset, "samples": samples, "seed": seed},
                ),
            },
        )
        bar.update()
    bar.close()
    return out


#: Genes the shipped reads cover: the first ones (by name) of this panel, never chosen by case.
READS_PANEL, READS_GENES, READS_DEPTH = "epilepsy", 12, 30.0


def _write_genotype_files(
    source: CohortSource, folder: Path, preset: Preset, *, genomes, people, progress: bool
):
    """The cohort's calls as VCF Zarr and, for presets that keep one, as bgzipped VCF; and
    the families' simulated genotypes (``truth/genotypes.vcz``).

    The files are read from the tree sequences and none depends on another. On the
    exome-scale model, with a million records, the VCF is written by a forked process while
    this one encodes the two VCF Zarr stores, so the step takes about the longer of the two
    rather than their sum (the fork happens before bio2zarr starts its threads).
    """

    def stores():
        write_vcz(
            source,
            folder / "genotypes.vcz",
            samples_chunk_size=preset.samples_chunk_size,
            show_progress=progress,
        )
        _write_simulated(folder / "truth" / "genotypes.vcz", genomes, people)

    vcf_args = dict(
        reference_name=f"reference/{fasta_path(folder / 'reference').name}",
    )
    if not preset.write_vcf:
        stores()
        return
    if not preset.genes or (os.cpu_count() or 1) < 2:
        stores()
        write_vcf(source, folder / "genotypes.vcf.gz", show_progress=progress, **vcf_args)
        return
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(
        target=write_vcf,
        args=(source, folder / "genotypes.vcf.gz"),
        kwargs=dict(show_progress=False, **vcf_args),
        name="write-vcf",
    )
    child.start()
    try:
        stores()
    finally:
        child.join()
    if child.exitcode != 0:
        raise RuntimeError(
            f"writing genotypes.vcf.gz failed in its process (exit code {child.exitcode}); "
            "its error is printed above"
        )


def _known_disease_genes(catalogue: pd.DataFrame, reference) -> pd.DataFrame:
    """The catalogue plus a disease for every other gene of the genome that HPO annotates.

    An exome-scale genome carries every HPO disease gene under its own symbol; linking them to
    a disease (:func:`workbench.synth.genes.hpo_gene_diseases`) puts them on the gene–disease
    panels, so filtering and ranking weigh the planted gene against thousands of others, as in
    a real clinical exome. A link whose mode does not fit the chromosome (an X-linked disease
    on an autosome) is left out.
    """
    where = {g.symbol: g.contig for g in reference.genes}
    linked = genes.hpo_gene_diseases(sorted(set(where) - set(catalogue.gene)))
    fits = (linked["mode"] == "XL") == (linked.gene.map(where) == "chrX")
    table = pd.concat([catalogue, linked[fits]], ignore_index=True)
    return table.sort_values("gene", kind="stable").reset_index(drop=True)


def _write_reads(folder: Path, people, catalogue, preset, *, seed: int, progress: bool) -> None:
    """FASTQ for the first families over a fixed slice of a diagnostic panel (``reads/``).

    The pipeline notebooks simulate any panel on demand; these files let a course start
    from reads without waiting. The genes do not depend on the families' diagnoses.
    """
    from ..cohort import Cohort
    from .reads import simulate_reads

    gene_disease = pd.read_csv(folder / "knowledge" / "gene_disease.tsv", sep="\t")
    on_panel = gene_disease.panels.fillna("").str.split(",").map(lambda p: READS_PANEL in p)
    genes = sorted(set(gene_disease.gene[on_panel]))[:READS_GENES]
    families = sorted(people.family_id.dropna().unique())[: preset.reads_families]
    members = people[people.family_id.isin(families)].person_id.tolist()
    # The folder is complete but for the manifest: read it through a provisional Cohort.
    cohort = Cohort(
        folder,
        {
            "name": folder.name,
            "preset": "",
            "seed": seed,
            "parameters": {"contigs": dict(preset.contigs)},
        },
    )
    simulate_reads(
        cohort,
        person_ids=members,
        regions=genes,
        out_dir=folder / "reads",
        depth=READS_DEPTH,
        seed=seed,
        progress=progress,
    )
    (folder / "reads" / "README.md").write_text(
        f"# Simulated reads\n\nPaired 2×150 reads at {READS_DEPTH:.0f}x for the families "
        f"{', '.join(families)} over {len(genes)} genes of the '{READS_PANEL}' panel "
        f"({', '.join(genes)}), made by `workbench.synth.reads.simulate_reads`. Each file is "
        "`<person>_R1.fastq.gz` / `<person>_R2.fastq.gz`.\n",
        encoding="utf-8",
    )


def ensure_cohort(path: str | os.PathLike, *, preset: str = "tiny", seed: int = 42) -> Path:
    """Return ``path`` if it holds a valid cohort, generating it first when it is missing."""
    path = Path(path)
    try:
        _manifest.read_manifest(path)
    except CohortFormatError:
        if path.exists() and any(path.iterdir()):
            raise
        generate_cohort(preset=preset, out=path, seed=seed, force=path.exists(), progress=False)
    return path


def _annotate_table(table: pd.DataFrame, reference) -> pd.DataFrame:
    """Add ``gene, consequence, hgvs_c, hgvs_p`` (most severe transcript; None if intergenic)."""
    cols = {"gene": [], "transcript": [], "consequence": [], "hgvs_c": [], "hgvs_p": []}
    for row in table.itertuples(index=False):
        anns = [
            a
            for a in annotate(reference, row.contig, int(row.position), row.ref, row.alt)
            if a.gene
        ]
        a = anns[0] if anns else None
        cols["gene"].append(a.gene if a else None)
        cols["transcript"].append(a.transcript if a else None)
        cols["consequence"].append(a.consequence if a else "intergenic_variant")
        cols["hgvs_c"].append(a.hgvs_c if a else None)
        cols["hgvs_p"].append(a.hgvs_p if a else None)
    return table.assign(**cols)


def _truth_variants(planted, plants, genomes, people, reference) -> pd.DataFrame:
    """Planted variants with their annotation and every carrier's genotype."""
    table = _annotate_table(planted, reference)
    carriers = [""] * len(table)
    ids = people.person_id.to_numpy()
    # contig by contig: each is read once from the genome store
    for contig, rows in table.groupby("contig", sort=False).indices.items():
        g = genomes[contig]
        gts = genotypes_at(g, (table.position.to_numpy()[rows] - 1).tolist())
        for k, gt in zip(rows, gts, strict=True):
            which = np.flatnonzero((gt == 1).sum(axis=1) > 0)
            calls = []
            for i in which:
                a, b = gt[i]
                calls.append(f"{ids[i]}:{a}" if b < -1 else f"{ids[i]}:{a}|{b}")
            carriers[k] = ";".join(calls)
    # benign_common alleles follow the genealogy, not the plan's list of people
    planned = plants[plants.category != "benign_common"]
    owners = planned.groupby("variant_key").person_id.apply(lambda s: ";".join(sorted(set(s))))
    origins = plants.groupby("variant_key").origin.apply(lambda s: ";".join(sorted(set(s))))
    table = table.assign(
        planned_for=table.variant_key.map(owners),
        origin=table.variant_key.map(origins),
        carriers=carriers,
    )
    return table


def _write_simulated(path: Path, genomes, people: pd.DataFrame) -> None:
    """The families' members' simulated genotypes, without calling noise (instructor material).

    Reads are simulated from them and pipeline calls are scored against them.
    """
    members = np.flatnonzero(people.family_id.notna().to_numpy())
    source = CohortSource(genomes.as_sequence(), list(people.person_id.iloc[members]), rows=members)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_vcz(source, path, show_progress=False)


def _write_ped(path: Path, people: pd.DataFrame) -> None:
    """PLINK/PED-style pedigree: family, person, father, mother, sex (1/2), phenotype (1/2)."""
    with atomic_file(path, "w", encoding="utf-8") as f:
        f.write("#family_id\tperson_id\tfather_id\tmother_id\tsex\tphenotype\n")
        for row in people.itertuples(index=False):
            fam = row.family_id if isinstance(row.family_id, str) else row.person_id
            f.write(
                "\t".join(
                    [
                        fam,
                        row.person_id,
                        row.father_id if isinstance(row.father_id, str) else "0",
                        row.mother_id if isinstance(row.mother_id, str) else "0",
                        "1" if row.sex == "male" else "2",
                        "2" if row.affected else "1",
                    ]
                )
                + "\n"
            )


def _write_truth(
    folder: Path,
    cases: pd.DataFrame,
    variants: pd.DataFrame,
    *,
    de_novo: pd.DataFrame,
    phenotypes: pd.DataFrame,
    noise,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"cases": cases, "variants": variants, "de_novo": de_novo, "phenotypes": phenotypes}
    for name, table in tables.items():
        with atomic_file(folder / f"{name}.tsv", "w", encoding="utf-8") as f:
            table.to_csv(f, sep="\t", index=False, lineterminator="\n")
    with atomic_file(folder / "noise.json", "w", encoding="utf-8") as f:
        json.dump(noise, f, indent=2, sort_keys=True)
        f.write("\n")
    (folder / "README.md").write_text(
        "# Answer key (instructor material)\n\n"
        "`cases.tsv`: per family, the planted diagnosis (mode, gene, disease) or why the case is\n"
        "unsolved. `variants.tsv`: every planted variant with its annotation and carriers\n"
        "(`person:genotype`, phased paternal|maternal; one allele on a male's X), as simulated;\n"
        "the genotype files hold calls with calling noise (`noise.json`), except at these\n"
        "variants. `de_novo.tsv`: every true de novo variant of every child (planted or not).\n"
        "`phenotypes.tsv`: how each proband's HPO term came about (`disease`, `imprecise` for\n"
        "a parent of the annotated term `source`, `noise`, `excluded`). `genotypes.vcz`: the\n"
        "families' simulated genotypes before calling noise (reads are made from them).\n"
        "Do not ship this folder to learners.\n",
        encoding="utf-8",
    )
