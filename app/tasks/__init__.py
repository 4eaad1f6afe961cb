"""The Celery side: the Celery app, job submission and the training task.

Tasks are thin, like views: they take a job id, re-read everything from
MongoDB and call ``app.ml`` and ``app.storage``.
"""
