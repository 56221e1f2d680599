"""auditkit's count-table fairness engine against Fairlearn's MetricFrame, in one process.

Same data for both: binary labels and decisions (int 0/1) and sensitive features as a pandas
DataFrame of strings, at 1e4, 1e5 and 1e6 rows, for one feature with 2 groups (``2g``) and two
features with 2 x 5 = 10 intersections (``2x5``).

1. Group metrics (accuracy, selection rate, true and false positive rates): ``overall``,
   ``by_group``, ``difference()`` and ``ratio()``. Fairlearn: ``MetricFrame`` and those calls;
   auditkit: ``group_metrics(...)`` from the raw arrays and the same accessors. The values are
   asserted equal (1e-12). Target: >= 100x faster at 1e6 rows.
2. The public path at 1e6 rows and 10 intersections (``2x5``), timed as a user calls it,
   beside the engine and ``MetricFrame``: ``audit_predictions(y_true, y_pred,
   sensitive_features=df, sections=["fairness"])`` and ``audit(model, X, y,
   sensitive_features=["sex", "race"], sections=["fairness"])`` (``model`` a callable returning
   the probabilities, so that scoring costs nothing), each with ``n_boot=0`` and with the
   default bootstrap (``n_boot=1000``); ``audit`` also without its ThresholdOptimizer what-if
   (``options={"mitigation": False}``), which is Fairlearn's own cost. Everything from label
   and group encoding to the finished ``AuditResult`` is in the time. The public values are
   asserted equal to ``MetricFrame``'s (1e-12). Target: >= 100x faster than ``MetricFrame``
   without the bootstrap and >= 50x with it (goal 300x).
3. Bootstrap intervals at 1e5 rows: ``MetricFrame(n_boot=100, ci_quantiles=[.025, .5, .975])``
   (with ``overall_ci``, ``by_group_ci``, ``difference_ci()``, ``ratio_ci()``) against
   ``group_metrics(...).bootstrap(1000)`` (intervals for every metric, group and disparity),
   both end to end from the raw arrays; cost per resample = time / resamples. Target: >= 10,000x
   cheaper per resample. The two bootstraps use different random streams, so their intervals
   agree statistically, not exactly: the table reports the largest gap relative to the CI
   half-width.

Usage::

    python benchmarks/bench_fairness.py                 # full run, writes RESULTS.md
    python benchmarks/bench_fairness.py --sizes 1e4 --boot-size 1e4 --no-write   # quick look
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

METRICS = ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate")
TOL = 1e-12


def make_data(n: int, cfg: str, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    a = np.asarray(["Female", "Male"], dtype=object)[rng.integers(0, 2, n)]
    feats = {"sex": a}
    if cfg == "2x5":
        feats["race"] = np.asarray(list("ABCDE"), dtype=object)[
            rng.choice(5, n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        ]
    shift = 0.1 * (a == "Male")
    y_true = (rng.random(n) < 0.35 + shift).astype(np.int64)
    y_pred = np.where(rng.random(n) < 0.8, y_true, (rng.random(n) < 0.4 + shift)).astype(np.int64)
    return {"y_true": y_true, "y_pred": y_pred, "sf": pd.DataFrame(feats)}


def fl_metrics() -> dict[str, Callable[..., Any]]:
    import sklearn.metrics as skm
    from fairlearn import metrics as flm

    return {
        "accuracy": skm.accuracy_score,
        "selection_rate": flm.selection_rate,
        "true_positive_rate": flm.true_positive_rate,
        "false_positive_rate": flm.false_positive_rate,
    }


def run_fairlearn(d: dict[str, Any]) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame

    mf = MetricFrame(
        metrics=fl_metrics(), y_true=d["y_true"], y_pred=d["y_pred"], sensitive_features=d["sf"]
    )
    return {
        "overall": mf.overall,
        "by_group": mf.by_group,
        "difference": mf.difference(),
        "ratio": mf.ratio(),
    }


def run_auditkit(d: dict[str, Any]) -> dict[str, Any]:
    from auditkit.metrics.engine import group_metrics

    feats = tuple(d["sf"].columns)
    gm = group_metrics(d["y_true"], d["y_pred"], d["sf"], groupings=[feats])
    return {
        m: {
            "overall": gm.overall(m),
            "by_group": gm.by_group(m, feats),
            "difference": gm.difference(m, feats),
            "ratio": gm.ratio(m, feats),
        }
        for m in METRICS
    }


def max_abs_diff(fl: dict[str, Any], ak: dict[str, Any]) -> float:
    worst = 0.0
    for m in METRICS:
        pairs = [
            (fl["overall"][m], ak[m]["overall"]),
            (fl["difference"][m], ak[m]["difference"]),
            (fl["ratio"][m], ak[m]["ratio"]),
        ]
        a = fl["by_group"][m].to_numpy(dtype=np.float64)
        b = ak[m]["by_group"].to_numpy(dtype=np.float64)
        if list(fl["by_group"].index) != list(ak[m]["by_group"].index):
            raise AssertionError(f"group order differs for {m}")
        pairs += list(zip(a.tolist(), b.tolist()))
        for x, y in pairs:
            if np.isnan(x) and np.isnan(y):
                continue
            worst = max(worst, abs(float(x) - float(y)))
    return worst


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, float, Any]:
    """Best and median wall time of ``reps`` calls, and the last result."""
    times = []
    out = None
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times)), out


def bench_group(sizes: list[int], reps: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for cfg in ("2g", "2x5"):
            d = make_data(n, cfg)
            r = 1 if n >= 1_000_000 else reps
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fl_best, fl_med, fl = timed(lambda d=d: run_fairlearn(d), r)
            ak_best, ak_med, ak = timed(lambda d=d: run_auditkit(d), max(reps, 3))
            diff = max_abs_diff(fl, ak)
            if diff > TOL:
                raise AssertionError(f"values differ at n={n} {cfg}: {diff}")
            rows.append(
                {
                    "n": n,
                    "cfg": cfg,
                    "fl": fl_best,
                    "fl_med": fl_med,
                    "fl_reps": r,
                    "ak": ak_best,
                    "ak_med": ak_med,
                    "diff": diff,
                }
            )
            print(
                f"group n={n:.0e} {cfg}: fairlearn {fl_best:.3g}s auditkit {ak_best:.3g}s "
                f"-> {fl_best / ak_best:,.0f}x (max diff {diff:.1e})",
                flush=True,
            )
    return rows


def _public_values(result: Any, feats: tuple[str, ...]) -> dict[str, dict[Any, float]]:
    """``{metric: {group tuple: value}}`` of the intersection, from an AuditResult."""
    sec = next(s for s in result.sections if s.name == "fairness")
    out: dict[str, dict[Any, float]] = {m: {} for m in METRICS}
    for m in sec.metrics:
        if m.name in out and m.method is None and list(m.feature or []) == list(feats):
            if m.group is not None and getattr(m, "label", None) is None:
                out[m.name].setdefault(tuple(m.group), m.value)
    return out


def bench_public(n: int, reps: int) -> list[dict[str, Any]]:
    """The public entry points at ``n`` rows, 2x5, beside the engine and MetricFrame."""
    import auditkit

    d = make_data(n, "2x5")
    feats = tuple(d["sf"].columns)
    X = d["sf"]
    proba = np.column_stack([1 - d["y_pred"], d["y_pred"]]).astype(np.float64)

    def model(frame: Any) -> np.ndarray:
        return proba

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl_time, _, fl = timed(lambda: run_fairlearn(d), 1)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("engine: group_metrics(...) (private)", lambda: run_auditkit(d)),
    ]
    for nb in (0, 1000):
        cases.append((
            f"audit_predictions(y_true, y_pred, sensitive_features=df, sections=['fairness'], "
            f"n_boot={nb})",
            lambda nb=nb: auditkit.audit_predictions(
                d["y_true"], d["y_pred"], sensitive_features=d["sf"], sections=["fairness"],
                n_boot=nb,
            ),
        ))  # fmt: skip
    for nb in (0, 1000):
        cases.append((
            f"audit(model, X, y, sensitive_features=['sex', 'race'], sections=['fairness'], "
            f"n_boot={nb})",
            lambda nb=nb: auditkit.audit(
                model, X, d["y_true"], sensitive_features=list(feats), sections=["fairness"],
                n_boot=nb,
            ),
        ))  # fmt: skip
        cases.append((
            f"audit(..., n_boot={nb}, options={{'mitigation': False}})",
            lambda nb=nb: auditkit.audit(
                model, X, d["y_true"], sensitive_features=list(feats), sections=["fairness"],
                n_boot=nb, options={"mitigation": False},
            ),
        ))  # fmt: skip
    # warm up imports (scikit-learn, Fairlearn's postprocessing) outside the timings
    auditkit.audit_predictions(
        d["y_true"][:1000], d["y_pred"][:1000], sensitive_features=d["sf"].iloc[:1000],
        sections=["fairness"], n_boot=10,
    )  # fmt: skip
    auditkit.audit(
        lambda f: proba[: len(f)], X.iloc[:1000], d["y_true"][:1000],
        sensitive_features=list(feats), sections=["fairness"], n_boot=10,
    )  # fmt: skip
    rows = []
    for label, fn in cases:
        best, med, out = timed(fn, reps)
        diff = None
        if not label.startswith("engine"):
            got = _public_values(out, feats)
            diff = 0.0
            for m in METRICS:
                for g, v in fl["by_group"][m].items():
                    diff = max(diff, abs(float(v) - got[m][tuple(str(x) for x in g)]))
            if diff > TOL:
                raise AssertionError(f"public values differ from MetricFrame: {label}: {diff}")
        rows.append({"case": label, "s": best, "med": med, "fl": fl_time, "diff": diff})
        print(f"public n={n:.0e} 2x5: {label}: {best:.3g}s -> {fl_time / best:,.0f}x", flush=True)
    return rows


def bench_bootstrap(n: int, fl_boot: int, ak_boot: int, reps: int) -> list[dict[str, Any]]:
    from fairlearn.metrics import MetricFrame

    from auditkit.metrics.engine import Key, group_metrics

    rows = []
    q = [0.025, 0.5, 0.975]
    for cfg in ("2g", "2x5"):
        d = make_data(n, cfg, seed=1)
        feats = tuple(d["sf"].columns)

        def fl_run(d: dict[str, Any] = d) -> dict[str, Any]:
            mf = MetricFrame(
                metrics=fl_metrics(),
                y_true=d["y_true"],
                y_pred=d["y_pred"],
                sensitive_features=d["sf"],
                n_boot=fl_boot,
                ci_quantiles=q,
                random_state=0,
            )
            return {
                "by_group": mf.by_group_ci,
                "overall": mf.overall_ci,
                "difference": mf.difference_ci(),
                "ratio": mf.ratio_ci(),
            }

        def ak_run(d: dict[str, Any] = d, feats: tuple[str, ...] = feats) -> Any:
            gm = group_metrics(d["y_true"], d["y_pred"], d["sf"], groupings=[feats])
            return gm, gm.bootstrap(ak_boot, np.random.default_rng(0), level=0.95)

        print(
            f"bootstrap n={n:.0e} {cfg}: running MetricFrame(n_boot={fl_boot}) once...", flush=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fl_t, _, fl = timed(fl_run, 1)
        ak_t, ak_med, (gm, iv) = timed(ak_run, reps)
        # statistical agreement of the 95% intervals (different random streams)
        gaps = []
        for m in METRICS:
            lo_fl = fl["by_group"][0][m].to_numpy(dtype=float)
            hi_fl = fl["by_group"][2][m].to_numpy(dtype=float)
            lo_ak, hi_ak = iv.get(Key(m, feats, None, "group"))
            half = (hi_fl - lo_fl) / 2
            ok = half > 0
            gaps.append(
                np.max(
                    np.abs(np.r_[lo_fl - lo_ak, hi_fl - hi_ak][np.r_[ok, ok]])
                    / np.r_[half, half][np.r_[ok, ok]]
                )
            )
            lo_d, hi_d = iv.get(Key(f"{m}_difference", feats, None, "between_groups"))
            hw = (fl["difference"][2][m] - fl["difference"][0][m]) / 2
            if hw > 0:
                gaps.append(
                    max(abs(fl["difference"][0][m] - lo_d), abs(fl["difference"][2][m] - hi_d))
                    / hw
                )
        fl_per = fl_t / fl_boot
        ak_per = ak_t / ak_boot
        rows.append(
            {
                "n": n,
                "cfg": cfg,
                "fl": fl_t,
                "fl_boot": fl_boot,
                "ak": ak_t,
                "ak_med": ak_med,
                "ak_boot": ak_boot,
                "fl_per": fl_per,
                "ak_per": ak_per,
                "gap": float(max(gaps)),
                "n_ci": len(iv.low),
            }
        )
        print(
            f"bootstrap n={n:.0e} {cfg}: fairlearn {fl_per * 1e3:.4g} ms/resample, auditkit "
            f"{ak_per * 1e3:.4g} ms/resample -> {fl_per / ak_per:,.0f}x",
            flush=True,
        )
    return rows


def versions() -> str:
    import fairlearn
    import sklearn

    return (
        f"pandas {pd.__version__}, scikit-learn "
        f"{sklearn.__version__}, fairlearn {fairlearn.__version__}"
    )


def markdown_public(rows: list[dict[str, Any]], n: int) -> list[str]:
    if not rows:
        return []
    fl = rows[0]["fl"]
    lines = [
        "",
        f"### The public path at {n:.0e} rows, 2x5 (as a user calls it)",
        "",
        f"Fairlearn `MetricFrame` (no bootstrap, 4 metrics): {fl:.3g} s. Each auditkit row is "
        "the whole call, from raw labels and a DataFrame of string groups to the finished "
        "`AuditResult` (label and group encoding, every metric, disparity, table and finding of "
        "the fairness section); `audit`'s model is a callable returning precomputed "
        "probabilities, so that scoring costs nothing.",
        "",
        "| call | best s | median s | faster than MetricFrame | max abs diff vs MetricFrame |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        diff = "-" if r["diff"] is None else f"{r['diff']:.1e}"
        lines.append(
            f"| `{r['case']}` | {r['s']:.3g} | {r['med']:.3g} | {fl / r['s']:,.0f}x | {diff} |"
        )
    lines += ["", "Targets (public `audit_predictions` fairness audit):", ""]
    for r in rows:
        if r["case"].startswith("audit_predictions"):
            boot = "n_boot=0" not in r["case"]
            target = 50 if boot else 100
            ratio = fl / r["s"]
            verdict = "met" if ratio >= target else "missed"
            goal = " (goal 300x: " + ("met" if ratio >= 300 else "not yet") + ")"
            lines.append(
                f"- {'with' if boot else 'without'} the bootstrap: {ratio:,.0f}x (target >= "
                f"{target}x): {verdict}{goal}."
            )
    return lines


def markdown(group: list[dict[str, Any]], boot: list[dict[str, Any]], args: Any,
             public: list[dict[str, Any]] | None = None) -> str:  # fmt: skip
    lines = [
        "## Fairness engine vs Fairlearn MetricFrame",
        "",
        f"Machine: {machine()}; {versions()}.",
        "",
        "Produced by `python benchmarks/bench_fairness.py` (one process; seconds are best of "
        f"{args.reps} runs, 1 run for Fairlearn at 1e6 rows and for its bootstrap). Data: int "
        "0/1 labels and decisions; sensitive features as a pandas DataFrame of strings; `2g` = "
        "one feature, 2 groups; `2x5` = two features, 10 intersections.",
        "",
        "### Group metrics: overall, by_group, difference(), ratio() for accuracy, selection "
        "rate, TPR, FPR",
        "",
        "| rows | cfg | Fairlearn MetricFrame s | auditkit s | speed-up | auditkit rows/s "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in group:
        lines.append(
            f"| {r['n']:.0e} | {r['cfg']} | {r['fl']:.3g}"
            + (" (x1)" if r["fl_reps"] == 1 else "")
            + f" | {r['ak']:.3g} | {r['fl'] / r['ak']:,.0f}x | {r['n'] / r['ak']:,.0f} | "
            f"{r['diff']:.1e} |"
        )
    lines += markdown_public(public or [], int(float(args.public_size)))
    lines += [
        "",
        "### Bootstrap intervals",
        "",
        "| rows | cfg | Fairlearn (n_boot) s | ms / resample | auditkit (n_boot) s | ms / "
        "resample | cheaper per resample | quantities with intervals (auditkit) "
        "| max CI gap / half-width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in boot:
        lines.append(
            f"| {r['n']:.0e} | {r['cfg']} | {r['fl']:.4g} ({r['fl_boot']}) | "
            f"{r['fl_per'] * 1e3:.4g} | {r['ak']:.3g} ({r['ak_boot']}) | "
            f"{r['ak_per'] * 1e3:.3g} | {r['fl_per'] / r['ak_per']:,.0f}x | {r['n_ci']} | "
            f"{r['gap']:.2f} |"
        )
    lines += ["", "### Targets", ""]
    for r in group:
        if r["n"] == 1_000_000:
            ratio = r["fl"] / r["ak"]
            verdict = "met" if ratio >= 100 else "missed"
            lines.append(
                f"- Group metrics at 1e6 rows, {r['cfg']}: {ratio:,.0f}x (target >= "
                f"100x): {verdict}."
            )
    for r in boot:
        ratio = r["fl_per"] / r["ak_per"]
        verdict = "met" if ratio >= 10_000 else "missed"
        lines.append(
            f"- Bootstrap at {r['n']:.0e} rows, {r['cfg']}: {ratio:,.0f}x cheaper per "
            f"resample (target >= 10,000x): {verdict}."
        )
    lines += [
        "",
        "Values are asserted equal to Fairlearn's (max abs diff above). The bootstrap "
        "intervals come from different random streams (Fairlearn resamples rows; auditkit "
        "resamples the cells of the count table from the equivalent multinomial), so they agree "
        "up to Monte-Carlo noise; the last column is the largest gap between the two 95% bounds "
        "of a group metric or difference, relative to Fairlearn's half-width.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1e4,1e5,1e6")
    p.add_argument("--boot-size", default="1e5")
    p.add_argument("--fl-boot", type=int, default=100)
    p.add_argument("--ak-boot", type=int, default=1000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--public-size", default="1e6", help="rows of the public-path table")
    p.add_argument("--only-public", action="store_true", help="run only the public-path table")
    args = p.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    pub_n = int(float(args.public_size))
    group = [] if args.only_public else bench_group(sizes, args.reps)
    public = bench_public(pub_n, args.reps)
    if args.only_public:
        print("\n".join(markdown_public(public, pub_n)))
        return 0
    boot = bench_bootstrap(int(float(args.boot_size)), args.fl_boot, args.ak_boot, args.reps)
    text = markdown(group, boot, args, public)
    print(text)
    if not args.no_write:
        write_section("fairness", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
