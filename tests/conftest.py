"""Shared test fixtures.

* ``tiny_ckpt(name)``: trains reference model ``name`` once per test session for one epoch on a
  small stratified slice of its training data (seconds) and returns the checkpoint path.
* torch uses one CPU thread in tests (``AUDITKIT_TEST_THREADS`` overrides).
* An autouse guard that fails a test which leaves Lightning output (``lightning_logs/``,
  ``checkpoints/``) in the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

TINY_ROWS = 300

# The test machines are small and shared: several torch threads per process on oversubscribed
# cores wait for each other and run many times slower than one. Override with
# AUDITKIT_TEST_THREADS=N.
torch.set_num_threads(int(os.environ.get("AUDITKIT_TEST_THREADS", "1")))
_LIGHTNING_LITTER = ("lightning_logs", "checkpoints")


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Factory: ``tiny_ckpt("adult-mlp") -> Path`` of a 1-epoch checkpoint, cached per session.

    Models: "adult-mlp", "iris-mlp", "mnist-mlp", "cifar10-cnn", "imdb-lstm". The checkpoint is
    real (full metadata, test metrics on the whole test split) but barely trained: use it for
    plumbing, not for accuracy.
    """
    folder = tmp_path_factory.mktemp("tiny_ckpt")
    cache: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in cache:
            from auditkit.models.training import train

            cache[name] = train(
                name, out=folder / f"{name}.ckpt", max_epochs=1, limit_train_rows=TINY_ROWS, seed=0
            )
        return cache[name]

    return make


@pytest.fixture(autouse=True)
def _no_lightning_litter() -> Iterator[None]:
    """Fail a test that writes Lightning's default output folders into the working directory."""
    cwd = Path(os.getcwd())
    before = {d for d in _LIGHTNING_LITTER if (cwd / d).exists()}
    yield
    created = [d for d in _LIGHTNING_LITTER if (cwd / d).exists() and d not in before]
    if created:
        pytest.fail(
            f"The test left {', '.join(created)} in {cwd}; use logger=False, "
            "enable_checkpointing=False or default_root_dir=tmp_path."
        )


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A local Spark session (2 cores) for the tests marked ``spark``; skipped without PySpark or
    Java."""
    import shutil

    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (java is not on PATH)")
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("auditkit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
