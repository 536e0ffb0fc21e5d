"""The process's machine state at the time of an error: CPU %, memory, disk and
NVIDIA GPUs. psutil and pynvml are used when installed; without psutil the
standard library and /proc give the same figures on Linux. Never raises."""

from __future__ import annotations

import os
import shutil
import threading
from typing import List, Optional, Tuple

from .types import GpuState, SystemState

try:  # optional extra
    import psutil  # type: ignore
except Exception:  # pragma: no cover - depends on the environment
    psutil = None

_nvml_lock = threading.Lock()
_nvml_state = {"tried": False, "module": None}
_last_cpu_times: Optional[Tuple[int, int]] = None


def _read_proc_stat() -> Optional[Tuple[int, int]]:
    """(busy, total) jiffies over all CPUs from /proc/stat, None where there is none."""
    try:
        with open("/proc/stat") as stat_file:
            fields = [int(v) for v in stat_file.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def prime_cpu_percent() -> None:
    """Takes the first CPU sample, so the first error's CPU % covers the time since."""
    global _last_cpu_times
    if psutil is not None:
        psutil.cpu_percent(interval=None)
    else:
        _last_cpu_times = _read_proc_stat()


def cpu_percent() -> Optional[float]:
    """CPU usage over all cores since the previous sample, or the load average as
    a fallback; None when unknown."""
    global _last_cpu_times
    try:
        if psutil is not None:
            return float(psutil.cpu_percent(interval=None))
        now = _read_proc_stat()
        previous, _last_cpu_times = _last_cpu_times, now
        if now and previous and now[1] > previous[1]:
            return 100.0 * (now[0] - previous[0]) / (now[1] - previous[1])
        if hasattr(os, "getloadavg"):
            return min(100.0, 100.0 * os.getloadavg()[0] / (os.cpu_count() or 1))
    except Exception:
        pass
    return None


def memory_bytes() -> Tuple[int, int]:
    """(used, total) RAM in bytes; (0, 0) when unknown."""
    try:
        if psutil is not None:
            memory = psutil.virtual_memory()
            return int(memory.total - memory.available), int(memory.total)
        info = {}
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                key, _, value = line.partition(":")
                info[key] = int(value.split()[0]) * 1024
        total = info.get("MemTotal", 0)
        return total - info.get("MemAvailable", info.get("MemFree", 0)), total
    except Exception:
        return 0, 0


def disk_bytes(path: str = ".") -> Tuple[int, int]:
    """(used, total) bytes of the file system holding `path`; (0, 0) when unknown."""
    try:
        usage = shutil.disk_usage(path)
        return int(usage.used), int(usage.total)
    except Exception:
        return 0, 0


def _nvml():
    """The initialised pynvml module, or None (not installed, no driver, no GPU)."""
    with _nvml_lock:
        if not _nvml_state["tried"]:
            _nvml_state["tried"] = True
            try:
                import pynvml  # type: ignore

                pynvml.nvmlInit()
                _nvml_state["module"] = pynvml
            except Exception:
                _nvml_state["module"] = None
        return _nvml_state["module"]


def gpus() -> List[GpuState]:
    """Every NVIDIA GPU NVML sees; empty without pynvml or a GPU."""
    nvml = _nvml()
    if nvml is None:
        return []
    states = []
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                utilization = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                utilization = None
            states.append(
                GpuState(
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_used_bytes=int(memory.used),
                    memory_total_bytes=int(memory.total),
                    utilization_percent=utilization,
                )
            )
    except Exception:
        pass
    return states


def capture_system_state(disk_path: str = ".") -> SystemState:
    """A snapshot of CPU, memory, disk (of `disk_path`) and GPUs."""
    memory_used, memory_total = memory_bytes()
    disk_used, disk_total = disk_bytes(disk_path)
    return SystemState(
        cpu_percent=cpu_percent(),
        memory_used_bytes=memory_used,
        memory_total_bytes=memory_total,
        disk_used_bytes=disk_used,
        disk_total_bytes=disk_total,
        gpus=gpus(),
    )


def reset_after_fork() -> None:
    """NVML handles and the lock are not carried into a forked child."""
    global _nvml_lock
    _nvml_lock = threading.Lock()
    _nvml_state.update(tried=False, module=None)
