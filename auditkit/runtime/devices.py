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

# The code lives in planning (how many processes), launch (starting them, the kept pool) and
# scoring (multi-device logits and attributions); this module is their one public face.
from .launch import device_pool, launch, progress_bar, quiet_workers
from .planning import (
    DDP_STRATEGIES,
    is_rank_zero,
    launched_externally,
    plan_processes,
    resolve_accelerator,
    usable_cpus,
    worker_plugins,
)
from .scoring import (
    attribute_on_devices,
    batch_rows_for_budget,
    chunked_proba,
    logits_on_devices,
)

__all__ = [
    "DDP_STRATEGIES",
    "attribute_on_devices",
    "batch_rows_for_budget",
    "chunked_proba",
    "device_pool",
    "is_rank_zero",
    "launch",
    "launched_externally",
    "logits_on_devices",
    "plan_processes",
    "progress_bar",
    "quiet_workers",
    "resolve_accelerator",
    "usable_cpus",
    "worker_plugins",
]
