"""Exceptions and warnings raised by auditkit.

Every error that auditkit raises on purpose derives from :class:`AuditkitError`, and also from
the matching built-in (``ValueError``, ``KeyError``, ``OSError``...), so ``except ValueError``
keeps working for users who do not know auditkit's classes.
"""

from __future__ import annotations

__all__ = [
    "AuditkitError",
    "CheckpointError",
    "DataValidationError",
    "DataFairnessWarning",
    "MissingDependencyError",
    "ModelFileError",
    "OutputError",
    "ParameterError",
    "PolicyError",
    "RegistryKeyError",
    "SectionError",
    "SmallGroupWarning",
    "UnsafeModelError",
]


class AuditkitError(Exception):
    """Base class of every error auditkit raises on purpose."""


class ParameterError(AuditkitError, ValueError):
    """A parameter of a public function has a value outside its documented domain."""


class DataValidationError(AuditkitError, ValueError):
    """Input data is missing, malformed or inconsistent (the message names column, value, file)."""


class CheckpointError(AuditkitError, ValueError):
    """A checkpoint cannot be loaded safely (truncated, pickled payload, unknown model...)."""


class ModelFileError(CheckpointError):
    """A model file or folder cannot be opened: a missing piece, a wrong class, unfitting keys."""


class UnsafeModelError(ModelFileError):
    """Opening the model would run code from it (pickle, remote code, untrusted types)."""


class MissingDependencyError(ModelFileError, ImportError):
    """The optional library a model kind needs is not installed (the message names the extra)."""


class PolicyError(AuditkitError, ValueError):
    """A policy file is malformed."""


class SectionError(AuditkitError, RuntimeError):
    """An audit section could not run (raised only with ``strict=True``)."""


class OutputError(AuditkitError, OSError):
    """An output file could not be written (read-only folder, full disk, existing file)."""


class RegistryKeyError(AuditkitError, KeyError):
    """A name is not registered; the message lists what is available."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class SmallGroupWarning(UserWarning):
    """A group is too small for its metrics to be judged."""


class DataFairnessWarning(UserWarning):
    """The data itself raises a fairness concern (for example a group with a single class)."""
