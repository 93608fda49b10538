# Quick start: `make run` (the main job on the bundled example) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean image-tools service-tools fault-tools
IMAGE_TOOLS := buildah skopeo debootstrap docker-registry

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The example is mid-migration on purpose: errors are expected, so exit status 1 is not a failure here.
run: $(STAMP)
	$(VENV)/bin/deploycheck check examples/seed-incident || [ $$? -eq 1 ]

# The tests on real images build them daemonless; Debian's packages provide the tools (installed when root);
# docker-registry is the distribution registry the docker:// tests push to on a loopback port.
image-tools:
	@missing=""; for t in $(IMAGE_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing for the tests on real images"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(IMAGE_TOOLS) >/dev/null; \
	  else echo "note:$$missing not installed: the tests on real images will be skipped"; fi; \
	fi

# The `config --connect` tests start their own PostgreSQL clusters and Redis server (Debian's packages).
service-tools:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null \
	    || ! command -v openssl >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing postgresql, redis-server and openssl for the --connect tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server openssl >/dev/null; \
	  else echo "note: PostgreSQL server binaries or redis-server missing: the --connect tests will be skipped"; fi; \
	fi

# The crash test of `migrate apply --write` kills the real process mid-write with strace's fault injection.
fault-tools:
	@if ! command -v strace >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing strace for the migrate crash test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; \
	  else echo "note: strace missing: the migrate crash test will be skipped"; fi; \
	fi

test: $(STAMP) image-tools service-tools fault-tools
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV)
