#!/usr/bin/env bash
# Benchmark for the Firecracker-compatible API (issue 5), RUNS times each:
#   ready — `bin/flint vmm --api-sock` from process start until GET / answers 200 (what an orchestrator
#           waits for before its first request; measured only here, the tests just check that it answers);
#   boot  — the boot timer (--boot-timer): time from InstanceStart until the default guest's init writes the boot-timer
#           port, as Flint logs it ("Guest-boot-time = N us"), for the default guest on the emu engine.
# Prints per-run figures and medians. Usage: bench/api.sh [RUNS]   (default 5). Needs curl.
set -euo pipefail
runs=${1:-5}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-api
mkdir -p "$work"

"$repo/bin/flint" --help >/dev/null # builds the jar if needed, outside the measurement
assets=$("$repo/bin/flint" guest fetch)
kernel=$(awk '$1 == "kernel" {print $2}' <<<"$assets")
initrd=$(awk '$1 == "initrd" {print $2}' <<<"$assets")
[[ -f $kernel && -f $initrd ]] || { echo "bench/api.sh: no kernel/initrd from 'flint guest fetch'" >&2; exit 1; }

# shellcheck source=lib.sh
source "$repo/bench/lib.sh"
api() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }

sock=$work/api.sock
: > "$work/ready.txt"; : > "$work/boot.txt"
for i in $(seq "$runs"); do
    rm -f "$sock"
    start=$(date +%s%N)
    "$repo/bin/flint" vmm --api-sock "$sock" --boot-timer </dev/null >"$work/vmm.log" 2>&1 &
    pid=$!
    until [[ $(api GET / 2>/dev/null) == 200 ]]; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/vmm.log" >&2; exit 1; }
        sleep 0.005
    done
    ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$ready_ms" >> "$work/ready.txt"

    api PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$initrd\", \"boot_args\": \"console=ttyS0 reboot=k panic=-1\"}" >/dev/null
    api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' >/dev/null
    [[ $(api PUT /actions '{"action_type": "InstanceStart"}') == 204 ]] || { cat "$work/vmm.log" >&2; exit 1; }
    boot_us=
    for _ in $(seq 1200); do # up to two minutes
        boot_us=$(sed -n 's/.*Guest-boot-time = \([0-9]*\) us.*/\1/p' "$work/vmm.log" | head -1)
        [[ -n $boot_us ]] && break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    [[ -n $boot_us ]] || { echo "run $i: no boot-timer line" >&2; cat "$work/vmm.log" >&2; exit 1; }
    echo "$boot_us" >> "$work/boot.txt"
    printf 'run %d  socket ready %5d ms   boot timer %8.3f s\n' "$i" "$ready_ms" "$(echo "$boot_us / 1000000" | bc -l)"
done
printf '\nmedian of %d   socket ready: %d ms   boot timer (InstanceStart to the guest'"'"'s marker write, emu): %.3f s\n' \
    "$runs" "$(median < "$work/ready.txt")" "$(echo "$(median < "$work/boot.txt") / 1000000" | bc -l)"
