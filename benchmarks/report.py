"""What every benchmark here shares: percentiles, per-run summaries, the table, the JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples_ns: list[int]) -> dict[str, float]:
    ms = [s / 1e6 for s in samples_ns]
    return {
        "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms), "min_ms": min(ms), "max_ms": max(ms),
        "count": len(ms),
    }


def table(figures: list[tuple[str, str, str]], medians: dict, per_run: list[dict],
          runs: int) -> str:
    """The medians (with min and max across runs) of the figures that were measured."""
    header = f"{'figure':<42} {'median':>9} {'min':>9} {'max':>9}  unit"
    lines = [f"median of {runs} runs (min and max across runs beside it)", header,
             "-" * len(header)]
    for key, label, unit in figures:
        if key not in medians:
            continue
        values = [run[key] for run in per_run]
        lines.append(f"{label:<42} {medians[key]:>9.2f} {min(values):>9.2f} "
                     f"{max(values):>9.2f}  {unit}")
    return "\n".join(lines)


def rounded(value):
    """The report with every float to 4 decimals (microsecond resolution in ms)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def write_json(path: Path, report: dict) -> None:
    """The report as the benchmark's JSON under results/, and a line saying so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path} ({report['wall_seconds']:.1f}s)")


def proc_status_mib(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM) in MiB; None if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def own_memory_mib(field: str) -> float:
    """This process's VmRSS or VmHWM (its peak) in MiB, from /proc."""
    value = proc_status_mib(os.getpid(), field)
    if value is None:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return value


def reset_peak_memory() -> None:
    """Start this process's VmHWM afresh at its current RSS (Linux: 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def environment() -> dict:
    """The machine, the versions a learner's figures depend on, and the commit."""
    import numpy as np  # here: the benchmarks of payments need none of them
    import scipy
    import sklearn

    versions = {"python": sys.version.split()[0], "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "usable_cpus": len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                "numpy": np.__version__, "scipy": scipy.__version__,
                "scikit-learn": sklearn.__version__}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        versions["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
            text=True, check=True).stdout.strip()
    return versions
