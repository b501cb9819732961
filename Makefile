# The two commands: `make run` and `make test`. Everything installs into .venv from the lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-16)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install migrate serve worker beat lock clean

$(INSTALLED): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

install: $(INSTALLED)

migrate: install
	$(PY) manage.py migrate --noinput

## Serve the registry on the embedded default: SQLite, filesystem storage, in-process tasks.
run: migrate
	$(PY) manage.py ensure_demo_admin
	$(PY) manage.py runserver $(HOST):$(PORT)

## The whole suite (SQLite unless DATABASE_URL says otherwise), after the linter.
test: lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

## Production-style server (gunicorn); use with DATABASE_URL, REDIS_URL and S3 settings.
serve: migrate
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2 --threads 8 \
		--worker-class gthread --timeout 0

## Celery worker for scans and maintenance, and the beat scheduler (need REDIS_URL).
worker: install
	$(VENV)/bin/celery -A config worker -Q scanning,maintenance,default -l INFO

beat: install
	$(VENV)/bin/celery -A config beat -l INFO

## Re-pin dependencies after editing pyproject.toml.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
