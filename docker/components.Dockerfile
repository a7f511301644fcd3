# syntax=docker/dockerfile:1.7
# The pipeline-components image (components/_image.py's BASE_IMAGE): Python 3.11 with matchday, kfp and the whole
# training stack installed, plus the repository's pipelines/ and components/ (which `matchday pipeline compile` and
# `submit` import from a checkout). KFP runs each component's function in it; nothing is installed at start.
#   docker build -f docker/components.Dockerfile -t ghcr.io/matchday/matchday:0.1.0 .
# The CUDA variant for the tune and train steps on the GPU node pool is docker/components-cuda.Dockerfile.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The package with the cpu extra, every dependency at the version the test suite ran with (requirements.lock).
COPY pyproject.toml README.md requirements.lock ./
COPY src ./src
RUN pip install --no-cache-dir -c requirements.lock '.[cpu]' \
    && pip check

FROM python:3.11-slim-bookworm AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 matchday \
    && useradd --system --uid 10001 --gid matchday --home-dir /home/matchday --create-home matchday \
    && install -d -o 10001 -g 10001 /mnt/matchday /mnt/matchday/state /mnt/matchday/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY pipelines ./pipelines
COPY components ./components
COPY serving/canary.yaml ./serving/canary.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    HOME=/home/matchday \
    MATCHDAY_LOG_FORMAT=json \
    MATCHDAY_STATE_DIR=/mnt/matchday/state
USER 10001:10001
# A batch image: no server to probe. The check proves the package and the pipelines import.
HEALTHCHECK --interval=60s --timeout=20s --retries=1 \
    CMD ["python", "-c", "import matchday, pipelines, kfp"]
CMD ["matchday", "--help"]
