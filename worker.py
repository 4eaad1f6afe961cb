"""The Celery worker entry point: ``celery -A worker worker -Q training,prediction,search``.

Beat and the supervisor: ``celery -A worker worker -B -Q supervisor -c 1``.
"""

from app.config import get_settings
from app.tasks.celery_app import create_celery, use_multiprocess_dir

settings = get_settings()
use_multiprocess_dir(settings)  # before anything imports prometheus_client

from app.tasks.shutdown import install_graceful_shutdown  # noqa: E402
from app.tasks.worker_metrics import install_worker_metrics  # noqa: E402

celery_app = create_celery(settings)
install_worker_metrics(celery_app, settings)
install_graceful_shutdown(celery_app, settings)
