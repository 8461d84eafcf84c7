# jobline image: one image for every mode (`jobline serve --mode jobs|scheduler|api|all`,
# `jobline migrate`). Built from the project's wheel with the pinned constraints.txt.
#   docker build -t jobline:0.1.0 .
#   docker run --rm -e JOBLINE_DATABASE_URL=... jobline:0.1.0 serve --mode jobs
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the jobline wheel and wheels of every pinned dependency --------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# The wheelhouse holds jobline and exactly the versions constraints.txt pins, so the
# runtime stage installs offline (--no-index) and cannot pick up a newer release. The
# `binary` extra brings libpq as a wheel, `dashboard` what `jobline dashboard` serves with,
# `fast` uvloop (the servers' event loop).
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && WHEEL="$(ls /wheels/jobline-*.whl)" \
    && pip wheel --wheel-dir /wheels --constraint constraints.txt "${WHEEL}[binary,dashboard,fast]"

# --- runtime: a venv with the wheels, run as a non-root user ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/jobline/bin:$PATH \
    JOBLINE_HTTP_HOST=0.0.0.0 \
    JOBLINE_HTTP_PORT=8000 \
    JOBLINE_LOG_FORMAT=json
RUN groupadd --system --gid 10001 jobline \
    && useradd --system --uid 10001 --gid jobline --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin jobline
COPY --from=build /wheels /tmp/wheels
COPY constraints.txt /tmp/constraints.txt
RUN python -m venv /opt/jobline \
    && WHEEL="$(ls /tmp/wheels/jobline-*.whl)" \
    && /opt/jobline/bin/pip install --no-index --find-links /tmp/wheels \
        --constraint /tmp/constraints.txt "${WHEEL}[binary,dashboard,fast]" \
    && rm -rf /tmp/wheels /tmp/constraints.txt
# An empty working directory: settings also come from a `.env` in the working directory,
# and the image ships none.
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# jobline stops gracefully on SIGTERM: it hands back unstarted jobs and lets running ones
# finish within JOBLINE_SHUTDOWN_GRACE_S (keep the orchestrator's grace above it).
STOPSIGNAL SIGTERM
# Liveness only (/_health); urllib raises on anything but 2xx, so no curl is needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/_health' % os.environ.get('JOBLINE_HTTP_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["jobline"]
CMD ["serve"]
