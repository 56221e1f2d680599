"""Scan tabular inputs for columns that look like direct identifiers of a person.

A direct identifier singles a person out by itself: a name, an e-mail address, a phone number,
an ID number (social-security-like, IBAN-like, payment-card-like), a date of birth, or any value
that is unique to each row. Such columns rarely help a model generalise and put the people in
the data at risk (the model can memorise them; the data set is personal data). The scan looks at
column names and at the values; every flag says which evidence it rests on.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Values inspected per column (a seeded sample keeps the scan fast on large tables).
MAX_VALUES = 2000
#: Share of non-missing values that must match a content pattern to flag the column.
MATCH_SHARE = 0.8
#: Share of distinct values above which a text or integer column counts as unique per row.
UNIQUE_SHARE = 0.99
#: Fewer rows than this cannot show that values are unique per row.
MIN_ROWS_UNIQUE = 50

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
_PERSON_NAME = re.compile(r"^[A-Z][a-z'\-]+(?:[ ,]+[A-Z][a-z'\-]*\.?){1,3}$")
_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$"), (1, 2, 3)),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), (1, 2, 3)),
    (re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$"), (3, 2, 1)),
)

_NAME_WORDS = {
    "name",
    "names",
    "surname",
    "firstname",
    "lastname",
    "fullname",
    "forename",
    "forenames",
    "givenname",
    "familyname",
    "username",
    "maidenname",
}
_NAME_QUALIFIERS = {
    "first",
    "last",
    "full",
    "given",
    "family",
    "sur",
    "middle",
    "maiden",
    "user",
    "person",
    "patient",
    "customer",
    "client",
    "employee",
    "fore",
}
_ID_WORDS = {"id", "uuid", "guid", "identifier", "account", "acct", "record", "mrn"}
#: Name words that identify by themselves ("kind", "what it suggests").
_STRONG_WORDS = {
    "ssn": ("ssn", "a social security number"),
    "passport": ("passport", "a passport number"),
    "iban": ("iban", "a bank account number (IBAN)"),
    "email": ("email", "an e-mail address"),
    "nino": ("national_id", "a national insurance number"),
}
#: Name words that identify only when the values vary enough (``mobile`` may be a device flag).
_WEAK_WORDS = {
    "mail": ("email", "an e-mail address"),
    "phone": ("phone", "a phone number"),
    "telephone": ("phone", "a phone number"),
    "mobile": ("phone", "a phone number"),
    "tel": ("phone", "a phone number"),
    "address": ("address", "a postal or network address"),
    "street": ("address", "a postal address"),
}
#: Name-based flags (other than dates of birth) need at least this share of distinct values.
NAME_DISTINCT_SHARE = 0.3
_BIRTH_WORDS = {"dob", "birth", "birthday", "birthdate", "born"}


@dataclass(frozen=True)
class IdentifierFlag:
    """One column that looks like a direct identifier.

    Attributes
    ----------
    column : str
        The input column.
    reason : str
        Plain-language evidence ("values are unique to each row; name suggests an ID").
    kind : str
        The strongest kind of identifier found (``"email"``, ``"unique"``...).
    score : float
        Strength of the content evidence in [0, 1] (share of values that match, or the share
        of distinct values); 1.0 when the flag rests on the name alone.
    """

    column: str
    reason: str
    kind: str
    score: float


def name_tokens(column: str) -> list[str]:
    """Split a column name into lower-case words (snake, kebab, camel case and digits)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    return [t for t in re.split(r"[^A-Za-z0-9]+", s.lower()) if t]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(v: str) -> bool:
    digits = re.sub(r"[\s-]", "", v)
    return digits.isdigit() and 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _is_iban(v: str) -> bool:
    compact = v.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    num = "".join(str(int(c, 36)) for c in rearranged)
    return int(num) % 97 == 1


def _is_phone(v: str) -> bool:
    if not _PHONE.match(v):
        return False
    digits = sum(c.isdigit() for c in v)
    has_sep = any(c in v for c in " ()-./") or v.startswith("+")
    return 7 <= digits <= 15 and has_sep and _parse_date(v) is None


def _parse_date(v: str) -> _dt.date | None:
    for pat, (yi, mi, di) in _DATE_PATTERNS:
        m = pat.match(v)
        if m:
            try:
                return _dt.date(int(m.group(yi)), int(m.group(mi)), int(m.group(di)))
            except ValueError:
                return None
    return None


def _integer_code_pattern(v: np.ndarray) -> str | None:
    """Why unique integers look like codes rather than measurements, or None.

    A wide-ranged measurement (a weight, an income) is unique in a small sample too; row
    counters and ID numbers are dense (few gaps) or all have the same number of digits.
    """
    a = np.asarray(v, dtype=np.int64)
    lo, hi = int(a.min()), int(a.max())
    if hi - lo + 1 <= 10 * len(a):
        return "the integers are nearly consecutive, like a row number or ID"
    digits = {len(str(abs(int(x)))) for x in a[: min(len(a), MAX_VALUES)]}
    if len(digits) == 1 and next(iter(digits)) >= 6:
        return f"every value has {next(iter(digits))} digits, like an ID number"
    return None


def _share(values: list[str], pred: Any) -> float:
    return sum(1 for v in values if pred(v)) / len(values) if values else 0.0


def _date_values(sample: Any, values: list[str]) -> list[_dt.date]:
    """Dates in a (sampled) column of datetimes or of date strings."""
    if getattr(sample.dtype, "kind", "O") == "M":
        return [v.date() for v in sample.tolist()]
    return [d for d in (_parse_date(v) for v in values) if d is not None]


def _looks_like_birth_dates(dates: list[_dt.date], today: _dt.date) -> bool:
    """Dates in the past that span decades and imply human ages (0 to 120 years)."""
    if not dates:
        return False
    years = np.array([d.year for d in dates])
    ages = today.year - years
    return bool(ages.min() >= 0 and ages.max() <= 120 and years.max() - years.min() >= 15)


def scan_column(
    col: Any, name: str, *, rng: np.random.Generator, today: _dt.date | None = None
) -> IdentifierFlag | None:
    """Return an :class:`IdentifierFlag` when a column looks like a direct identifier.

    ``col`` is a pandas Series; returns None when nothing points to an identifier.
    """
    today = today or _dt.date.today()
    tokens = name_tokens(name)
    joined = "".join(tokens)
    nonnull = col.dropna()
    n = len(nonnull)
    kind = getattr(col.dtype, "kind", "O")
    is_text = kind in ("O", "U", "S", "T") or str(col.dtype) in ("string", "str", "category")
    if n > MAX_VALUES:
        sample = nonnull.iloc[np.sort(rng.choice(n, size=MAX_VALUES, replace=False))]
    else:
        sample = nonnull
    values = [str(v).strip() for v in sample.tolist()] if is_text else []
    values = [v for v in values if v]

    reasons: list[tuple[str, str, float]] = []  # (kind, text, score)
    # --- content patterns (text columns)
    if values:
        checks = (
            ("email", "values are e-mail addresses", lambda v: bool(_EMAIL.match(v))),
            (
                "ssn",
                "values match the social-security-number pattern (123-45-6789)",
                lambda v: bool(_SSN.match(v)),
            ),
            ("iban", "values are valid IBAN bank-account numbers", _is_iban),
            ("card", "values are payment-card-like numbers (valid Luhn check digit)", _is_card),
            ("phone", "values look like phone numbers", _is_phone),
        )
        for k, text, pred in checks:
            share = _share(values, pred)
            if share >= MATCH_SHARE:
                reasons.append((k, f"{text} ({share:.0%} of values)", share))
                break
    # --- dates of birth: by name, or by content that spans decades of human ages
    named_birth = (
        bool(_BIRTH_WORDS & set(tokens)) or "dateofbirth" in joined or "birthdate" in joined
    )
    dates = _date_values(sample, values) if (kind == "M" or values) else []
    date_share = len(dates) / max(len(values), 1) if kind != "M" else 1.0
    if named_birth and n > 0:
        reasons.append(("date_of_birth", "column name suggests a date of birth", 1.0))
    elif dates and date_share >= MATCH_SHARE and _looks_like_birth_dates(dates, today):
        reasons.append(
            (
                "date_of_birth",
                "dates spanning decades of human ages (possible dates of birth)",
                float(date_share),
            )
        )
    distinct_all = nonnull.nunique() / n if n else 0.0
    varied = n < MIN_ROWS_UNIQUE or distinct_all >= NAME_DISTINCT_SHARE
    # --- person names
    has_name_word = bool(_NAME_WORDS & set(tokens)) and (
        tokens == ["name"]
        or bool(_NAME_QUALIFIERS & set(tokens))
        or any(t in _NAME_WORDS - {"name", "names"} for t in tokens)
    )
    if has_name_word and n > 0 and varied:
        reasons.append(("name", "column name suggests a person's name", 1.0))
    elif values and len(values) >= MIN_ROWS_UNIQUE:
        share = _share(values, lambda v: bool(_PERSON_NAME.match(v)))
        distinct = len(set(values)) / len(values)
        if share >= MATCH_SHARE and distinct >= NAME_DISTINCT_SHARE:
            reasons.append(
                (
                    "name",
                    f"values look like personal names ({share:.0%} of values, "
                    f"{distinct:.0%} distinct)",
                    share,
                )
            )
    # --- name words of ID numbers, contact details and addresses
    kinds = {r[0] for r in reasons}
    for t in tokens:
        hit = _STRONG_WORDS.get(t) or (_WEAK_WORDS.get(t) if varied else None)
        if hit is not None and n > 0 and hit[0] not in kinds:
            reasons.append((hit[0], f"column name suggests {hit[1]}", 1.0))
            break
    # --- unique per row (text or integer columns; a continuous float is naturally unique)
    named_id = bool(_ID_WORDS & set(tokens))
    if n >= MIN_ROWS_UNIQUE and distinct_all >= UNIQUE_SHARE:
        text = f"values are unique to each row ({distinct_all:.1%} distinct)"
        if named_id:
            reasons.append(("unique", text + "; column name suggests an ID", distinct_all))
        elif is_text:
            reasons.append(("unique", text, float(distinct_all)))
        elif kind in ("i", "u"):
            code = _integer_code_pattern(nonnull.to_numpy())
            if code is not None:
                reasons.append(("unique", f"{text}; {code}", float(distinct_all)))
    if not reasons:
        return None
    kind0, _, _ = reasons[0]
    return IdentifierFlag(
        column=str(name),
        reason="; ".join(r[1] for r in reasons),
        kind=kind0,
        score=float(max(r[2] for r in reasons)),
    )


def scan_identifiers(
    X: Any, *, seed: int = 0, today: _dt.date | None = None
) -> list[IdentifierFlag]:
    """Return the columns of ``X`` that look like direct identifiers.

    Parameters
    ----------
    X : DataFrame
        Tabular inputs; anything else (images, text arrays) returns an empty list.
    seed : int, default=0
        Seed of the value sample taken from large columns.
    today : date, default=None
        Reference day for date-of-birth plausibility (default: today).

    Returns
    -------
    list of IdentifierFlag
        In column order.
    """
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        return []
    rng = np.random.default_rng(seed)
    flags = []
    for c in X.columns:
        f = scan_column(X[c], str(c), rng=rng, today=today)
        if f is not None:
            flags.append(f)
    return flags
