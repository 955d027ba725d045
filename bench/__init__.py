"""Load benchmarks of the service on loopback, side by side with the floors it is judged against.

`python -m bench` (see bench/__main__.py) measures every endpoint against a bare uvicorn app (the
HTTP floor), raw onnxruntime in-process (the compute floor) and a naive eager-torch server.
"""
