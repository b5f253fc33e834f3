# syntax=docker/dockerfile:1
# ratecard image: `docker build -t ratecard .`, then `docker run -p 8000:8000 -e DATABASE_URL=... ratecard`.
# Migrations are not run here: run `ratecard migrate` once per release (Job, release phase).

# --- builder: fetches every dependency against the lock's hashes, builds the project's wheel -----
# A C compiler for the project alone: mypyc compiles its batch pricing hot path to C extensions
# (setup.py), so the wheel is platform-specific. The dependencies need none: every locked one
# ships a wheel for linux/CPython 3.11, and one built here from an sdist would not match the
# lock's hash in the final stage anyway (the build fails).
FROM python:3.11-slim AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Dependencies first, from the lock alone: a change to src/ reuses this layer's wheels. Every
# download is checked against requirements/runtime.txt's hashes (`make lock` writes it): a
# release replaced or compromised on the index fails the build instead of shipping.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
# The dependencies are installed here too (from those wheels, no download) so that mypyc
# compiles against the very libraries `make install` compiles and tests against.
RUN pip wheel --no-cache-dir --require-hashes --no-deps --wheel-dir /wheels \
      -r requirements/runtime.txt \
 && pip install --no-cache-dir --require-hashes --no-deps -r requirements/build.txt \
 && pip install --no-cache-dir --no-index --find-links=/wheels --no-deps \
      -r requirements/runtime.txt
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# The project's wheel, built and compiled with the locked setuptools and mypy just installed (no
# isolated build environment, which would download unpinned ones); kept apart from the
# dependency wheels so that the final stage's dependency layer does not depend on src/.
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /project .

# --- final: slim runtime, no compiler (the wheel comes compiled), non-root ------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 ratecard \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ratecard
WORKDIR /app
COPY requirements/runtime.txt ./requirements/
# Dependencies in their own layer, from the builder's wheels only (--no-index: no download here;
# mounted, so the wheels never land in a layer), checked against the lock's hashes once more:
# exactly the locked set, rebuilt only when the lock changes.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels --no-deps -r requirements/runtime.txt
# The project itself, without deps (already installed).
RUN --mount=type=bind,from=builder,source=/project,target=/project \
    pip install --no-index --no-deps /project/ratecard-*.whl
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# Liveness only (never a dependency); python's urllib, as the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=3)"]
CMD ["ratecard", "serve", "--host", "0.0.0.0", "--port", "8000"]
