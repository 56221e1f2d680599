"""Bytes flipped inside the tensor data of a real checkpoint are refused, every time.

torch does not check the zip CRC of the records it reads, so a damaged or edited tensor record
loads as different weights. ``save_checkpoint`` records a sha256 digest of the state dict
(keys, dtypes, shapes and tensor bytes) and ``load_checkpoint`` compares it; this test flips
bytes at every position (iris) or at many positions (adult) of every tensor record and
asserts a ``CheckpointError`` naming the file. A flip may load cleanly only where it changes
no weight of the state dict (torch.load is the judge), and then the model must be exactly
the original one; in these checkpoints every tensor byte belongs to the state dict, so the
test also asserts that no flip loads.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from auditkit.exceptions import CheckpointError
from auditkit.models.checkpoint import load_checkpoint


def tensor_regions(data: bytes) -> list[tuple[str, int, int]]:
    """(record name, first byte, size) of every tensor record's bytes in the file."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    out = []
    for info in zf.infolist():
        if "/data/" not in info.filename or info.filename.endswith("serialization_id"):
            continue
        assert info.compress_type == zipfile.ZIP_STORED  # torch stores records uncompressed
        n, m = struct.unpack_from("<HH", data, info.header_offset + 26)
        start = info.header_offset + 30 + n + m
        assert data[start : start + info.file_size] == zf.read(info.filename)
        out.append((info.filename, start, info.file_size))
    return out


def as_bytes(t: torch.Tensor) -> bytes:
    return bytes(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())


def weights_changed(path: Path, original: dict[str, torch.Tensor]) -> bool | None:
    """Whether torch reads different state-dict bytes from ``path`` (None: it cannot read it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd = torch.load(path, weights_only=True)["state_dict"]
    except Exception:  # noqa: BLE001 - torch's own error; load_checkpoint must refuse it too
        return None
    return any(as_bytes(sd[k]) != as_bytes(v) for k, v in original.items())


def check_flips(ckpt: Path, tmp: Path, positions: list[tuple[int, int]]) -> dict[str, int]:
    data = ckpt.read_bytes()
    original = torch.load(ckpt, weights_only=True)["state_dict"]
    reference = load_checkpoint(ckpt)
    counts = {"refused": 0, "loaded": 0, "outside": 0}
    path = tmp / "flipped.ckpt"
    for pos, mask in positions:
        b = bytearray(data)
        b[pos] ^= mask
        path.write_bytes(bytes(b))
        changed = weights_changed(path, original)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a refusal is clean: no warning on the way
                model = load_checkpoint(path)
        except CheckpointError as exc:
            assert "flipped.ckpt" in str(exc), str(exc)
            if changed:
                assert "digest" in str(exc) or "not finite" in str(exc) or "weight" in str(exc)
            counts["refused"] += 1
            continue
        # loaded: only acceptable when torch reads exactly the original weights
        assert changed is False, f"byte {pos} ^ {mask:#x} changed the weights and loaded"
        got = model.module.state_dict()
        assert all(as_bytes(got[k]) == as_bytes(v) for k, v in original.items())
        assert reference.sha256 != model.sha256  # the file differs, and provenance shows it
        counts["outside"] += 1
    return counts


MASKS = (0x01, 0x80, 0xFF, 0x10)


def test_every_byte_of_every_tensor_record_flipped_is_refused(
    tiny_ckpt: Callable[[str], Path], tmp_path: Path
) -> None:
    ckpt = tiny_ckpt("iris-mlp")
    regions = tensor_regions(ckpt.read_bytes())
    assert len(regions) >= 4  # two layers: weights and biases
    positions = [
        (start + i, MASKS[i % len(MASKS)]) for _, start, size in regions for i in range(size)
    ]
    counts = check_flips(ckpt, tmp_path, positions)
    assert counts["refused"] == len(positions), counts  # every tensor byte is a weight byte


def test_flipped_bytes_across_a_larger_checkpoint_are_refused(
    tiny_ckpt: Callable[[str], Path], tmp_path: Path
) -> None:
    ckpt = tiny_ckpt("adult-mlp")
    regions = tensor_regions(ckpt.read_bytes())
    rng = random.Random(0)
    positions: list[tuple[int, int]] = []
    for _, start, size in regions:  # first, last and random bytes of each record
        picks = {0, size - 1, *(rng.randrange(size) for _ in range(min(size, 24)))}
        positions += [(start + i, rng.choice(MASKS)) for i in sorted(picks)]
    assert len(positions) > 100
    counts = check_flips(ckpt, tmp_path, positions)
    assert counts["refused"] == len(positions), counts


def test_a_checkpoint_without_its_digest_is_still_read(
    tiny_ckpt: Callable[[str], Path], tmp_path: Path
) -> None:
    """Checkpoints written before the digest existed load (their weights cannot be checked)."""
    raw: dict[str, Any] = torch.load(tiny_ckpt("iris-mlp"), weights_only=True)
    meta = {k: v for k, v in raw["auditkit"].items() if k != "weights_sha256"}
    buf = io.BytesIO()
    torch.save({**raw, "auditkit": meta}, buf)
    path = tmp_path / "old.ckpt"
    path.write_bytes(buf.getvalue())
    model = load_checkpoint(path)
    assert set(model.module.state_dict()) == set(raw["state_dict"])
    # the model block (and the card's provenance) says the weights were not checked
    assert model.describe()["weights_digest"].startswith("absent")
    fresh = load_checkpoint(tiny_ckpt("iris-mlp"))
    assert fresh.describe()["weights_digest"].startswith("checked")
