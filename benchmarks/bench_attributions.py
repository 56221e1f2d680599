"""auditkit.explain against Captum's default call, same process, same values, with the ideal cost.

For each reference model (the Adult MLP on 10,000 rows, the CIFAR-10 CNN on 1,000 images, the
IMDB LSTM on 500 reviews) and each attribution method, this script times

* Captum's default call, ``Method(module).attribute(x, target=t)`` (no ``internal_batch_size``);
* ``auditkit.explain`` on the same module and rows (the summed-target fast path, batches from a
  256 MB memory budget);
* the ideal cost: the unavoidable number of forward+backward units (``n_steps`` for integrated
  gradients, 1 for saliency...) times the measured time of one plain forward+backward pass over
  the rows (gradient with respect to the input; the embedding output for the LSTM);

and asserts that both return the same attributions (rtol 1e-4).

Captum's default call puts rows x ``n_steps`` evaluations in one batch. Where that batch would
not fit in memory (the CNN and the LSTM at full size: tens of GB), it is run on the largest
subset that fits ``--captum-mem-gb`` and auditkit is timed on the same subset; auditkit alone
then runs on every row and is compared with the ideal.

Models: the checkpoints in ``--ckpt-dir`` (``<name>.ckpt``, written by ``auditkit train``) when
they exist; otherwise the same architectures trained by ``auditkit.train`` for one epoch on 300
rows (speed depends on the architecture, not on the weights; the RESULTS section says which).

It also times ``auditkit audit <adult-mlp.ckpt> --sections explainability`` (the CLI, with its
progress bar) over the whole Adult test split (16,281 rows) against the one-minute target.

Writes the ``attributions`` section of benchmarks/RESULTS.md.

    python benchmarks/bench_attributions.py              # everything (about 15 minutes on 2 CPUs)
    python benchmarks/bench_attributions.py --quick --no-write          # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402
from auditkit import explain  # noqa: E402
from auditkit.runtime import attribution as A  # noqa: E402

warnings.filterwarnings("ignore", message=r"Input Tensor \d+ did not already require gradients")
warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
AUDIT_LIMIT_S = 60.0


# ---------------------------------------------------------------------------------- helpers
def load_avg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, float, Any]:
    """Best and median wall time of ``reps`` calls, and the last result."""
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def unit_fwd_bwd(
    module: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, *, layer: Any = None,
    chunk: int = 100_000, reps: int = 3,
) -> float:  # fmt: skip
    """Best time of one forward+backward over all rows (gradient w.r.t. input / layer output)."""

    def run() -> None:
        for s in range(0, len(x), chunk):
            xs, ts = x[s : s + chunk], target[s : s + chunk]
            if layer is None:
                xs = xs.clone().requires_grad_()
                out = module(xs).gather(1, ts[:, None]).sum()
                torch.autograd.grad(out, xs)
            else:
                saved: list[torch.Tensor] = []

                def keep(
                    _m: Any, _i: Any, o: torch.Tensor, saved: list[torch.Tensor] = saved
                ) -> torch.Tensor:
                    o = o.detach().requires_grad_()
                    saved.append(o)
                    return o

                h = layer.register_forward_hook(keep)
                try:
                    out = module(xs).gather(1, ts[:, None]).sum()
                finally:
                    h.remove()
                torch.autograd.grad(out, saved[0])

    return timed(run, reps)[0]


def unit_fwd(module: torch.nn.Module, x: torch.Tensor, *, chunk: int, reps: int = 3) -> float:
    def run() -> None:
        with torch.no_grad():
            for s in range(0, len(x), chunk):
                module(x[s : s + chunk])

    return timed(run, reps)[0]


def max_rel_diff(ours: np.ndarray, ref: torch.Tensor, out_scale: float = 0.0) -> float:
    r = ref.detach().double().numpy()
    scale = float(np.abs(r).max()) or 1.0
    atol = max(1e-5 * scale, 1e-6 * out_scale)
    excess = np.abs(ours - r) - (1e-4 * np.abs(r) + atol)
    if excess.max() > 0:
        raise AssertionError(
            f"auditkit and Captum disagree (max abs diff {np.abs(ours - r).max()})"
        )
    return float(np.abs(ours - r).max())


@dataclass
class Row:
    model: str
    method: str
    rows: int
    n_steps: int | None
    captum_s: float | None
    ours_s: float
    ideal_units: float
    unit_s: float
    diff: float | None
    note: str = ""

    @property
    def speedup(self) -> float | None:
        return None if self.captum_s is None else self.captum_s / self.ours_s

    def md(self) -> str:
        ideal = self.ideal_units * self.unit_s
        cap = "not run" if self.captum_s is None else f"{self.captum_s:.3g}"
        cap_ideal = "-" if self.captum_s is None else f"{self.captum_s / ideal:.2f}x"
        sp = "-" if self.speedup is None else f"**{self.speedup:.1f}x**"
        diff = "-" if self.diff is None else f"{self.diff:.1e}"
        steps = "-" if self.n_steps is None else str(self.n_steps)
        return (
            f"| {self.model} | {self.method} | {self.rows:,} | {steps} | {cap} | "
            f"{self.ours_s:.3g} | {sp} | {self.ideal_units:g} x {self.unit_s:.3g} s = "
            f"{ideal:.3g} | {self.ours_s / ideal:.2f}x | {cap_ideal} | {diff} | {self.note} |"
        )


# ---------------------------------------------------------------------------------- models
def checkpoint(name: str, ckpt_dir: Path | None, tmp: Path) -> tuple[Path, str]:
    """The reference model: trained with its defaults into ``ckpt_dir`` (kept there for the next
    run), or without ``ckpt_dir`` the same architecture trained 1 epoch on 300 rows (timings
    depend on the architecture, not on the weights)."""
    from auditkit.models.training import train

    if ckpt_dir is not None:
        path = ckpt_dir / f"{name}.ckpt"
        if not path.exists():
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            train(name, out=path, seed=0)
        acc = (auditkit.load_checkpoint(path).describe().get("test_metrics") or {}).get("accuracy")
        return path, "reference checkpoint, default training" + (
            f" (test accuracy {acc:.3f})" if isinstance(acc, float) else ""
        )
    path = train(name, out=tmp / f"{name}.ckpt", max_epochs=1, limit_train_rows=300, seed=0)
    return path, "same architecture, 1 epoch on 300 rows"


def captum_call(
    method: str, module: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, *,
    n_steps: int, layer: Any, baselines: torch.Tensor | None,
) -> torch.Tensor:  # fmt: skip
    from captum.attr import (
        DeepLift,
        FeatureAblation,
        GradientShap,
        IntegratedGradients,
        LayerIntegratedGradients,
        Occlusion,
        Saliency,
    )

    if method == "integrated_gradients":
        return IntegratedGradients(module).attribute(x, target=t, n_steps=n_steps)
    if method == "layer_integrated_gradients":
        out = LayerIntegratedGradients(module, layer).attribute(
            x, baselines=baselines, target=t, n_steps=n_steps
        )
        return out.sum(dim=-1)
    if method == "saliency":
        return Saliency(module).attribute(x, target=t)
    if method == "deeplift":
        return DeepLift(module).attribute(x, target=t)
    if method == "gradient_shap":
        np.random.seed(0)
        torch.manual_seed(0)
        return GradientShap(module).attribute(x, baselines=baselines, target=t)
    if method == "feature_ablation":
        return FeatureAblation(module).attribute(x, target=t)
    if method == "occlusion":
        win, st = A.default_window(tuple(x.shape[1:]))
        return Occlusion(module).attribute(x, sliding_window_shapes=win, strides=st, target=t)
    raise ValueError(method)


IDEAL = {  # forward+backward units per method (perturbations: forward passes x fwd/unit)
    "integrated_gradients": lambda n_steps, k, f: float(n_steps),
    "layer_integrated_gradients": lambda n_steps, k, f: float(n_steps),
    "saliency": lambda n_steps, k, f: 1.0,
    "deeplift": lambda n_steps, k, f: 2.0,
    "gradient_shap": lambda n_steps, k, f: float(A.GSHAP_SAMPLES),
    "feature_ablation": lambda n_steps, k, f: (k + 1) * f,
    "occlusion": lambda n_steps, k, f: (k + 1) * f,
}


def compare(
    label: str, method: str, module: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, *,
    n_steps: int, layer: Any, unit: float, fwd_ratio: float, reps: int,
    baselines: torch.Tensor | None = None, captum: bool = True, note: str = "",
) -> Row:  # fmt: skip
    explain_baselines = baselines
    # GradientShap draws its random points per Captum call: one call, the same draws as
    # Captum's single call (with more calls the draws differ, equally valid).
    one_call = len(x) if method == "gradient_shap" else None

    def ours_call() -> Any:
        return explain(module, x, method=method, target=t, n_steps=n_steps,
                       baselines=explain_baselines, batch_size=one_call)  # fmt: skip

    def captum_ref() -> torch.Tensor:
        return captum_call(method, module, x, t, n_steps=n_steps, layer=layer,
                           baselines=baselines)  # fmt: skip

    # Interleaved (auditkit, Captum, auditkit, Captum...): the shared machine's load drifts,
    # and both sides should see the same drift.
    ours_times: list[float] = []
    cap_times: list[float] = []
    ours: Any = None
    ref: Any = None
    for _ in range(reps):
        best, _, ours = timed(ours_call, 1)
        ours_times.append(best)
        if captum:
            best, _, ref = timed(captum_ref, 1)
            cap_times.append(best)
    ours_best = min(ours_times)
    cap_best, diff = (min(cap_times) if cap_times else None), None
    if captum:
        out_scale = 0.0
        if method in ("feature_ablation", "occlusion"):  # differences of float32 outputs
            outs = A.forward_outputs(module, x, rows=256, device=torch.device("cpu"))
            out_scale = float(outs.abs().max())
        diff = max_rel_diff(ours.values, ref, out_scale)
    k = 0
    if method == "feature_ablation":
        k = int(np.prod(x.shape[1:]))
    elif method == "occlusion":
        win, st = A.default_window(tuple(x.shape[1:]))
        k = A._count_windows(tuple(x.shape[1:]), win, st)
    steps = n_steps if "integrated" in method else None
    row = Row(label, method, len(x), steps, cap_best, ours_best,
              IDEAL[method](n_steps, k, fwd_ratio), unit, diff, note)  # fmt: skip
    print(row.md(), flush=True)
    return row


def largest_fitting(n: int, bytes_per_row: float, expansion: int, cap_gb: float) -> int:
    """Rows whose one-batch expansion fits ``cap_gb`` (Captum's default call)."""
    return int(max(1, min(n, cap_gb * 2**30 // (bytes_per_row * expansion))))


# ------------------------------------------------------------------------------------ cases
def bench_mlp(path: Path, rows: int, reps: int) -> list[Row]:
    from auditkit.data import load_dataset

    m = auditkit.load_checkpoint(path)
    parts = m.as_adapter().torch_parts()
    module = parts.module
    x = parts.encode(load_dataset("adult").test.X.iloc[:rows])
    with torch.no_grad():
        t = module(x).argmax(1)
    unit = unit_fwd_bwd(module, x, t, reps=5)
    fwd = unit_fwd(module, x, chunk=len(x), reps=5) / unit
    g = torch.Generator().manual_seed(0)
    bg = x[torch.randperm(len(x), generator=g)[:20]]
    out = []
    for method in ("integrated_gradients", "saliency", "deeplift", "gradient_shap",
                   "feature_ablation"):  # fmt: skip
        out.append(compare(
            "adult-mlp", method, module, x, t, n_steps=50, layer=None, unit=unit,
            fwd_ratio=fwd, reps=reps if method == "integrated_gradients" else reps + 2,
            baselines=bg if method == "gradient_shap" else None,
            note="20 background rows, one call (batch_size=rows)" if method == "gradient_shap"
            else
            f"{x.shape[1]} encoded columns" if method == "feature_ablation" else "",
        ))  # fmt: skip
    return out


def bench_cnn(path: Path, images: int, n_steps: int, cap_gb: float, reps: int) -> list[Row]:
    from auditkit.data import load_dataset

    m = auditkit.load_checkpoint(path)
    parts = m.as_adapter().torch_parts()
    module = parts.module
    x = parts.encode(load_dataset("cifar10").test.X[:images])
    with torch.no_grad():
        t = A.forward_outputs(module, x, rows=256, device=torch.device("cpu")).argmax(1)
    unit = unit_fwd_bwd(module, x, t, chunk=250, reps=2)
    fwd = unit_fwd(module, x, chunk=250, reps=2) / unit
    bpr = A.activation_bytes_per_row(module, x)
    sub = largest_fitting(images, bpr, n_steps, cap_gb)
    need = bpr * images * n_steps / 2**30
    out = [
        compare("cifar10-cnn", "integrated_gradients", module, x[:sub], t[:sub],
                n_steps=n_steps, layer=None, unit=unit * sub / images, fwd_ratio=fwd, reps=3,
                note=f"largest subset whose one batch fits {cap_gb:g} GB"),
        compare("cifar10-cnn", "integrated_gradients", module, x, t, n_steps=n_steps,
                layer=None, unit=unit, fwd_ratio=fwd, reps=1, captum=False,
                note=f"Captum's default call: one batch of an estimated ~{need:.0f} GB"),
        compare("cifar10-cnn", "saliency", module, x, t, n_steps=n_steps, layer=None,
                unit=unit, fwd_ratio=fwd, reps=reps),
    ]  # fmt: skip
    occ = min(images, 100)
    out.append(compare(
        "cifar10-cnn", "occlusion", module, x[:occ], t[:occ], n_steps=n_steps, layer=None,
        unit=unit * occ / images, fwd_ratio=fwd, reps=3, note="4x4 windows, stride 4",
    ))  # fmt: skip
    return out


def bench_lstm(path: Path, reviews: int, n_steps: int, cap_gb: float) -> list[Row]:
    from auditkit.data import load_dataset

    m = auditkit.load_checkpoint(path)
    parts = m.as_adapter().torch_parts()
    module, layer = parts.module, parts.embedding
    ids = parts.encode(load_dataset("imdb").test.X[:reviews])
    with torch.no_grad():
        t = A.forward_outputs(module, ids, rows=128, device=torch.device("cpu")).argmax(1)
    base = torch.where(ids != 0, 1, 0)  # every word <unk>, same length (explain's default)
    unit = unit_fwd_bwd(module, ids, t, layer=layer, chunk=125, reps=1)
    bpr = A.activation_bytes_per_row(module, ids)
    sub = largest_fitting(reviews, bpr, n_steps, cap_gb)
    need = bpr * reviews * n_steps / 2**30
    return [
        compare("imdb-lstm", "layer_integrated_gradients", module, ids[:sub], t[:sub],
                n_steps=n_steps, layer=layer, unit=unit * sub / reviews, fwd_ratio=1.0, reps=1,
                baselines=base[:sub], note=f"largest subset whose one batch fits {cap_gb:g} GB"),
        compare("imdb-lstm", "layer_integrated_gradients", module, ids, t, n_steps=n_steps,
                layer=layer, unit=unit, fwd_ratio=1.0, reps=1, baselines=base, captum=False,
                note=f"Captum's default call: one batch of an estimated ~{need:.0f} GB"),
    ]  # fmt: skip


def time_cli_audit(path: Path, tmp: Path) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "auditkit", "audit", str(path), "--sections", "explainability",
           "--out", str(tmp / "audit-out")]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"auditkit audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, proc.returncode


# ------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--ckpt-dir",
        type=Path,
        default=None,
        help="reference checkpoints (trained with defaults when missing)",
    )
    ap.add_argument("--rows", type=int, default=10_000, help="Adult MLP rows")
    ap.add_argument("--images", type=int, default=1_000, help="CIFAR-10 images")
    ap.add_argument("--reviews", type=int, default=500, help="IMDB reviews")
    ap.add_argument("--cnn-steps", type=int, default=50)
    ap.add_argument("--lstm-steps", type=int, default=50)
    ap.add_argument("--captum-mem-gb", type=float, default=2.0)
    ap.add_argument("--models", default="mlp,cnn,lstm,audit")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.images, args.reviews = 2_000, 40, 12
        args.cnn_steps, args.lstm_steps = 8, 4
    which = set(args.models.split(","))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = load_avg()
    rows: list[Row] = []
    sources: dict[str, str] = {}
    audit_s: float | None = None
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        if "mlp" in which or "audit" in which:
            p, sources["adult-mlp"] = checkpoint("adult-mlp", args.ckpt_dir, tmp)
            if "mlp" in which:
                rows += bench_mlp(p, args.rows, reps=3)
            if "audit" in which:
                audit_s, _ = time_cli_audit(p, tmp)
                print(f"auditkit audit --sections explainability: {audit_s:.1f} s", flush=True)
        if "cnn" in which:
            p, sources["cifar10-cnn"] = checkpoint("cifar10-cnn", args.ckpt_dir, tmp)
            rows += bench_cnn(p, args.images, args.cnn_steps, args.captum_mem_gb, reps=2)
        if "lstm" in which:
            p, sources["imdb-lstm"] = checkpoint("imdb-lstm", args.ckpt_dir, tmp)
            rows += bench_lstm(p, args.reviews, args.lstm_steps, args.captum_mem_gb)
    total = time.perf_counter() - t_all
    md = report(rows, sources, audit_s, args, load_before, load_avg(), total)
    print(md)
    if not args.no_write:
        write_section("attributions", md)
    return 0


def report(
    rows: list[Row], sources: dict[str, str], audit_s: float | None, args: argparse.Namespace,
    load_before: str, load_after: str, total: float,
) -> str:  # fmt: skip
    import captum

    lines = [
        "## Attributions: auditkit.explain vs Captum's default call",
        "",
        f"Machine: {machine()}; captum {captum.__version__}. Load average (1/5/15 min) before "
        f"{load_before}, after {load_after}: the 2 CPUs are shared, absolute seconds move with "
        "the load; ratios taken seconds apart in one process hold up better.",
        "",
        f"Produced by `python benchmarks/bench_attributions.py{' --quick' if args.quick else ''}`"
        f" in {total / 60:.1f} min. Models: "
        + "; ".join(f"{k}: {v}" for k, v in sources.items())
        + ". Captum's default call is `Method(module).attribute(x, target=t)` on the same "
        "module, rows and targets (the predicted classes); auditkit is `auditkit.explain` with "
        "its defaults (256 MB memory budget). Seconds: best of 3 for integrated gradients on "
        "the Adult MLP and on the CIFAR subset and for CIFAR occlusion, best of 5 for the "
        "other Adult MLP methods, best of 2 for CIFAR saliency, one run otherwise; auditkit "
        "and Captum calls interleaved. "
        "`max abs diff`: auditkit vs Captum, asserted within rtol 1e-4. Torch threads as in "
        "the machine line (`--threads`).",
        "",
        "Ideal = the unavoidable forward+backward units (n_steps for integrated gradients, 1 "
        "for saliency, 2 for DeepLift, 5 noise samples for GradientShap; for perturbation "
        "methods the forward passes times the forward/forward+backward time ratio) times one "
        "measured forward+backward pass over the same rows (gradient w.r.t. the input, the "
        "embedding output for the LSTM).",
        "",
        "| model | method | rows | n_steps | Captum default s | auditkit s | speed-up | "
        "ideal (units x unit) s | auditkit / ideal | Captum / ideal | max abs diff | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[r.md() for r in rows],
        "",
    ]
    if args.lstm_steps != 50 and any(r.model == "imdb-lstm" for r in rows):
        lines += [
            f"The LSTM runs with n_steps={args.lstm_steps}: at 50 steps the 500 reviews are "
            "25,000 passes of a 256-token bidirectional LSTM, whose backward pass is slow on "
            "CPU; the ratio to the ideal does not depend on n_steps.",
            "",
        ]
    lines += ["### Targets", ""]
    ig = next((r for r in rows if r.model == "adult-mlp" and r.method == "integrated_gradients"),
              None)  # fmt: skip
    if ig is not None and ig.speedup is not None:
        ideal = ig.ideal_units * ig.unit_s
        cap_ratio = (ig.captum_s or 0.0) / ideal
        lines.append(
            f"- Integrated gradients on the Adult MLP ({ig.rows:,} rows): {ig.speedup:.1f}x "
            f"faster than Captum's default call (target >= 10x): "
            f"{'met' if ig.speedup >= 10 else 'NOT met'}. The speed-up is bounded by Captum's "
            f"own distance to the ideal ({cap_ratio:.1f}x in this run): its cost is a fixed "
            "amount per output row on top of the compute, so it weighs less when the compute "
            "is slowed by other processes (load above) and more on a quiet machine (see "
            "section 3 of the shared peer baselines, measured on an idle machine)."
        )
        lines.append(
            f"- ... and {ig.ours_s / ideal:.2f}x the ideal (target <= 2x): "
            f"{'met' if ig.ours_s <= 2 * ideal else 'NOT met'}."
        )
    compared = [r for r in rows if r.speedup is not None]
    tie = [r for r in compared if r.speedup is not None and 0.95 <= r.speedup < 1.0]
    slower = [r for r in compared if r.speedup is not None and r.speedup < 0.95]
    lines.append(
        f"- Never slower than Captum's default call: {len(compared) - len(slower) - len(tie)} "
        f"of {len(compared)} side-by-side cases at least as fast"
        + (f", {len(tie)} within 5% ("
           + ", ".join(f"{r.model} {r.method} {r.speedup:.2f}x" for r in tie)
           + "; the perturbation methods run the very same Captum call, auditkit adds an "
           "8-row probe, so these are timing noise)" if tie else "")
        + (": met." if not slower else
           "; slower: " + ", ".join(f"{r.model} {r.method} {r.speedup:.2f}x" for r in slower)
           + ": NOT met.")
    )  # fmt: skip
    if audit_s is not None:
        lines.append(
            f"- `auditkit audit adult-mlp.ckpt --sections explainability` over the whole Adult "
            f"test split (16,281 rows, integrated gradients on every row, 1000 bootstrap "
            f"resamples, progress bar on): {audit_s:.1f} s wall, process start included "
            f"(target < {AUDIT_LIMIT_S:.0f} s): {'met' if audit_s < AUDIT_LIMIT_S else 'NOT met'}."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
