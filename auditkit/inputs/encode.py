"""The names of the former single inputs module, answered from where they live now.

Labels are encoded in :mod:`auditkit.inputs.labels`, groups resolved in
:mod:`auditkit.inputs.groups` and weights checked in :mod:`auditkit.inputs.weights`; this
module keeps ``auditkit.inputs.encode`` (and the old ``auditkit._inputs``) importing.
"""

from .groups import INTERSECTION_FACTOR as INTERSECTION_FACTOR
from .groups import MAX_LABEL_CHARS as MAX_LABEL_CHARS
from .groups import SensitiveFrame as SensitiveFrame
from .groups import check_reference_groups as check_reference_groups
from .groups import group_ceiling_message as group_ceiling_message
from .groups import sensitive_frame as sensitive_frame
from .labels import CONTINUOUS_MIN_VALUES as CONTINUOUS_MIN_VALUES
from .labels import LogLabels as LogLabels
from .labels import check_max as check_max
from .labels import check_target as check_target
from .labels import encode_labels as encode_labels
from .labels import factorize as factorize
from .labels import label_strings as label_strings
from .labels import log_labels as log_labels
from .labels import match_label as match_label
from .labels import outcome_semantics as outcome_semantics
from .labels import parse_pairs as parse_pairs
from .weights import check_sample_weight as check_sample_weight

__all__ = [
    "CONTINUOUS_MIN_VALUES",
    "INTERSECTION_FACTOR",
    "MAX_LABEL_CHARS",
    "LogLabels",
    "SensitiveFrame",
    "check_max",
    "check_reference_groups",
    "check_sample_weight",
    "check_target",
    "encode_labels",
    "factorize",
    "group_ceiling_message",
    "label_strings",
    "log_labels",
    "match_label",
    "outcome_semantics",
    "parse_pairs",
    "sensitive_frame",
]
