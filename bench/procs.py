"""CPU, memory and open files of every actor process over a run (psutil), sampled in a background thread."""
from __future__ import annotations

import threading
import time
from collections import defaultdict

import psutil

STATUS_EVERY_S = 5.0


class ProcSampler:
    """Every `every_s`, per actor: cpu % (of one core), RSS, USS and PSS (MB), open fds. Actor pids
    come from the system's status (refreshed every few seconds: coalescers come and go, restarts
    change pids)."""

    def __init__(self, bs, every_s: float = 1.0):
        self.bs, self.every_s = bs, every_s
        self.samples: dict[str, list] = defaultdict(list)  # name -> [(t_s, cpu_pct, rss_mb, uss_mb, fds, pss_mb)]
        self.procs: dict[tuple[str, int], psutil.Process] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self.t0 = time.monotonic()

    def start(self) -> "ProcSampler":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _refresh(self) -> None:
        self.bs.status()
        pids = dict(self.bs.pids)
        if self.bs.sim is not None:
            pids["polysim"] = self.bs.sim.pid
        for name, pid in pids.items():
            if (name, pid) not in self.procs:
                try:
                    p = psutil.Process(pid)
                    p.cpu_percent(None)  # the first call only primes the counter
                    self.procs[(name, pid)] = p
                except psutil.Error:
                    continue

    def _run(self) -> None:
        last_status = 0.0
        while not self.stop_event.wait(self.every_s):
            now = time.monotonic()
            if now - last_status > STATUS_EVERY_S:
                last_status = now
                self._refresh()
            for (name, pid), p in list(self.procs.items()):
                try:
                    mem = p.memory_full_info()  # USS: pages only this process holds (forked actors share most)
                    self.samples[name].append((round(now - self.t0, 1), p.cpu_percent(None),
                                               round(mem.rss / 2**20, 1), round(mem.uss / 2**20, 1), p.num_fds(),
                                               round(mem.pss / 2**20, 1)))
                except psutil.Error:
                    del self.procs[(name, pid)]

    def summary(self) -> dict:
        """Per actor: mean and max CPU %, first / max / last RSS MB; coalescers also as one group."""
        out = {}
        for name, rows in sorted(self.samples.items()):
            cpu = [r[1] for r in rows[1:]] or [0.0]
            rss, uss = [r[2] for r in rows], [r[3] for r in rows]
            out[name] = {"cpu_pct_mean": round(sum(cpu) / len(cpu), 1), "cpu_pct_max": round(max(cpu), 1),
                         "rss_mb_first": rss[0], "rss_mb_max": max(rss), "rss_mb_last": rss[-1],
                         "uss_mb_first": uss[0], "uss_mb_last": uss[-1], "samples": len(rows)}
        return out

    def mem_total(self, exclude=("polysim",), field: int | None = 3, only=None) -> list[tuple[float, float]]:
        """(t_s, sum over the system's processes) per sampling round: USS MB (field 3), RSS MB (2),
        open fds (4), PSS MB (5) or, with field None, how many processes. `only(name)` narrows them."""
        by_t = defaultdict(float)
        for name, rows in self.samples.items():
            if name in exclude or (only and not only(name)):
                continue
            for row in rows:
                by_t[row[0]] += 1 if field is None else row[field]
        return sorted(by_t.items())
