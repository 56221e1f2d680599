"""The direct-identifier scan: true positives by name and by content, and no false alarms."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from auditkit.sections._identifiers import name_tokens, scan_identifiers

N = 200
TODAY = dt.date(2026, 1, 1)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _iban(rng):
    """A valid German-style IBAN (check digits computed with ISO 7064 mod 97-10)."""
    bban = "".join(str(d) for d in rng.integers(0, 10, size=18))
    num = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    check = 98 - num % 97
    return f"DE{check:02d}{bban}"


def _luhn_card(rng):
    body = [4] + list(rng.integers(0, 10, size=14))
    total = 0
    for i, d in enumerate(reversed(body)):
        d = int(d)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


FIRST = ["Alice", "Bob", "Carla", "Deepak", "Erin", "Farid", "Grace", "Hiro", "Ines", "Jon"]
LAST = ["Smith", "Okafor", "Nguyen", "Garcia", "Muller", "Rossi", "Tanaka", "Kowalski"]


def _positive_table():
    rng = _rng()
    first = rng.choice(FIRST, N)
    last = rng.choice(LAST, N)
    years = rng.integers(1940, 2005, N)
    return pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in rng.permutation(N)],
            "row": np.arange(N),
            "contact": [
                f"{f.lower()}.{ln.lower()}{i}@example.org"
                for i, (f, ln) in enumerate(zip(first, last))
            ],
            "ssn_code": [
                f"{rng.integers(100, 999)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}"
                for _ in range(N)
            ],
            "bank": [_iban(rng) for _ in range(N)],
            "card": [_luhn_card(rng) for _ in range(N)],
            "tel": [
                f"+44 20 {rng.integers(1000, 9999)} {rng.integers(1000, 9999)}" for _ in range(N)
            ],
            "who": [f"{f} {ln}" for f, ln in zip(first, last)],
            "fullName": [f"{f} {ln}" for f, ln in zip(first, last)],
            "born": [f"{y}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for y in years],
            "signup": [dt.date(int(y), 6, 1) for y in years],
            "income": rng.normal(size=N),
            "member_no": rng.choice(np.arange(10_000_000, 99_999_999), N, replace=False),
        }
    )


@pytest.mark.parametrize(
    "column, kind, words",
    [
        ("customer_id", "unique", "column name suggests an ID"),
        ("row", "unique", "nearly consecutive"),
        ("member_no", "unique", "8 digits"),
        ("contact", "email", "e-mail"),
        ("ssn_code", "ssn", "social-security"),
        ("bank", "iban", "IBAN"),
        ("card", "card", "Luhn"),
        ("tel", "phone", "phone"),
        ("who", "name", "personal names"),
        ("fullName", "name", "person's name"),
        ("born", "date_of_birth", "date of birth"),
    ],
)
def test_true_positives(column, kind, words):
    flags = {f.column: f for f in scan_identifiers(_positive_table(), today=TODAY)}
    assert column in flags, f"{column} not flagged"
    assert flags[column].kind == kind
    assert words in flags[column].reason
    assert 0.0 < flags[column].score <= 1.0


def test_dates_of_birth_by_content():
    rng = _rng(1)
    years = rng.integers(1940, 2005, N)
    X = pd.DataFrame(
        {
            "d": pd.to_datetime([f"{y}-03-0{rng.integers(1, 9)}" for y in years]),
            "s": [f"{rng.integers(1, 28):02d}/{rng.integers(1, 12):02d}/{y}" for y in years],
        }
    )
    flags = {f.column: f for f in scan_identifiers(X, today=TODAY)}
    assert set(flags) == {"d", "s"}
    assert all("dates spanning decades" in f.reason for f in flags.values())


def test_no_false_positives_on_ordinary_columns():
    rng = _rng(2)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, N),
            "income": rng.normal(50_000, 10_000, N),  # continuous: unique but not an identifier
            "score_id_weight": rng.normal(size=N).round(1),
            "mobile": rng.choice(["yes", "no"], N),  # a device flag, not a phone number
            "name": rng.choice(["setosa", "versicolor", "virginica"], N),  # low cardinality
            "feature_name": rng.choice(["a", "b"], N),
            "purchase_date": [
                f"2024-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in range(N)
            ],
            "city": rng.choice(["Paris", "Lima", "Oslo", "Accra"], N),
            "zip_bucket": rng.integers(0, 20, N),
            "sin_angle": np.sin(rng.normal(size=N)),
            "amount": [f"{v:.2f}" for v in rng.uniform(1, 50, N).round(0)],
            "weight": rng.integers(10_000, 1_500_000, N),  # like Adult's fnlwgt: wide, unique
        }
    )
    assert scan_identifiers(X, today=TODAY) == []


def test_no_false_positives_on_bundled_tabular_data():
    from auditkit.data import load_dataset

    adult = load_dataset("adult")
    assert scan_identifiers(adult.train.X) == []
    assert scan_identifiers(adult.train.X.iloc[:300]) == []  # small samples too
    iris = load_dataset("iris")
    assert scan_identifiers(iris.train.X) == []


def test_non_tabular_inputs_are_not_scanned():
    assert scan_identifiers(np.zeros((5, 3))) == []
    assert scan_identifiers(np.array(["a review", "another"], dtype=object)) == []


def test_small_tables_do_not_claim_uniqueness():
    X = pd.DataFrame({"age": [31, 45, 27, 60]})
    assert scan_identifiers(X) == []


def test_name_tokens():
    assert name_tokens("customerID") == ["customer", "id"]
    assert name_tokens("date-of-birth") == ["date", "of", "birth"]
    assert name_tokens("E_Mail2") == ["e", "mail2"]
