"""Benchmark-only experiments, loaded into run.py (and every actor it forks) when
POLYCOPY_BENCH_PATCH names one; polycopy's code is not edited. `bench.burst --patch NAME`.

intake_one_timing: Intake sends one StageTiming per accepted batch instead of one per fill
(the proposed fix for the per-fill sends that dominate intake's CPU at 200 fills/s).
"""
import os

if os.environ.get("POLYCOPY_BENCH_PATCH") == "intake_one_timing":
    from polycopy.actors import intake as _intake
    from polycopy.messages import StageTiming as _StageTiming

    _accept, _send = _intake.Intake._accept, _intake.Intake.send

    def _accept_once(self, fills, *args):
        self._bench_timing_sent = False
        return _accept(self, fills, *args)

    def _send_once(self, target, msg):
        if isinstance(msg, _StageTiming):
            if getattr(self, "_bench_timing_sent", False):
                return None
            self._bench_timing_sent = True
        return _send(self, target, msg)

    _intake.Intake._accept, _intake.Intake.send = _accept_once, _send_once
