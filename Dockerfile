FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
# The admin's and GraphiQL's static files, served by WhiteNoise from the image.
RUN python manage.py collectstatic --noinput -v0
RUN useradd --create-home registry \
    && mkdir -p /app/var/upload-tmp /var/lib/registry-metrics \
    && chown -R registry /app/var /var/lib/registry-metrics
USER registry
EXPOSE 8000
