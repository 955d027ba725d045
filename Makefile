# Two commands set up everything on a fresh machine (Python 3.11 with venv):
#   make serve   create .venv with the serving install (no torch) and start the service on exported/
#   make test    add the training, FID and dev extras to .venv, lint, and run the test suite
VENV ?= .venv
# Processes that run the test suite side by side, one test file each at a time (pytest-xdist)
TEST_PROCESSES ?= 2
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: serve test lint test-containers

$(VENV)/.serve: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.serve
	$(PIP) -e '.[train,fid,dev]'
	touch $@

serve: $(VENV)/.serve
	$(PY) -m service

lint: $(VENV)/.dev
	$(PY) -m ruff check service training tests bench

# The demo page test drives Debian's chromium (tests/test_demo_page.py), the proxy test Debian's
# nginx (tests/test_nginx.py). Install them when missing and we are root (CI, fresh machines);
# anyone else gets those tests skipped with the reason.
test: lint
	test -x /usr/bin/chromium -a -x /usr/sbin/nginx || [ "$$(id -u)" != 0 ] || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium nginx-light)
	$(PY) -m pytest --numprocesses $(TEST_PROCESSES) --dist loadfile --ignore tests/test_fuzz_openapi.py
	$(PY) -m pytest tests/test_fuzz_openapi.py  # its operations share one test id: xdist would run one

# The container check (tests/containers; 6.5 minutes on a fresh clone and machine here, podman's install included):
# base images without a registry, builds the serve and training images, runs them and the compose stack, and breaks a
# replica under load. Installs podman and mmdebstrap from Debian when missing and we are root.
CONTAINER_TOOLS := podman runc mmdebstrap iptables netavark aardvark-dns uidmap fuse-overlayfs slirp4netns
test-containers: $(VENV)/.dev
	command -v podman >/dev/null && command -v mmdebstrap >/dev/null || [ "$$(id -u)" != 0 ] || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(CONTAINER_TOOLS))
	$(PY) -m pytest --containers tests/containers
