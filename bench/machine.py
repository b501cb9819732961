"""The machine description every benchmark prints beside its figures."""

import os
import platform
from pathlib import Path


def describe_machine() -> str:
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} CPUs, {memory_kib / 2**20:.0f} GiB RAM, load average "
            f"{load} at the start; Python {platform.python_version()}, {platform.system()} "
            f"{platform.release()}")
