"""Stage 5: everything the sections read, prepared once.

The audit context, the typed section options, the one place labels are encoded and sensitive
features are resolved, and the count-table path for logs reduced out of core.
"""

from .._core.limits import DEFAULT_MAX_CLASSES as DEFAULT_MAX_CLASSES
from .._core.limits import DEFAULT_MAX_GROUPS as DEFAULT_MAX_GROUPS
from .encode import INTERSECTION_FACTOR as INTERSECTION_FACTOR
from .encode import parse_pairs as parse_pairs

__all__ = ["DEFAULT_MAX_CLASSES", "DEFAULT_MAX_GROUPS", "INTERSECTION_FACTOR", "parse_pairs"]
