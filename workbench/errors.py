"""One exception hierarchy for the workbench.

Every error the workbench raises on purpose is a :class:`WorkbenchError`. Messages follow one
shape — what was expected, what was found, and what to do — so the command line can print
``str(error)`` as a single line and exit non-zero, and widgets can show it without a traceback.
Subclasses carry structured fields a UI or a test needs (``path``, ``reason`` …) besides the
message.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuditIntegrityError",
    "AuthenticationError",
    "CohortFormatError",
    "CohortIntegrityError",
    "ConfigurationError",
    "ConsentDenied",
    "DisclosureRefused",
    "InputError",
    "KeyMissingError",
    "OutputExistsError",
    "PipelineInputError",
    "RegressionFailure",
    "SolutionMismatch",
    "WorkbenchError",
    "require_columns",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises deliberately."""


class InputError(WorkbenchError, ValueError):
    """An argument is out of range or of the wrong kind (checked at the API boundary)."""


class ConfigurationError(WorkbenchError):
    """The installation or its configuration cannot serve the request."""


class OutputExistsError(WorkbenchError, FileExistsError):
    """An output already exists and overwriting it was not asked for."""

    def __init__(self, path, hint: str = "pass --force (force=True) to replace it"):
        self.path = path
        super().__init__(f"{path} already exists; {hint}")


class CohortFormatError(WorkbenchError):
    """A cohort folder does not follow the contract in DESIGN.md (missing or unreadable part)."""

    def __init__(self, message: str, *, path=None):
        self.path = path
        super().__init__(message)


class CohortIntegrityError(CohortFormatError):
    """Files of a cohort folder differ from the checksums its manifest records."""

    def __init__(self, message: str, *, path=None, missing=(), changed=()):
        self.missing = tuple(missing)
        self.changed = tuple(changed)
        super().__init__(message, path=path)


class KeyMissingError(ConfigurationError):
    """A secret key (pseudonym or audit key) is absent: refuse to start rather than guess."""


class AccessDenied(WorkbenchError, PermissionError):
    """The access layer refused a request; ``reasons`` holds the machine-readable codes.

    Reasons may be given as codes or as objects with a ``code`` (``access.duo.Reason``);
    they are always kept as code strings.
    """

    def __init__(self, message: str, *, reasons=()):
        self.reasons = tuple(str(getattr(r, "code", r)) for r in reasons)
        super().__init__(message)


class AuthenticationError(AccessDenied):
    """The data-access service did not accept the caller's token (missing, unknown, expired,
    revoked)."""


class ConsentDenied(AccessDenied):
    """Refused because of a person's consent (withdrawn, opted out, finding not chosen)."""


class DisclosureRefused(AccessDenied):
    """The airlock refused to let a result leave (small counts, identifiers, differencing)."""


class AuditIntegrityError(WorkbenchError):
    """The audit log does not verify; ``sequence`` names the first bad entry."""

    def __init__(self, message: str, *, sequence: int | None = None):
        self.sequence = sequence
        super().__init__(message)


class PipelineInputError(InputError):
    """A pipeline input file is missing, corrupt or inconsistent; ``path`` names it."""

    def __init__(self, message: str, *, path=None):
        self.path = path
        super().__init__(message)


class RegressionFailure(WorkbenchError, AssertionError):
    """A notebook's recorded values differ from its baseline; ``failures`` lists them."""

    def __init__(self, message: str, *, failures=()):
        self.failures = tuple(failures)
        super().__init__(message)


class SolutionMismatch(WorkbenchError, AssertionError):
    """A course's model solution is not marked correct by its exercise (``course check``)."""

    def __init__(self, message: str, *, exercise_id: str, feedback=None):
        self.exercise_id = exercise_id
        self.feedback = feedback
        super().__init__(message)


def require_columns(df, name: str, columns) -> None:
    """Raise :class:`InputError` unless ``df`` is a pandas DataFrame with every one of ``columns``.

    ``name`` is how the message calls the table (``"frequencies"``, ``"gene_disease"`` …).
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected {name} as a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name} lacks columns {missing}; it has {list(df.columns)}")
