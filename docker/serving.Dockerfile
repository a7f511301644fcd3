# syntax=docker/dockerfile:1.7
# The serving image: BentoML HTTP (MATCHDAY_HTTP_PORT, 3000) and the Open Inference Protocol gRPC server
# (MATCHDAY_GRPC_PORT, 8001) in one process, as `matchday serve` runs them. Non-root, read-only-root friendly
# (state in /var/lib/matchday), health-checked on /readyz and the OIP ServerReady RPC.
#   docker build -f docker/serving.Dockerfile -t ghcr.io/matchday/serving:0.1.0 .
# The alternative is the Bento: `bentoml build -f bentos/bentofile.yaml . && bentoml containerize matchday:latest`
# (see the README's Deployment section); the Helm chart runs either image.

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
# libgomp1: the OpenMP runtime XGBoost and LightGBM link against (not in the slim image).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 matchday \
    && useradd --system --uid 10001 --gid matchday --home-dir /home/matchday --create-home matchday \
    && install -d -o 10001 -g 10001 /var/lib/matchday
COPY --from=build /opt/venv /opt/venv
COPY serving/canary.yaml /opt/matchday/serving/canary.yaml
COPY docker/oip_ready.py /opt/matchday/oip_ready.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/matchday \
    MATCHDAY_PROFILE=prod \
    MATCHDAY_LOG_FORMAT=json \
    MATCHDAY_SERVING_HOST=0.0.0.0 \
    MATCHDAY_STATE_DIR=/var/lib/matchday \
    MATCHDAY_CANARY_CONFIG=/opt/matchday/serving/canary.yaml
WORKDIR /home/matchday
USER 10001:10001
EXPOSE 3000 8001
# Ready means both servers answer: HTTP /readyz and OIP ServerReady (false until the champion is loaded).
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "/opt/matchday/oip_ready.py"]
ENTRYPOINT ["matchday", "serve"]
