"""An actor system started inside the test process, for tests that drive real forked actors
without run.py."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from loguru import logger

from polycopy.actors import system
from polycopy.config import load_secrets
from polycopy.ops.logs import setup_logging


@contextmanager
def logged_system(cfg, state_dir: Path):
    """Logging as run.py sets it up (secret values redacted), then the system; on exit the system
    is shut down, its admin port closed, and this process's logger put back as pytest had it."""
    setup_logging(level="INFO", log_path=cfg.telemetry.log_path, json_stdout=True,
                  secret_values=load_secrets().values())
    asys = system.start_system(cfg.actors.admin_port, state_dir)
    try:
        yield asys
    finally:
        asys.shutdown()
        system.wait_port_closed(cfg.actors.admin_port, 10)
        logger.remove()
        logger.configure(patcher=None, extra={})
        logger.add(sys.stderr)
