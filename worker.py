"""The Celery worker entry point: ``celery -A worker:celery_app worker -Q training``."""

from app.config import get_settings
from app.tasks.celery_app import create_celery
from app.tasks.worker_metrics import install_worker_metrics

celery_app = create_celery(get_settings())
install_worker_metrics(celery_app)
