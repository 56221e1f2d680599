"""Errors of the model-file adapters (Hugging Face, ONNX, skops, pickle, Lightning).

The classes live in :mod:`auditkit.exceptions` (public) and are re-exported here, with
:func:`missing_dependency`, which builds the error for an absent optional library. They derive
from :class:`~auditkit.exceptions.CheckpointError` (an :class:`AuditkitError` and a
``ValueError``), so the command line reports them in one line with exit code 2, as it does for
auditkit's own checkpoints.
"""

from __future__ import annotations

from ..exceptions import MissingDependencyError, ModelFileError, UnsafeModelError

__all__ = ["MissingDependencyError", "ModelFileError", "UnsafeModelError", "missing_dependency"]


def missing_dependency(package: str, extra: str, what: str) -> MissingDependencyError:
    """Return the error for an absent optional dependency, naming the pip extra."""
    return MissingDependencyError(
        f"Opening {what} needs the {package!r} package, which is not installed; install it "
        f"with: pip install 'auditkit[{extra}]'."
    )
