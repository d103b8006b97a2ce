# syntax=docker/dockerfile:1
# The lowlatency-operator image: `docker build -t lowlatency-operator:0.1.0 .`
#
# Two stages: the builder makes the project's wheel and installs it, with the dependency ranges pinned in
# pyproject.toml, into a virtual environment; the final stage is the same slim Python base with only that
# environment copied in: no compiler, no pip, no caches. Pin the base by digest as well in your own builds
# (python:3.11.14-slim-bookworm@sha256:...) for bit-for-bit reproducible images.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Bytecode is compiled here because the running container may not write next to the sources.
RUN python -m venv /opt/lowlatency \
 && /opt/lowlatency/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/lowlatency/bin/pip install /wheels/lowlatency_operator-*.whl \
 && /opt/lowlatency/bin/pip uninstall --yes setuptools wheel pip \
 && /opt/lowlatency/bin/python -m compileall -q /opt/lowlatency/lib

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="lowlatency-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon SageMaker real-time inference endpoints" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/lowlatency-io/lowlatency-operator"
# The base's own installer goes too: nothing is installed at run time (and the filesystem is read-only anyway).
RUN python -m pip uninstall --yes setuptools wheel pip
COPY --from=builder /opt/lowlatency /opt/lowlatency
# The root filesystem is read-only in the cluster: HOME and every temporary file go to /tmp (an emptyDir there).
ENV PATH=/opt/lowlatency/bin:${PATH} \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["lowlatency-operator", "run"]
