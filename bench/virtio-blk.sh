#!/usr/bin/env bash
# virtio-blk and NVMe device model throughput against raw FileChannel I/O on the same (page-cached) image.
# Usage: bench/virtio-blk.sh [image MiB (256)] [runs (7)]
# FLINT_BLOCK_IO=sync measures blocking calls only (no io_uring); FLINT_BLOCK_IO=uring sends every request
# through io_uring (the default serves what the page cache holds at once and sends the rest to io_uring).
# A third argument picks workloads: bench/virtio-blk.sh 256 7 4k-random-read,1m-seq-read
# FLINT_BENCH_JAVA_OPTS passes JVM options, e.g. "-Dflint.bench.driver=lockstep" (the rounds 1-2 driver: a batch,
# then wait for all of it) or "-Dflint.bench.halt-poll-ns=N" (the driver polls a fixed N ns for its interrupt before it
# sleeps, 0: sleeps at once; by default it polls as KVM polls a halted vCPU, adapting its window between 0 and 200 µs
# to how long its halts take; docs/block-path.md, Rounds 3 and 10).
# Each workload runs on an image written front to back in pieces of its own request size, as fio lays out a job's file
# (since Round 7; the page cache then holds it in folios of that size). "-Dflint.bench.fill=1048576" runs every workload
# on one image written 1 MiB at a time, as in rounds 1-6 (a 4 KiB write into a 1 MiB folio costs the kernel a walk over
# its 256 buffer heads; docs/block-path.md, Rounds 6 and 7). The ratios come with their quartiles over the runs.
# A run of a sequential (1 MiB) workload passes over the image until it has moved 2 GiB (8 passes of 256 MiB), so that
# it lasts about as long as a 4 KiB run; "-Dflint.bench.seq-passes=1" gives one pass, as rounds 1-13 measured
# (docs/block-path.md, Round 14).
# Two host references per workload: the one-buffer FileChannel loop (the "host" column, as always) and, on the line
# "raw like the guest", the same loop rotating over the queue depth's worth of request-sized buffers in memory allocated
# as guest RAM (huge pages), with the devices' ratios to it (docs/block-path.md, Round 13).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -q -o test-compile 2>/dev/null || mvn -q test-compile
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${FLINT_BLOCK_IO:+-Dflint.block.io=$FLINT_BLOCK_IO} ${FLINT_BENCH_JAVA_OPTS:-} \
    -cp target/classes:target/test-classes dev.flint.devices.virtio.block.VirtioBlockBench "$@"
