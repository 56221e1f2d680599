"""Errors of the model-file adapters (Hugging Face, ONNX, skops, pickle, Lightning).

They derive from :class:`~auditkit.exceptions.CheckpointError` (an :class:`AuditkitError` and a
``ValueError``), so the command line reports them in one line with exit code 2, as it does for
auditkit's own checkpoints. The integration step of issue 16 may move them into
:mod:`auditkit.exceptions`.
"""

from __future__ import annotations

from ..exceptions import CheckpointError

__all__ = ["MissingDependencyError", "ModelFileError", "UnsafeModelError"]


class ModelFileError(CheckpointError):
    """A model file or folder cannot be opened: a missing piece, a wrong class, unfitting keys."""


class UnsafeModelError(ModelFileError):
    """Opening the model would run code from it (pickle, remote code, untrusted types)."""


class MissingDependencyError(ModelFileError, ImportError):
    """The optional library a model kind needs is not installed (the message names the extra)."""


def missing_dependency(package: str, extra: str, what: str) -> MissingDependencyError:
    """Return the error for an absent optional dependency, naming the pip extra."""
    return MissingDependencyError(
        f"Opening {what} needs the {package!r} package, which is not installed; install it "
        f"with: pip install 'auditkit[{extra}]'."
    )
