"""The default view of a section, and what a section's view is built from.

A section's view hook is a :class:`SectionView`: the card's view (:mod:`auditkit.report._view`)
asks the hook registered under the section's name (:mod:`auditkit.report._views`) for the parts
that depend on the section, and builds the rest (findings, tables, figures, small groups) the
same way for every section. The hook reads the section's entry of ``audit.json`` and its metric
records (:class:`SectionData`), never a section object: cards are rendered from the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["SectionData", "SectionView"]

#: Record keys that narrow a figure to part of the population (or of the model's inputs).
_NARROWING = ("feature", "group", "fold", "input_feature")


@dataclass(frozen=True)
class SectionData:
    """One section of an audit result, as the view reads it.

    Attributes
    ----------
    name : str
        The section's registry name (``"fairness"``, or a user section's name).
    entry : mapping
        Its entry of ``audit.json``'s ``sections`` (``SectionResult.to_dict()`` form).
    records : sequence of (int, mapping)
        Its metric records, each with its index in the result's ``metrics``.
    """

    name: str
    entry: Mapping[str, Any]
    records: Sequence[tuple[int, Mapping[str, Any]]]

    @property
    def info(self) -> Any:
        """The section's ``info`` (how it was computed); ``{}`` when it has none."""
        return self.entry.get("info") or {}

    @property
    def charts(self) -> list[Mapping[str, Any]]:
        """The charts the section computed (``Chart.to_dict()`` form)."""
        return list(self.entry.get("charts") or [])


class SectionView:
    """How the card shows one section: the default, used for every section without a hook.

    Subclass it and override a part, then register an instance under the section's name with
    :func:`auditkit.report._views.register_section_view`.
    """

    #: Charts the section computes that the card draws in another part (chart name -> part;
    #: the one other part that takes charts is ``"training"``).
    moved: Mapping[str, str] = MappingProxyType({})

    def charts(self, section: SectionData) -> list[Mapping[str, Any]]:
        """Return the charts drawn in the section, in order (``Chart.to_dict()`` form).

        The default: the section's own charts, less those drawn in another part (:attr:`moved`).
        """
        return [c for c in section.charts if str(c.get("name")) not in self.moved]

    def tables(self, section: SectionData) -> list[Mapping[str, Any]]:
        """Return tables the view adds after the section's own (``Table.to_dict()`` form).

        The default: none.
        """
        return []

    def is_key_figure(self, record: Mapping[str, Any]) -> bool:
        """Whether a metric record is one of the section's key figures (first 16 shown).

        The default: a whole-population figure (no feature, group, fold, model input or class).
        """
        return not any(record.get(k) is not None for k in (*_NARROWING, "label"))
