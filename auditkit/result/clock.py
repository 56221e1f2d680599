"""The time an audit is stamped with: now, or ``SOURCE_DATE_EPOCH`` for reproducible builds."""

from __future__ import annotations

import datetime as _dt
import os

from ..exceptions import ParameterError

__all__ = ["created_at"]


def created_at() -> str:
    """ISO 8601 UTC time of the run, from ``SOURCE_DATE_EPOCH`` when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip():
        try:
            seconds = int(epoch)
        except ValueError as exc:
            raise ParameterError(
                f"SOURCE_DATE_EPOCH must be an integer; got {epoch[:40]!r}."
            ) from exc
        try:
            t = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise ParameterError(
                f"SOURCE_DATE_EPOCH={epoch[:40]} is out of range: it must be seconds since "
                "1970-01-01 giving a year from 1 to 9999 (253402300799 is the last)."
            ) from exc
    else:
        t = _dt.datetime.now(tz=_dt.UTC).replace(microsecond=0)
    return t.isoformat().replace("+00:00", "Z")
