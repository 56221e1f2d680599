"""The wheel carries the card templates, the JSON schema and the bundled data files."""

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
    for name in ("pyproject.toml", "README.md"):
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
    assert "auditkit/report/schema/audit_result.v1.json" in names
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
