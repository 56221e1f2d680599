"""Privacy: the scan of input columns that look like direct identifiers (both tasks)."""

from __future__ import annotations

from ..inputs.context import AuditContext
from ..result.records import Finding, MetricValue
from ._identifiers import scan_identifiers

__all__ = ["identifier_records"]


def identifier_records(ctx: AuditContext) -> tuple[list[MetricValue], list[Finding], str]:
    """Return the identifier scan's records, findings and note (inputs that look like IDs)."""
    import pandas as pd

    assert ctx.train is not None
    X = ctx.train.X if isinstance(ctx.train.X, pd.DataFrame) else ctx.X
    if not isinstance(X, pd.DataFrame):
        return (
            [],
            [],
            (
                "The identifier scan applies to tabular inputs (columns); these inputs are "
                "not "
                "a table."
            ),
        )
    flags = scan_identifiers(X, seed=ctx.config.random_state)
    recs = [
        MetricValue(
            section="privacy",
            name="identifier_risk",
            value=f.score,
            input_feature=f.column,
            reason=f.reason,
            n=len(X),
        )
        for f in flags
    ]
    finds = [
        Finding(
            "privacy",
            "warn",
            f"Input column {f.column!r} looks like a direct identifier ({f.reason}). "
            "Identifiers rarely help a model and let it memorise individuals; drop or "
            "pseudonymise the column unless it is needed.",
            metric="privacy.identifier_risk",
        )
        for f in flags
    ]
    if not flags:
        finds.append(
            Finding(
                "privacy",
                "pass",
                f"None of the {X.shape[1]} input columns looks like a direct identifier "
                "(names, e-mail, phone or ID numbers, dates of birth, values unique per row).",
            )
        )
    note = f"{len(flags)} of {X.shape[1]} input columns look like direct identifiers."
    return recs, finds, note
