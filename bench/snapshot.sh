#!/usr/bin/env bash
# Snapshot restore against a cold boot, on the emu engine (issue 12), RUNS times each:
#   cold    — `bin/flint vmm` from process start, through boot-source, machine-config and InstanceStart,
#             until the default guest's shell answers a command typed on its serial console;
#   restore — `bin/flint vmm` from process start, through PUT /snapshot/load (resume_vm) of a snapshot of
#             that guest at its shell prompt, until the restored shell answers the same way.
# The snapshot is taken once, from the first cold boot (pause, PUT /snapshot/create). Prints per-run
# figures, medians and their ratio. The first cold boot runs with track_dirty_pages: after its Full
# snapshot the guest is resumed, answers one more command and is snapshotted again as a Diff; the
# time to create each and their memory files' data on disk are printed (the Diff's is merged onto a
# copy of the Full one with `flint snapshot rebase`, timed too).
# Usage: bench/snapshot.sh [RUNS]   (default 5). Needs curl.
set -euo pipefail
runs=${1:-5}

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-snapshot
mkdir -p "$work"
# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

"$repo/bin/flint" --help >/dev/null # builds the jar if needed, outside the measurement
assets=$("$repo/bin/flint" guest fetch)
kernel=$(awk '$1 == "kernel" {print $2}' <<<"$assets")
initrd=$(awk '$1 == "initrd" {print $2}' <<<"$assets")
[[ -f $kernel && -f $initrd ]] || { echo "bench/snapshot.sh: no kernel/initrd from 'flint guest fetch'" >&2; exit 1; }

sock=$work/api.sock
fifo=$work/console.in
log=$work/vmm.log
api() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X "$1" "http://localhost$2" ${3:+-d "$3"}; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

pid=
stop_vmm() {
    if [[ -n $pid ]]; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=
    exec 3>&-
    return 0
}
trap stop_vmm EXIT

# Starts a VMM whose console input is a FIFO held open on fd 3; returns once its API answers.
start_vmm() {
    rm -f "$sock" "$fifo"; mkfifo "$fifo"
    exec 3<>"$fifo"
    "$repo/bin/flint" vmm --api-sock "$sock" --engine emu <"$fifo" >"$log" 2>&1 &
    pid=$!
    until [[ $(api GET / 2>/dev/null) == 200 ]]; do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.005
    done
}

# Types a command on the console and waits for the guest's answer; types it again only after 60 s of
# silence. Typing more often would queue commands in the guest's tty, which the snapshot would keep and
# the restored guest would run first. $1 = tag.
await_answer() {
    local tag=$1 deadline=$(( $(date +%s) + 1200 ))
    while :; do
        echo "echo $tag-\$((6*7))" >&3
        for _ in $(seq 6000); do
            grep -q "$tag-42" "$log" && return 0
            kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
            sleep 0.01
        done
        (( $(date +%s) < deadline )) || { echo "no answer from the guest" >&2; cat "$log" >&2; exit 1; }
    done
}

: > "$work/cold.txt"; : > "$work/restore.txt"
for i in $(seq "$runs"); do
    start=$(now_ms)
    start_vmm
    api PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$initrd\", \"boot_args\": \"console=ttyS0 reboot=k panic=-1\"}" >/dev/null
    track=false; (( i == 1 )) && track=true
    api PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 256, \"track_dirty_pages\": $track}" >/dev/null
    [[ $(api PUT /actions '{"action_type": "InstanceStart"}') == 204 ]] || { cat "$log" >&2; exit 1; }
    until grep -q 'Flint guest: busybox' "$log" && tail -c 200 "$log" | grep -q '# '; do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.01
    done
    await_answer "cold$i"
    cold=$(( $(now_ms) - start ))
    echo "$cold" >> "$work/cold.txt"
    if (( i == 1 )); then
        [[ $(api PATCH /vm '{"state": "Paused"}') == 204 ]] || { cat "$log" >&2; exit 1; }
        rm -f "$work/vm.mem" "$work/diff.mem"
        t0=$(now_ms)
        code=$(api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$work/vm.state\", \"mem_file_path\": \"$work/vm.mem\"}")
        [[ $code == 204 ]] || { echo "snapshot/create answered $code" >&2; cat "$log" >&2; exit 1; }
        full_ms=$(( $(now_ms) - t0 ))
        [[ $(api PATCH /vm '{"state": "Resumed"}') == 204 ]] || { cat "$log" >&2; exit 1; }
        await_answer "dirty$i"
        [[ $(api PATCH /vm '{"state": "Paused"}') == 204 ]] || { cat "$log" >&2; exit 1; }
        t0=$(now_ms)
        code=$(api PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$work/diff.state\", \"mem_file_path\": \"$work/diff.mem\"}")
        [[ $code == 204 ]] || { echo "snapshot/create Diff answered $code" >&2; cat "$log" >&2; exit 1; }
        diff_ms=$(( $(now_ms) - t0 ))
    fi
    stop_vmm
    printf 'run %d  cold boot to a shell answer: %6d ms\n' "$i" "$cold"
done
for i in $(seq "$runs"); do
    start=$(now_ms)
    start_vmm
    code=$(api PUT /snapshot/load "{\"snapshot_path\": \"$work/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$work/vm.mem\"}, \"resume_vm\": true}")
    [[ $code == 204 ]] || { echo "snapshot/load answered $code" >&2; cat "$log" >&2; exit 1; }
    await_answer "restored$i"
    restore=$(( $(now_ms) - start ))
    echo "$restore" >> "$work/restore.txt"
    rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    stop_vmm
    printf 'run %d  restore to a shell answer:   %6d ms   (RSS then %d MiB of a 256 MiB guest)\n' "$i" "$restore" "$((rss_kib / 1024))"
done
cold=$(median < "$work/cold.txt"); restore=$(median < "$work/restore.txt")
printf '\nmedian of %d, process start to the guest shell answering on its serial console (emu):\n' "$runs"
printf '  cold boot %d ms   restore %d ms   ratio %.1fx   load average: %s\n' "$cold" "$restore" \
    "$(echo "$cold / $restore" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"

# The Diff: what it costs next to the Full snapshot, and merging it back.
data_kib() { echo $(( $(stat -c '%b * %B' "$1") / 1024 )); }
cp --sparse=always "$work/vm.mem" "$work/merged.mem"
t0=$(now_ms)
"$repo/bin/flint" snapshot rebase --memory-path "$work/merged.mem" --diff-path "$work/diff.mem" >/dev/null
rebase_ms=$(( $(now_ms) - t0 ))
printf '\nsnapshots of the first cold boot (256 MiB guest, track_dirty_pages):\n'
printf '  Full  create %5d ms   memory file %6d KiB of data\n' "$full_ms" "$(data_kib "$work/vm.mem")"
printf '  Diff  create %5d ms   memory file %6d KiB of data   (after one shell command)\n' "$diff_ms" "$(data_kib "$work/diff.mem")"
printf '  flint snapshot rebase of the Diff onto a copy of the Full file: %d ms (JVM start included)\n' "$rebase_ms"
