"""Celery only: the Celery app and its settings, thin tasks, the worker's metrics endpoint.

A task is like a view: it takes a job id, calls one ``app.services`` function that
re-reads everything from MongoDB, and reports the outcome to Celery.
"""
