"""Documented ceilings on what one audit accepts, each with an override.

A value above a ceiling is refused before any per-group or per-class work starts, with a
message that names the column, the count and the override. The ceilings keep a careless or
hostile input (a free-text column given as a sensitive feature, scores given as decisions) from
running for hours or exhausting memory; a user who really has more raises them.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_CLASSES", "DEFAULT_MAX_GROUPS", "DEFAULT_MAX_INTERSECTIONS"]

#: Distinct values of one sensitive feature (``max_groups=``, ``--max-groups``).
DEFAULT_MAX_GROUPS = 1000
#: Non-empty groups of an intersection of sensitive features (same override as above).
DEFAULT_MAX_INTERSECTIONS = 5000
#: Distinct classes of a classification target (``max_classes=``, ``--max-classes``).
DEFAULT_MAX_CLASSES = 100
