"""The Celery worker entry point: ``celery -A worker worker -Q training``."""

from app.config import get_settings
from app.tasks.celery_app import create_celery, use_multiprocess_dir

settings = get_settings()
use_multiprocess_dir(settings)  # before anything imports prometheus_client

from app.tasks.worker_metrics import install_worker_metrics  # noqa: E402

celery_app = create_celery(settings)
install_worker_metrics(celery_app, settings)
