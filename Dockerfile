FROM python:3.11-slim-bookworm

# Pango for WeasyPrint (PDF export); poppler-utils for `pdfsig` checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e .
COPY . .
# Production settings: hashed file names and a manifest (WhiteNoise); the key is a throwaway.
RUN DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home tandem && mkdir -p /app/var && chown -R tandem /app/var
USER tandem
EXPOSE 8000 8001
CMD ["gunicorn", "-c", "python:config.gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
