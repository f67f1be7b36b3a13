"""The process a trial runs in: thread pools, GPU memory caps, placement, memory use.

TensorFlow accepts thread and memory settings only before it initializes, so they are set
once per process (a reused Ray worker keeps them for its later trials).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sweeper.result import Placement

__all__ = ["configure_process", "gpu_memory_limit_mb", "placement", "resident_mb"]

_configured_process = False


def gpu_memory_limit_mb(fraction: float, total_mb: int) -> int | None:
    """Cap for a trial that owns ``fraction`` of a GPU (None for whole GPUs)."""
    if fraction <= 0 or fraction >= 1:
        return None
    return max(256, int(total_mb * fraction))


def _gpu_total_memory_mb(index: str) -> int | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
             "-i", index], capture_output=True, text=True, timeout=20, check=True)
        return int(out.stdout.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def configure_process(cpus: float, gpu_share: float) -> None:
    """Thread pools sized to the trial's CPUs, GPU memory capped to its share; once per process.

    TensorFlow accepts these only before it initializes, i.e. in a worker's first trial; with
    actor reuse every later trial of that worker has the same resources.
    """
    global _configured_process
    if _configured_process:
        return
    import tensorflow as tf

    threads = max(1, round(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        pass  # already initialized by an earlier import; keep its pools
    gpus = tf.config.list_physical_devices("GPU")
    visible = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
    for gpu, index in zip(gpus, visible, strict=False):
        total = _gpu_total_memory_mb(index)
        limit = gpu_memory_limit_mb(gpu_share, total) if total else None
        try:
            if limit is not None:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    _configured_process = True


def resident_mb() -> float:
    """This process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def placement() -> Placement:
    """Where this trial runs: Ray node, address, the GPUs it was given, the process."""
    import ray

    return Placement(node_id=ray.get_runtime_context().get_node_id(),
                     node_ip=ray.util.get_node_ip_address(),
                     gpu_ids=os.environ.get("CUDA_VISIBLE_DEVICES", ""), pid=os.getpid())
