"""gunicorn settings for the API (``gunicorn -c gunicorn.conf.py "app:create_app()"``).

Every value comes from ``app.config.Settings`` (``API_BIND``, ``API_WORKERS``,
``API_THREADS``, ``API_ACCESS_LOG``, ``PROMETHEUS_MULTIPROC_DIR``). Threads let
long-polling clients (``GET /jobs/<id>?wait=``) wait without holding a whole
worker process.
"""

from prometheus_client import multiprocess

from app.config import get_settings

_settings = get_settings()

bind = _settings.api_bind
workers = _settings.api_workers
worker_class = "gthread"
threads = _settings.api_threads
timeout = 120
graceful_timeout = 30
accesslog = _settings.api_access_log


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    if _settings.prometheus_multiproc_dir:
        multiprocess.mark_process_dead(worker.pid, _settings.prometheus_multiproc_dir)
