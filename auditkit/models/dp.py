"""Differentially private training of the reference models with Opacus (DP-SGD).

:func:`auditkit.models.training.fit_model` calls :func:`make_private` before ``Trainer.fit`` and
:func:`finish_private` after it. Opacus has no maintained Lightning integration, so the wiring
is done here:

- every ``nn.LSTM`` of the model is swapped for :class:`opacus.layers.DPLSTM` (the same
  parameter names, so its weights load back into an ``nn.LSTM``), and swapped back after
  training, so a DP checkpoint loads like any other;
- :meth:`opacus.PrivacyEngine.make_private_with_epsilon` wraps the model (per-sample gradient
  hooks on its layers), the optimizer (per-sample clipping to ``max_grad_norm`` and Gaussian
  noise) and the training loader (Poisson sampling, batches of random size);
- the private optimizer becomes the one the Lightning module returns from
  ``configure_optimizers`` (an instance-level override that is removed after training), and the
  Poisson-sampled loader is the one handed to ``Trainer.fit``;
- the state dict saved is the inner module's (Opacus's ``_module.`` prefix never reaches the
  checkpoint; :func:`strip_module_prefix` removes it from a wrapped state dict).

Model selection on the validation split (early stopping, restoring the best epoch) is turned
off under DP: every epoch the accountant was told about is run and the last weights are kept.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core.validation import check_param
from ..exceptions import ParameterError

if TYPE_CHECKING:
    import torch
    from torch.utils.data import DataLoader

    from ._base import AuditableModule

__all__ = ["DPConfig", "DPState", "finish_private", "make_private", "strip_module_prefix"]

#: The accountant used to calibrate the noise and report the privacy spent.
ACCOUNTANT = "rdp"
_PREFIX = "_module."
_OPACUS_WARNINGS = (
    r".*Secure RNG turned off.*",
    r".*Optimal order is the (largest|smallest) alpha.*",
    r".*Using a non-full backward hook.*",
    r".*Full backward hook is firing.*",
    r".*DPLSTM.*",
    r".*Ignoring drop_last.*",
)


@dataclass(frozen=True)
class DPConfig:
    """What differential privacy to train with.

    Parameters
    ----------
    epsilon : float
        Target epsilon (> 0) of the whole training run.
    delta : float or None
        Target delta in (0, 1); None: ``1 / n_train`` (the rows the optimizer sees).
    max_grad_norm : float
        Per-sample gradient clipping bound C (> 0).
    noise_multiplier : float or None
        Use this noise multiplier instead of calibrating one to ``epsilon`` (for experiments;
        the epsilon recorded is then the one the accountant reports).
    """

    epsilon: float
    delta: float | None = None
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None

    @classmethod
    def create(
        cls,
        epsilon: Any,
        delta: Any = None,
        max_grad_norm: Any = 1.0,
        *,
        noise_multiplier: Any = None,
        func: str = "train",
    ) -> DPConfig:
        """Validate the parameters and return a config (ParameterError names the bad one)."""

        def _pos(value: Any, name: str) -> float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(float(value)) and float(value) > 0
            check_param(ok, param=name, func=func, expected="a finite float > 0", got=value)
            return float(value)

        eps = _pos(epsilon, "dp_epsilon")
        d: float | None = None
        if delta is not None:
            ok = isinstance(delta, (int, float)) and not isinstance(delta, bool)
            ok = ok and 0.0 < float(delta) < 1.0
            check_param(ok, param="dp_delta", func=func, expected="a float in (0, 1)", got=delta)
            d = float(delta)
        c = _pos(max_grad_norm, "max_grad_norm")
        nm = None if noise_multiplier is None else _pos(noise_multiplier, "noise_multiplier")
        return cls(epsilon=eps, delta=d, max_grad_norm=c, noise_multiplier=nm)


@dataclass
class DPState:
    """What :func:`make_private` set up, for :func:`finish_private`."""

    config: DPConfig
    delta: float
    epochs: int
    engine: Any
    wrapped: Any
    optimizer: Any
    noise_multiplier: float
    sample_rate: float
    swapped: list[str]


def strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return ``state_dict`` with Opacus's ``_module.`` prefix removed from every key."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        while key.startswith(_PREFIX):
            key = key[len(_PREFIX) :]
        out[key] = value
    return out


def _swap_lstms(module: torch.nn.Module) -> list[str]:
    """Replace every ``nn.LSTM`` by a ``DPLSTM`` with the same weights; return their names."""
    from opacus.layers import DPLSTM
    from torch import nn

    swapped: list[str] = []
    for name, child in list(module.named_modules()):
        for attr, sub in list(child.named_children()):
            if type(sub) is nn.LSTM:
                if sub.proj_size:
                    raise ParameterError(
                        f"Differentially private training cannot convert the LSTM {attr!r} "
                        "(projections are not supported by Opacus's DPLSTM)."
                    )
                dp = DPLSTM(
                    sub.input_size, sub.hidden_size, num_layers=sub.num_layers,
                    bias=sub.bias, batch_first=sub.batch_first, dropout=sub.dropout,
                    bidirectional=sub.bidirectional,
                )  # fmt: skip
                dp.load_state_dict(sub.state_dict())
                setattr(child, attr, dp)
                swapped.append(f"{name}.{attr}" if name else attr)
    return swapped


def _restore_lstms(module: torch.nn.Module, names: list[str]) -> None:
    """Swap the ``DPLSTM`` layers back to ``nn.LSTM`` (same parameter names, same weights)."""
    from torch import nn

    for full in names:
        parent_name, _, attr = full.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        dp = getattr(parent, attr)
        lstm = nn.LSTM(
            dp.input_size, dp.hidden_size, num_layers=dp.num_layers, bias=dp.bias,
            batch_first=dp.batch_first, dropout=dp.dropout, bidirectional=dp.bidirectional,
        )  # fmt: skip
        lstm.load_state_dict({k: v.detach().clone() for k, v in dp.state_dict().items()})
        setattr(parent, attr, lstm)


def make_private(
    module: AuditableModule,
    train_loader: DataLoader[Any],
    config: DPConfig,
    *,
    epochs: int,
    seed: int,
) -> tuple[DataLoader[Any], DPState]:
    """Make ``module``'s training differentially private; return the loader to train on.

    Parameters
    ----------
    module : AuditableModule
        The freshly initialised reference model (changed in place: LSTMs become DPLSTMs, its
        ``configure_optimizers`` returns the private optimizer until :func:`finish_private`).
    train_loader : DataLoader
        The (shuffled) training loader; its dataset and batch size define the sampling rate.
    config : DPConfig
    epochs : int
        Epochs that will be run (the accountant calibrates the noise for them).
    seed : int
        Seed of the plain loader handed to Opacus. Opacus draws the Poisson batches and the
        noise from torch's global generator (seeded by ``fit_model``'s ``seed_everything``;
        the noise on the model's device, so it works on a GPU): the same seed gives the same
        weights on a given machine.

    Returns
    -------
    loader : DataLoader
        The Poisson-sampled loader to hand to ``Trainer.fit``.
    state : DPState

    Raises
    ------
    ParameterError
        When the model holds layers Opacus cannot train privately (batch norm), or a learning
        rate schedule is set.
    """
    import torch
    from opacus import PrivacyEngine
    from opacus.validators import ModuleValidator

    if module.hp.get("scheduler", "none") != "none":
        raise ParameterError(
            f"Differentially private training of {module.model_name} supports no learning-rate "
            f"schedule; got scheduler={module.hp['scheduler']!r} (use 'none')."
        )
    swapped = _swap_lstms(module)
    errors = ModuleValidator.validate(module, strict=False)
    if errors:
        if swapped:
            _restore_lstms(module, swapped)
        first = str(errors[0]).strip().splitlines()[0]
        raise ParameterError(
            f"{module.model_name} cannot be trained with differential privacy: {first} "
            "(Opacus computes per-sample gradients; batch norm mixes samples)."
        )
    n = len(train_loader.dataset)  # type: ignore[arg-type]
    delta = config.delta if config.delta is not None else 1.0 / n
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=module.hp["lr"], weight_decay=module.hp["weight_decay"]
    )
    # Opacus's advisory warnings (hooks firing on inputs without grad, secure RNG off) are
    # silenced for the rest of the caller's warnings context: fit_model trains inside a
    # ``warnings.catch_warnings()`` block, which restores the filters when training ends.
    for pattern in _OPACUS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    sample_gen = torch.Generator().manual_seed(seed)
    loader_in = torch.utils.data.DataLoader(
        train_loader.dataset, batch_size=train_loader.batch_size, shuffle=True,
        generator=sample_gen,
    )  # fmt: skip
    with warnings.catch_warnings():
        for pattern in _OPACUS_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        engine = PrivacyEngine(accountant=ACCOUNTANT)
        if config.noise_multiplier is None:
            wrapped, dp_opt, dp_loader = engine.make_private_with_epsilon(
                module=module, optimizer=optimizer, data_loader=loader_in,
                target_epsilon=config.epsilon, target_delta=delta, epochs=epochs,
                max_grad_norm=config.max_grad_norm, poisson_sampling=True,
            )  # fmt: skip
        else:
            wrapped, dp_opt, dp_loader = engine.make_private(
                module=module, optimizer=optimizer, data_loader=loader_in,
                noise_multiplier=config.noise_multiplier, max_grad_norm=config.max_grad_norm,
                poisson_sampling=True,
            )  # fmt: skip
    # Lightning asks the module for its optimizer: hand it the private one.
    module.configure_optimizers = lambda: dp_opt  # type: ignore[method-assign]
    state = DPState(
        config=config, delta=float(delta), epochs=int(epochs), engine=engine, wrapped=wrapped,
        optimizer=dp_opt, noise_multiplier=float(dp_opt.noise_multiplier),
        sample_rate=float(1.0 / len(loader_in)), swapped=swapped,
    )  # fmt: skip
    return dp_loader, state


def finish_private(module: AuditableModule, state: DPState) -> dict[str, Any]:
    """Undo the wrapping (hooks, optimizer override, DPLSTM) and return the DP record.

    Returns
    -------
    dict
        ``epsilon`` (spent, from the accountant), ``target_epsilon``, ``delta``,
        ``max_grad_norm``, ``noise_multiplier``, ``sample_rate``, ``epochs``, ``steps``,
        ``accountant``, ``library`` (Opacus version) and ``converted_layers``.
    """
    import opacus

    with warnings.catch_warnings():
        for pattern in _OPACUS_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        spent = float(state.engine.get_epsilon(state.delta))
    steps = int(sum(n for _, _, n in state.engine.accountant.history))
    remove = getattr(state.wrapped, "_close", None)
    if callable(remove):
        remove()
    if "configure_optimizers" in module.__dict__:
        del module.__dict__["configure_optimizers"]
    if state.swapped:
        _restore_lstms(module, state.swapped)
    for p in module.parameters():
        for attr in ("grad_sample", "_forward_counter", "_current_grad_sample"):
            if hasattr(p, attr):
                delattr(p, attr)
    return {
        "epsilon": spent if math.isfinite(spent) else None,
        "target_epsilon": state.config.epsilon if state.config.noise_multiplier is None else None,
        "delta": state.delta,
        "max_grad_norm": state.config.max_grad_norm,
        "noise_multiplier": state.noise_multiplier,
        "sample_rate": state.sample_rate,
        "epochs": state.epochs,
        "steps": steps,
        "accountant": ACCOUNTANT,
        "library": f"opacus {opacus.__version__}",
        "converted_layers": [f"{n}: nn.LSTM -> DPLSTM" for n in state.swapped],
        "model_selection": "none (no early stopping, last epoch kept)",
    }
