"""The card of every reference model, printed to PDF by Chromium: does it stay readable?

For each reference model (adult-mlp, iris-mlp, mnist-mlp, cifar10-cnn, imdb-lstm) the script
trains a checkpoint with ``auditkit.train`` in a temporary folder, audits it with every
registered section, renders the HTML and Markdown cards, opens the HTML card in headless
Chromium (Debian's ``chromium``, driven by Playwright) and prints it to A4 PDF. It records the
page count, the file sizes, the timings, and checks that the page makes no network request and
logs no console error. A screenshot of the first screen, a full-page screenshot and the PDF of
each card go to ``benchmarks/_out/`` (not versioned).

Writes the ``cards`` section of benchmarks/RESULTS.md.

    python benchmarks/bench_cards.py                      # quick checkpoints (a few minutes)
    python benchmarks/bench_cards.py --epochs 0 --rows 0  # the models' default training
    python benchmarks/bench_cards.py --models iris-mlp --no-write   # a smoke run
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402
from auditkit.report import to_json, write_outputs  # noqa: E402

MODELS = ("adult-mlp", "iris-mlp", "mnist-mlp", "cifar10-cnn", "imdb-lstm")
OUT = Path(__file__).resolve().parent / "_out"
#: As ``auditkit demo``: attributions on a seeded sample of 4,000 test rows.
TABULAR_OPTIONS = {"explain_max_rows": 4000}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def pdf_pages(pdf: bytes) -> int:
    """Count the pages of a PDF written by Chromium (``/Type /Page`` objects)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def audit_model(name: str, folder: Path, *, epochs: int, rows: int, n_boot: int,
                seed: int) -> tuple[Any, dict[str, float]]:  # fmt: skip
    """Train ``name`` into ``folder`` and audit it; return the result and the timings."""
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {"seed": seed}
    if epochs:
        kwargs["max_epochs"] = epochs
    if rows:
        kwargs["limit_train_rows"] = rows
    ckpt = auditkit.train(name, out=folder / f"{name}.ckpt", **kwargs)
    t1 = time.perf_counter()
    loaded = auditkit.load_checkpoint(ckpt)
    options: dict[str, Any] = {"command": f"python benchmarks/bench_cards.py ({name})"}
    if loaded.schema.modality == "tabular":
        options.update(TABULAR_OPTIONS)  # images and text keep their small defaults
    result = auditkit.audit(loaded, n_boot=n_boot, random_state=seed, options=options)
    t2 = time.perf_counter()
    return result, {"train_s": t1 - t0, "audit_s": t2 - t1}


def print_card(browser: Any, html_path: Path, name: str) -> dict[str, Any]:
    """Open a card offline, screenshot it and print it to A4; return what was seen."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    url = html_path.resolve().as_uri()
    outside: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(url, wait_until="load")
    t_load = time.perf_counter() - t0
    page.screenshot(path=str(OUT / f"{name}-first-screen.png"))
    page.screenshot(path=str(OUT / f"{name}-full.png"), full_page=True)
    t1 = time.perf_counter()
    pdf = page.pdf(format="A4", print_background=True)
    t_pdf = time.perf_counter() - t1
    (OUT / f"{name}.pdf").write_bytes(pdf)
    height = page.evaluate("document.documentElement.scrollHeight")
    ctx.close()
    return {"pages": pdf_pages(pdf), "pdf_bytes": len(pdf), "load_s": t_load, "pdf_s": t_pdf,
            "outside": outside, "errors": errors, "height_px": height}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    ap.add_argument("--epochs", type=int, default=3, help="max epochs (0: model default)")
    ap.add_argument("--rows", type=int, default=3000, help="training rows (0: all)")
    ap.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("Chromium is not installed (apt-get install chromium).", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            print(f"{name}: training and auditing...", file=sys.stderr)
            result, times = audit_model(name, Path(tmp), epochs=args.epochs, rows=args.rows,
                                        n_boot=args.n_boot, seed=args.seed)  # fmt: skip
            t0 = time.perf_counter()
            paths = write_outputs(result, Path(tmp) / name)
            times["render_s"] = time.perf_counter() - t0
            shutil.copy(paths["html"], OUT / f"{name}-card.html")
            shutil.copy(paths["markdown"], OUT / f"{name}-card.md")
            seen = print_card(browser, paths["html"], name)
            ok = [s.name for s in result.sections if s.status == "ok"]
            rows.append({
                "model": name, **times, **seen,
                "html_kb": paths["html"].stat().st_size / 1024,
                "md_kb": paths["markdown"].stat().st_size / 1024,
                "json_kb": len(to_json(result).encode()) / 1024,
                "sections": ", ".join(ok), "n_metrics": len(result.metrics),
            })  # fmt: skip
            r = rows[-1]
            print(f"{name}: {r['pages']} A4 pages, HTML {r['html_kb']:.0f} KB, "
                  f"{len(r['outside'])} outside requests, {len(r['errors'])} console errors",
                  file=sys.stderr)  # fmt: skip
        browser.close()
        version = browser.version
    lines = [
        "## Model cards printed to PDF",
        "",
        f"Machine: {machine()}; Chromium {version} (headless, Playwright).",
        "",
        f"Produced by `python benchmarks/bench_cards.py` (checkpoints trained by "
        f"`auditkit.train` with max_epochs={args.epochs or 'default'}, "
        f"limit_train_rows={args.rows or 'all'}, seed {args.seed}; audits with every section, "
        f"n_boot={args.n_boot}). Each HTML card is printed to A4 by Chromium (`page.pdf`, "
        "backgrounds on); the long lists of every figure are left to the on-screen card and "
        "`audit.json` in print. Screenshots and PDFs: `benchmarks/_out/` (not versioned).",
        "",
        "| model | sections run | figures | A4 pages | HTML KB | Markdown KB | JSON KB | "
        "page height px | outside requests | console errors | train s | audit s | render s | "
        "print s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['sections']} | {r['n_metrics']:,} | {r['pages']} | "
            f"{r['html_kb']:.0f} | {r['md_kb']:.0f} | {r['json_kb']:.0f} | {r['height_px']:,} | "
            f"{len(r['outside'])} | {len(r['errors'])} | {r['train_s']:.1f} | "
            f"{r['audit_s']:.1f} | {r['render_s']:.2f} | {r['pdf_s']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section("cards", text)
    bad = [r["model"] for r in rows if r["outside"] or r["errors"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
