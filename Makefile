# make demo: run Moira on the embedded SQLite database.  make test: the whole suite.  make bench: benchmarks.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/moira
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test bench system-deps lint clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

system-deps:
	bash scripts/system-deps.sh

demo: system-deps $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_demo
	@echo "Serving on http://127.0.0.1:$(PORT)/  (stop with Ctrl-C)"
	$(PY) manage.py runserver --noreload 127.0.0.1:$(PORT)

test: system-deps $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python manage.py makemigrations --check --dry-run -v0
	@echo "== Test suite on SQLite =="
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest -q
	@if python3 scripts/services-up.py postgres; then \
	  echo "== Test suite on PostgreSQL$$(python3 scripts/services-up.py redis && echo ' with Redis and a real Celery worker') =="; \
	  if python3 scripts/services-up.py redis; then redis_url=$(TEST_REDIS_URL); else redis_url=; fi; \
	  DATABASE_URL=$(TEST_PG_URL) REDIS_URL=$$redis_url $(VENV)/bin/pytest -q -rs; \
	else \
	  echo "== PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL run and integration tests are skipped =="; \
	fi

bench: system-deps $(VENV)/.installed
	$(PY) bench/run.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media .pytest_cache
