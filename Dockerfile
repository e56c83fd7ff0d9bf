# ctxstore image: the `ctxstore` CLI (API, ingest workers, projection worker, demo...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY projections ./projections
COPY infrastructure ./infrastructure
# ctxstore/ holds links to the four layers above: they install as ctxstore.domain, ...
COPY ctxstore ./ctxstore

RUN pip install . \
    && useradd --system --create-home --home-dir /var/lib/ctxstore ctxstore

USER ctxstore
WORKDIR /var/lib/ctxstore
ENV CONTEXT_STORAGE_PATH=/var/lib/ctxstore

ENTRYPOINT ["ctxstore"]
CMD ["--help"]
