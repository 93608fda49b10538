# Quick start: `make run` (the main job on the bundled example) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean system-tools incident

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The example is mid-migration on purpose: errors are expected, so exit status 1 is not a failure here.
run: $(STAMP)
	$(VENV)/bin/deploycheck check examples/seed-incident || [ $$? -eq 1 ]

# The seed incident rebuilt for `deploycheck audit`: a git history, a stale image and Cloud Run logs of its
# real crash, in a cache directory (README, "The seed incident, rebuilt").
incident: $(STAMP)
	$(VENV)/bin/python scripts/seed_incident.py

# Debian packages some tests need, as command:package pairs, installed in one apt run when root (elsewhere
# those tests are skipped, each saying why):
# - real images built daemonless: buildah, skopeo, debootstrap; docker-registry, the distribution registry the
#   docker:// tests push to on a loopback port; docker.io, whose dockerd the docker-daemon: tests start on a
#   private socket and load those images into;
# - `config --connect`: throwaway PostgreSQL clusters (initdb), a Redis server, openssl for TLS certificates;
# - the crash test of `migrate apply --write`: strace's fault injection kills the real process mid-write;
# - `deploycheck start`: bubblewrap's sandbox;
# - `deploycheck audit --format html`: the page rendered by a real headless browser, chromium.
SYSTEM_TOOLS := buildah:buildah skopeo:skopeo debootstrap:debootstrap docker-registry:docker-registry \
	dockerd:docker.io redis-server:redis-server openssl:openssl strace:strace bwrap:bubblewrap chromium:chromium

system-tools:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note:$$missing not installed: the tests that need them will be skipped"; fi; \
	fi

# Two workers, a test file each at a time: most tests wait on subprocesses (pip, buildah, servers), and files
# share their module fixtures.
test: $(STAMP) system-tools
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV)
