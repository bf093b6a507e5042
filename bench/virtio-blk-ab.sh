#!/usr/bin/env bash
# Interleaved A/B of the block devices: two builds' main classes, the same (current) bench classes, alternating.
# Usage: bench/virtio-blk-ab.sh OLD_CLASSES_DIR [rounds (4)] [workloads (4k-random-read,4k-random-write)] [runs (5)]
# Copy target/classes aside before changing anything (cp -r target/classes /tmp/old-classes), then run this after
# the change: each round runs VirtioBlockBench with the old classes, then with target/classes. Compare the "I/O thread
# CPU per request" lines, and on a shared host the two devices' I/O thread CPU against each other within a run
# (docs/block-path.md, Round 7). FLINT_BENCH_JAVA_OPTS passes JVM options as in bench/virtio-blk.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
old="${1:?old classes directory}"
rounds="${2:-4}" workloads="${3:-4k-random-read,4k-random-write}" runs="${4:-5}"
./mvnw -q -o test-compile 2>/dev/null || ./mvnw -q test-compile
for round in $(seq 1 "$rounds"); do
    for side in old new; do
        classes=target/classes
        [ "$side" = old ] && classes="$old"
        echo "=== round $round $side, load $(cut -d' ' -f1-3 /proc/loadavg)"
        "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${FLINT_BENCH_JAVA_OPTS:-} -cp "$classes:target/test-classes" \
            dev.flint.devices.virtio.block.VirtioBlockBench 256 "$runs" "$workloads"
    done
done
