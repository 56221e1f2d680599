"""The wheel carries every package, the card templates, the JSON schema and the bundled data.

A package that package discovery misses fails here: the wheel is installed in a fresh virtual
environment (the dependencies come from this one, auditkit only from the wheel) and runs an
audit from the command line and from Python.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy of the sources, so the build leaves nothing in the working tree.
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("auditkit", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(out)],
        cwd=src, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("auditkit-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_holds_templates_schema_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for t in ("card.html.j2", "_macros.html.j2", "card.css", "card.md.j2", "__init__.py"):
        assert f"auditkit/templates/{t}" in names, t
    assert "auditkit/result/schema/audit_result.v1.json" in names
    assert "auditkit/py.typed" in names
    data_files = {n for n in names if n.startswith("auditkit/data/_files/")}
    for f in (ROOT / "auditkit" / "data" / "_files").rglob("*"):
        if f.is_file() and f.suffix in (".gz", ".npz"):
            rel = f.relative_to(ROOT).as_posix()
            assert rel in data_files, rel
    assert not any(n.startswith("templates/") or n.startswith("tests/") for n in names)


def test_installed_wheel_renders_a_card(wheel: Path, tmp_path: Path) -> None:
    """Unpacked on its own (no source tree on the path), the wheel finds its templates."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import auditkit; from auditkit.report import render_html, render_markdown;"
        "from auditkit.result.records import AuditResult, SectionResult;"
        "r = AuditResult('1.0', '0', '2024-01-01T00:00:00Z', {}, {}, {},"
        " (SectionResult('performance', 'skipped', reason='none'),));"
        "assert auditkit.__file__.startswith(sys.argv[1]), auditkit.__file__;"
        "h = render_html(r); assert '<style>' in h and 'performance' in h.lower();"
        "print(len(render_markdown(r)))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, str(site)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_source_package_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (ROOT / "auditkit").rglob("__init__.py"):
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} is not in the wheel (package discovery missed it)"


def test_fresh_venv_with_the_wheel_runs_an_audit(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv: auditkit from the wheel only, its dependencies from this environment."""
    import site
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    fresh_site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(fresh_site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # The dependencies: this environment's site-packages as a plain path (its .pth files, the
    # editable auditkit among them, are not run from a path line).
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if p]
    (fresh_site / "zz_deps.pth").write_text("\n".join(deps) + "\n")
    rng = __import__("numpy").random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    pred = (y + (rng.random(n) < 0.2)) % 2
    sex = rng.choice(["F", "M"], n)
    log = tmp_path / "log.csv"
    log.write_text("y,yhat,sex\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(y, pred, sex)))
    out = tmp_path / "card"
    cli = subprocess.run(
        [str(py), "-m", "auditkit", "audit", "--predictions", str(log), "--y-true", "y",
         "--y-pred", "yhat", "--sensitive", "sex", "--n-boot", "50", "--no-progress",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-3000:]
    for name in ("audit.json", "card.html", "card.md"):
        assert (out / name).stat().st_size > 0, name
    code = (
        "import auditkit, sys;"
        "assert auditkit.__file__.startswith(sys.argv[1]), auditkit.__file__;"
        "r = auditkit.load_result(sys.argv[2]); print(r.sections[0].name)"
    )
    api = subprocess.run(
        [str(py), "-c", code, str(fresh_site), str(out / "audit.json")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert api.returncode == 0, api.stderr[-3000:]
