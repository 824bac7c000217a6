# One image for every role: gateway, worker, migrate (the command picks the role).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 proxbox
WORKDIR /app

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY gateway ./gateway
COPY workers ./workers
COPY migrations ./migrations
RUN pip install .

USER proxbox
EXPOSE 8800
ENTRYPOINT ["proxbox-mq"]
CMD ["gateway", "--host", "0.0.0.0", "--port", "8800"]
