"""TensorFleet's performance benchmark (``make bench`` / ``python -m bench``); see README.md."""
