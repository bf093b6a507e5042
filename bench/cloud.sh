#!/usr/bin/env bash
# Benchmark for `flint cloud` (issue 10), RUNS times each, on the engine this host has:
#   launch — `aws ec2 run-instances` (debian-12, t3.micro) until `ssh admin@IP true` answers, as a user waits for it;
#   attach — `aws ec2 attach-volume` to a running instance until the guest has the disk (the NVMe controller whose
#            serial is the volume id, hot-plugged on the PCI bus, with its /dev/nvmeXn1), seen by one
#            ssh session that waits for it (so ssh's own start is in the figure too);
#   snapshot — `aws ec2 create-snapshot` wall time (it answers pending) and the copy's own time until completed, against the volume's size (volumes of 1, 4 and 16 GiB, 256 MiB of
#              random data written in each), with the method the daemon used (reflink or sparse copy);
#   describe — DescribeInstances latency against a daemon holding many instance records (the control plane alone,
#              through bench/cloud-api.sh: the SDK's Ec2Client over loopback, real SigV4 and codec, a fake runtime).
# Prints per-run figures and medians. Usage: bench/cloud.sh [RUNS] [RECORDS]   (defaults 3 and 1000).
# BENCH_CLOUD_SKIP="launch describe" skips those parts (the EBS part boots one instance of its own).
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
# ssh as admin, retried: on a loaded host an emulated guest's sshd can miss the banner timeout.
sshq() {
    local n
    for n in 1 2 3 4 5; do
        inns ssh -i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
            -o ConnectTimeout=30 -o LogLevel=ERROR "$@" && return 0
        sleep 1
    done
    return 1
}
for i in $(seq "$runs"); do
    [[ " ${BENCH_CLOUD_SKIP:-} " == *" launch "* ]] && break
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
if [[ -s $work/launch.txt ]]; then
    printf '\nmedian of %d   run-instances -> ssh answers: %.1f s   (engine: %s)\n' "$runs" \
        "$(echo "$(median < "$work/launch.txt") / 1000" | bc -l)" "$(grep -o 'engine [a-z]*' "$work/daemon.log" | head -1 || echo auto)"
fi

echo
echo "EBS: one running instance; attach -> the guest sees the disk, $runs runs:"
id=$(inns aws ec2 run-instances --image-id "$image" --instance-type t3.micro --key-name bench \
    --query 'Instances[0].InstanceId' --output text)
inns aws ec2 wait instance-running --instance-ids "$id"
addr=$(inns aws ec2 describe-instances --instance-ids "$id" --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text)
for _ in $(seq 600); do sshq "admin@$addr" true 2>/dev/null && break; sleep 0.5; done
: > "$work/attach.txt"
for i in $(seq "$runs"); do
    vol=$(inns aws ec2 create-volume --size 1 --availability-zone flint-locala --query VolumeId --output text)
    start=$(date +%s%N)
    inns aws ec2 attach-volume --volume-id "$vol" --instance-id "$id" --device /dev/sdf >/dev/null
    # The volume is an NVMe controller of its own whose serial is the volume id without the dash, as on EC2.
    serial=${vol/-/}
    seen=$(sshq "admin@$addr" "i=0; d=; while [ -z \"\$d\" ] && [ \$i -lt 3000 ]; do for c in /sys/class/nvme/nvme*; do
        [ \"\$(cat \$c/serial 2>/dev/null)\" = $serial ] && [ -b /dev/\${c##*/}n1 ] && d=/dev/\${c##*/}n1; done;
        [ -z \"\$d\" ] && sleep 0.02; i=\$((i+1)); done; echo \$d")
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [[ -n $seen ]] || { echo "run $i: the guest never saw $vol" >&2; exit 1; }
    echo "$ms" >> "$work/attach.txt"
    printf 'run %d  attach-volume -> %s in the guest  %6.2f s\n' "$i" "$seen" "$(echo "$ms / 1000" | bc -l)"
    inns aws ec2 detach-volume --volume-id "$vol" >/dev/null
    sshq "admin@$addr" "i=0; while [ -e /sys/block/${seen#/dev/} ] && [ \$i -lt 3000 ]; do sleep 0.02; i=\$((i+1)); done"
    inns aws ec2 wait volume-available --volume-ids "$vol"
    inns aws ec2 delete-volume --volume-id "$vol"
done
printf 'median of %d   attach-volume -> disk visible in the guest: %.2f s\n' "$runs" "$(echo "$(median < "$work/attach.txt") / 1000" | bc -l)"
inns aws ec2 terminate-instances --instance-ids "$id" >/dev/null

echo
echo "EBS: create-snapshot time against volume size (256 MiB of random data in each), $runs runs each:"
head -c $((256 << 20)) /dev/urandom > "$work/random.bin"
for gib in 1 4 16; do
    vol=$(inns aws ec2 create-volume --size "$gib" --availability-zone flint-locala --query VolumeId --output text)
    dd if="$work/random.bin" of="$work/data/volumes/$vol.raw" bs=1M conv=notrunc status=none
    : > "$work/snap-$gib.txt"
    : > "$work/copy-$gib.txt"
    method=
    for i in $(seq "$runs"); do
        start=$(date +%s%N)
        snap=$(inns aws ec2 create-snapshot --volume-id "$vol" --query SnapshotId --output text)
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        echo "$ms" >> "$work/snap-$gib.txt"
        # The copy runs after the answer (pending -> completed); its own time is in the description.
        until [ "$(inns aws ec2 describe-snapshots --snapshot-ids "$snap" --query 'Snapshots[0].State' --output text)" = completed ]; do
            sleep 0.2
        done
        method=$(inns aws ec2 describe-snapshots --snapshot-ids "$snap" --query 'Snapshots[0].Description' --output text)
        echo "$method" | sed -n 's/.* \([0-9][0-9]*\) ms\]$/\1/p' >> "$work/copy-$gib.txt"
        inns aws ec2 delete-snapshot --snapshot-id "$snap"
    done
    printf 'volume %2d GiB   create-snapshot answer median %7.1f ms   copy median %7.1f ms   (%s)\n' "$gib" \
        "$(median < "$work/snap-$gib.txt")" "$(median < "$work/copy-$gib.txt")" "$method"
    inns aws ec2 delete-volume --volume-id "$vol"
done
df -T "$work/data" | tail -1 | awk '{print "data folder file system: " $2}'

[[ " ${BENCH_CLOUD_SKIP:-} " == *" describe "* ]] && exit 0
echo
echo "DescribeInstances with $records records (control plane only, bench/cloud-api.sh):"
"$repo/bench/cloud-api.sh" "$records" 30 sqlite
