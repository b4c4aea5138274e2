# Budgie images. Targets:
#   api     - Flask API + CPU stages (prepare, merge): no torch
#   engine  - NeMo on CUDA for transcribe / diarize / streaming workers, model weights baked in
ARG PYTHON=3.11
FROM python:${PYTHON}-slim-bookworm AS base
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg libsndfile1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/budgie
COPY setup.cfg pyproject.toml README.md celeryconfig.py ./
COPY app app
COPY workers workers
COPY registry registry
ENV BUDGIE_DATA_DIR=/data PYTHONUNBUFFERED=1

FROM base AS api
RUN pip install --no-cache-dir '.[ops]'
EXPOSE 8000
CMD ["gunicorn", "-w", "2", "-k", "gthread", "--threads", "32", "-b", "0.0.0.0:8000", "app:create_app()"]

FROM base AS engine
# torch from the CUDA index, pinned like the CPU wheel used in tests; NeMo pinned (see setup.cfg [nemo]).
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128 \
    && pip install --no-cache-dir '.[nemo,diarize]'
# Pre-download the hub model at build time so a worker never downloads at start-up.
ARG BUDGIE_PRELOAD=parakeet-0.6b
RUN python -c "import sys; from registry import load_registry; from nemo.collections.asr.models import ASRModel; \
[ASRModel.from_pretrained(load_registry().resolve(m).hub, map_location='cpu') for m in sys.argv[1:] if load_registry().resolve(m).hub]" \
    ${BUDGIE_PRELOAD}
