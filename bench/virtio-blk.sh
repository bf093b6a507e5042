#!/usr/bin/env bash
# virtio-blk and NVMe device model throughput against raw FileChannel I/O on the same (page-cached) image.
# Usage: bench/virtio-blk.sh [image MiB (256)] [runs (7)]
# FLINT_BLOCK_IO=sync measures blocking calls only (no io_uring); FLINT_BLOCK_IO=uring sends every request
# through io_uring (the default serves what the page cache holds at once and sends the rest to io_uring).
# A third argument picks workloads: bench/virtio-blk.sh 256 7 4k-random-read,1m-seq-read
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -q -o test-compile 2>/dev/null || mvn -q test-compile
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${FLINT_BLOCK_IO:+-Dflint.block.io=$FLINT_BLOCK_IO} \
    -cp target/classes:target/test-classes dev.flint.devices.virtio.block.VirtioBlockBench "$@"
