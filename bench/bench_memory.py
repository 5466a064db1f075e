"""One student's memory: the whole student stack, notebook 05 run in a kernel and a bounded processor run at the
same time, resident memory (RSS) sampled every 0.2 s per part; prints each part's peak and the peak of the total.

    python bench/bench_memory.py [--notebook notebooks/05_candlesticks.ipynb] [--no-processor]

The parts: broker, PostgreSQL (the postmaster and its backends), the trade stream (producer), the notebook's
kernel (IPython and its Flink JVM), the processor (Python and its JVM), JupyterLab (started only with --lab).
Goal (issue 25): at most 1.5 GB peak in total, so a 64 GB server holds about 40 students and Binder's 2 GB fits.
Uses the project's .env (its ports); starts what is not running and stops only what it started."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from workbook.stack.procs import process_rss_mb  # a process and its children (a kernel's JVM is one)

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GOAL_MB = 1500


class Sampler(threading.Thread):
    """Samples the parts' RSS until stopped: each part's peak, and the peak of their sum at one instant."""

    def __init__(self, parts):
        super().__init__(daemon=True)
        self.parts = parts  # name -> callable returning the pids to count (it may change: a kernel starts later)
        self.peak = dict.fromkeys(parts, 0.0)
        self.peak_total = 0.0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            now = {name: sum(process_rss_mb(pid) for pid in pids()) for name, pids in self.parts.items()}
            for name, mb in now.items():
                self.peak[name] = max(self.peak[name], mb)
            self.peak_total = max(self.peak_total, sum(now.values()))
            self.halt.wait(0.2)


def children_running(marker: str):
    """pids of this process's children whose command line holds `marker` (the kernel, the processor)."""

    def pids():
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                if marker in " ".join(child.cmdline()):
                    found.append(child.pid)
            except psutil.Error:
                pass
        # count a tree once: drop a pid whose parent is already counted
        return [p for p in found if _parent(p) not in found]

    return pids


def _parent(pid: int):
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


def run_notebook(path: Path) -> float:
    """Notebook `path` top to bottom in a fresh kernel from the project's folder (nbclient, as nbval does)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebook", default="notebooks/05_candlesticks.ipynb")
    ap.add_argument("--no-processor", action="store_true", help="only the stack and the notebook")
    ap.add_argument("--lab", action="store_true", help="also start JupyterLab (no browser) and count it")
    args = ap.parse_args()
    os.chdir(ROOT)
    # the solutions run, so every query cell of the notebook runs as a finished student's would
    os.environ["WORKBOOK_SOLUTIONS"] = "1"
    from workbook.config import load_config
    from workbook.stack import control

    config = load_config()
    before = {r.name for r in control.status(config) if r.pid}
    print("starting the student stack (broker, PostgreSQL, stream) ...", flush=True)
    control.up(config, stream=True, say=lambda *_: None)
    rows = {r.name: r.pid for r in control.status(config) if r.pid}
    parts = {name: (lambda pid=rows.get(name): [pid] if pid else []) for name in ("broker", "postgres", "stream")}
    parts["kernel"] = children_running("ipykernel_launcher")
    parts["processor"] = children_running("workbook.processor")
    lab = None
    if args.lab:
        lab = subprocess.Popen(
            [PY, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", "--port=0", "--allow-root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        parts["jupyterlab"] = lambda: [lab.pid]
    sampler = Sampler(parts)
    sampler.start()
    try:
        time.sleep(5)  # the stream runs a little first
        processor = None
        if not args.no_processor:
            processor = subprocess.Popen(
                [PY, "-m", "workbook.processor", "--bounded", "--solutions"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
        print(
            f"running {args.notebook} in a kernel"
            + ("" if args.no_processor else ", a bounded processor run beside it")
        )
        seconds = run_notebook(ROOT / args.notebook)
        if processor is not None:
            _, err = processor.communicate(timeout=600)
            if processor.returncode != 0:
                print(f"the processor failed ({processor.returncode}):\n{err[-2000:]}", file=sys.stderr)
                return 1
        time.sleep(0.5)
    finally:
        sampler.halt.set()
        sampler.join()
        if lab is not None:
            lab.terminate()
        if not before:
            control.down(config, say=lambda *_: None)
    print(f"\nnotebook ran in {seconds:.0f} s; peak RSS per part (MiB), each at its own peak:")
    for name, mb in sampler.peak.items():
        print(f"  {name:<11} {mb:7.0f}")
    total = sampler.peak_total
    verdict = "within" if total <= GOAL_MB else "OVER"
    print(f"  {'total':<11} {total:7.0f}  (peak of the sum at one instant; goal {GOAL_MB}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
