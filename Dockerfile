# polycopy in a small image: python:3.11-slim, non-root, state in a volume.
#   docker build -t polycopy .
#   docker run -d --name polycopy --env-file polycopy.env -v polycopy-state:/app/state polycopy --paper
#   docker exec polycopy python -m polycopy.ops.live_view --config config.yaml     # live view
#   docker exec polycopy python run.py --config config.yaml --status          # status JSON
# Metrics listen on 127.0.0.1 inside the container; scrape them from a sidecar sharing the
# network namespace (or run with --network host on a firewalled host).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    THESPIAN_BASE_IPADDR=127.0.0.1

# tini is PID 1: it forwards SIGTERM to the runner only (its clean-shutdown path) and reaps
# Thespian's daemonised admin process when it exits.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin polycopy

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY polycopy ./polycopy
COPY bench ./bench
RUN pip install . && rm -rf build *.egg-info
COPY run.py config.yaml ./
RUN mkdir -p /app/state && chown polycopy:polycopy /app/state

USER polycopy
VOLUME ["/app/state"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s \
    CMD python run.py --config config.yaml --status > /dev/null || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "python", "run.py", "--config", "config.yaml"]
CMD []
