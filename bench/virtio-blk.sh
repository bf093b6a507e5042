#!/usr/bin/env bash
# virtio-blk and NVMe device model throughput against raw FileChannel I/O on the same (page-cached) image.
# Usage: bench/virtio-blk.sh [image MiB (256)] [runs (7)]
# FLINT_BLOCK_IO=sync measures the synchronous fallback instead of io_uring.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -q -o test-compile 2>/dev/null || mvn -q test-compile
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${FLINT_BLOCK_IO:+-Dflint.block.io=$FLINT_BLOCK_IO} \
    -cp target/classes:target/test-classes dev.flint.devices.virtio.block.VirtioBlockBench "$@"
