"""How many processes a run needs, on which accelerator, and who this process is.

auditkit starts processes itself only for the DDP strategies (:data:`DDP_STRATEGIES`) and
only when no outside launcher (``torchrun``, SLURM, Lightning's own relaunch) started this one.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .._core.validation import check_int, check_param
from ..exceptions import ParameterError

#: Strategies for which auditkit starts the processes itself (all run Lightning's DDP).
DDP_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")


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


def usable_cpus() -> int:
    """Return the CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
