"""Starting processes: one run of ``world`` new processes, or kept processes in a pool.

:func:`launch` runs a function in ``world`` spawned processes and returns their results (read
from files with ``torch.load(weights_only=True)``); inside :func:`device_pool` the scoring and
attribution processes are started once and kept. See :mod:`auditkit.runtime.devices`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import exceptions as _exc
from ..exceptions import AuditkitError
from .planning import resolve_accelerator, usable_cpus

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
