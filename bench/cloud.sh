#!/usr/bin/env bash
# Benchmark for `flint cloud` (issue 10), RUNS times each, on the engine this host has:
#   launch — `aws ec2 run-instances` (debian-12, t3.micro) until `ssh admin@IP true` answers, as a user waits for it;
#   describe — DescribeInstances latency against a daemon holding many instance records (the control plane alone,
#              through bench/cloud-api.sh: the SDK's Ec2Client over loopback, real SigV4 and codec, a fake runtime).
# Prints per-run figures and medians. Usage: bench/cloud.sh [RUNS] [RECORDS]   (defaults 3 and 1000).
# Needs root (a throw-away network namespace holds the daemon and its instances), the AWS CLI and ssh.
set -euo pipefail
runs=${1:-3}
records=${2:-1000}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-cloud
rm -rf "$work"; mkdir -p "$work"
# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

"$repo/bin/flint" --help >/dev/null # builds the jar if needed, outside the measurement
# The daemon's namespace has no way out: build the default image (debootstrap) here first, once per machine.
"$repo/bin/flint" cloud image >/dev/null
ns=flint-bench-$RANDOM$RANDOM
ip netns add "$ns"
cleanup() {
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
}
trap cleanup EXIT
inns() { ip netns exec "$ns" "$@"; }
inns ip link set lo up

inns "$repo/bin/flint" cloud serve --data "$work/data" >"$work/daemon.log" 2>&1 &
eval "$("$repo/bin/flint" cloud env --data "$work/data")"
echo "waiting for the daemon and its debian-12 image..."
image=
for _ in $(seq 1200); do
    image=$(inns aws ec2 describe-images --filters Name=name,Values=debian-12 --query 'Images[0].ImageId' --output text 2>/dev/null || true)
    [[ $image == ami-* ]] && break
    sleep 1
done
[[ $image == ami-* ]] || { echo "bench/cloud.sh: no debian-12 image" >&2; tail -20 "$work/daemon.log" >&2; exit 1; }

key=$work/bench.pem
inns aws ec2 create-key-pair --key-name bench --key-type ed25519 --query KeyMaterial --output text > "$key"
chmod 600 "$key"
# Instances are in EC2's default security group, which drops SSH from outside it: open port 22 first.
inns aws ec2 authorize-security-group-ingress --group-name default --protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null
: > "$work/launch.txt"
for i in $(seq "$runs"); do
    start=$(date +%s%N)
    id=$(inns aws ec2 run-instances --image-id "$image" --instance-type t3.micro --key-name bench \
        --query 'Instances[0].InstanceId' --output text)
    addr=$(inns aws ec2 describe-instances --instance-ids "$id" \
        --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text)
    ok=
    for _ in $(seq 600); do
        if inns ssh -i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
            -o ConnectTimeout=2 -o LogLevel=ERROR "admin@$addr" true 2>/dev/null; then ok=1; break; fi
        sleep 0.5
    done
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    inns aws ec2 terminate-instances --instance-ids "$id" >/dev/null
    [[ -n $ok ]] || { echo "run $i: $id never answered ssh" >&2; exit 1; }
    echo "$ms" >> "$work/launch.txt"
    printf 'run %d  run-instances -> ssh answers  %6.1f s\n' "$i" "$(echo "$ms / 1000" | bc -l)"
    inns aws ec2 wait instance-terminated --instance-ids "$id"
done
printf '\nmedian of %d   run-instances -> ssh answers: %.1f s   (engine: %s)\n' "$runs" \
    "$(echo "$(median < "$work/launch.txt") / 1000" | bc -l)" "$(grep -o 'engine [a-z]*' "$work/daemon.log" | head -1 || echo auto)"

echo
echo "DescribeInstances with $records records (control plane only, bench/cloud-api.sh):"
"$repo/bench/cloud-api.sh" "$records" 30 sqlite
