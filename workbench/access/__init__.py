"""Consent-aware access: the registry schema, read helpers, and (later) the policy layer.

Modules: :mod:`workbench.access.schema` (tables, connection settings, transactions) and
:mod:`workbench.access.store` (read helpers: current consents, datasets, the pseudonym key).
"""
