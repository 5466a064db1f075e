# The two set-up commands of the README are `make lab` and `make test`; both
# start from a clean clone (they create .venv and the embedded services).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test venv kernel lock lint format up down status logs sql test-unit test-flink test-integration test-notebooks test-browser release notebook-outputs bench clean

# JUPYTER_ARGS: extra `jupyter lab` options (the browser test passes its port and token).
JUPYTER_ARGS ?=
# JupyterLab serves the project's root (the file browser shows sql/ beside notebooks/) and opens notebook 01;
# no news feed or update check (their pop-up covers the notebook, and there is no internet in class).
LAB_QUIET := --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate
# Jupyter refuses to run as root unless told; CI and some lab machines are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# The project's kernel (jupyter/kernels/python3/, found first through JUPYTER_PATH) loads the workbook's extension
# itself (workbook/course/autoload.py): %%flinksql and hint() work in a restarted kernel without `%load_ext workbook`.
lab: venv
	$(PY) -m workbook up --stream
	JUPYTER_PATH="$(CURDIR)/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH}" $(VENV)/bin/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=. $(LAB_QUIET) $(ALLOW_ROOT) $(JUPYTER_ARGS) \
		notebooks/01_setup.ipynb

test: venv
	$(MAKE) lint
	$(PY) -m workbook up
	$(PY) -m pytest tests -m "not browser"
	$(MAKE) test-notebooks
	$(MAKE) test-browser

# The venv is rebuilt only when requirements.txt or a lock changes. scripts/bootstrap_venv.py (any python3 runs
# it) picks the Python 3.11 PyFlink and the pins need: PYTHON if set, else python3.11 on the PATH, else uv's;
# then makes the venv hold this platform's lock, locks/host-*.txt, with hashes (uv pip install + sync, else pip;
# what the lock does not have is removed), and the project; locks/build.txt (pip, setuptools, wheel, poetry-core) is
# installed too and is the build constraints of the sdist-only packages. WORKBOOK_UV=never: pip only.
venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml locks/build.txt $(wildcard locks/host-*.txt)
	@$(or $(PYTHON),python3) scripts/bootstrap_venv.py --venv $(VENV)
	touch $(STAMP)

# The project's kernel for a JupyterLab that is not the project's own (a JupyterHub's: docs/classroom.md)
kernel: venv
	$(PY) scripts/install_kernel.py

# After editing requirements.txt: resolve it again into locks/ (every transitive package, every file's hash), for
# the host venv and the images (scripts/lock.py; uv from the venv, .state/bootstrap or the PATH). Versions already
# locked are kept; `make lock LOCK_ARGS=--upgrade` takes the newest the pins allow.
LOCK_ARGS ?=
lock:
	@$(or $(PYTHON),python3) scripts/lock.py $(LOCK_ARGS)

# ruff: lint and formatting, pinned in requirements.txt
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The student release, build/student-release/: no solutions/, no instructor-only text or cells, no grading data
release: venv
	$(PY) -m workbook.course.release $(RELEASE_ARGS)
# The notebooks' committed outputs are a student's run (scripts/student_run.py), never the solutions'
notebook-outputs: venv
	$(PY) -m workbook up
	$(PY) scripts/student_run.py

up: venv
	$(PY) -m workbook up
down: venv
	$(PY) -m workbook down
status: venv
	$(PY) -m workbook status
logs: venv
	$(PY) -m workbook logs
# the Flink SQL client with the tables and views of sql/ (against the running stack)
sql: up
	$(PY) -m workbook sql

# the tiers (tests/conftest.py): unit (no JVM, no services), flink (a JVM), integration (the services), browser;
# test-unit leaves out the slow unit tests (a real venv, a wheel): under a minute
test-unit: venv
	$(PY) -m pytest tests -m "unit and not slow"
test-flink: venv
	$(PY) -m pytest tests -m flink
test-integration: venv
	$(PY) -m workbook up
	$(PY) -m pytest tests -m integration

# nbval runs every notebook top to bottom, instructor solutions enabled so every cell runs.
test-notebooks: venv
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		WORKBOOK_SOLUTIONS=1 $(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks; \
	else echo "no notebooks yet: nothing for nbval to run"; fi

# JupyterLab as `make lab` starts it, driven in Debian's headless Chromium by playwright-core.
test-browser: venv
	@command -v chromium >/dev/null 2>&1 || { \
		echo "test-browser needs Chromium: run 'sudo scripts/install-system-deps.sh' (Debian/Ubuntu: apt-get install chromium)" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "test-browser needs Node.js >= 20 with npm" >&2; exit 1; }
	@test -d tests/browser/node_modules/playwright-core || { cd tests/browser && npm ci --no-audit --no-fund; }
	$(PY) -m pytest tests/browser -m browser -rA

bench: venv
	$(PY) -m workbook up
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# No venv needed: stop what runs (if a venv exists to do it), then delete the venv and the state.
clean:
	@if [ -x $(PY) ]; then $(PY) -m workbook down || true; fi
	rm -rf $(VENV) .state build
