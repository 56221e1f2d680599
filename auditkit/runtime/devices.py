"""Several devices: training, scoring and attributions in several processes through Lightning.

auditkit starts the processes itself (``torch.multiprocessing`` with the *spawn* start method)
and each one runs Lightning's ``"ddp"`` strategy as a process launched from outside (as under
``torchrun``: ``LOCAL_RANK`` is set, so Lightning starts nothing more). The command line is never
run again, so the same call works from the ``auditkit`` command, from a script, from a test
runner and from a notebook; a script needs the usual ``if __name__ == "__main__":`` guard of
Python's spawn start method. A run started by an outside launcher (``torchrun``, SLURM,
Lightning's own ``"ddp"`` relaunch) is left to Lightning: each process then runs its own rank.

Scoring and attributions go through ``Trainer.predict``: Lightning hands every process an
interleaved share of the rows (``UnrepeatedDistributedSampler``: rank ``r`` of ``w`` gets rows
``r, r + w, r + 2w, ...``, no padding). Each batch carries the rows' original positions, the
processes return them with their results, and the results are put back in the original order;
every row must come back exactly once.

The parent process reads each rank's result from a file in a private temporary folder with
``torch.load(weights_only=True)`` (tensors and plain data only); the workers write nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import exceptions as _exc
from .._core.rows import take_rows
from .._core.validation import check_int, check_param
from ..exceptions import AuditkitError, ParameterError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .attribution import AttributionRun

__all__ = [
    "DDP_STRATEGIES",
    "attribute_on_devices",
    "batch_rows_for_budget",
    "is_rank_zero",
    "launch",
    "launched_externally",
    "logits_on_devices",
    "plan_processes",
    "worker_plugins",
]

logger = logging.getLogger(__name__)

#: Strategies for which auditkit starts the processes itself (all run Lightning's DDP).
DDP_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
#: Lightning's advisory warnings in the worker processes (rows and loaders are ours on purpose).
_WORKER_WARNINGS = (
    r".*does not have many workers.*",
    r".*The number of training batches.*",
    r".*smaller than the logging interval.*",
    r".*GPU available but not used.*",
    r".*treespec.*",
    r".*LeafSpec.*",
    r".*Trying to infer the `batch_size`.*",
    r".*recommended to use `self.log\(.*sync_dist=True.*",
    r".*Consider setting `persistent_workers=True`.*",
)
_LIGHTNING_LOGGERS = (
    "pytorch_lightning",
    "lightning.pytorch",
    "lightning_fabric",
    "lightning.fabric",
)
#: Rows of the probe that estimates the memory of a forward pass.
_PROBE_ROWS = 8


# ------------------------------------------------------------------------------ planning
def launched_externally() -> bool:
    """Whether this process is one rank of a run started by an outside launcher.

    ``torchrun`` and Lightning's own ``"ddp"`` relaunch set ``LOCAL_RANK`` (``torchrun`` also
    ``TORCHELASTIC_RUN_ID``) in every process they start; ``srun`` with several tasks sets
    ``SLURM_NTASKS`` (Lightning then takes the ranks from SLURM).
    """
    if "LOCAL_RANK" in os.environ or "TORCHELASTIC_RUN_ID" in os.environ:
        return True
    try:
        return int(os.environ.get("SLURM_NTASKS", "1")) > 1
    except ValueError:
        return False


def worker_plugins() -> list[Any]:
    """Lightning plugins of a process started by :func:`launch`.

    The process's rank comes from ``LOCAL_RANK`` (Lightning's own environment), never from
    variables it inherited from an outer launcher (``RANK`` of ``torchrun``, SLURM's).
    """
    from lightning_fabric.plugins.environments import LightningEnvironment

    return [LightningEnvironment()]


def is_rank_zero() -> bool:
    """Whether this process is the first (or only) rank: the one that writes and prints."""
    try:
        from lightning_fabric.utilities.rank_zero import rank_zero_only
    except ImportError:  # pragma: no cover - Lightning is a dependency
        return True
    return int(getattr(rank_zero_only, "rank", 0) or 0) == 0


def resolve_accelerator(accelerator: str) -> str:
    """``"auto"`` -> ``"gpu"`` where CUDA is available, else ``"cpu"``; others unchanged."""
    import torch

    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator == "cuda":
        return "gpu"
    return accelerator


def _device_count(accelerator: str, devices: Any) -> int:
    import torch

    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if devices == "auto" or devices == -1:
        if accelerator == "gpu":
            return max(1, torch.cuda.device_count())
        return 1
    if isinstance(devices, int) and not isinstance(devices, bool):
        return devices
    raise ParameterError(
        f"devices must be a positive int, 'auto' or a list of device indices; got {devices!r}."
    )


def plan_processes(accelerator: str, devices: Any, strategy: Any) -> int | None:
    """Return how many processes auditkit must start, or None to run in this process.

    None when one device is asked for, when this process is already one rank of an outside
    launcher, or when ``strategy`` is not one of :data:`DDP_STRATEGIES` (a strategy object or
    ``"fsdp"``, ``"deepspeed"``... is left to Lightning).
    """
    if launched_externally():
        return None
    if not isinstance(strategy, str) or strategy not in DDP_STRATEGIES:
        return None
    n = _device_count(resolve_accelerator(accelerator), devices)
    if n < 1:
        raise ParameterError(f"devices must be at least 1; got {devices!r}.")
    return n if n > 1 else None


def _check_devices(devices: Any, func: str) -> int:
    return check_int(devices, param="devices", func=func, low=1)


def _check_budget(memory_budget_mb: Any, func: str) -> float:
    check_param(
        isinstance(memory_budget_mb, (int, float)) and not isinstance(memory_budget_mb, bool)
        and math.isfinite(float(memory_budget_mb)) and float(memory_budget_mb) > 0,
        param="memory_budget_mb", func=func, expected="a positive number (MiB)",
        got=memory_budget_mb,
    )  # fmt: skip
    return float(memory_budget_mb)


# ------------------------------------------------------------------------------ launching
@contextlib.contextmanager
def quiet_workers(patterns: Sequence[str] | None = None) -> Iterator[None]:
    """Silence Lightning's info messages and advisory warnings (in a worker or a library call).

    ``patterns`` are the warning messages to ignore (regular expressions); None: those of a
    worker process.
    """
    saved = []
    for name in _LIGHTNING_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.level))
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _WORKER_WARNINGS if patterns is None else patterns:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def usable_cpus() -> int:
    """Return the CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _join_group(rank: int, world: int, port: int, threads: int | None) -> None:
    """Set the environment through which a process joins the group as rank ``rank``."""
    import torch

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK=str(rank), NODE_RANK="0",
        WORLD_SIZE=str(world),
    )  # fmt: skip
    if threads is not None:
        torch.set_num_threads(threads)


def _run_task(
    rank: int, world: int, fn: Callable[[int, int, Any], Any], payload: Any, folder: str
) -> None:
    """Run ``fn(rank, world, payload)`` and save its result in ``folder``.

    On failure the error is saved there instead, then raised again.
    """
    import torch

    try:
        with quiet_workers():
            result = fn(rank, world, payload)
    except BaseException as exc:
        err = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
        torch.save({"error": err}, Path(folder) / f"rank{rank}.err")
        raise
    torch.save(result, Path(folder) / f"rank{rank}.pt")


def _worker(
    rank: int,
    world: int,
    port: int,
    folder: str,
    fn: Callable[[int, int, Any], Any],
    payload: Any,
    threads: int | None,
) -> None:
    """Run one spawned process: join the group as rank ``rank``, run ``fn``, save its result."""
    _join_group(rank, world, port, threads)
    _run_task(rank, world, fn, payload, folder)


def _threads_per_process(accelerator: str, world: int) -> int | None:
    """Return the torch threads of each of ``world`` processes (a share of the CPUs on CPU)."""
    return max(1, usable_cpus() // world) if resolve_accelerator(accelerator) == "cpu" else None


def _worker_error(folder: Path, exc: BaseException) -> BaseException:
    """Return the first failed rank's error, as its auditkit class where it is one."""
    import torch

    for path in sorted(folder.glob("rank*.err")):
        try:
            err = torch.load(path, weights_only=True)["error"]
        except Exception:  # pragma: no cover - a half-written file
            continue
        cls = getattr(_exc, str(err.get("type")), None)
        rank = path.stem.removeprefix("rank")
        if isinstance(cls, type) and issubclass(cls, AuditkitError):
            return cls(str(err["message"]))
        return RuntimeError(
            f"Process {rank} of the multi-device run failed: {err['type']}: {err['message']}\n"
            f"{err['traceback']}"
        )
    return RuntimeError(f"A process of the multi-device run failed: {exc}")


def launch(
    fn: Callable[[int, int, Any], Any],
    world: int,
    payload: Any,
    *,
    accelerator: str = "cpu",
    threads: int | None = None,
) -> list[Any]:
    """Run ``fn(rank, world, payload)`` in ``world`` new processes; return their results.

    Parameters
    ----------
    fn : callable
        A module-level function (spawned processes import it by name). It runs with
        ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set, so a Lightning
        ``Trainer(strategy="ddp", devices=world)`` inside joins the group without starting
        processes. Its result must be tensors and plain data (dict, list, str, int, float,
        bool, None).
    world : int
        Number of processes.
    payload : object
        Sent to every process (pickled once for each; tensors go through shared memory, and
        objects pickled together keep their identity, for example a layer of a model).
    accelerator : str, default="cpu"
        ``"cpu"``: each process gets an equal share of the CPUs as torch threads unless
        ``threads`` is given.
    threads : int, default=None
        torch threads per process.

    Returns
    -------
    list
        ``fn``'s result per rank.

    Raises
    ------
    AuditkitError
        The error a process raised, when it is an auditkit error (the same class).
    RuntimeError
        When a process failed otherwise (with its traceback).
    """
    import torch
    import torch.multiprocessing as mp
    from lightning_fabric.plugins.environments.lightning import find_free_network_port

    if threads is None:
        threads = _threads_per_process(accelerator, world)
    port = find_free_network_port()
    with tempfile.TemporaryDirectory(prefix="auditkit-ranks-") as tmp:
        folder = Path(tmp)
        try:
            mp.start_processes(
                _worker,
                args=(world, port, tmp, fn, payload, threads),
                nprocs=world,
                join=True,
                start_method="spawn",
            )
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
            raise _worker_error(folder, exc) from None
        return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(world)]


# ------------------------------------------------------------------ kept worker processes
#: Seconds the other ranks get to report after one rank failed, before the pool is killed.
_FAIL_GRACE_S = 10.0
_POOL_LOCK = threading.RLock()
_POOLS: dict[tuple[int, str, int | None], _Pool] = {}
_POOL_DEPTH = [0]


def _pool_worker(rank: int, world: int, port: int, threads: int | None, conn: Any) -> None:
    """One kept process: join the group as rank ``rank``, then run tasks until told to stop.

    A task is ``(fn, payload, folder)``, run by :func:`_run_task` as in :func:`_worker`; the
    process answers ``"ok"`` or ``"err"`` and, after an error, exits (the group may be broken).
    """
    _join_group(rank, world, port, threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            _run_task(rank, world, *task)
        except BaseException:
            conn.send("err")
            return
        del task
        conn.send("ok")


class _Pool:
    """``world`` kept processes that run :func:`launch`'s tasks one after the other.

    Starting a process (Python, torch, Lightning, the process group) costs seconds; an audit
    scores its rows many times (evaluation, privacy, stability), so within
    :func:`device_pool` the processes are started once. The process group the first task
    starts stays up: Lightning joins an initialized group and does not tear it down.
    """

    def __init__(self, world: int, threads: int | None) -> None:
        import torch.multiprocessing as mp
        from lightning_fabric.plugins.environments.lightning import find_free_network_port

        ctx = mp.get_context("spawn")
        port = find_free_network_port()
        self.world = world
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for rank in range(world):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_pool_worker, args=(rank, world, port, threads, child), daemon=True,
                name=f"auditkit-rank{rank}",
            )  # fmt: skip
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.procs]

    def run(self, fn: Callable[[int, int, Any], Any], payload: Any) -> list[Any]:
        """Run ``fn(rank, world, payload)`` on every process; return the results by rank."""
        import time
        from multiprocessing.connection import wait

        import torch

        with tempfile.TemporaryDirectory(prefix="auditkit-ranks-") as tmp:
            folder = Path(tmp)
            for conn in self.conns:
                conn.send((fn, payload, tmp))
            pending = dict(enumerate(self.conns))
            failed: int | None = None
            deadline: float | None = None
            while pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                ready = wait(list(pending.values()), timeout=1.0 if left is None else left)
                for conn in ready:
                    rank = self.conns.index(conn)
                    try:
                        status = self.conns[rank].recv()
                    except (EOFError, OSError):
                        status = "dead"
                    del pending[rank]
                    if status != "ok" and failed is None:
                        failed, deadline = rank, time.monotonic() + _FAIL_GRACE_S
                if failed is None:
                    dead = [r for r in pending if not self.procs[r].is_alive()]
                    if dead:
                        failed, deadline = dead[0], time.monotonic() + _FAIL_GRACE_S
            if failed is not None or pending:
                self.close()
                raise _worker_error(
                    folder, RuntimeError(f"process {failed} stopped (exit code "
                                         f"{self.procs[failed or 0].exitcode})"),
                )  # fmt: skip
            return [
                torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(self.world)
            ]

    def close(self) -> None:
        """Stop the processes (politely, then by force)."""
        for conn in self.conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()


@contextlib.contextmanager
def device_pool() -> Iterator[None]:
    """Keep the processes of multi-device scoring and attributions for the whole block.

    Inside, :func:`logits_on_devices` and :func:`attribute_on_devices` start their processes
    on first use and reuse them for every later call with the same number of devices; they
    stop when the outermost block ends. Outside any block each call starts and stops its own.
    An audit runs inside one (its sections score the rows many times).
    """
    with _POOL_LOCK:
        _POOL_DEPTH[0] += 1
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_DEPTH[0] -= 1
            if _POOL_DEPTH[0] == 0:
                pools = list(_POOLS.values())
                _POOLS.clear()
                for pool in pools:
                    pool.close()


def _run_inference(
    fn: Callable[[int, int, Any], Any], world: int, payload: Any, *, accelerator: str
) -> list[Any]:
    """:func:`launch` for scoring and attributions; kept processes inside :func:`device_pool`."""
    with _POOL_LOCK:
        kept = _POOL_DEPTH[0] > 0
    if not kept:
        return launch(fn, world, payload, accelerator=accelerator)
    with _POOL_LOCK:
        threads = _threads_per_process(accelerator, world)
        key = (world, accelerator, threads)
        pool = _POOLS.get(key)
        if pool is not None and not pool.alive():
            pool.close()
            pool = None
        if pool is None:
            pool = _POOLS[key] = _Pool(world, threads)
        try:
            return pool.run(fn, payload)
        except BaseException:
            if _POOLS.get(key) is pool:
                del _POOLS[key]
            pool.close()
            raise


def progress_bar() -> Any:
    """Lightning's tqdm bar, drawn on stderr (stdout is kept for machine output)."""
    from pytorch_lightning.callbacks import TQDMProgressBar

    class StderrProgressBar(TQDMProgressBar):
        def init_sanity_tqdm(self) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return super().init_sanity_tqdm()

        def init_train_tqdm(self) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return super().init_train_tqdm()

        def init_validation_tqdm(self) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return super().init_validation_tqdm()

        def init_predict_tqdm(self) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return super().init_predict_tqdm()

    return StderrProgressBar()


def _trainer(accelerator: str, world: int, *, inference_mode: bool, show_progress: bool) -> Any:
    import pytorch_lightning as pl

    callbacks = []
    if show_progress:
        callbacks.append(progress_bar())
    return pl.Trainer(
        accelerator=accelerator,
        devices=world,
        strategy="ddp",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=show_progress,
        inference_mode=inference_mode,
        callbacks=callbacks,
        plugins=worker_plugins(),
        default_root_dir=tempfile.gettempdir(),
    )


def _gather(parts: Sequence[dict[str, Any]], n: int, keys: Sequence[str]) -> dict[str, Any]:
    """Put the ranks' rows back in their original order; every row exactly once."""
    import torch

    idx = torch.cat([p["idx"] for p in parts]).long()
    if len(idx) != n or not bool(torch.equal(torch.sort(idx).values, torch.arange(n))):
        seen = torch.bincount(idx, minlength=n)
        raise RuntimeError(
            f"The processes returned {len(idx)} rows for {n}: {int((seen == 0).sum())} missing, "
            f"{int((seen > 1).sum())} duplicated."
        )
    order = torch.empty(n, dtype=torch.long)
    order[idx] = torch.arange(n)
    out: dict[str, Any] = {}
    for key in keys:
        vals = [p[key] for p in parts]
        if any(v is None for v in vals):
            out[key] = None
            continue
        out[key] = torch.cat(vals)[order]
    return out


# ------------------------------------------------------------------------------ scoring
def _probe_bytes(module: nn.Module, x: torch.Tensor) -> float:
    """Bytes of the activations (and the input) of one row in a forward pass without grad."""
    import torch

    k = max(1, min(len(x), _PROBE_ROWS))
    total = [0]

    def count(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            total[0] += obj.numel() * obj.element_size()
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                count(o)

    def hook(_m: Any, _i: Any, out: Any) -> None:
        count(out)

    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x[:k].to(dev))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    row_in = x[:k].numel() * x.element_size() / k
    row_out = out.shape[-1] * 8 * 2 if out.ndim == 2 else 16  # float64 logits and softmax
    # the encoded input four times: the raw rows' encoding makes float64 intermediates
    # before the float32 tensor, and the batch is sliced from it
    return float(total[0] / k + 4 * row_in + row_out)


def batch_rows_for_budget(
    module: nn.Module, x_probe: torch.Tensor, memory_budget_mb: float
) -> int:
    """Return the rows per forward pass so that one batch's working memory stays within the budget.

    The memory of a row is estimated on a probe of a few rows: the outputs of every leaf layer
    (an upper bound of what a forward pass without gradients holds at once), four times the
    encoded input (the raw rows' encoding builds float64 intermediates, and the batch sent to
    the model is a copy) and the float64 logits and probabilities. At least one row. The
    estimate leaves out fixed costs (the model, the returned array); benchmarks/RESULTS.md
    (section "devices") compares budgets with the peak memory measured.
    """
    per_row = max(_probe_bytes(module, x_probe), 1.0)
    return max(1, int(memory_budget_mb * 2**20 // per_row))


def _make_predictor(net: nn.Module, x: torch.Tensor, task: dict[str, Any]) -> Any:
    import pytorch_lightning as pl

    from .attribution import forward_outputs

    class Predictor(pl.LightningModule):
        """predict_step: logits (or Captum attributions) of the rows whose positions it gets."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.net(z)
            return out

        def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
            (idx,) = batch
            idx = idx.cpu()
            rows = x[idx].to(self.device)
            if task["kind"] == "logits":
                # a lone row is scored inside a batch of copies, as on one device
                logits = forward_outputs(self.net, rows, rows=len(rows), device=self.device)
                return {"idx": idx, "logits": logits}
            return _attribute_rows(self.net, rows, idx, x_len=len(x), task=task)

    return Predictor()


def _predict_worker(rank: int, world: int, payload: dict[str, Any]) -> dict[str, Any]:
    """One rank of :func:`logits_on_devices` / :func:`attribute_on_devices`."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    net, x, task = payload["net"], payload["x"], payload["task"]
    predictor = _make_predictor(net, x, task)
    trainer = _trainer(
        payload["accelerator"], world, inference_mode=task["kind"] == "logits",
        show_progress=bool(payload["show_progress"]) and rank == 0,
    )  # fmt: skip
    loader = DataLoader(TensorDataset(torch.arange(len(x))), batch_size=payload["batch_size"])
    out = trainer.predict(predictor, dataloaders=loader, return_predictions=True)
    parts: list[dict[str, Any]] = list(out or [])
    keys = [k for k in (parts[0] if parts else {}) if k != "info"]
    merged: dict[str, Any] = {"idx": torch.cat([p["idx"] for p in parts]) if parts else None}
    for key in keys:
        if key == "idx":
            continue
        vals = [p[key] for p in parts]
        merged[key] = None if any(v is None for v in vals) else torch.cat(vals)
    merged["info"] = [p.get("info") for p in parts if p.get("info") is not None]
    merged["rank"] = rank
    return merged


def _prepare_net(net: nn.Module) -> nn.Module:
    """Return a copy of ``net`` on the CPU, for sending to worker processes."""
    import copy
    import pickle

    trainer = getattr(net, "_trainer", None)  # a LightningModule keeps its last Trainer
    if trainer is not None:
        setattr(net, "_trainer", None)  # noqa: B010 (not a declared attribute of nn.Module)
    try:
        cpu = copy.deepcopy(net).cpu()
        pickle.dumps(cpu)
    except Exception as exc:
        raise ParameterError(
            f"The model ({type(net).__name__}) cannot be sent to other processes ({exc}); "
            "use devices=1."
        ) from exc
    finally:
        if trainer is not None:
            setattr(net, "_trainer", trainer)  # noqa: B010
    return cpu


def logits_on_devices(
    module: nn.Module,
    x: torch.Tensor,
    *,
    devices: int,
    accelerator: str = "auto",
    batch_size: int | None = None,
    memory_budget_mb: float | None = None,
    show_progress: bool = False,
) -> torch.Tensor:
    """Return ``module(x)`` (float32 logits on the CPU) computed by ``devices`` processes.

    Each process runs ``Trainer.predict`` with Lightning's DDP strategy on its interleaved share
    of the rows; the rows come back in their original order.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch of ``x`` to logits ``(n, n_classes)``; rows must not interact (eval mode).
    x : Tensor
        Encoded inputs.
    devices : int
        Processes (devices) to use; 1 runs in this process.
    accelerator : str, default="auto"
        ``"cpu"``, ``"gpu"`` or ``"auto"`` (the GPUs when there are).
    batch_size : int, default=None
        Rows per forward pass in each process; None takes ``memory_budget_mb`` or 1024.
    memory_budget_mb : float, default=None
        Bound on the working memory of one batch in each process (see
        :func:`batch_rows_for_budget`).
    show_progress : bool, default=False
        Lightning's prediction progress bar (first process, on stderr).

    Returns
    -------
    Tensor of shape (n_samples, n_outputs), float32
    """
    devices = _check_devices(devices, "logits_on_devices")
    n = len(x)
    bs = _batch_size(module, x, batch_size, memory_budget_mb, "logits_on_devices")
    world = min(devices, max(n, 1))
    if n == 0 or world == 1:
        return _local_logits(module, x, bs)
    accel = resolve_accelerator(accelerator)
    payload = {
        "net": _prepare_net(module), "x": x.cpu(), "task": {"kind": "logits"},
        "accelerator": accel, "batch_size": bs, "show_progress": show_progress,
    }  # fmt: skip
    parts = _run_inference(_predict_worker, world, payload, accelerator=accel)
    logits: torch.Tensor = _gather(parts, n, ["logits"])["logits"]
    return logits


def _batch_size(
    module: nn.Module, x: torch.Tensor, batch_size: int | None, budget: float | None, func: str
) -> int:
    if batch_size is not None:
        return check_int(batch_size, param="batch_size", func=func, low=1)
    if budget is not None and len(x):
        return batch_rows_for_budget(module, x, _check_budget(budget, func))
    return int(getattr(module, "predict_batch_size", 1024))


def _local_logits(module: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``module(x)`` in this process, in batches (a lone last row inside a batch of copies)."""
    import torch

    from .attribution import forward_outputs

    if len(x) == 0:
        return torch.zeros((0, 0))
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        return forward_outputs(module, x, rows=batch_size, device=dev)
    finally:
        module.train(was_training)


def chunked_proba(
    module: Any, X: Any, n: int, *, memory_budget_mb: float, batch_size: int | None = None
) -> np.ndarray:
    """Probabilities of a reference model for raw ``X``, encoded and scored chunk by chunk.

    The chunk size comes from the memory budget (:func:`batch_rows_for_budget` on the first
    rows), so neither the encoded input nor the activations of all rows are held at once.
    """
    import torch

    budget = _check_budget(memory_budget_mb, "predict_proba")
    k = module.n_classes
    out = np.empty((n, k), dtype=np.float64)
    if n == 0:
        return out
    rows = batch_size or batch_rows_for_budget(
        module, module.encode(take_rows(X, np.arange(min(n, _PROBE_ROWS)))), budget
    )
    for s in range(0, n, rows):
        e = min(n, s + rows)
        logits = module.logits_from_encoded(
            module.encode(take_rows(X, np.arange(s, e))), batch_size=rows
        )
        out[s:e] = torch.softmax(logits.double(), dim=1).numpy()
    return out


# ------------------------------------------------------------------------------ attributions
def _attribute_rows(
    net: nn.Module, rows: torch.Tensor, idx: torch.Tensor, *, x_len: int, task: dict[str, Any]
) -> dict[str, Any]:
    """Captum attributions of ``rows`` (positions ``idx`` of the whole input) under grad."""
    import torch

    from .attribution import attribute

    def per_row(t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.ndim > 0 and t.shape[0] == x_len and x_len > 1:
            return t[idx].to(rows.device)
        return t.to(rows.device) if isinstance(t, torch.Tensor) else t

    opts = dict(task["options"])
    target = opts.pop("target", None)
    baselines = opts.pop("baselines", None)
    if task["method"] == "gradient_shap":  # a distribution to draw from, not one row per input
        base = baselines.to(rows.device) if isinstance(baselines, torch.Tensor) else baselines
    else:
        base = per_row(baselines)
    with torch.enable_grad():
        run = attribute(
            net, rows, method=task["method"], target=per_row(target), baselines=base, **opts
        )

    def t(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    plan = run.plan
    info = {
        "fast_path": bool(run.fast_path),
        "rows_per_call": int(plan.rows_per_call),
        "internal_batch_size": plan.internal_batch_size,
        "perturbations_per_eval": int(plan.perturbations_per_eval),
    }
    return {
        "idx": idx,
        "values": t(run.values),
        "delta": t(run.delta),
        "outputs": t(run.outputs),
        "target": t(run.target),
        "info": info,
    }


def attribute_on_devices(
    model: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    devices: int,
    accelerator: str = "auto",
    target: torch.Tensor | None = None,
    baselines: torch.Tensor | float | None = None,
    n_steps: int = 50,
    layer: nn.Module | None = None,
    feature_mask: torch.Tensor | None = None,
    sliding_window_shapes: tuple[int, ...] | None = None,
    strides: tuple[int, ...] | None = None,
    batch_size: int | None = None,
    memory_budget_mb: float = 256.0,
    random_state: int = 0,
    check_rows: bool = True,
    show_progress: bool = False,
) -> AttributionRun:
    """Captum attributions of ``model`` on ``x``, computed by ``devices`` processes.

    The drop-in multi-device form of :func:`auditkit.runtime.attribution.attribute` (same keywords,
    same :class:`~auditkit.runtime.attribution.AttributionRun` result): each process runs
    ``Trainer.predict`` (``inference_mode=False``) on its interleaved share of the rows, and
    its ``predict_step`` calls :func:`~auditkit.runtime.attribution.attribute` on them under
    ``torch.enable_grad()``. The rows come back in their original order.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``x`` to scores ``(n, n_outputs)``; sent to each process (it must pickle).
    x : Tensor
        Encoded inputs (token ids for ``layer_integrated_gradients``).
    method : str
        One of :data:`auditkit.runtime.attribution.METHODS`.
    devices : int
        Processes (devices); 1 (or a single row) runs in this process.
    accelerator : str, default="auto"
        ``"cpu"``, ``"gpu"`` or ``"auto"``.
    target, baselines, n_steps, layer, feature_mask, sliding_window_shapes, strides
        As in :func:`~auditkit.runtime.attribution.attribute`. A per-row ``target`` or
        ``baselines`` (first dimension ``n``) is split with the rows; ``layer`` must be a
        submodule of ``model`` (it is sent together with it).
    batch_size : int, default=None
        Rows per Captum call in each process; None chooses from ``memory_budget_mb``.
    memory_budget_mb : float, default=256
        Bound on the memory of one batch of expanded evaluations, in each process.
    random_state : int, default=0
        Seed of GradientShap's draws (drawn per Captum call: its values depend on how the rows
        are split, so they differ from a single process's).
    check_rows : bool, default=True
        Probe whether rows interact (see :func:`~auditkit.runtime.attribution.attribute`). Rows
        that interact cannot be split across processes; pass ``devices=1`` for such models.
    show_progress : bool, default=False
        Lightning's prediction progress bar (first process, on stderr).

    Returns
    -------
    AttributionRun
        ``values``, ``delta``, ``outputs`` and ``target`` in the order of ``x``; ``plan`` is
        the first process's; ``fast_path`` holds when it held in every process; ``info``
        adds ``devices``, ``accelerator`` and ``rows_per_device``.

    Raises
    ------
    ParameterError
        For an invalid ``devices``, or a model that cannot be sent to other processes.
    """
    import torch

    from .attribution import METHODS, AttributionRun, Plan, attribute

    devices = _check_devices(devices, "attribute_on_devices")
    check_param(
        method in METHODS, param="method", func="attribute_on_devices",
        expected=f"one of {', '.join(METHODS)}", got=method,
    )  # fmt: skip
    n = len(x)
    world = min(devices, max(n, 1))
    opts: dict[str, Any] = {
        "target": target, "baselines": baselines, "n_steps": n_steps, "layer": layer,
        "feature_mask": feature_mask, "sliding_window_shapes": sliding_window_shapes,
        "strides": strides, "batch_size": batch_size, "memory_budget_mb": memory_budget_mb,
        "random_state": random_state, "check_rows": check_rows,
    }  # fmt: skip
    if world == 1:
        return attribute(model, x, method=method, show_progress=show_progress, **opts)
    accel = resolve_accelerator(accelerator)
    if layer is not None:  # send the layer inside the model, so the copy keeps it
        net, layer_name = _prepare_net(model), _submodule_name(model, layer)
        opts["layer"] = net.get_submodule(layer_name)
    else:
        net = _prepare_net(model)
    opts = {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in opts.items()}
    payload = {
        "net": net, "x": x.detach().cpu(),
        "task": {"kind": "attribution", "method": method, "options": opts},
        "accelerator": accel, "batch_size": math.ceil(n / world),
        "show_progress": show_progress,
    }  # fmt: skip
    parts = _run_inference(_predict_worker, world, payload, accelerator=accel)
    got = _gather(parts, n, ["values", "delta", "outputs", "target"])
    infos = [i for p in sorted(parts, key=lambda p: int(p["rank"])) for i in p["info"]]
    first = infos[0] if infos else {}
    plan = Plan(
        rows_per_call=int(first.get("rows_per_call", 1)),
        internal_batch_size=first.get("internal_batch_size"),
        perturbations_per_eval=int(first.get("perturbations_per_eval", 1)),
    )

    def arr(v: torch.Tensor | None) -> np.ndarray | None:
        return None if v is None else v.numpy()

    return AttributionRun(
        values=got["values"].numpy(),
        delta=arr(got["delta"]),
        outputs=arr(got["outputs"]),
        target=got["target"].numpy(),
        fast_path=all(bool(i.get("fast_path")) for i in infos),
        plan=plan,
        info={
            "devices": world,
            "accelerator": accel,
            "rows_per_device": [len(range(r, n, world)) for r in range(world)],
        },
    )


def _submodule_name(model: nn.Module, layer: nn.Module) -> str:
    for name, sub in model.named_modules():
        if sub is layer:
            return name
    raise ParameterError(
        f"layer ({type(layer).__name__}) is not a submodule of the model; attribute_on_devices "
        "sends the model to other processes and finds the layer in it."
    )
