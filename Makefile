# The two commands a newcomer needs: `make run` (the whole platform) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test lint test-e2e bench bench-views bench-page-versions bench-flush bench-reports bench-due-reports bench-bots bench-renditions audit install clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Web on :8000, a worker, one beat, the local inbox on :1025, Flower on :5555, and Redis when none answers at REDIS_URL.
run: install .env
	python manage.py migrate --noinput
	python manage.py collectstatic --noinput --verbosity 0
	@python manage.py ensure_dev_superuser
	@echo "Site:   http://127.0.0.1:8000/"
	@echo "Admin:  http://127.0.0.1:8000/admin/"
	@echo "Inbox:  http://127.0.0.1:8000/inbox/   (every email the platform sends; SMTP on 127.0.0.1:1025)"
	@echo "Health: http://127.0.0.1:8000/healthz"
	@echo "Flower: http://127.0.0.1:5555/   (the Celery dashboard: workers, tasks, queues; localhost only)"
	@if python -m quick_publisher.redis_server --answers; then \
	  echo "Redis:  using the server at $${REDIS_URL:-redis://127.0.0.1:6379/0}"; \
	  exec honcho -f Procfile start web worker beat mail flower; \
	else \
	  exec honcho -f Procfile start web worker beat mail flower redis; \
	fi

.env:
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env for development (DEBUG=1, a random SECRET_KEY)."

# SQLite and a private Redis unless DATABASE_URL / REDIS_URL say otherwise.
test: install
	python -m pytest $(ARGS)

# ruff's lint (complexity included) and format checks, import-linter's contracts (the layers, the apps
# independent, no cycle, each concept package's surface), and the product code's module and function sizes.
lint: install
	ruff check .
	ruff format --check .
	lint-imports
	python .ci/check_sizes.py

test-e2e: install
	python -m pytest -m e2e $(ARGS)

# Benchmarks (docs/benchmarks.md): PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, wrk for bench-views.
# Each prints every figure before it fails; `make -k bench` runs them all even when one misses a target.
bench: bench-views bench-page-versions bench-flush bench-reports bench-due-reports bench-bots bench-renditions

bench-views: install
	python bench/views.py

# No server: one web process's read of its pages' versions, per pages known.
bench-page-versions: install
	python bench/page_versions.py

bench-flush: install
	python bench/flush.py

bench-reports: install
	python bench/reports.py

bench-due-reports: install
	python bench/due_reports.py

# No database or Redis: the bot check of a page view, per call.
bench-bots: install
	python bench/bots.py

# A real worker: the rendition task per megapixel, and its peak memory for a 40-megapixel upload.
bench-renditions: install
	python bench/renditions.py

audit: install
	pip-audit --strict -r requirements.txt

clean:
	rm -rf $(VENV) var .pytest_cache
