"""Persistence: the MongoDB client, the GridFS artifact store and one repository per collection.

``storage`` knows MongoDB and GridFS, nothing of scikit-learn internals, HTTP or queues.
"""
