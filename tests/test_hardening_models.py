"""Hardening of model files and the inputs beside them: small hostile files cost little.

Each attack is a small file built here: a checkpoint whose hyper-parameters claim a huge
model, tensors (stride 0, a billion elements over one) in the metadata, zip bombs, a legacy
file, a pickle memo bomb, a symbolic link to ``/dev/zero``, FIFOs as checkpoint, ``--data`` and
``--predictions``, a malformed ``history``. Each must be refused with a clear error (exit 2 in
the CLI) in well under 10 s, and all of them together in one fresh process must stay under
1 GB of memory (``ru_maxrss``; the process itself, with torch and Lightning, takes ~0.4 GB).

The text-column tests check that a text model audited on a table reads its texts from one
column by name, never the column names.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from _limits import PEAK_CODE, time_limit

import auditkit
from auditkit.cli import main
from auditkit.exceptions import CheckpointError, DataValidationError, ParameterError
from auditkit.models._text import tokenize
from auditkit.models.checkpoint import MAX_CHECKPOINT_BYTES, MAX_PARAMETERS, load_checkpoint


# ------------------------------------------------------------------------------ file builders
@pytest.fixture(scope="module")
def iris(tiny_ckpt: Callable[[str], Path]) -> Path:
    return tiny_ckpt("iris-mlp")


@pytest.fixture(scope="module")
def raw(iris: Path) -> dict[str, Any]:
    return torch.load(iris, weights_only=True)


def save(ckpt: Any, path: Path) -> Path:
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    path.write_bytes(buf.getvalue())
    return path


def with_meta(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**raw, "auditkit": {**raw["auditkit"], **changes}}


def _zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive of ``(name, payload, method, crc, declared size)``, written by hand."""
    out, central = bytearray(), bytearray()
    for name, payload, method, crc, size in entries:
        offset = len(out)
        n = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                           len(payload), size, len(n), 0) + n + payload  # fmt: skip
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                               crc, len(payload), size, len(n), 0, 0, 0, 0, 0,
                               offset) + n  # fmt: skip
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                       len(out), 0)  # fmt: skip
    return bytes(out + central + eocd)


def zip_bomb(checkpoint: bytes, mib: int) -> bytes:
    """The checkpoint's entries (stored) plus one deflated entry of ``mib`` MiB of zeros.

    The deflate stream is one compressed MiB repeated (a full flush resets the compressor, so
    every segment is the same bytes): ``mib`` MiB inflate from about ``mib`` KB.
    """
    zf = zipfile.ZipFile(io.BytesIO(checkpoint))
    entries = [
        (i.filename, zf.read(i.filename), 0, zlib.crc32(zf.read(i.filename)), i.file_size)
        for i in zf.infolist()
    ]
    block = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    stream = segment * mib + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    prefix = entries[0][0].split("/")[0]
    return _zip([*entries, (f"{prefix}/data/99", stream, 8, crc, mib << 20)])


def test_the_zip_bomb_is_real() -> None:
    """The builder's stream inflates to what it declares (checked on a small one)."""
    data = zip_bomb(_tiny_checkpoint(), 8)
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.infolist()[-1]
    assert info.file_size == 8 << 20 and info.compress_size < 10_000
    assert zf.read(info.filename) == bytes(8 << 20)  # CRC checked by zipfile too


def _tiny_checkpoint() -> bytes:
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(3)}, "auditkit": {"format_version": 1}}, buf)
    return buf.getvalue()


def _expanded_weights(raw: dict[str, Any], hidden: list[int]) -> dict[str, Any]:
    from auditkit.models import MODEL_REGISTRY

    meta = raw["auditkit"]
    hp = {**meta["hparams"], "hidden": hidden}
    with torch.device("meta"):
        shapes = MODEL_REGISTRY.get(meta["model_name"])(
            schema=meta["schema"], preprocessing=meta["preprocessing"], **hp
        ).state_dict()
    sd = {k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in shapes.items()}
    return {**with_meta(raw, hparams=hp), "state_dict": sd}


def _memo_bomb() -> list[Any]:
    """A list that pickles in a few KB but holds 1000**3 references when walked."""
    a = [0] * 1000
    b = [a] * 1000
    return [b] * 1000


#: case -> (builder(raw checkpoint dict, the checkpoint's bytes, path) -> path, expected words)
ATTACKS: dict[str, tuple[Callable[[dict[str, Any], bytes, Path], Path], str]] = {
    # hidden=[40000, 40000] claims 1.6 billion parameters (6.4 GB) in a 6 KB file
    "wide hparams": (
        lambda raw, data, p: save(
            with_meta(raw, hparams={**raw["auditkit"]["hparams"], "hidden": [40000, 40000]}), p
        ),
        "describe a iris-mlp of 1,600,",
    ),
    # modest widths that fit the ceiling, but not the weights in the file
    "hparams unlike the weights": (
        lambda raw, data, p: save(
            with_meta(raw, hparams={**raw["auditkit"]["hparams"], "hidden": [4000, 4000]}), p
        ),
        "do not match the iris-mlp architecture",
    ),
    # the shapes agree with the hyper-parameters (25 million parameters, under the ceiling),
    # but every weight is one number expanded with stride 0: 100 MB claimed by a 7 KB file
    "stride-0 weights": (
        lambda raw, data, p: save(_expanded_weights(raw, [5000, 5000]), p),
        "(a strided view, such as a stride-0 expansion); weights must be stored whole",
    ),
    "stride-0 tensor as history": (
        lambda raw, data, p: save(with_meta(raw, history=torch.zeros(1).expand(10**9)), p),
        "tensor in its metadata (auditkit['history'], shape (1000000000,))",
    ),
    "stride-0 tensor in hyper_parameters": (
        lambda raw, data, p: save(
            {
                **raw,
                "hyper_parameters": {**raw["hyper_parameters"], "x": torch.zeros(1).expand(10**9)},
            },
            p,
        ),  # fmt: skip
        "tensor in its metadata",
    ),
    "zip bomb (1 MB, 1000 MiB inside)": (
        lambda raw, data, p: _write(p, zip_bomb(data, 1000)),
        "auditkit refuses entries compressed over 20 times",
    ),
    "zip bomb over the ceiling": (
        lambda raw, data, p: _write(p, zip_bomb(data, 1100)),
        "over auditkit's ceiling of 1,073,741,824 bytes; nothing was decompressed",
    ),
    "legacy format": (
        lambda raw, data, p: _legacy(raw, p),
        "not a zip-format PyTorch checkpoint",
    ),
    "pickle memo bomb": (
        lambda raw, data, p: save(with_meta(raw, notes=_memo_bomb()), p),
        "metadata of more than 2,000,000 values",
    ),
    "link to /dev/zero": (
        lambda raw, data, p: _link(p, "/dev/zero"),
        "is a character device, not a regular file",
    ),
    "FIFO": (
        lambda raw, data, p: _fifo(p),
        "is a FIFO (named pipe), not a regular file",
    ),
    "history not a list": (
        lambda raw, data, p: save(with_meta(raw, history="epoch 1: fine"), p),
        "'history' is a str, expected a list",
    ),
    "history row not a dict": (
        lambda raw, data, p: save(with_meta(raw, history=[5]), p),
        "history[0] is a int, expected a dict",
    ),
    "history value not a number": (
        lambda raw, data, p: save(
            with_meta(raw, history=[{**raw["auditkit"]["history"][0], "val_loss": [1.0]}]), p
        ),  # fmt: skip
        "history[0]['val_loss'] is list [1.0], expected a number",
    ),
    "history row missing a key": (
        lambda raw, data, p: save(with_meta(raw, history=[{"epoch": 1}]), p),
        "history[0]['train_loss'] is missing",
    ),
    "training not a dict": (
        lambda raw, data, p: save(with_meta(raw, training=[1, 2]), p),
        "'training' is a list, expected a dict",
    ),
}


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _legacy(raw: dict[str, Any], p: Path) -> Path:
    torch.save(raw, p, _use_new_zipfile_serialization=False)
    return p


def _link(p: Path, target: str) -> Path:
    p.symlink_to(target)
    return p


def _fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


@pytest.fixture(scope="module")
def attacks(
    raw: dict[str, Any], iris: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    data = iris.read_bytes()
    folder = tmp_path_factory.mktemp("attacks")
    paths = {}
    for i, (case, (build, _)) in enumerate(ATTACKS.items()):
        paths[case] = build(raw, data, folder / f"attack{i}.ckpt")
        if paths[case].is_file() and not paths[case].is_symlink():
            assert paths[case].stat().st_size < 2 << 20, case  # small files, every one
    return paths


@pytest.mark.parametrize("case", list(ATTACKS))
def test_attack_is_refused_at_once(attacks: dict[str, Path], case: str) -> None:
    path = attacks[case]
    t0 = time.monotonic()
    with time_limit(10), pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert time.monotonic() - t0 < 10
    msg = str(info.value)
    assert str(path) in msg
    assert ATTACKS[case][1] in msg, msg


@pytest.mark.parametrize(
    "case", ["wide hparams", "zip bomb (1 MB, 1000 MiB inside)", "link to /dev/zero", "FIFO",
             "history not a list", "history value not a number"],
)  # fmt: skip
@pytest.mark.parametrize("command", ["info", "audit"])
def test_cli_refuses_each_attack_with_exit_2(
    attacks: dict[str, Path], case: str, command: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    argv = [command, str(attacks[case])]
    if command == "audit":
        argv += ["--out", str(tmp_path / "out"), "--no-progress"]
    with time_limit(10):
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("auditkit: error: ")
    assert not (tmp_path / "out").exists()


def test_all_attacks_stay_under_1_gb_in_a_fresh_process(
    attacks: dict[str, Path], tmp_path: Path
) -> None:
    """Peak memory (ru_maxrss) of one process that loads torch, Lightning and every attack."""
    script = PEAK_CODE + textwrap.dedent(
        """
        import json, sys, time
        from auditkit.models import MODEL_REGISTRY  # torch and Lightning: the baseline
        assert "adult-mlp" in MODEL_REGISTRY
        from auditkit.models.checkpoint import load_checkpoint
        from auditkit.exceptions import CheckpointError
        base = peak_kb()
        out = {}
        for case, path in json.loads(sys.argv[1]).items():
            t0 = time.monotonic()
            try:
                load_checkpoint(path)
                out[case] = "loaded"
            except CheckpointError:
                out[case] = "refused"
            out[case] += " %.2f" % (time.monotonic() - t0)
        peak = peak_kb()
        print(json.dumps({"base_kb": base, "peak_kb": peak, "cases": out}))
        """
    )
    arg = json.dumps({k: str(v) for k, v in attacks.items()})
    proc = subprocess.run(
        [sys.executable, "-c", script, arg], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for case, outcome in report["cases"].items():
        verdict, seconds = outcome.split()
        assert verdict == "refused", case
        assert float(seconds) < 10, (case, seconds)
    assert report["peak_kb"] < (1 << 20), report  # under 1 GiB, torch and Lightning included
    assert report["peak_kb"] - report["base_kb"] < (200 << 10), report  # the attacks: < 200 MB


def test_ceilings_are_documented_and_sane() -> None:
    assert MAX_CHECKPOINT_BYTES == 1 << 30
    assert MAX_PARAMETERS * 4 <= 1 << 30  # float32 weights of the largest model: <= 1 GiB
    import auditkit.models.checkpoint as ck

    for name in ("MAX_CHECKPOINT_BYTES", "MAX_PARAMETERS", "MAX_COMPRESSION_RATIO",
                 "MAX_METADATA_ITEMS", "MAX_METADATA_DEPTH"):  # fmt: skip
        assert name in (ck.__doc__ or ""), name


def test_real_checkpoints_still_load(iris: Path) -> None:
    model = load_checkpoint(iris)
    from auditkit.data import load_dataset

    X = load_dataset("iris").test.X
    assert model.predict_proba(X).shape == (len(X), 3)


# --------------------------------------------------------------- FIFOs and devices as inputs
def _log(folder: Path) -> Path:
    log = folder / "log.csv"
    rows = "".join(f"{i % 2},{(i // 2) % 2},{'ab'[i % 3 > 0]}\n" for i in range(60))
    log.write_text("y,p,g\n" + rows)
    return log


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("mode", ["in-memory", "out-of-core", "glob"])
def test_predictions_that_are_not_regular_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, mode: str
) -> None:
    bad = tmp_path / "log.csv"
    if kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to("/dev/zero")
    pred = str(tmp_path / "l*.csv") if mode == "glob" else str(bad)
    argv = ["audit", "--predictions", pred, "--y-true", "y", "--y-pred", "p",
            "--sensitive", "g", "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    if mode == "out-of-core":
        argv.append("--out-of-core")
    t0 = time.monotonic()
    with time_limit(10):
        assert main(argv) == 2
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err.strip()
    what = "FIFO (named pipe)" if kind == "fifo" else "character device"
    assert f"'{bad}' is a {what}, not a regular file" in err
    assert err.count("\n") == 0


def test_python_audit_predictions_refuses_a_fifo(tmp_path: Path) -> None:
    bad = tmp_path / "log.csv"
    os.mkfifo(bad)
    with time_limit(10), pytest.raises(DataValidationError, match="FIFO"):
        auditkit.audit_predictions(data=str(bad), y_true="y", y_pred="p", sensitive_features="g")


def test_data_file_that_is_a_fifo_is_refused_before_the_model_loads(
    iris: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rows.csv"
    os.mkfifo(bad)
    argv = ["audit", str(iris), "--data", str(bad), "--target", "species",
            "--out", str(tmp_path / "out")]  # fmt: skip
    with time_limit(10):
        assert main(argv) == 2
    assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err


# ------------------------------------------------------------------------ text column by name
REVIEWS = [
    "a great film with wonderful acting",
    "terrible and boring, the worst movie",
    "bad plot but a great cast",
]


def _reviews(folder: Path, text: str = "text") -> tuple[Path, pd.DataFrame]:
    """Three rows and three input columns (plus the label): as many columns as rows."""
    df = pd.DataFrame({
        text: REVIEWS, "grp": ["a", "b", "a"], "stars": [5, 1, 3],
        "label": ["positive", "negative", "negative"],
    })  # fmt: skip
    path = folder / "reviews.csv"
    df.to_csv(path, index=False)
    return path, df


@pytest.fixture(scope="module")
def imdb(tiny_ckpt: Callable[[str], Path]) -> Path:
    return tiny_ckpt("imdb-lstm")


def _expected_tokens(model: Any, text: str) -> list[str]:
    vocab = set(model.module.preprocessing["vocab"])
    return [t if t in vocab else "<unk>" for t in tokenize(text)]


def test_text_model_reads_the_text_column_of_a_frame(imdb: Path, tmp_path: Path) -> None:
    model = load_checkpoint(imdb)
    _, df = _reviews(tmp_path)
    X = df.drop(columns=["label"])
    assert X.shape == (3, 3)  # list(X) would be three strings too: the column names
    assert torch.equal(model.encode(X), model.encode(REVIEWS))
    assert not torch.equal(model.encode(X), model.encode(list(X)))
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(REVIEWS))
    with pytest.raises(DataValidationError, match=r"Text column 'text' not found.*review, grp"):
        model.predict_proba(X.rename(columns={"text": "review"}))
    adapter = model.as_adapter(text_column="review")
    np.testing.assert_array_equal(
        adapter.predict_proba(X.rename(columns={"text": "review"})), model.predict_proba(REVIEWS)
    )
    with pytest.raises(ParameterError, match="tabular model"):
        load_checkpoint(_iris_path(tmp_path)).as_adapter(text_column="text")


def _iris_path(tmp_path: Path) -> Path:
    from auditkit.models.training import train

    return train("iris-mlp", out=tmp_path / "i.ckpt", max_epochs=1, limit_train_rows=60, seed=0)


def _token_rows(out: Path) -> list[list[str]]:
    data = json.loads((out / "audit.json").read_text())
    (section,) = [s for s in data["sections"] if s["name"] == "explainability"]
    (chart,) = [c for c in section["charts"] if c["kind"] == "tokens"]
    return [row["tokens"] for row in chart["data"]["rows"]]


def test_cli_audits_the_texts_not_the_column_names(
    imdb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = load_checkpoint(imdb)
    data, _ = _reviews(tmp_path)
    out = tmp_path / "out"
    argv = ["audit", str(imdb), "--data", str(data), "--target", "label", "--sensitive", "grp",
            "--sections", "explainability", "--explain-rows", "0,1,2", "--out", str(out),
            "--no-progress", "--n-boot", "10"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = _token_rows(out)
    assert sorted(map(tuple, rows)) == sorted(tuple(_expected_tokens(model, t)) for t in REVIEWS)
    assert not {"text", "grp", "stars"} & {t for r in rows for t in r}


def test_cli_text_column_flag_and_a_missing_column(
    imdb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = load_checkpoint(imdb)
    data, _ = _reviews(tmp_path, text="review")
    base = ["audit", str(imdb), "--data", str(data), "--target", "label", "--sensitive", "grp",
            "--out", str(tmp_path / "out"), "--no-progress", "--n-boot", "10"]  # fmt: skip
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "auditkit: error: Text column 'text' (the checkpoint's own text column) not found in "
        "reviews.csv; available: review, grp, stars; name the column that holds the texts "
        "with --text-column."
    )
    assert main([*base, "--text-column", "reveiw"]) == 2
    assert "Text column 'reveiw' not found in reviews.csv (did you mean 'review'?)" in (
        capsys.readouterr().err
    )
    argv = [*base, "--text-column", "review", "--sections", "explainability",
            "--explain-rows", "0,1,2"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = _token_rows(tmp_path / "out")
    assert sorted(map(tuple, rows)) == sorted(tuple(_expected_tokens(model, t)) for t in REVIEWS)


def test_cli_text_column_needs_a_text_model_and_a_data_file(
    iris: Path, imdb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(iris), "--text-column", "text"]) == 2
    assert "--text-column goes with a text model; iris-mlp is a tabular model" in (
        capsys.readouterr().err
    )
    assert main(["audit", str(imdb), "--text-column", "text"]) == 2
    assert "--text-column names the text column of a --data FILE" in capsys.readouterr().err


# ------------------------------------------------------------------------- zip entry counts
@pytest.mark.parametrize("n_extra", [5, 70_000])  # 70,000: past 65,535, a zip64 end record
def test_zip_entry_count_is_read_before_parsing(
    iris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_extra: int
) -> None:
    import auditkit.models.checkpoint as ck

    zin = zipfile.ZipFile(iris)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        prefix = zin.infolist()[0].filename.split("/")[0]
        for i in range(n_extra):
            zout.writestr(f"{prefix}/x{i}", b"")
    data = buf.getvalue()
    total = len(zin.infolist()) + n_extra
    assert ck._zip_entry_count(data) == total
    path = tmp_path / "entries.ckpt"
    path.write_bytes(data)
    monkeypatch.setattr(ck, "MAX_ZIP_ENTRIES", total - 1)
    with pytest.raises(CheckpointError, match=f"declares {total:,} zip entries"):
        load_checkpoint(path)


def test_a_zip_header_claiming_an_unknown_version_is_a_clear_error(tmp_path: Path) -> None:
    """A damaged central directory whose 'version needed' is 16.2 made zipfile raise
    NotImplementedError (exit 3 in the fuzz run); it is a corrupt checkpoint (exit 2)."""
    from auditkit.cli import main
    from auditkit.exceptions import CheckpointError
    from auditkit.models.checkpoint import load_checkpoint

    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(2)}}, buf)
    raw = bytearray(buf.getvalue())
    cd = raw.find(b"PK\x01\x02")  # the first central-directory record
    assert cd > 0
    raw[cd + 6 : cd + 8] = struct.pack("<H", 162)  # "version needed to extract": 16.2
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)
    assert main(["info", str(bad)]) == 2
