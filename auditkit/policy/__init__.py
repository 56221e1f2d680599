"""Policies: thresholds on audit metrics, read from TOML, checked against an audit result.

A policy file holds one ``[[rule]]`` table per threshold::

    [[rule]]
    section = "fairness"
    metric = "demographic_parity_ratio"
    feature = "race"        # optional; a list for an intersection
    op = ">="               # >=, >, <=, <, ==
    threshold = 0.8

Optional keys of a rule: ``id`` (or ``name``), ``group`` (a group's values, with ``feature``),
``method`` (how a disparity is taken; ``"between_groups"`` unless given), ``label`` (a class, for
per-class metrics), ``attack`` (privacy), ``input_feature`` (explainability), ``severity``
(``"error"``, the default, fails the verdict; ``"warning"`` is reported only) and
``description``. Top-level ``name`` and ``description`` describe the policy.

A rule is checked against the metric records that match it: same section and name, the same
``feature`` (no ``feature`` means the whole population), the same ``group`` (none unless given),
``method`` between_groups (or the one given), and the given ``label``/``attack``/
``input_feature`` when the rule sets them. A rule that matches no record fails and says so; a
record whose value is undefined fails with its reason. When a rule matches several records (for
example one per class), every one of them must satisfy it.

Groups too small to judge drive no verdict unless a rule sets ``include_small_groups = true``:
a group's own records flagged ``too_small`` are set aside (a rule left with none passes and
says so), and a ``between_groups``/``to_overall`` disparity flagged ``small_groups`` is judged
on the groups large enough to judge (same definition, over those groups). A ``to_reference``
rule without ``group`` checks every group against the reference. ``agg = "mean"`` selects the
records aggregated by mean (equalized odds); without it only Fairlearn's default aggregation
matches. A failure names the groups behind the number: the lowest and highest group of the
underlying metric, or the group and the reference, with their values and sizes.

Rules on a regression name its metrics (the catalog's ``task="regression"`` entries), with
thresholds in the target's units or as ratios::

    [[rule]]
    section = "fairness"
    metric = "mean_absolute_error_ratio"    # smallest group MAE over the largest
    feature = "sex"
    op = ">="
    threshold = 0.8

    [[rule]]
    section = "fairness"
    metric = "mean_error_difference"        # gap in the signed bias, in the target's units
    feature = "sex"
    op = "<="
    threshold = 2.0

``worst_group_mean_absolute_error`` (bounded group loss) and ``prediction_ks_gap`` (the largest
gap between a group's predictions and everyone else's) take a ``feature`` and no ``group``. A rule
naming a classification metric on a regression (or a regression metric on a classification)
fails with a message that names the rule and says why.
"""

from __future__ import annotations

from .junit import junit_xml as junit_xml
from .rules import OPS as OPS
from .rules import Op as Op
from .rules import Policy as Policy
from .rules import Rule as Rule
from .verdict import CheckResult as CheckResult
from .verdict import PolicyVerdict as PolicyVerdict
from .verdict import check as check

__all__ = ["CheckResult", "Policy", "PolicyVerdict", "Rule", "check", "junit_xml"]
