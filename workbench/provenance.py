"""Provenance records: what made a file, with which software and parameters.

A record is a JSON object checked against :data:`SCHEMA` (the tskit habit): the command and its
parameters, the seed, and the versions of the software that produced the output. It carries no
wall-clock time and no host name, so the same inputs and versions give byte-identical outputs —
determinism is itself part of the provenance.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Iterable, Mapping

import jsonschema

__all__ = ["SCHEMA", "package_versions", "record", "validate"]

#: The packages whose versions decide what the workbench writes.
DEFAULT_PACKAGES = (
    "clinical-genomics-workbench",
    "bio2zarr",
    "hpo3",
    "msprime",
    "numpy",
    "pandas",
    "phenopackets",
    "pysam",
    "tskit",
    "zarr",
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["software", "parameters", "environment"],
    "properties": {
        "software": {
            "type": "object",
            "required": ["name", "version"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
        "parameters": {
            "type": "object",
            "required": ["command"],
            "properties": {"command": {"type": "string"}},
        },
        "environment": {
            "type": "object",
            "required": ["python", "packages"],
            "properties": {
                "python": {"type": "string"},
                "packages": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` where absent), sorted by name."""
    out = {}
    for name in sorted(names):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def record(
    command: str, parameters: Mapping, *, packages: Iterable[str] = DEFAULT_PACKAGES
) -> dict:
    """A provenance record for ``command`` run with ``parameters`` (validated)."""
    rec = {
        "software": {
            "name": "clinical-genomics-workbench",
            "version": package_versions(["clinical-genomics-workbench"])[
                "clinical-genomics-workbench"
            ],
        },
        "parameters": {"command": command, **dict(parameters)},
        "environment": {
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "packages": package_versions(packages),
        },
    }
    validate(rec)
    return rec


def validate(rec: Mapping) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``rec`` is a provenance record."""
    jsonschema.validate(rec, SCHEMA)
