#!/bin/sh
# Builds the MinIO server used by the archive/s3 tests, once, into
# $HOME/.cache/eseal/bin/minio. MinIO ships source only; the build takes
# about six minutes. Does nothing if the binary is already there.
set -eu

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
BIN_DIR="${HOME}/.cache/eseal/bin"

if [ -x "${BIN_DIR}/minio" ]; then
	exit 0
fi
mkdir -p "${BIN_DIR}"
echo "building MinIO ${MINIO_VERSION} into ${BIN_DIR} (once, about 6 minutes)" >&2
GOBIN="${BIN_DIR}" go install "github.com/minio/minio@${MINIO_VERSION}"
