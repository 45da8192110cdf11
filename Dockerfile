# The one image of every process type (compose.yaml, Procfile); configuration from the environment.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SWITCHYARD_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN useradd --system --home-dir /app switchyard && mkdir -p var && chown switchyard var
USER switchyard
EXPOSE 8000
CMD ["python", "-m", "marketplace.serve", "--host", "0.0.0.0", "--port", "8000"]
