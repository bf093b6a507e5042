#!/usr/bin/env bash
# flint cloud's control plane alone (no machines: a fake runtime), through the AWS SDK's Ec2Client with SigV4:
# RunInstances latency, and DescribeInstances latency (all records, one id, a tag filter) with RECORDS instances
# stored, on the SQLite store and on etcd (when Debian's etcd-server is installed). Prints medians.
# Usage: bench/cloud-api.sh [RECORDS (1000)] [RUNS (50)] [STORES (sqlite,etcd)]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=../bin/lib/jdk.sh
source "$repo/bin/lib/jdk.sh"
flint_require_jdk
./mvnw -q -B -o test-compile 2>/dev/null || ./mvnw -q -B test-compile
cp=$(./mvnw -q -B -o dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test 2>/dev/null)
exec "$JAVA_HOME/bin/java" -cp "target/test-classes:target/classes:$cp" dev.flint.cloud.CloudControlBench "$@"
