"""Privacy and stability sections on the reference models: results and timings.

Trains adult-mlp, imdb-lstm and iris-mlp with ``auditkit.train``'s defaults (in a temporary
folder), runs the privacy and stability sections on each (5-fold CV by retraining through
Lightning, 1000 bootstrap resamples), then times a full audit of adult-mlp (every registered
section, 5-fold CV) against the 3-minute target. Two side-by-side measurements back the speed
of the pieces: the vectorised bootstrap of the attack metrics against a loop over
``sklearn.metrics.roc_auc_score``, and the stability section against
``sklearn.model_selection.cross_validate`` on the same estimator and folds.

Writes the ``privacy`` section of benchmarks/RESULTS.md.

    python benchmarks/bench_privacy.py                   # everything (about 20 minutes, 2 CPUs)
    python benchmarks/bench_privacy.py --models iris-mlp --skip-full --no-write   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402

MODELS = ("adult-mlp", "imdb-lstm", "iris-mlp")
FULL_AUDIT_LIMIT_S = 180.0


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(m: Any) -> str:
    if m is None or m.value is None:
        return "n/a"
    if m.ci is None:
        return _fmt(m.value)
    return f"{m.value:.3f} [{m.ci[0]:.3f}, {m.ci[1]:.3f}]"


def _load() -> str:
    try:
        a, b, c = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{a:.2f} {b:.2f} {c:.2f}"


def train_model(name: str, folder: Path, threads: int) -> tuple[Path, float]:
    """``auditkit.train(name)`` with its defaults, under ``threads`` torch threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        path = auditkit.train(name, out=folder / f"{name}.ckpt")
        return path, time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)


def run_model(
    name: str, folder: Path, *, cv: int, n_boot: int, train_threads: int
) -> dict[str, Any]:
    path, train_s = train_model(name, folder, train_threads)
    t0 = time.perf_counter()
    res = auditkit.audit(
        path, sections=["privacy", "stability"], n_boot=n_boot, options={"cv": cv, "timings": True}
    )
    audit_s = time.perf_counter() - t0
    priv, stab = res.section("privacy"), res.section("stability")
    row: dict[str, Any] = {
        "name": name,
        "train_s": train_s,
        "audit_s": audit_s,
        "privacy_s": priv.duration_s,
        "stability_s": stab.duration_s,
        "privacy_status": priv.status,
        "stability_status": stab.status,
        "n_train": res.data.get("n_train_rows"),
        "n_eval": res.data["n_rows"],
    }
    for attack in ("loss", "reference"):
        for metric in (
            "membership_auc",
            "membership_advantage",
            "membership_tpr_at_1pct_fpr",
            "membership_tpr_at_0_1pct_fpr",
        ):
            row[f"{attack}:{metric}"] = priv.get(metric, attack=attack, feature=None)
        groups = [
            m
            for m in priv.metrics
            if m.name == "membership_auc"
            and m.attack == attack
            and m.feature is not None
            and m.value is not None
            and "too_small" not in m.flags
        ]
        row[f"{attack}:worst_group"] = max(groups, key=lambda m: m.value) if groups else None
    row["gap_acc"] = priv.get("generalization_gap_accuracy")
    row["gap_loss"] = priv.get("generalization_gap_loss")
    row["members"] = priv.info.get("n_members")
    row["population"] = priv.info.get("n_population")
    row["curve_note"] = priv.info.get("learning_curve_note")
    row["identifiers"] = priv.info.get("identifier_scan")
    for stat in ("mean", "std", "min", "max"):
        for metric in ("accuracy", "roc_auc"):
            m = stab.get(f"{metric}_{stat}", feature=None)
            row[f"{metric}_{stat}"] = m.value if m is not None else None
    row["dp_ratio"] = {
        m.feature[0]: (
            stab.get("demographic_parity_ratio_min", feature=m.feature).value,
            stab.get("demographic_parity_ratio_max", feature=m.feature).value,
        )
        for m in stab.metrics
        if m.name == "demographic_parity_ratio_mean" and m.feature
    }
    row["flips"] = [f.text for f in stab.findings if "flips" in f.text]
    row["stability_mode"] = stab.info.get("mode")
    return row


def run_full(folder: Path, *, cv: int, n_boot: int, train_threads: int) -> dict[str, Any]:
    path = folder / "adult-mlp.ckpt"
    if not path.exists():
        train_model("adult-mlp", folder, train_threads)
    t0 = time.perf_counter()
    res = auditkit.audit(path, n_boot=n_boot, options={"cv": cv, "timings": True})
    total = time.perf_counter() - t0
    return {
        "total_s": total,
        "sections": [(s.name, s.status, s.duration_s, s.reason) for s in res.sections],
    }


def bootstrap_side_by_side(n: int = 10_000, n_boot: int = 1000) -> dict[str, float]:
    """Attack-metric bootstrap: our vectorised weights against a loop of roc_auc_score."""
    from sklearn.metrics import roc_auc_score

    from auditkit.sections._mia import bootstrap_attack_metrics

    rng = np.random.default_rng(0)
    s_in, s_out = rng.normal(0.2, 1, n), rng.normal(0, 1, n)
    t0 = time.perf_counter()
    ours = bootstrap_attack_metrics(s_in, s_out, n_boot=n_boot, rng=np.random.default_rng(1))
    t_ours = time.perf_counter() - t0
    y = np.r_[np.ones(n), np.zeros(n)]
    reps = 100  # the loop is timed on 100 resamples and scaled (it is linear in n_boot)
    r = np.random.default_rng(1)
    aucs = []
    t0 = time.perf_counter()
    for _ in range(reps):
        i, j = r.integers(0, n, n), r.integers(0, n, n)
        aucs.append(roc_auc_score(y, np.r_[s_in[i], s_out[j]]))
    t_loop = (time.perf_counter() - t0) * n_boot / reps
    return {
        "ours_s": t_ours,
        "loop_s": t_loop,
        "ours_auc_lo": ours["auc"][0],
        "ours_auc_hi": ours["auc"][1],
        "loop_auc_lo": float(np.quantile(aucs, 0.025)),
        "loop_auc_hi": float(np.quantile(aucs, 0.975)),
    }


def cv_side_by_side(cv: int = 5) -> dict[str, float]:
    """Stability section against cross_validate on a scikit-learn pipeline over Adult."""
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    cat = [c for c in ds.train.X.columns if ds.train.X[c].dtype.kind not in "iuf"]
    num = [c for c in ds.train.X.columns if c not in cat]
    est = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), cat), ("n", StandardScaler(), num)]
        ),
        LogisticRegression(max_iter=300),
    )
    est.fit(ds.train.X, ds.train.y)
    t0 = time.perf_counter()
    ref = cross_validate(
        clone(est),
        ds.train.X,
        ds.train.y,
        cv=StratifiedKFold(cv, shuffle=True, random_state=0),
        scoring=["accuracy", "balanced_accuracy", "roc_auc", "neg_log_loss"],
    )
    t_cv = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = auditkit.audit(
        est,
        ds.test.X,
        ds.test.y,
        train=(ds.train.X, ds.train.y),
        sensitive_features=["sex", "race"],
        sections=["stability"],
        options={"cv": cv},
    ).section("stability")
    t_ours = time.perf_counter() - t0
    ours = np.array([m.value for m in res.metrics if m.name == "accuracy" and m.fold is not None])
    return {
        "cv_s": t_cv,
        "ours_s": t_ours,
        "max_abs_diff": float(np.max(np.abs(ours - ref["test_accuracy"]))),
    }


def render(
    rows: list[dict[str, Any]],
    full: dict[str, Any] | None,
    boot: dict[str, float],
    cvs: dict[str, float],
    *,
    cv: int,
    n_boot: int,
    load: tuple[str, str],
    train_threads: int,
) -> str:
    out = [
        "## Privacy and stability sections (bench_privacy.py)",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) at start: {load[0]}; at end: "
        f"{load[1]} (other processes shared the CPUs).",
        "",
        f"Reference models trained with `auditkit.train` defaults; audited on their dataset's "
        f"test split with the full training split as `train`; {cv}-fold CV by retraining "
        f"(Lightning, same hyper-parameters and seed); {n_boot} bootstrap resamples. Members are "
        "sampled training rows, non-members held-out rows in equal numbers; the reference "
        "attack's population rows are further held-out rows. Note: the checkpoints' training "
        "split includes the 10-15% validation rows that early stopping used, so about that "
        'share of the "members" were never trained on: the AUCs are slightly conservative.',
        "",
        "| model | train rows | eval rows | members | loss AUC [95% CI] | reference AUC [95% CI] "
        "| advantage (loss / ref.) | TPR@1% FPR (loss / ref.) | TPR@0.1% FPR (loss / ref.) "
        "| gap accuracy | gap log loss |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def two(r: dict[str, Any], metric: str) -> str:
        a, b = r[f"loss:{metric}"], r[f"reference:{metric}"]
        return f"{_fmt(a.value if a else None)} / {_fmt(b.value if b else None)}"

    for r in rows:
        out.append(
            f"| {r['name']} | {r['n_train']} | {r['n_eval']} | {r['members']} "
            f"| {_ci(r['loss:membership_auc'])} | {_ci(r['reference:membership_auc'])} "
            f"| {two(r, 'membership_advantage')} | {two(r, 'membership_tpr_at_1pct_fpr')} "
            f"| {two(r, 'membership_tpr_at_0_1pct_fpr')} | {_ci(r['gap_acc'])} "
            f"| {_ci(r['gap_loss'])} |"
        )
    out += ["", "Most exposed group (loss attack, groups of at least `min_group_size` rows):", ""]
    for r in rows:
        w = r["loss:worst_group"]
        txt = (
            f"{w.feature[0]} = {w.group[0]}: AUC {_ci(w)}"
            if w is not None
            else "no sensitive groups"
        )
        out.append(f"- {r['name']}: {txt}")
    out += [
        "",
        f"Stability ({cv} folds, retrained):",
        "",
        "| model | mode | accuracy mean ± std [min, max] | ROC AUC mean ± std "
        "| selection-rate ratio range per feature | four-fifths flips |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        dp = "; ".join(
            f"{k}: {_fmt(lo, 2)}-{_fmt(hi, 2)}" for k, (lo, hi) in r["dp_ratio"].items()
        )
        auc = (
            f"{_fmt(r['roc_auc_mean'])} ± {_fmt(r['roc_auc_std'])}"
            if r["roc_auc_mean"] is not None
            else "n/a"
        )
        out.append(
            f"| {r['name']} | {r['stability_mode']} | {_fmt(r['accuracy_mean'])} ± "
            f"{_fmt(r['accuracy_std'])} [{_fmt(r['accuracy_min'])}, {_fmt(r['accuracy_max'])}] "
            f"| {auc} | {dp or 'n/a'} | {len(r['flips'])} |"
        )
    out += ["", "Learning-curve notes:", ""]
    for r in rows:
        out.append(f"- {r['name']}: {r['curve_note'] or 'n/a'}")
    out += [
        "",
        "Timings (seconds, wall clock):",
        "",
        "| model | train (auditkit.train) | privacy section | stability section "
        "| audit call (both sections) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {r['train_s']:.1f} | {_fmt(r['privacy_s'], 1)} "
            f"| {_fmt(r['stability_s'], 1)} | {r['audit_s']:.1f} |"
        )
    out.append("")
    out.append(
        "The fold models are trained once and shared: whichever of the two sections runs "
        "first pays for the retraining."
    )
    if full is not None:
        verdict = "within" if full["total_s"] <= FULL_AUDIT_LIMIT_S else "OVER"
        secs = ", ".join(f"{n} {_fmt(d, 1)} s ({st})" for n, st, d, _ in full["sections"])
        out += [
            "",
            f"Full audit of adult-mlp (all registered sections, cv={cv}, "
            f"n_boot={n_boot}): **{full['total_s']:.1f} s**, {verdict} the "
            f"{FULL_AUDIT_LIMIT_S:.0f} s target. Per section: {secs}.",
        ]
    out += [
        "",
        "Side by side:",
        "",
        f"- Attack-metric bootstrap (AUC, advantage, TPR at 1% and 0.1% FPR; 10,000 members vs "
        f"10,000 non-members, 1000 resamples): auditkit {boot['ours_s']:.2f} s for all four "
        f"metrics; a loop of `sklearn.metrics.roc_auc_score` {boot['loop_s']:.1f} s for the AUC "
        f"alone ({boot['loop_s'] / boot['ours_s']:.0f}x). 95% intervals of the AUC: "
        f"[{boot['ours_auc_lo']:.4f}, {boot['ours_auc_hi']:.4f}] vs "
        f"[{boot['loop_auc_lo']:.4f}, {boot['loop_auc_hi']:.4f}] (different random streams).",
        f"- Stability section on a scikit-learn pipeline over Adult (one-hot + logistic "
        f"regression, {cv} folds, plus fairness per fold for sex and race): "
        f"{cvs['ours_s']:.1f} s vs `cross_validate` {cvs['cv_s']:.1f} s (four scorers); fold "
        f"accuracies differ by at most {cvs['max_abs_diff']:.1e}.",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--cv", type=int, default=5)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--skip-full", action="store_true", help="skip the full adult-mlp audit")
    ap.add_argument("--no-write", action="store_true", help="print instead of writing RESULTS.md")
    ap.add_argument(
        "--train-threads",
        type=int,
        default=1,
        help="torch threads while training the reference models (not during the audits)",
    )
    args = ap.parse_args(argv)
    load0 = _load()
    rows = []
    full = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in [m for m in args.models.split(",") if m]:
            print(f"[bench_privacy] {name}...", file=sys.stderr, flush=True)
            rows.append(
                run_model(
                    name, folder, cv=args.cv, n_boot=args.n_boot, train_threads=args.train_threads
                )
            )
        if not args.skip_full:
            print("[bench_privacy] full adult-mlp audit...", file=sys.stderr, flush=True)
            full = run_full(
                folder, cv=args.cv, n_boot=args.n_boot, train_threads=args.train_threads
            )
    print("[bench_privacy] side-by-side...", file=sys.stderr, flush=True)
    boot = bootstrap_side_by_side()
    cvs = cv_side_by_side(args.cv)
    md = render(
        rows,
        full,
        boot,
        cvs,
        cv=args.cv,
        n_boot=args.n_boot,
        load=(load0, _load()),
        train_threads=args.train_threads,
    )
    if args.no_write:
        print(md)
    else:
        write_section("privacy", md)
        print(md)
    if full is not None and full["total_s"] > FULL_AUDIT_LIMIT_S:
        print(f"full audit took {full['total_s']:.1f} s > {FULL_AUDIT_LIMIT_S} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
