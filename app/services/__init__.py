"""Use cases: what users and the fleet do, called alike by views, Celery tasks and the CLI.

``jobs`` submit, cancel and wait for jobs; ``runs`` trains one delivery of a job;
``outcomes`` ends a job (the one place a job is failed or succeeded); ``datasets``
registers uploads and the built-ins; ``statistics`` summarises the registry;
``setup`` prepares MongoDB at start-up.

Services know MongoDB only through ``app.storage``, scikit-learn only through
``app.ml`` and Celery only through the app they are handed; they never import
Flask.
"""
