#!/usr/bin/env bash
# Guest-side block benchmark (issue 13, part 4): the same stock Debian kernel and busybox initramfs, with
# the same two disk images — one as a virtio-blk disk, one as an NVMe namespace — booted by Flint's emu
# engine and by QEMU's TCG (-M pc, its own virtio-blk-pci and nvme devices), alternating, RUNS times each.
# In each boot the guest's init runs, on /dev/vda and then on /dev/nvme0n1, with O_DIRECT so every request
# reaches the device (bench/guest/blkload.c, built static with the host's gcc: Debian's busybox dd prints
# no timing, and /proc/uptime's 10 ms are too coarse for QEMU's fastest runs):
#   write — SEQ MiB from offset 0 in 1 MiB writes, one at a time;
#   read  — the same SEQ MiB back in 1 MiB reads;
#   rand  — RAND reads of 4 KiB at fixed pseudo-random offsets over the whole disk, one at a time;
#   randq — RAND such reads from JOBS processes at once (up to JOBS in flight).
# Each is timed with the guest's monotonic clock (both machines keep guest time on the host's clock).
# Prints each run, then per device the medians and the ratio flint/qemu (above 1: Flint is faster).
# Usage: bench/guest-blk.sh [RUNS]   (default 3; BENCH_SEQ_MIB=64, BENCH_RAND=2000 and BENCH_JOBS=8 set the
# workload, BENCH_TIMEOUT=600 the seconds one VM may take before the run counts as failed).
# Needs qemu-system-x86, cpio, gcc and libc6-dev (bin/test installs them). Images live in target/bench-guest-blk.
set -euo pipefail
runs=${1:-3}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-guest-blk
# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

# The same two images for both machines.
blk_bench_setup "$repo" "$work" "vda nvme0n1" virtio nvme

flint_cmd=("$repo/bin/flint" run --engine emu --cpus 1 --memory 256 --kernel "$kernel" --initrd "$work/bench.cpio.gz"
           --cmdline "$cmdline" --drive "$work/virtio.img" --drive "$work/nvme.img,if=nvme,serial=bench")
qemu_cmd=(qemu-system-x86_64 -accel tcg -M pc -smp 1 -m 256 -nographic -no-reboot -kernel "$kernel"
          -initrd "$work/bench.cpio.gz" -append "$cmdline"
          -drive "file=$work/virtio.img,if=virtio,format=raw"
          -drive "file=$work/nvme.img,if=none,id=nv0,format=raw" -device nvme,drive=nv0,serial=bench)

: > "$work/flint.txt"; : > "$work/qemu.txt"
for i in $(seq "$runs"); do
    blk_measure "$work/flint.txt" "$work/flint-$i.log" "${flint_cmd[@]}"
    blk_measure "$work/qemu.txt" "$work/qemu-$i.log" "${qemu_cmd[@]}"
    for dev in vda nvme0n1; do
        read -r _ fw fr fi fq < <(grep "^$dev " "$work/flint.txt" | tail -1)
        read -r _ qw qr qi qq < <(grep "^$dev " "$work/qemu.txt" | tail -1)
        printf 'run %d %-7s  flint-emu write %6.1f read %6.1f MiB/s, rand %5.0f randq %5.0f IOPS   qemu-tcg write %6.1f read %6.1f MiB/s, rand %5.0f randq %5.0f IOPS   (load %s)\n' \
            "$i" "$dev" "$fw" "$fr" "$fi" "$fq" "$qw" "$qr" "$qi" "$qq" "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
done

echo
echo "guest-side block I/O, median of $runs boots each: $seq_mib MiB sequential (1 MiB, O_DIRECT, QD1),"
echo "$rand random 4 KiB reads (O_DIRECT) at QD1 (rand) and from $jobs processes (randq); ratio flint/qemu"
for dev in vda nvme0n1; do
    label=virtio-blk; [[ $dev == vda ]] || label=nvme
    line="$(printf '%-10s' "$label")"
    for col in 2 3 4 5; do
        f=$(grep "^$dev " "$work/flint.txt" | cut -d' ' -f$col | median)
        q=$(grep "^$dev " "$work/qemu.txt" | cut -d' ' -f$col | median)
        case $col in 2) what="write MiB/s" ;; 3) what="read MiB/s" ;; 4) what="rand IOPS" ;; 5) what="randq IOPS" ;; esac
        line+="$(printf ' | %s flint %.1f qemu %.1f (%.2f)' "$what" "$f" "$q" "$(echo "$f / $q" | bc -l)")"
    done
    echo "$line"
done
