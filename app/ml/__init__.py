"""Machine learning core of TensorFleet: algorithms, datasets, training, metrics.

Pure scikit-learn/pandas code with no knowledge of HTTP, Flask, Celery or MongoDB.
Import the submodules directly (``app.ml.registry``, ``app.ml.training``, ...).
"""
