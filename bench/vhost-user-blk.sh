#!/usr/bin/env bash
# Guest-side figure for vhost-user-blk (issue 13, part 2): one `flint device blk` back end serves an image,
# and guests use it beside a local disk image:
#   flint — Flint's emu engine, /dev/vda a local virtio-blk image, /dev/vdb the back end through Flint's
#           vhost-user front end (--drive SOCKET,if=vhost-user);
#   base  — the same with another Flint checkout's bin/flint (BENCH_BASELINE=/path/to/bin/flint), for a
#           before/after; runs alternate with flint's;
#   qemu  — QEMU's TCG, /dev/vda its own virtio-blk on the local image, /dev/vdb vhost-user-blk-pci on the
#           same back end (guest RAM a shared memfd).
# The guest workload is bench/guest-blk.sh's (bench/lib.sh blk_initramfs): SEQ MiB written and read in
# 1 MiB O_DIRECT requests, RAND random 4 KiB reads one at a time (rand) and from JOBS processes (randq).
# Prints each run, then the medians per machine and disk, and flint/base when a baseline ran.
# Usage: bench/vhost-user-blk.sh [RUNS]   (default 3; BENCH_SEQ_MIB=64, BENCH_RAND=2000, BENCH_JOBS=8,
# BENCH_TIMEOUT=600 as for guest-blk.sh). Needs qemu-system-x86, cpio, gcc and libc6-dev.
set -euo pipefail
runs=${1:-3}
baseline=${BENCH_BASELINE:-}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-vhost-user-blk
# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

blk_bench_setup "$repo" "$work" "vda vdb" local vhost

# The back end, for the whole run: it serves one front end after another.
sock=$work/blk.sock
"$repo/bin/flint" device blk --socket "$sock" --image "$work/vhost.img" >"$work/backend.log" 2>&1 &
backend=$!
trap 'kill "$backend" 2>/dev/null || true; wait "$backend" 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q serving "$work/backend.log" && break; sleep 0.5; done
grep -q serving "$work/backend.log" || { echo "flint device blk did not start:" >&2; cat "$work/backend.log" >&2; exit 1; }

flint_run() { flint_cmd=("$1" run --engine emu --cpus 1 --memory 256 --kernel "$kernel" --initrd "$work/bench.cpio.gz"
                         --cmdline "$cmdline" --drive "$work/local.img" --drive "$sock,if=vhost-user"); }
qemu_cmd=(qemu-system-x86_64 -accel tcg -M pc -smp 1 -m 256 -nographic -no-reboot -kernel "$kernel"
          -initrd "$work/bench.cpio.gz" -append "$cmdline"
          -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
          -drive "file=$work/local.img,if=virtio,format=raw"
          -chardev "socket,id=vu,path=$sock" -device vhost-user-blk-pci,chardev=vu,num-queues=1)

machines=(flint qemu)
[[ -n $baseline ]] && machines=(flint base qemu)
for m in "${machines[@]}"; do : > "$work/$m.txt"; done
for i in $(seq "$runs"); do
    # The baseline goes first on even runs, so neither build always follows the other.
    order=("${machines[@]}")
    [[ -n $baseline && $((i % 2)) -eq 0 ]] && order=(base flint qemu)
    for m in "${order[@]}"; do
        case $m in
            flint) flint_run "$repo/bin/flint"; blk_measure "$work/flint.txt" "$work/flint-$i.log" "${flint_cmd[@]}" ;;
            base) flint_run "$baseline"; blk_measure "$work/base.txt" "$work/base-$i.log" "${flint_cmd[@]}" ;;
            qemu) blk_measure "$work/qemu.txt" "$work/qemu-$i.log" "${qemu_cmd[@]}" ;;
        esac
    done
    for m in "${machines[@]}"; do
        for dev in vda vdb; do
            read -r _ w r q qq < <(grep "^$dev " "$work/$m.txt" | tail -1)
            printf 'run %d %-5s %s  write %6.1f read %6.1f MiB/s, rand %5.0f randq %5.0f IOPS   (load %s)\n' \
                "$i" "$m" "$dev" "$w" "$r" "$q" "$qq" "$(cut -d' ' -f1-3 /proc/loadavg)"
        done
    done
done

echo
echo "vhost-user-blk from flint device blk (vdb) beside a local virtio-blk image (vda), median of $runs boots:"
echo "$seq_mib MiB sequential (1 MiB, O_DIRECT, QD1), $rand random 4 KiB reads at QD1 (rand) and from $jobs processes (randq)"
med() { grep "^$2 " "$work/$1.txt" | cut -d' ' -f"$3" | median; }
for dev in vdb vda; do
    for m in "${machines[@]}"; do
        printf '%-5s %s  write %6.1f read %6.1f MiB/s, rand %5.0f randq %5.0f IOPS\n' "$m" "$dev" \
            "$(med "$m" "$dev" 2)" "$(med "$m" "$dev" 3)" "$(med "$m" "$dev" 4)" "$(med "$m" "$dev" 5)"
    done
    if [[ -n $baseline ]]; then
        printf 'flint/base %s  write %.2f read %.2f rand %.2f randq %.2f\n' "$dev" \
            "$(echo "$(med flint "$dev" 2) / $(med base "$dev" 2)" | bc -l)" "$(echo "$(med flint "$dev" 3) / $(med base "$dev" 3)" | bc -l)" \
            "$(echo "$(med flint "$dev" 4) / $(med base "$dev" 4)" | bc -l)" "$(echo "$(med flint "$dev" 5) / $(med base "$dev" 5)" | bc -l)"
    fi
done
