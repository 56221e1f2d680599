"""Checkpoints load with weights_only=True only: hostile or broken files get CheckpointError."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from auditkit.exceptions import CheckpointError
from auditkit.models.checkpoint import load_checkpoint, read_checkpoint


class _TouchPayload:
    """Unpickling this object creates ``path`` (the classic ``__reduce__`` payload)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def _raw(path: Path) -> dict[str, Any]:
    return torch.load(path, weights_only=True)


def _save(ckpt: Any, path: Path) -> Path:
    torch.save(ckpt, path)
    return path


@pytest.fixture
def iris_raw(tiny_ckpt: Any) -> dict[str, Any]:
    return _raw(tiny_ckpt("iris-mlp"))


def test_payload_is_real_when_loaded_unsafely(tmp_path: Path) -> None:
    """Control: the payload does create its file when unpickled without weights_only."""
    marker = tmp_path / "pwned-control"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "auditkit": _TouchPayload(marker)}, ckpt)
    code = f"import torch; torch.load({str(ckpt)!r}, weights_only=False)"
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize("where", ["metadata", "state_dict", "top"])
def test_pickled_payload_is_refused_and_never_runs(
    tmp_path: Path, iris_raw: dict, where: str
) -> None:
    marker = tmp_path / "pwned"
    evil = _TouchPayload(marker)
    if where == "metadata":
        ckpt = {**iris_raw, "auditkit": {**iris_raw["auditkit"], "extra": evil}}
    elif where == "state_dict":
        ckpt = {**iris_raw, "state_dict": {**iris_raw["state_dict"], "x": evil}}
    else:
        ckpt = evil
    path = _save(ckpt, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="pickled Python object") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "weights_only=True" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_raw_pickle_file_is_refused_and_never_runs(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.ckpt"
    path.write_bytes(pickle.dumps({"auditkit": _TouchPayload(marker)}, protocol=protocol))
    with pytest.raises(CheckpointError, match="model.ckpt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_payload_in_legacy_torch_format_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.ckpt"
    torch.save({"auditkit": _TouchPayload(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="legacy.ckpt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_payload_refused_in_fresh_interpreter(tmp_path: Path, iris_raw: dict) -> None:
    """End to end in a clean process, the way a user would load a downloaded file."""
    marker = tmp_path / "pwned-subprocess"
    path = _save({**iris_raw, "auditkit": _TouchPayload(marker)}, tmp_path / "evil.ckpt")
    code = textwrap.dedent(
        f"""
        import auditkit
        try:
            auditkit.load_checkpoint({str(path)!r})
        except auditkit.exceptions.CheckpointError as e:
            print("refused:", e)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "refused:" in res.stdout and "evil.ckpt" in res.stdout
    assert not marker.exists()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.ckpt"
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load_checkpoint(path)
    assert "nope.ckpt" in str(info.value)


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.ckpt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.ckpt.*is empty"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path: Path, tiny_ckpt: Any, keep: float) -> None:
    data = tiny_ckpt("iris-mlp").read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="cut.ckpt.*(truncated or corrupt|cannot be read)"):
        load_checkpoint(path)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    import numpy as np

    path = tmp_path / "noise.ckpt"
    path.write_bytes(np.random.default_rng(seed).bytes(2000))
    with pytest.raises(CheckpointError, match="noise.ckpt"):
        load_checkpoint(path)


def test_flipped_bytes_inside_the_archive(tmp_path: Path, tiny_ckpt: Any) -> None:
    data = bytearray(tiny_ckpt("iris-mlp").read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)
    path = tmp_path / "flipped.ckpt"
    path.write_bytes(bytes(data))
    try:
        model = load_checkpoint(path)
    except CheckpointError as exc:
        assert "flipped.ckpt" in str(exc)
    else:  # the zeroed bytes fell inside a weight tensor: the hash tells the files apart
        assert model.sha256 != load_checkpoint(tiny_ckpt("iris-mlp")).sha256


def test_not_a_dict(tmp_path: Path) -> None:
    path = _save([1, 2, 3], tmp_path / "list.ckpt")
    with pytest.raises(CheckpointError, match="list.ckpt.*holds a list"):
        load_checkpoint(path)


def test_plain_lightning_checkpoint_without_metadata(tmp_path: Path, iris_raw: dict) -> None:
    ckpt = {k: v for k, v in iris_raw.items() if k != "auditkit"}
    path = _save(ckpt, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="plain.ckpt.*no auditkit metadata"):
        load_checkpoint(path)


def test_unknown_model_name_lists_available(tmp_path: Path, iris_raw: dict) -> None:
    ckpt = {**iris_raw, "auditkit": {**iris_raw["auditkit"], "model_name": "resnet-9000"}}
    path = _save(ckpt, tmp_path / "unknown.ckpt")
    with pytest.raises(CheckpointError, match="unknown.ckpt.*'resnet-9000'") as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "Available:" in msg
    for name in ("adult-mlp", "cifar10-cnn", "imdb-lstm", "iris-mlp", "mnist-mlp"):
        assert name in msg


def test_newer_format_version(tmp_path: Path, iris_raw: dict) -> None:
    ckpt = {**iris_raw, "auditkit": {**iris_raw["auditkit"], "format_version": 2}}
    path = _save(ckpt, tmp_path / "future.ckpt")
    with pytest.raises(CheckpointError, match="future.ckpt.*written by a newer auditkit"):
        load_checkpoint(path)


@pytest.mark.parametrize("version", [None, "1", 0, -3, True, 1.0])
def test_invalid_format_version(tmp_path: Path, iris_raw: dict, version: Any) -> None:
    meta = {**iris_raw["auditkit"], "format_version": version}
    if version is None:
        del meta["format_version"]
    path = _save({**iris_raw, "auditkit": meta}, tmp_path / "badversion.ckpt")
    with pytest.raises(CheckpointError, match="badversion.ckpt.*format_version"):
        load_checkpoint(path)


@pytest.mark.parametrize("key", ["model_name", "hparams", "preprocessing", "schema"])
@pytest.mark.parametrize("how", ["missing", "wrong type"])
def test_missing_or_invalid_metadata_fields(
    tmp_path: Path, iris_raw: dict, key: str, how: str
) -> None:
    meta = dict(iris_raw["auditkit"])
    if how == "missing":
        del meta[key]
    else:
        meta[key] = 42
    path = _save({**iris_raw, "auditkit": meta}, tmp_path / "badmeta.ckpt")
    with pytest.raises(CheckpointError, match=f"badmeta.ckpt.*invalid auditkit metadata.*{key}"):
        load_checkpoint(path)


def test_metadata_not_a_dict(tmp_path: Path, iris_raw: dict) -> None:
    path = _save({**iris_raw, "auditkit": "hello"}, tmp_path / "strmeta.ckpt")
    with pytest.raises(CheckpointError, match="strmeta.ckpt.*invalid auditkit metadata"):
        load_checkpoint(path)


def test_broken_schema(tmp_path: Path, iris_raw: dict) -> None:
    meta = {**iris_raw["auditkit"], "schema": {"name": "iris"}}
    path = _save({**iris_raw, "auditkit": meta}, tmp_path / "schema.ckpt")
    with pytest.raises(CheckpointError, match="schema.ckpt.*schema cannot be read"):
        load_checkpoint(path)


def test_invalid_hparams(tmp_path: Path, iris_raw: dict) -> None:
    meta = {**iris_raw["auditkit"], "hparams": {**iris_raw["auditkit"]["hparams"], "bogus": 1}}
    path = _save({**iris_raw, "auditkit": meta}, tmp_path / "hp.ckpt")
    with pytest.raises(CheckpointError, match="hp.ckpt.*invalid auditkit metadata.*'bogus'"):
        load_checkpoint(path)


def test_missing_state_dict(tmp_path: Path, iris_raw: dict) -> None:
    ckpt = {k: v for k, v in iris_raw.items() if k != "state_dict"}
    path = _save(ckpt, tmp_path / "nosd.ckpt")
    with pytest.raises(CheckpointError, match="nosd.ckpt.*state_dict"):
        load_checkpoint(path)


def test_state_dict_shape_mismatch(tmp_path: Path, iris_raw: dict) -> None:
    sd = dict(iris_raw["state_dict"])
    key = next(k for k, v in sd.items() if v.ndim == 2)
    sd[key] = torch.zeros(sd[key].shape[0] + 1, sd[key].shape[1])
    path = _save({**iris_raw, "state_dict": sd}, tmp_path / "shape.ckpt")
    with pytest.raises(CheckpointError, match="shape.ckpt.*do not match.*size mismatch") as info:
        load_checkpoint(path)
    assert key in str(info.value)


def test_state_dict_hparams_disagree(tmp_path: Path, iris_raw: dict) -> None:
    """Weights of one architecture with hyper-parameters describing another."""
    meta = {**iris_raw["auditkit"], "hparams": {**iris_raw["auditkit"]["hparams"], "hidden": [8]}}
    path = _save({**iris_raw, "auditkit": meta}, tmp_path / "arch.ckpt")
    with pytest.raises(CheckpointError, match="arch.ckpt.*do not match the iris-mlp"):
        load_checkpoint(path)


def test_state_dict_missing_key(tmp_path: Path, iris_raw: dict) -> None:
    sd = dict(iris_raw["state_dict"])
    sd.pop(next(iter(sd)))
    path = _save({**iris_raw, "state_dict": sd}, tmp_path / "missing_key.ckpt")
    with pytest.raises(CheckpointError, match="missing_key.ckpt.*do not match"):
        load_checkpoint(path)


def test_read_checkpoint_validates_without_building(tiny_ckpt: Any) -> None:
    ckpt, meta, digest = read_checkpoint(tiny_ckpt("iris-mlp"))
    assert meta["model_name"] == "iris-mlp"
    assert len(digest) == 64
    assert set(ckpt) >= {"state_dict", "hyper_parameters", "pytorch-lightning_version"}


def test_checkpoint_holds_only_tensors_and_plain_data(tiny_ckpt: Any) -> None:
    """Walk the whole file: every leaf is a tensor or a JSON-like primitive."""
    for name in ("adult-mlp", "imdb-lstm"):
        raw = _raw(tiny_ckpt(name))

        def walk(obj: Any, where: str) -> None:
            if isinstance(obj, dict):
                for k, v in obj.items():
                    assert type(k) is str, where
                    walk(v, f"{where}.{k}")
            elif isinstance(obj, list):
                for i, v in enumerate(obj):
                    walk(v, f"{where}[{i}]")
            else:
                assert isinstance(obj, torch.Tensor) or type(obj) in (
                    str,
                    int,
                    float,
                    bool,
                    type(None),
                ), f"{where} is {type(obj).__name__}"

        walk(raw, name)


def test_import_auditkit_is_light() -> None:
    code = textwrap.dedent(
        """
        import sys
        import auditkit
        heavy = [m for m in ("captum", "lightning", "pytorch_lightning", "fairlearn")
                 if m in sys.modules]
        print(",".join(heavy))
        """
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert res.stdout.strip() == ""


def test_cli_info_bad_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditkit.cli import main

    path = tmp_path / "broken.ckpt"
    path.write_bytes(io.BytesIO(b"not a checkpoint at all").getvalue())
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "broken.ckpt" in err
