# syntax=docker/dockerfile:1.7
# The CUDA variant of the pipeline-components image, for the tune and train steps on the GPU node pool
# (MATCHDAY_TRAIN_GPUS > 0): matchday with the `gpu` extra (onnxruntime-gpu) over CUDA 12 and cuDNN 9;
# XGBoost's wheel carries its own CUDA kernels. The node's NVIDIA driver comes from the GKE GPU node pool.
#   docker build -f docker/components-cuda.Dockerfile -t ghcr.io/matchday/matchday:0.1.0-cuda .

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04 AS cuda-python
ENV DEBIAN_FRONTEND=noninteractive
# Python 3.11 (matchday requires >=3.11,<3.12) from the deadsnakes PPA; libgomp1 for XGBoost and LightGBM.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv libgomp1 \
    && apt-get purge -y software-properties-common gpg-agent \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

FROM cuda-python AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The tested versions, less the CPU build of ONNX Runtime (the gpu extra brings onnxruntime-gpu instead).
COPY pyproject.toml README.md requirements.lock ./
COPY src ./src
RUN grep -v '^onnxruntime==' requirements.lock > /tmp/constraints.txt
RUN pip install --no-cache-dir -c /tmp/constraints.txt '.[gpu]' \
    && pip check

FROM cuda-python AS runtime
RUN groupadd --system --gid 10001 matchday \
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
    MATCHDAY_STATE_DIR=/mnt/matchday/state \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
HEALTHCHECK --interval=60s --timeout=20s --retries=1 \
    CMD ["python", "-c", "import matchday, pipelines, kfp, onnxruntime"]
CMD ["matchday", "--help"]
