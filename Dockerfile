# Budgie images. Targets:
#   api     - Flask API + CPU stages (prepare, merge, align): no torch
#   engine  - NeMo on CUDA for transcribe / diarize / streaming workers, model weights baked in
# Both install through ops/install.sh, the script .ci/install uses; CI builds the api variant from exactly
# the files copied here into a clean virtualenv (.ci/image-check), since Docker cannot run there.
ARG PYTHON=3.11
FROM python:${PYTHON}-slim-bookworm AS base
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg libsndfile1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/budgie
COPY setup.cfg pyproject.toml README.md celeryconfig.py gunicorn.conf.py ./
COPY ops/install.sh ops/install.sh
COPY .ci/diarize-deps.sh .ci/diarize-deps.sh
COPY app app
COPY core core
COPY workers workers
COPY registry registry
COPY budgie budgie
ENV BUDGIE_DATA_DIR=/data PYTHONUNBUFFERED=1

FROM base AS api
RUN bash ops/install.sh api --no-cache
EXPOSE 8000
# gunicorn.conf.py (read from the working directory): 2 gthread workers on :8000, Prometheus multiprocess mode
CMD ["gunicorn", "app:create_app()"]

FROM base AS engine
# torch pinned (the `nemo` extra's pin) from the CUDA index; NeMo and the embedded diarizer after it.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
RUN bash ops/install.sh engine --torch-index "${TORCH_INDEX}" --no-cache
# Pre-download the hub model at build time so a worker never downloads at start-up.
ARG BUDGIE_PRELOAD=parakeet-0.6b
RUN python -c "import sys; from registry import load_registry; from nemo.collections.asr.models import ASRModel; \
[ASRModel.from_pretrained(load_registry().resolve(m).hub, map_location='cpu') for m in sys.argv[1:] if load_registry().resolve(m).hub]" \
    ${BUDGIE_PRELOAD}
