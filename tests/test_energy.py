"""EnergyMeter: CPU estimate arithmetic, the NVML path through a fake sampler, labels, settings."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from auditkit.exceptions import ParameterError
from auditkit.models.energy import (
    CPU_WATTS_PER_CORE,
    GRID_INTENSITY,
    MEMORY_WATTS_PER_GB,
    EnergyMeter,
    integrate_power,
    nvml_sampler,
)

J_PER_KWH = 3.6e6


class Clock:
    """A fake monotonic clock that advances ``step`` seconds per reading (thread-safe)."""

    def __init__(self, step: float) -> None:
        self.t, self.step, self.lock = 0.0, step, threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.t += self.step
            return self.t


class FakeGpu:
    """A sampler whose power is a function of the fake clock's time."""

    name = "Fake GPU"

    def __init__(self, clock: Clock, watts: object, counter: bool = False) -> None:
        self.clock, self.watts, self.counter, self.closed = clock, watts, counter, False
        self.joules = 0.0

    def power_watts(self) -> float:
        return float(self.watts(self.clock.t)) if callable(self.watts) else float(self.watts)

    def energy_joules(self) -> float | None:
        if not self.counter:
            return None
        self.joules += 1234.5  # each read: 1234.5 J more
        return self.joules

    def close(self) -> None:
        self.closed = True


def test_cpu_estimate_is_cpu_seconds_times_watts_per_core() -> None:
    cpu = iter([10.0, 46.0])  # 36 CPU-seconds used
    clock = Clock(3.0)
    meter = EnergyMeter(gpu=None, grid_intensity=250.0, memory_watts_per_gb=0.0,
                        cpu_seconds=lambda: next(cpu), clock=clock)  # fmt: skip
    meter.start()
    rep = meter.stop()
    assert rep.label == "estimated" and len(rep.components) == 1
    assert rep.duration_s == pytest.approx(3.0)
    want_kwh = 36.0 * CPU_WATTS_PER_CORE / J_PER_KWH
    assert rep.kwh == pytest.approx(want_kwh, rel=1e-12)
    assert rep.co2e_g == pytest.approx(want_kwh * 250.0, rel=1e-12)
    c = rep.components[0]
    assert c.name == "cpu" and c.label == "estimated"
    assert f"{CPU_WATTS_PER_CORE:g} W per busy core" in c.method
    assert c.mean_watts == pytest.approx(36.0 * CPU_WATTS_PER_CORE / 3.0)


def test_memory_estimate_and_default_intensity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITKIT_GRID_INTENSITY", raising=False)
    monkeypatch.setattr("auditkit.models.energy._peak_rss_gb", lambda: 2.0)
    cpu = iter([0.0, 0.0])
    meter = EnergyMeter(gpu=None, cpu_seconds=lambda: next(cpu), clock=Clock(100.0))
    with meter:
        pass
    rep = meter.report
    assert rep is not None
    mem = next(c for c in rep.components if c.name == "memory")
    assert mem.kwh == pytest.approx(2.0 * MEMORY_WATTS_PER_GB * 100.0 / J_PER_KWH)
    assert rep.grid_intensity_g_per_kwh == GRID_INTENSITY and "Ember" in rep.grid_intensity_source
    assert rep.co2e_g == pytest.approx(rep.kwh * GRID_INTENSITY)


def test_grid_intensity_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITKIT_GRID_INTENSITY", "56")
    monkeypatch.setenv("AUDITKIT_GRID_LOCATION", "France")
    cpu = iter([0.0, 7.2])
    rep = (
        EnergyMeter(gpu=None, cpu_seconds=lambda: next(cpu), memory_watts_per_gb=0).start().stop()
    )
    assert rep.grid_intensity_g_per_kwh == 56.0 and rep.location == "France"
    assert rep.co2e_g == pytest.approx(7.2 * CPU_WATTS_PER_CORE / J_PER_KWH * 56.0)
    monkeypatch.setenv("AUDITKIT_GRID_INTENSITY", "lots")
    with pytest.raises(ParameterError, match="AUDITKIT_GRID_INTENSITY"):
        EnergyMeter(gpu=None).start()


@pytest.mark.parametrize("seed", range(5))
def test_gpu_power_is_integrated_exactly_for_linear_power(seed: int) -> None:
    """Power linear in time: the trapezoid rule is exact whatever the sampling instants."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(50, 300), rng.uniform(-5, 20)
    clock = Clock(rng.uniform(0.001, 0.01))
    gpu = FakeGpu(clock, lambda t: a + b * t)
    meter = EnergyMeter(gpu=gpu, interval_s=0.001, clock=clock, memory_watts_per_gb=0,
                        cpu_seconds=lambda: 0.0)  # fmt: skip
    meter.start()
    time.sleep(0.05)  # the background thread samples; only the meter reads the fake clock
    rep = meter.stop()
    g = rep.components[0]
    assert g.name == "gpu" and g.label == "measured" and "sampled" in g.method
    assert not gpu.closed  # a sampler passed in is the caller's to close
    samples = meter._samples
    t0, t1 = samples[0][0], samples[-1][0]
    exact = a * (t1 - t0) + b * (t1**2 - t0**2) / 2
    assert g.kwh * J_PER_KWH == pytest.approx(exact, rel=1e-9)
    assert len(samples) >= 3
    assert rep.label == "estimated"  # the CPU part is an estimate
    assert "gpu measured" in rep.method and "cpu estimated" in rep.method


def test_gpu_energy_counter_is_preferred() -> None:
    clock = Clock(0.5)
    gpu = FakeGpu(clock, 999.0, counter=True)
    meter = EnergyMeter(gpu=gpu, clock=clock, memory_watts_per_gb=0, cpu_seconds=lambda: 0.0)
    with meter:
        pass
    rep = meter.report
    assert rep is not None
    g = rep.components[0]
    assert g.kwh == pytest.approx(1234.5 / J_PER_KWH) and "counter" in g.method
    assert meter._thread is None and meter._samples == []  # no sampling thread was needed


def test_all_measured_label() -> None:
    clock = Clock(1.0)
    meter = EnergyMeter(gpu=FakeGpu(clock, 100.0, counter=True), clock=clock,
                        cpu_watts_per_core=0, memory_watts_per_gb=0,
                        cpu_seconds=lambda: 0.0)  # fmt: skip
    rep = meter.start().stop()
    assert [c.label for c in rep.components] == ["measured", "estimated"]
    assert rep.label == "estimated"


def test_integrate_power_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        t = np.sort(rng.uniform(0, 100, rng.integers(2, 60)))
        w = rng.uniform(0, 400, len(t))
        assert integrate_power(list(zip(t.tolist(), w.tolist()))) == pytest.approx(
            float(np.trapezoid(w, t)), rel=1e-12
        )
    assert integrate_power([]) == 0.0 and integrate_power([(1.0, 5.0)]) == 0.0


def test_real_meter_runs_and_reports_plain_data() -> None:
    with EnergyMeter(gpu="auto") as meter:
        x = sum(i * i for i in range(200_000))
    assert x > 0
    d = meter.report.to_dict() if meter.report else {}
    assert d["kwh"] >= 0 and math.isfinite(d["co2e_g"]) and d["label"] in ("measured", "estimated")
    assert all(c["label"] in ("measured", "estimated") for c in d["components"])
    if nvml_sampler() is None:
        assert [c["name"] for c in d["components"]][0] == "cpu"


@pytest.mark.parametrize("kwargs,needle", [
    ({"grid_intensity": -1}, "grid_intensity"), ({"cpu_watts_per_core": "ten"}, "cpu_watts"),
    ({"interval_s": 0}, "interval_s"), ({"gpu": 3}, "gpu"),
])  # fmt: skip
def test_bad_settings(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        EnergyMeter(**kwargs).start()  # type: ignore[arg-type]


def test_start_stop_order() -> None:
    meter = EnergyMeter(gpu=None)
    with pytest.raises(ParameterError, match="before start"):
        meter.stop()
    meter.start()
    with pytest.raises(ParameterError, match="twice"):
        meter.start()
    meter.stop()
