"""Differentially private adult-mlp (epsilon about 3) against the same model without DP.

Trains adult-mlp twice on the full Adult training split (the default recipe, and DP-SGD through
Opacus at the target epsilon), runs ``auditkit.audit(..., sections=["privacy"])`` on both
(membership inference against the checkpoint's own training rows) and writes the accuracy cost
and the attack figures into the ``dp`` section of benchmarks/RESULTS.md.

Usage: python benchmarks/bench_dp.py [--epsilon 3] [--epochs 10] [--n-boot 200] [--force]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402
from auditkit.models.checkpoint import load_checkpoint  # noqa: E402

OUT = Path(__file__).resolve().parent / "_out" / "dp"


def _train(path: Path, force: bool, **kwargs: Any) -> tuple[Path, float]:
    if path.exists() and not force:
        return path, float(load_checkpoint(path).meta["wall_time_s"])
    t0 = time.perf_counter()
    auditkit.train("adult-mlp", out=path, overwrite=True, show_progress=False, **kwargs)
    return path, time.perf_counter() - t0


def _privacy(path: Path, n_boot: int, train: Any = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = auditkit.audit(str(path), sections=["privacy"], n_boot=n_boot, train=train)
    wall = time.perf_counter() - t0
    sec = next(s for s in res.sections if s.name == "privacy")
    out: dict[str, Any] = {"status": sec.status, "reason": sec.reason, "wall_s": wall}
    for m in sec.metrics:
        if m.feature is not None or m.group is not None:
            continue
        key = m.name if m.attack is None else f"{m.name}[{m.attack}]"
        out[key] = (m.value, m.ci)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    value, ci = v if isinstance(v, tuple) else (v, None)
    if value is None:
        return "n/a"
    if ci is not None and ci[0] is not None:
        return f"{value:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]"
    return f"{value:.4f}"


def _compare(
    base_path: Path,
    base_t: float,
    dp_path: Path,
    dp_t: float,
    args: Any,
    train: Any,
    recipe: str,
) -> list[str]:
    base, dp = load_checkpoint(base_path), load_checkpoint(dp_path)
    rec = dp.meta["dp"]
    p_base = _privacy(base_path, args.n_boot, train)
    p_dp = _privacy(dp_path, args.n_boot, train)

    acc_b, acc_d = base.meta["test_metrics"]["accuracy"], dp.meta["test_metrics"]["accuracy"]
    attacks = sorted(
        {k.split("[")[1].rstrip("]") for k in p_base if k.startswith("membership_auc[")}
    )
    rows = [
        ("test accuracy", f"{acc_b:.4f}", f"{acc_d:.4f}"),
        ("test loss", f"{base.meta['test_metrics']['loss']:.4f}",
         f"{dp.meta['test_metrics']['loss']:.4f}"),
        ("epochs run", str(base.meta["training"]["epochs_run"]),
         str(dp.meta["training"]["epochs_run"])),
        ("training wall time (s)", f"{base_t:.1f}", f"{dp_t:.1f}"),
    ]  # fmt: skip
    verdicts = []
    for a in attacks:
        for metric in ("membership_auc", "membership_advantage", "membership_tpr_at_1pct_fpr"):
            key = f"{metric}[{a}]"
            rows.append((f"{metric} ({a} attack)", _fmt(p_base.get(key)), _fmt(p_dp.get(key))))
        auc_b, auc_d = p_base[f"membership_auc[{a}]"][0], p_dp[f"membership_auc[{a}]"][0]
        ci_b = p_base[f"membership_auc[{a}]"][1]
        if auc_d <= auc_b:
            verdict = "**no higher** (as required)."
        elif ci_b is not None and auc_d <= ci_b[1]:
            verdict = (
                f"higher by {auc_d - auc_b:.4f}, inside the interval of the model without DP "
                "(no measurable difference)."
            )
        else:
            verdict = "**higher** (unexpected)."
        verdicts.append(f"- {a} attack: AUC with DP {auc_d:.4f} vs {auc_b:.4f} without: {verdict}")
    rows.append(("AUC bound from (eps, delta)", "none", _fmt(p_dp.get("membership_auc_bound"))))
    rows.append(("privacy section wall time (s)", f"{p_base['wall_s']:.1f}",
                 f"{p_dp['wall_s']:.1f}"))  # fmt: skip
    table = ["| | adult-mlp | adult-mlp, DP |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return [
        f"Without DP: {recipe}. With DP: DP-SGD through Opacus "
        f"(`PrivacyEngine.make_private_with_epsilon`, Poisson sampling, {rec['accountant']} "
        f"accountant), target epsilon {args.epsilon:g}, delta {rec['delta']:.3g} (1/n_train), "
        f"max_grad_norm {rec['max_grad_norm']:g}, noise multiplier "
        f"{rec['noise_multiplier']:.4f}, expected batch {dp.meta['hparams']['batch_size']}, "
        f"lr {dp.meta['hparams']['lr']:g}, "
        f"{rec['epochs']} epochs ({rec['steps']} steps), no model selection; epsilon spent "
        f"{rec['epsilon']:.4f}. Membership inference: `auditkit.audit(ckpt, "
        f"sections=['privacy'], n_boot={args.n_boot})` on each checkpoint (its own training "
        "rows as members, held-out rows as non-members); 95% bootstrap intervals.",
        "",
        *table,
        "",
        f"Accuracy cost of DP: {acc_b - acc_d:+.4f} (test accuracy {acc_b:.4f} -> {acc_d:.4f}).",
        *verdicts,
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epsilon", type=float, default=3.0)
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the DP run")
    ap.add_argument("--batch-size", type=int, default=512, help="expected DP batch size")
    ap.add_argument("--lr", type=float, default=3e-3, help="learning rate of the DP run")
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--small-rows", type=int, default=2000, help="rows of the small slice")
    ap.add_argument("--force", action="store_true", help="retrain even if checkpoints exist")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    base_path, base_t = _train(OUT / "adult-mlp.ckpt", args.force, seed=0)
    dp_path, dp_t = _train(
        OUT / f"adult-mlp-dp-eps{args.epsilon:g}.ckpt", args.force, seed=0,
        dp_epsilon=args.epsilon, max_grad_norm=args.max_grad_norm, max_epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr,
    )  # fmt: skip
    md = [
        "## Differentially private training (bench_dp.py)",
        "",
        f"Machine: {machine()}.",
        "",
        "### Full training split",
        "",
        *_compare(base_path, base_t, dp_path, dp_t, args, None, "the default recipe "
                  "(early stopping, best epoch restored)"),
    ]  # fmt: skip
    # A regime where the undefended model leaks: a small slice, no regularisation, many epochs.
    from auditkit.data import load_dataset
    from auditkit.data._datasets import stratified_split

    ds = load_dataset("adult")
    n_rows = args.small_rows
    _, keep = stratified_split(ds.train.y, n_rows / len(ds.train.y), seed=0)
    train = (ds.train.X.iloc[keep].reset_index(drop=True), ds.train.y[keep])
    small = {"limit_train_rows": n_rows, "dropout": 0.0, "weight_decay": 0.0, "seed": 0}
    ob_path, ob_t = _train(
        OUT / f"adult-mlp-overfit{n_rows}.ckpt", args.force, max_epochs=150, patience=150,
        restore_best=False, batch_size=64, lr=3e-3, **small,
    )  # fmt: skip
    od_path, od_t = _train(
        OUT / f"adult-mlp-overfit{n_rows}-dp-eps{args.epsilon:g}.ckpt", args.force,
        dp_epsilon=args.epsilon, max_grad_norm=args.max_grad_norm, max_epochs=30,
        batch_size=128, lr=3e-3, **small,
    )  # fmt: skip
    md += [
        "",
        f"### Small slice ({n_rows} training rows, no dropout or weight decay)",
        "",
        *_compare(ob_path, ob_t, od_path, od_t, args, train, "150 epochs without early "
                  "stopping, batch 64, lr 0.003, last weights kept (it memorises)"),
    ]  # fmt: skip
    write_section("dp", "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
