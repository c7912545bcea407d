# Tandem's image: one image for every service of docker-compose.yml (web, events, worker,
# beat, migrate). Multi-stage: wheels are built from the lock file in a builder stage; the
# runtime stage installs them without compilers and runs as a non-root user.

FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt ./
# Exact versions and hashes from the lock (the same file CI installs from).
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# WeasyPrint's system libraries (Pango, fonts) for the PDF; poppler-utils for `pdfsig`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/* && rm -rf /wheels

RUN useradd --create-home --uid 10001 tandem
WORKDIR /app
COPY --chown=tandem:tandem . .
# Production settings: hashed file names and a manifest (WhiteNoise); the key is a throwaway.
RUN DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media && chown -R tandem:tandem /app/var
# The release, shared by every container of this image (cache keys: config/settings.py
# RELEASE): `docker compose build --build-arg TANDEM_RELEASE=$(git rev-parse --short HEAD)`.
ARG TANDEM_RELEASE=""
ENV TANDEM_RELEASE=${TANDEM_RELEASE}
USER tandem
EXPOSE 8000 8001
# Liveness: the process answers (the database's state is in the body; /readyz gates on it).
# /healthz answers at any Host (config.health.HealthMiddleware).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"
CMD ["gunicorn", "-c", "python:config.gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "1"]
