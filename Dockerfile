# syntax=docker/dockerfile:1
# ratecard image: `docker build -t ratecard .`, then `docker run -p 8000:8000 -e DATABASE_URL=... ratecard`.
# Migrations are not run here: run `ratecard migrate` once per release (Job, release phase).

# --- builder: the only stage with a compiler; turns every dependency into a wheel -------------
FROM python:3.11-slim AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml ./
# Dependencies first, from pyproject alone: a change to src/ reuses this layer's wheels.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt \
 && pip wheel --no-cache-dir --wheel-dir /wheels "setuptools>=68" wheel
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- final: slim runtime, no compiler, non-root ------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 ratecard \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ratecard
WORKDIR /app
COPY pyproject.toml ./
# Dependencies in their own layer, installed from the builder's wheels (mounted, so the wheels
# themselves never land in a layer): rebuilt only when pyproject.toml changes.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-index --find-links=/wheels -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY src ./src
# The project itself, without deps (already installed); setuptools comes from the wheels too.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels --no-deps . \
 && rm -rf build src/*.egg-info
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# Liveness only (never a dependency); python's urllib, as the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=3)"]
CMD ["ratecard", "serve", "--host", "0.0.0.0", "--port", "8000"]
