"""Old import paths of the flat layout (0.x), kept for one release.

``import auditkit`` installs a finder that answers the old private paths (``auditkit._io``,
``auditkit.audit.fairness``, ``auditkit.checkpoint``...) with the module at its new place, after a
:class:`FutureWarning` that names the new path. The old name and the new one are the same module
object, so a patch through either is seen by both. ``auditkit.audit`` stays the public function;
``from auditkit.audit import X`` and ``import auditkit.audit.fairness`` still work through a
placeholder module registered under that name; ``import auditkit.audit.fairness as f`` does not
(Python then looks the name up on the function), so code that spelled it so must move to
``auditkit.sections.fairness``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from pathlib import Path
from typing import Any

MOVED: dict[str, str] = {
    "auditkit._registry": "auditkit._core.registry",
    "auditkit._validation": "auditkit._core.validation",
    "auditkit._io": "auditkit._core.io",
    "auditkit._progress": "auditkit._core.progress",
    "auditkit._text": "auditkit._core.text",
    "auditkit._parsing": "auditkit._core.parsing",
    "auditkit._limits": "auditkit._core.limits",
    "auditkit._catalog": "auditkit._core.catalog",
    "auditkit._rowset": "auditkit._core.rows",
    "auditkit.report._model": "auditkit.result.records",
    "auditkit.report._json": "auditkit.result.json_io",
    "auditkit.report.schema": "auditkit.result.schema",
    "auditkit.report._plain_language": "auditkit.sections._plain_language",
    "auditkit._distributed": "auditkit.runtime.devices",
    "auditkit._attribution": "auditkit.runtime.attribution",
    "auditkit.model": "auditkit.adapters",
    "auditkit._explain": "auditkit.explanation",
    "auditkit.training": "auditkit.models.training",
    "auditkit.checkpoint": "auditkit.models.checkpoint",
    "auditkit._dp": "auditkit.models.dp",
    "auditkit._energy": "auditkit.models.energy",
    "auditkit._inputs": "auditkit.inputs.encode",
    "auditkit.audit._context": "auditkit.inputs.context",
    "auditkit.audit._engine": "auditkit.metrics.engine",
    "auditkit.audit._metrics": "auditkit.metrics.definitions",
    "auditkit.audit._stats": "auditkit.metrics.stats",
    "auditkit.audit._evidence": "auditkit.metrics.evidence",
    "auditkit.audit.performance": "auditkit.sections.performance",
    "auditkit.audit.fairness": "auditkit.sections.fairness",
    "auditkit.audit.explainability": "auditkit.sections.explainability",
    "auditkit.audit.privacy": "auditkit.sections.privacy",
    "auditkit.audit.stability": "auditkit.sections.stability",
    "auditkit.audit._fairness_evidence": "auditkit.sections._fairness_evidence",
    "auditkit.audit._fairness_story": "auditkit.sections._fairness_story",
    "auditkit.audit._mitigation": "auditkit.sections._mitigation",
    "auditkit.audit._mia": "auditkit.sections._mia",
    "auditkit.audit._identifiers": "auditkit.sections._identifiers",
    "auditkit.audit._folds": "auditkit.sections._folds",
}

#: The placeholder registered as ``auditkit.audit``: its names come from ``auditkit.sections``.
AUDIT_PACKAGE = "auditkit.audit"


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}; the old path works until the next release.",
        FutureWarning,
        stacklevel=3,
    )


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module at its new place (the same object)."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        _warn(spec.name, self.new)
        return importlib.import_module(self.new)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module ran at its new place."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), is_package=False)


#: The names ``auditkit.sections`` exports (its ``__all__``; a test keeps the two equal).
SECTION_NAMES = ("SECTIONS", "SECTION_ORDER", "AuditConfig", "AuditContext", "Predictions",
                 "Section", "TrainData", "__all__")  # fmt: skip


def _old_audit_name(name: str) -> bool:
    """Whether ``auditkit.audit.<name>`` had a meaning: an exported name or a section module."""
    if name in SECTION_NAMES or f"{AUDIT_PACKAGE}.{name}" in MOVED:
        return True
    return name.isidentifier() and (Path(__file__).parent / "sections" / f"{name}.py").is_file()


class _AuditPackage(types.ModuleType):
    """``auditkit.audit`` as a package name, while ``auditkit.audit`` stays the function."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        if not _old_audit_name(name):
            # pickle.whichmodule, skops and cloudpickle look every name up on every module:
            # a name the old package never had gets no warning and imports nothing
            raise AttributeError(f"module {AUDIT_PACKAGE!r} has no attribute {name!r}")
        _warn(f"{AUDIT_PACKAGE}.{name}", f"auditkit.sections.{name}")
        sections = importlib.import_module("auditkit.sections")
        return getattr(sections, name)


def install() -> None:
    """Register the finder and the ``auditkit.audit`` placeholder (idempotent)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
    if AUDIT_PACKAGE not in sys.modules:
        placeholder = _AuditPackage(AUDIT_PACKAGE, "Moved to auditkit.sections.")
        placeholder.__path__ = []
        placeholder.__package__ = AUDIT_PACKAGE
        sys.modules[AUDIT_PACKAGE] = placeholder
