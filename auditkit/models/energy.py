"""Energy use and emissions of work such as training: measured on GPUs, estimated on CPUs.

:class:`EnergyMeter` wraps the work (``with EnergyMeter() as meter: ...``, or ``start()`` /
``stop()``) and returns an :class:`EnergyReport` in kWh and grams of CO2-equivalent, every part
labelled ``"measured"`` or ``"estimated"`` with its method:

* **GPU, measured.** When ``pynvml`` (the ``nvidia-ml-py`` package; never required) is importable
  and NVML sees a GPU, the meter reads each device's cumulative energy counter
  (``nvmlDeviceGetTotalEnergyConsumption``, Volta and newer) at start and stop; where the
  counter is missing it samples the power draw (``nvmlDeviceGetPowerUsage``) every
  ``interval_s`` seconds in a background thread and integrates it over time with the trapezoid
  rule.
* **CPU, estimated.** The CPU time the process used (all threads and waited-for children, from
  ``os.times``) times a power figure per busy core: :data:`CPU_WATTS_PER_CORE` = 12 W by default,
  the power per core that the Green Algorithms calculator (Lannelongue, Grealey & Inouye,
  *Advanced Science* 2021: power = cores used x power per core x usage) assumes for a CPU of
  unknown model. Thermal design power per core of current CPUs spans about 4-12 W (an AMD EPYC
  7763: 280 W over 64 cores = 4.4 W; an Intel Xeon Gold 6226R: 150 W over 16 cores = 9.4 W; an
  Intel Core i9-13900K: 125 W base power over 24 cores = 5.2 W), so the default errs high.
* **Memory, estimated.** The process's peak resident memory times
  :data:`MEMORY_WATTS_PER_GB` = 0.3725 W per GB (Green Algorithms' figure) over the wall time.

Emissions are energy times the carbon intensity of the electricity grid: by default
:data:`GRID_INTENSITY` = 480 g CO2e/kWh, the world average of 2023 (Ember, *Global Electricity
Review 2024*; life-cycle emissions, upstream methane included). Set your own with
``EnergyMeter(grid_intensity=...)`` or the environment variable ``AUDITKIT_GRID_INTENSITY``
(g CO2e/kWh; ``AUDITKIT_GRID_LOCATION`` names the place).
The total is labelled ``"measured"`` only when every part was measured.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol

from .._core.validation import PARAM_MSG
from ..exceptions import ParameterError

__all__ = [
    "CPU_WATTS_PER_CORE",
    "GRID_INTENSITY",
    "GRID_INTENSITY_SOURCE",
    "MEMORY_WATTS_PER_GB",
    "EnergyComponent",
    "EnergyMeter",
    "EnergyReport",
    "GpuSampler",
    "NvmlSampler",
    "integrate_power",
    "nvml_sampler",
]

#: Default carbon intensity of electricity, g CO2e per kWh (world average, 2023).
GRID_INTENSITY = 480.0
GRID_INTENSITY_SOURCE = "world average 2023, Ember Global Electricity Review 2024"
#: Power of one busy CPU core, watts (Green Algorithms' figure for a CPU of unknown model).
CPU_WATTS_PER_CORE = 12.0
#: Power of memory, watts per GB resident (Green Algorithms, Lannelongue et al. 2021).
MEMORY_WATTS_PER_GB = 0.3725
ENV_GRID_INTENSITY = "AUDITKIT_GRID_INTENSITY"
ENV_GRID_LOCATION = "AUDITKIT_GRID_LOCATION"
_J_PER_KWH = 3.6e6

Label = Literal["measured", "estimated"]


class GpuSampler(Protocol):
    """What the meter reads from GPUs (NVML in practice; a fake in tests)."""

    name: str

    def power_watts(self) -> float:
        """Return the current power draw of the metered devices together, watts."""
        ...

    def energy_joules(self) -> float | None:
        """Return the devices' cumulative energy counter, joules; None if unsupported."""
        ...

    def close(self) -> None:
        """Release the library."""
        ...


class NvmlSampler:
    """GPU power and energy through NVML (``pynvml``), for the devices training can use.

    Parameters
    ----------
    pynvml : module
        The imported ``pynvml`` module (initialised here).
    indices : sequence of int, default=None
        NVML device indices; default: those in ``CUDA_VISIBLE_DEVICES`` when it lists numbers,
        else every device.
    """

    def __init__(self, pynvml: Any, indices: Sequence[int] | None = None) -> None:
        self._nvml = pynvml
        pynvml.nvmlInit()
        count = int(pynvml.nvmlDeviceGetCount())
        if indices is None:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            parts = [p.strip() for p in visible.split(",") if p.strip()]
            indices = [int(p) for p in parts] if parts and all(p.isdigit() for p in parts) else (
                list(range(count))
            )  # fmt: skip
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in indices if i < count]
        names = []
        for h in self._handles:
            n = pynvml.nvmlDeviceGetName(h)
            names.append(n.decode() if isinstance(n, bytes) else str(n))
        self.name = ", ".join(names)
        self.n_devices = len(self._handles)

    def power_watts(self) -> float:
        """Sum of the devices' power draw, watts (NVML reports milliwatts)."""
        return sum(float(self._nvml.nvmlDeviceGetPowerUsage(h)) for h in self._handles) / 1000.0

    def energy_joules(self) -> float | None:
        """Sum of the devices' energy counters, joules (NVML reports millijoules)."""
        try:
            total = sum(
                float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self._handles
            )
        except Exception:  # noqa: BLE001 - NVMLError_NotSupported on pre-Volta GPUs
            return None
        return total / 1000.0

    def close(self) -> None:
        """Shut NVML down."""
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down twice is harmless
            pass


def nvml_sampler() -> NvmlSampler | None:
    """Return an NVML sampler when ``pynvml`` is importable and sees a GPU, else None."""
    try:
        import pynvml  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    try:
        sampler = NvmlSampler(pynvml)
    except Exception:  # noqa: BLE001 - no driver, no device: no measurement
        return None
    if sampler.n_devices == 0:
        sampler.close()
        return None
    return sampler


def integrate_power(samples: Sequence[tuple[float, float]]) -> float:
    """Energy in joules of ``(time_s, watts)`` samples, by the trapezoid rule.

    Examples
    --------
    >>> integrate_power([(0.0, 100.0), (1.0, 100.0), (3.0, 200.0)])
    400.0
    """
    pts = sorted(samples)
    return float(sum((t1 - t0) * (w0 + w1) / 2.0 for (t0, w0), (t1, w1) in zip(pts, pts[1:])))


@dataclass(frozen=True)
class EnergyComponent:
    """The energy of one part of the machine.

    Attributes
    ----------
    name : str
        ``"gpu"``, ``"cpu"`` or ``"memory"``.
    kwh : float
    label : {"measured", "estimated"}
    method : str
        How the figure was obtained, in words.
    mean_watts : float or None
        Average power over the metered time.
    """

    name: str
    kwh: float
    label: Label
    method: str
    mean_watts: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"name": self.name, "kwh": self.kwh, "label": self.label, "method": self.method,
                "mean_watts": self.mean_watts}  # fmt: skip


@dataclass(frozen=True)
class EnergyReport:
    """Energy and emissions of the metered work.

    Attributes
    ----------
    duration_s : float
        Wall time metered.
    kwh : float
        Total energy, kilowatt-hours.
    co2e_g : float
        Emissions, grams of CO2-equivalent (``kwh * grid_intensity_g_per_kwh``).
    label : {"measured", "estimated"}
        ``"measured"`` only when every component was measured.
    method : str
        The methods of the components, in words.
    grid_intensity_g_per_kwh : float
    grid_intensity_source : str
    location : str or None
    components : tuple of EnergyComponent
    """

    duration_s: float
    kwh: float
    co2e_g: float
    label: Label
    method: str
    grid_intensity_g_per_kwh: float
    grid_intensity_source: str
    location: str | None = None
    components: tuple[EnergyComponent, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored in the checkpoint metadata as ``training.energy``)."""
        return {
            "duration_s": self.duration_s,
            "kwh": self.kwh,
            "co2e_g": self.co2e_g,
            "label": self.label,
            "method": self.method,
            "grid_intensity_g_per_kwh": self.grid_intensity_g_per_kwh,
            "grid_intensity_source": self.grid_intensity_source,
            "location": self.location,
            "components": [c.to_dict() for c in self.components],
        }


def _cpu_seconds() -> float:
    t = os.times()
    return float(t.user + t.system + t.children_user + t.children_system)


def _peak_rss_gb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    import sys

    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9


def _positive(value: Any, param: str, func: str = "EnergyMeter") -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not (ok and math.isfinite(v) and v >= 0):
        raise ParameterError(
            PARAM_MSG.format(param=param, func=func, expected="a number >= 0", got=value)
        )
    return v


class EnergyMeter:
    """Meter the energy and emissions of the work done between :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    grid_intensity : float, default=None
        Carbon intensity of the electricity, g CO2e per kWh. Default: the environment variable
        ``AUDITKIT_GRID_INTENSITY``, else :data:`GRID_INTENSITY` (world average).
    location : str, default=None
        Where the work ran (shown with the emissions); default ``AUDITKIT_GRID_LOCATION``.
    gpu : {"auto"}, GpuSampler or None, default="auto"
        ``"auto"``: measure through NVML when ``pynvml`` is importable and sees a GPU; a
        sampler object: use it; None: do not meter GPUs.
    cpu_watts_per_core : float, default=CPU_WATTS_PER_CORE
        Power of one busy core, for the CPU estimate.
    memory_watts_per_gb : float, default=MEMORY_WATTS_PER_GB
        Power per GB of resident memory, for the memory estimate (0 leaves memory out).
    interval_s : float, default=0.1
        Seconds between GPU power samples when the energy counter is unavailable.
    clock : callable, default=time.monotonic
        Seconds (tests pass a fake clock).
    cpu_seconds : callable, default=None
        CPU seconds used so far (tests pass a fake); default from ``os.times``.

    Examples
    --------
    >>> with EnergyMeter(gpu=None, grid_intensity=100.0) as meter:
    ...     _ = sum(i * i for i in range(10_000))
    >>> meter.report.label, meter.report.grid_intensity_g_per_kwh
    ('estimated', 100.0)
    """

    def __init__(
        self,
        *,
        grid_intensity: float | None = None,
        location: str | None = None,
        gpu: Any = "auto",
        cpu_watts_per_core: float = CPU_WATTS_PER_CORE,
        memory_watts_per_gb: float = MEMORY_WATTS_PER_GB,
        interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        cpu_seconds: Callable[[], float] | None = None,
    ) -> None:
        self.grid_intensity = grid_intensity
        self.location = location
        self.gpu = gpu
        self.cpu_watts_per_core = cpu_watts_per_core
        self.memory_watts_per_gb = memory_watts_per_gb
        self.interval_s = interval_s
        self.clock = clock
        self.cpu_seconds = cpu_seconds
        self.report: EnergyReport | None = None
        self._running = False
        self._sampler: Any = None
        self._owns_sampler = False
        self._samples: list[tuple[float, float]] = []
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    # -- configuration -------------------------------------------------------------------
    def _intensity(self) -> tuple[float, str]:
        if self.grid_intensity is not None:
            return _positive(self.grid_intensity, "grid_intensity"), "set by the user"
        env = os.environ.get(ENV_GRID_INTENSITY)
        if env is not None and env.strip():
            try:
                value = float(env)
            except ValueError as exc:
                raise ParameterError(
                    f"{ENV_GRID_INTENSITY} must be a number of g CO2e per kWh; got {env!r}."
                ) from exc
            return _positive(value, ENV_GRID_INTENSITY), f"set by {ENV_GRID_INTENSITY}"
        return GRID_INTENSITY, GRID_INTENSITY_SOURCE

    # -- running -------------------------------------------------------------------------
    def start(self) -> EnergyMeter:
        """Start metering (returns ``self``)."""
        if self._running:
            raise ParameterError("EnergyMeter.start was called twice without stop.")
        _positive(self.cpu_watts_per_core, "cpu_watts_per_core")
        _positive(self.memory_watts_per_gb, "memory_watts_per_gb")
        if _positive(self.interval_s, "interval_s") == 0:
            raise ParameterError(PARAM_MSG.format(
                param="interval_s", func="EnergyMeter", expected="a number > 0",
                got=self.interval_s))  # fmt: skip
        self._intensity()  # fail early on a bad setting
        if self.gpu == "auto":
            self._sampler, self._owns_sampler = nvml_sampler(), True
        elif self.gpu is None:
            self._sampler = None
        elif hasattr(self.gpu, "power_watts"):
            self._sampler, self._owns_sampler = self.gpu, False
        else:
            raise ParameterError(PARAM_MSG.format(
                param="gpu", func="EnergyMeter", expected="'auto', None or a sampler with "
                "power_watts()", got=self.gpu))  # fmt: skip
        self.report = None
        self._samples = []
        self._cpu0 = (self.cpu_seconds or _cpu_seconds)()
        self._t0 = self.clock()
        self._energy0: float | None = None
        if self._sampler is not None:
            self._energy0 = self._sampler.energy_joules()
            if self._energy0 is None:
                self._sample()
                self._stop_event.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="auditkit-energy", daemon=True
                )
                self._thread.start()
        self._running = True
        return self

    def _sample(self) -> None:
        t = self.clock()
        try:
            w = float(self._sampler.power_watts())
        except Exception:  # noqa: BLE001 - a failed read is a missing sample, not a crash
            return
        if math.isfinite(w):
            with self._lock:
                self._samples.append((t, w))

    def _loop(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self._sample()

    def stop(self) -> EnergyReport:
        """Stop metering and return the report (also kept in :attr:`report`)."""
        if not self._running:
            raise ParameterError("EnergyMeter.stop was called before start.")
        self._running = False
        components: list[EnergyComponent] = []
        try:
            if self._sampler is not None:
                if self._thread is not None:
                    self._stop_event.set()
                    self._thread.join()
                    self._thread = None
                    self._sample()
                t1 = self.clock()
                duration = max(t1 - self._t0, 0.0)
                components.append(self._gpu_component(duration))
            else:
                t1 = self.clock()
                duration = max(t1 - self._t0, 0.0)
        finally:
            if self._sampler is not None and self._owns_sampler:
                self._sampler.close()
            self._sampler = None
        cpu_s = max((self.cpu_seconds or _cpu_seconds)() - self._cpu0, 0.0)
        cpu_j = cpu_s * float(self.cpu_watts_per_core)
        components.append(
            EnergyComponent(
                "cpu", cpu_j / _J_PER_KWH, "estimated",
                f"{cpu_s:.3g} CPU-seconds x {float(self.cpu_watts_per_core):g} W per busy core "
                "(thermal design power per core; Green Algorithms method)",
                cpu_j / duration if duration > 0 else None,
            )
        )  # fmt: skip
        gb = _peak_rss_gb() if self.memory_watts_per_gb else None
        if gb is not None:
            mem_w = gb * float(self.memory_watts_per_gb)
            components.append(
                EnergyComponent(
                    "memory", mem_w * duration / _J_PER_KWH, "estimated",
                    f"{gb:.3g} GB peak resident memory x {float(self.memory_watts_per_gb):g} W "
                    "per GB (Green Algorithms)", mem_w,
                )
            )  # fmt: skip
        intensity, source = self._intensity()
        kwh = sum(c.kwh for c in components)
        label: Label = "measured" if all(c.label == "measured" for c in components) else (
            "estimated"
        )  # fmt: skip
        method = "; ".join(f"{c.name} {c.label}: {c.method}" for c in components)
        location = self.location or os.environ.get(ENV_GRID_LOCATION) or None
        self.report = EnergyReport(
            duration_s=duration, kwh=kwh, co2e_g=kwh * intensity, label=label, method=method,
            grid_intensity_g_per_kwh=intensity, grid_intensity_source=source,
            location=location, components=tuple(components),
        )  # fmt: skip
        return self.report

    def _gpu_component(self, duration: float) -> EnergyComponent:
        name = getattr(self._sampler, "name", "GPU") or "GPU"
        if self._energy0 is not None:
            e1 = self._sampler.energy_joules()
            if e1 is not None:
                joules = max(e1 - self._energy0, 0.0)
                return EnergyComponent(
                    "gpu", joules / _J_PER_KWH, "measured",
                    f"NVML total-energy counter of {name}",
                    joules / duration if duration > 0 else None,
                )  # fmt: skip
        with self._lock:
            samples = list(self._samples)
        joules = integrate_power(samples)
        span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
        return EnergyComponent(
            "gpu", joules / _J_PER_KWH, "measured",
            f"NVML power of {name} sampled every {self.interval_s:g} s ({len(samples)} "
            "samples), integrated with the trapezoid rule",
            joules / span if span > 0 else None,
        )  # fmt: skip

    def __enter__(self) -> EnergyMeter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()
