FROM python:3.11-slim-bookworm

# One OpenMP thread per tesseract call is faster on small images and leaves cores to other requests.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MOIRA_MANIFEST_STATIC=True OMP_THREAD_LIMIT=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzbar0 tesseract-ocr tesseract-ocr-jpn tesseract-ocr-eng libpq5 postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home /app moira \
 && mkdir -p /data/media && chown moira /data/media

USER moira
ENV MOIRA_MEDIA_ROOT=/data/media
EXPOSE 8000
CMD ["gunicorn", "moira.wsgi", "--bind", "0.0.0.0:8000", "--workers", "5", "--threads", "4", "--timeout", "60", "--access-logfile", "-"]
