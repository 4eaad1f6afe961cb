# syntax=docker/dockerfile:1
# One image for the API (gunicorn), the Celery workers, Flower and the
# one-shot bootstrap; docker-compose.yml picks the process with `command`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Unprivileged runtime user (fixed ids so volume ownership is predictable).
RUN groupadd --system --gid 10001 tensorfleet \
 && useradd --system --uid 10001 --gid tensorfleet --create-home \
        --home-dir /home/tensorfleet --shell /usr/sbin/nologin tensorfleet

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Application code (see .dockerignore). Owned by root: read-only for the app.
COPY . .

# prometheus_client multiprocess directory (compose mounts a tmpfs over it).
RUN mkdir -p /tmp/prometheus && chown tensorfleet:tensorfleet /tmp/prometheus
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

USER tensorfleet

# 8000: API, 9100: worker metrics, 5555: Flower.
EXPOSE 8000 9100 5555

# Bind address, processes and threads from the environment (see gunicorn.conf.py).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
