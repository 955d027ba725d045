"""The container check: make test-containers (pytest --containers tests/containers)."""
