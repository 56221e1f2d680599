import json

from auditkit.cli import main


def test_explain_rows_reach_the_local_explanations(tiny_ckpt, tmp_path, capsys):
    ckpt = tiny_ckpt("iris-mlp")
    out = tmp_path / "out"
    code = main(
        [
            "audit",
            str(ckpt),
            "--sections",
            "explainability",
            "--n-boot",
            "10",
            "--explain-rows",
            "3,7",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "audit.json").read_text())
    (section,) = [s for s in doc["sections"] if s["name"] == "explainability"]
    (table,) = [t for t in section["tables"] if t["name"] == "local_explanations"]
    requested = [row for row in table["rows"] if "requested" in str(row[1]).lower()]
    assert [row[0] for row in requested] == [3, 7], table["rows"]


def test_explain_rows_must_be_numbers(tiny_ckpt, tmp_path, capsys):
    code = main(
        [
            "audit",
            str(tiny_ckpt("iris-mlp")),
            "--explain-rows",
            "a,b",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--explain-rows takes comma-separated row numbers" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
