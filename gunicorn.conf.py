"""gunicorn settings for the API (``gunicorn -c gunicorn.conf.py "app:create_app()"``).

Threads let long-polling clients (``GET /jobs/<id>?wait=``) wait without
holding a whole worker process.
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("API_BIND", f"0.0.0.0:{os.environ.get('API_PORT', '8000')}")
workers = int(os.environ.get("API_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("API_THREADS", "8"))
timeout = 120
graceful_timeout = 30
accesslog = os.environ.get("API_ACCESS_LOG", "-")


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
