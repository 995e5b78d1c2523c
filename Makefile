# chainrule: every target sets itself up on a fresh machine (a .venv and its packages).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := test,dev,train,viz,image,tune,examples,onnx
FASHION_DIR := /usr/share/datasets/fashion-mnist
JOBS   ?= 2
export OMP_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 2

.PHONY: demo test test-all lint typecheck format bench data loc clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

# Fashion-MNIST from Debian (dataset-fashion-mnist), when apt is here and we are root;
# otherwise skip cleanly: tests that need it say so and the demo uses the bundled digits.
data:
	@if [ -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST: found in $(FASHION_DIR)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Fashion-MNIST: installing dataset-fashion-mnist with apt-get"; \
	  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) \
	  || echo "Fashion-MNIST: apt-get failed; continuing without it"; \
	else \
	  echo "Fashion-MNIST: not installed and apt-get unavailable (or not root); skipping"; \
	fi
	@if ! command -v strace >/dev/null 2>&1 && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get install -y -q strace >/dev/null 2>&1 || echo "strace: not installed (fault-injection tests will skip)"; \
	fi

# The bundled digits, a small CNN from the zoo (< 1 min on 2 cores): prints the test accuracy
# and leaves runs/digits-cnn-<timestamp>/ with config.toml, checkpoints, metrics.csv and plots.
demo: $(STAMP)
	$(BIN)/chainrule train configs/digits_cnn.toml

test: $(STAMP) data
	$(BIN)/python -m pytest -q -m "not slow" -n $(JOBS) --durations=15

test-all: $(STAMP) data
	$(BIN)/python -m pytest -q -n $(JOBS) --durations=25

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

# mypy's settings are in pyproject.toml ([tool.mypy]: check_untyped_defs, warn_unreachable, ...)
typecheck: $(STAMP)
	$(BIN)/python -m mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/run.py

loc:
	@find src -name '*.py' | xargs wc -l | sort -n | tail -25

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
