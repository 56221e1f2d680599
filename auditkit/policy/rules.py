"""Policy rules and policies: their fields, and reading them from TOML with clear errors.

The layout of a policy file is described in :mod:`auditkit.policy`.
"""

from __future__ import annotations

import math
import operator
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from .._core.validation import did_you_mean
from ..exceptions import PolicyError
from ..result.records import MetricValue

__all__ = ["DEFAULT_METHOD", "OPS", "Op", "Policy", "Rule", "fmt_value"]

Op = Literal[">=", ">", "<=", "<", "=="]
#: Comparison operators a rule may use.
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_REQUIRED = ("section", "metric", "op", "threshold")
_OPTIONAL = (
    "id", "name", "feature", "group", "method", "label", "attack", "input_feature",
    "severity", "description", "include_small_groups", "agg",
)  # fmt: skip
_TOP_LEVEL = ("rule", "name", "description")
DEFAULT_METHOD = "between_groups"


@dataclass(frozen=True)
class Rule:
    """One threshold of a policy.

    Parameters
    ----------
    id : str
        Shown in reports and JUnit XML (default ``rule-<number>``).
    section : str
        The section whose metric is checked (``"fairness"``).
    metric : str
        The metric name (``"demographic_parity_ratio"``).
    op : {">=", ">", "<=", "<", "=="}
    threshold : float
    feature : tuple of str, default=None
        The sensitive feature(s); None for a whole-population value.
    group : tuple of str, default=None
        A group's values (a per-group metric); None for disparities and overall values.
    method : str, default=None
        How a disparity is taken; None means ``"between_groups"`` (or no method at all).
    label, attack, input_feature : str, default=None
        Narrow the match to a class, an attack or a model input.
    severity : {"error", "warning"}, default="error"
        A failing ``"warning"`` rule is reported but does not fail the verdict.
    description : str, default=None
    agg : str, default=None
        How a disparity over several rates is aggregated (``"mean"``); None matches the
        records with Fairlearn's default aggregation only.
    include_small_groups : bool, default=False
        Judge records of groups flagged too small too. By default they drive no verdict: a
        group's own ``too_small`` records are set aside, and a disparity flagged
        ``small_groups`` is judged on the groups large enough to judge.
    """

    id: str
    section: str
    metric: str
    op: Op
    threshold: float
    feature: tuple[str, ...] | None = None
    group: tuple[str, ...] | None = None
    method: str | None = None
    label: str | None = None
    attack: str | None = None
    input_feature: str | None = None
    severity: Literal["error", "warning"] = "error"
    description: str | None = None
    include_small_groups: bool = False
    agg: str | None = None

    @property
    def metric_id(self) -> str:
        """``section.metric``, the stable metric id."""
        return f"{self.section}.{self.metric}"

    def condition(self) -> str:
        """Return the rule as text: ``fairness.demographic_parity_ratio[race] >= 0.8``."""
        where = ""
        if self.feature is not None:
            where = " × ".join(self.feature)
            if self.group is not None:
                where += " = " + " × ".join(self.group)
            where = f"[{where}]"
        return f"{self.metric_id}{where} {self.op} {fmt_value(self.threshold)}"

    def matches(self, m: MetricValue) -> bool:
        """Whether metric record ``m`` is one this rule checks."""
        if m.section != self.section or m.name != self.metric:
            return False
        any_group = self.group is None and self.method == "to_reference"
        if m.feature != self.feature or (m.group != self.group and not any_group):
            return False
        if self.method is None:
            if m.method not in (None, DEFAULT_METHOD):
                return False
        elif m.method != self.method:
            return False
        if m.agg not in (None, "worst_case") and m.agg != self.agg:
            return False
        if self.agg is not None and m.agg != self.agg:
            return False
        return all(
            want is None or getattr(m, key) == want
            for key, want in (
                ("label", self.label), ("attack", self.attack),
                ("input_feature", self.input_feature),
            )
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data (as in the policy file)."""
        d: dict[str, Any] = {
            "id": self.id, "section": self.section, "metric": self.metric, "op": self.op,
            "threshold": self.threshold,
        }  # fmt: skip
        for k in ("feature", "group"):
            v = getattr(self, k)
            if v is not None:
                d[k] = list(v)
        for k in ("method", "label", "attack", "input_feature", "description", "agg"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        d["severity"] = self.severity
        if self.include_small_groups:
            d["include_small_groups"] = True
        return d


@dataclass(frozen=True)
class Policy:
    """A set of rules, usually read from a TOML file with :meth:`from_toml`.

    Parameters
    ----------
    rules : tuple of Rule
    name : str, default=None
    description : str, default=None
    source : str, default=None
        The file the policy came from (shown in reports).

    Examples
    --------
    >>> policy = Policy.from_dict({"rule": [{"section": "fairness",
    ...     "metric": "demographic_parity_ratio", "feature": "sex", "op": ">=",
    ...     "threshold": 0.8}]})
    >>> policy.rules[0].condition()
    'fairness.demographic_parity_ratio[sex] >= 0.8'
    """

    rules: tuple[Rule, ...]
    name: str | None = None
    description: str | None = None
    source: str | None = None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Policy:
        """Read a policy from a TOML file.

        The file must be a regular file of at most 1 MB whose values nest at most 32 levels
        deep (:data:`auditkit._core.parsing.MAX_CONFIG_BYTES`, ``MAX_CONFIG_DEPTH``); both are
        checked before the TOML is parsed.

        Raises
        ------
        PolicyError
            When the file cannot be read, is not TOML, or a rule is malformed; the message names
            the file, the rule number and the key.
        """
        from .._core.parsing import ConfigError, read_config, toml_depth_error

        p = Path(path)
        try:
            raw = read_config(p, f"Policy file {p.name}")
        except FileNotFoundError as exc:
            raise PolicyError(f"Policy file {str(p)!r} does not exist.") from exc
        except ConfigError as exc:
            raise PolicyError(f"{exc.message}.") from exc
        except OSError as exc:
            raise PolicyError(
                f"Cannot read policy file {str(p)!r}: {exc.strerror or exc}"
            ) from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise PolicyError(f"Policy file {p.name}, line {line}: not UTF-8 text.") from exc
        deep = toml_depth_error(text)
        if deep is not None:
            raise PolicyError(f"Policy file {p.name}{deep.where()}: {deep.message}.")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"Policy file {p.name} is not valid TOML: {exc}") from exc
        except RecursionError as exc:  # nesting the scan above did not see
            raise PolicyError(
                f"Policy file {p.name}: values are nested too deeply to read."
            ) from exc
        try:
            return cls.from_dict(data, source=str(p))
        except PolicyError as exc:  # name the line of the rule's [[rule]] header too
            raise PolicyError(_with_rule_line(str(exc), text)) from exc.__cause__

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Policy:
        """Build a policy from the parsed form of a policy file (``{"rule": [{...}, ...]}``).

        Raises
        ------
        PolicyError
            As :meth:`from_toml`; ``source`` names the origin in messages.
        """
        where = f"Policy {Path(source).name}" if source else "Policy"
        if not isinstance(data, Mapping):
            raise PolicyError(f"{where} must be a table of [[rule]] entries.")
        for key in data:
            if key not in _TOP_LEVEL:
                raise PolicyError(
                    f"{where}: unknown top-level key {key!r}{did_you_mean(str(key), _TOP_LEVEL)}; "
                    "rules go in [[rule]] tables."
                )
        rules_raw = data.get("rule")
        if rules_raw is None:
            raise PolicyError(f"{where} has no [[rule]] tables; add at least one rule.")
        if isinstance(rules_raw, Mapping):
            rules_raw = [rules_raw]
        if not isinstance(rules_raw, list) or not rules_raw:
            raise PolicyError(f"{where}: 'rule' must be a list of [[rule]] tables.")
        rules = tuple(_parse_rule(r, i + 1, where) for i, r in enumerate(rules_raw))
        seen: dict[str, int] = {}
        for i, r in enumerate(rules, start=1):
            if r.id in seen:
                raise PolicyError(
                    f"{where}, rule {i}: key 'id': {r.id!r} is already used by rule "
                    f"{seen[r.id]}; ids must be unique."
                )
            seen[r.id] = i
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise PolicyError(f"{where}: key {key!r} must be a string.")
        return cls(rules=rules, name=data.get("name"), description=data.get("description"),
                   source=source)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the policy file's layout."""
        d: dict[str, Any] = {"rule": [r.to_dict() for r in self.rules]}
        if self.name is not None:
            d["name"] = self.name
        if self.description is not None:
            d["description"] = self.description
        return d


_RULE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.MULTILINE)
_RULE_REF = re.compile(r", rule (\d+)")


def _with_rule_line(message: str, text: str) -> str:
    """Append the line of rule N's ``[[rule]]`` header to a message about rule N."""
    m = _RULE_REF.search(message)
    if m is None:
        return message
    headers = [h.start() for h in _RULE_HEADER.finditer(text)]
    number = int(m.group(1))
    if not 1 <= number <= len(headers):
        return message
    line = text.count("\n", 0, headers[number - 1]) + 1
    return f"{message.rstrip().removesuffix('.')} (rule {number} starts on line {line})."


def fmt_value(x: float | None) -> str:
    """Format a value or threshold for messages: 4 significant digits, ``undefined`` for None."""
    if x is None:
        return "undefined"
    return f"{x:.4g}"


def _str_or_list(value: Any, key: str, at: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if (
        isinstance(value, list) and value
        and all(isinstance(v, str) and v for v in value)
    ):  # fmt: skip
        return tuple(value)
    raise PolicyError(
        f"{at}: key {key!r} must be a string or a non-empty list of strings; got {value!r}."
    )


def _parse_rule(raw: Any, number: int, where: str) -> Rule:
    at = f"{where}, rule {number}"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{at} must be a table of keys ([[rule]]); got {raw!r}.")
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise PolicyError(
                f"{at}: unknown key {key!r}{did_you_mean(str(key), _REQUIRED + _OPTIONAL)}."
            )
    for key in _REQUIRED:
        if key not in raw:
            raise PolicyError(f"{at}: missing key {key!r}.")
    strings = {}
    for key in ("section", "metric", "id", "name", "method", "label", "attack", "input_feature",
                "description", "agg"):  # fmt: skip
        if key in raw:
            v = raw[key]
            if not isinstance(v, str) or (not v.strip() and key != "description"):
                raise PolicyError(f"{at}: key {key!r} must be a non-empty string; got {v!r}.")
            strings[key] = v
    op: Any = raw["op"]
    if not isinstance(op, str) or op not in OPS:
        raise PolicyError(f"{at}: key 'op' must be one of {', '.join(OPS)}; got {op!r}.")
    thr = raw["threshold"]
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr):
        raise PolicyError(f"{at}: key 'threshold' must be a finite number; got {thr!r}.")
    feature = _str_or_list(raw["feature"], "feature", at) if "feature" in raw else None
    group = None
    if "group" in raw:
        if feature is None:
            raise PolicyError(f"{at}: key 'group' needs 'feature' (the columns it is a value of).")
        group = _str_or_list(raw["group"], "group", at)
        if len(group) != len(feature):
            raise PolicyError(
                f"{at}: key 'group' has {len(group)} value(s) but 'feature' names "
                f"{len(feature)} column(s)."
            )
    severity: Any = raw.get("severity", "error")
    if not isinstance(severity, str) or severity not in ("error", "warning"):
        raise PolicyError(f"{at}: key 'severity' must be 'error' or 'warning'; got {severity!r}.")
    small = raw.get("include_small_groups", False)
    if not isinstance(small, bool):
        raise PolicyError(
            f"{at}: key 'include_small_groups' must be true or false; got {small!r}."
        )
    if "id" in strings and "name" in strings and strings["id"] != strings["name"]:
        raise PolicyError(f"{at}: keys 'id' and 'name' disagree; give one of them.")
    rule_id = strings.get("id") or strings.get("name") or f"rule-{number}"
    return Rule(
        id=rule_id, section=strings["section"], metric=strings["metric"], op=cast(Op, op),
        threshold=float(thr), feature=feature, group=group, method=strings.get("method"),
        label=strings.get("label"), attack=strings.get("attack"),
        input_feature=strings.get("input_feature"),
        severity=cast(Literal["error", "warning"], severity),
        description=strings.get("description"), include_small_groups=small,
        agg=strings.get("agg"),
    )  # fmt: skip
