"""Peers: other serving frameworks running the service's models and work, for `python -m bench
--peers`. Each app module runs in the peer's own venv (bench/peers/venvs.py), which has the
framework, onnxruntime, numpy and Pillow but none of the benchmark's tools: so this package
imports nothing, and the app modules import only the framework, `service` and bench.peers.work.
"""
