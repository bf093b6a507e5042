#!/usr/bin/env bash
# Guest-side block benchmark (issue 13, part 4): the same stock Debian kernel and busybox initramfs, with
# the same two disk images — one as a virtio-blk disk, one as an NVMe namespace — booted by Flint's emu
# engine and by QEMU's TCG (-M pc, its own virtio-blk-pci and nvme devices), alternating, RUNS times each.
# In each boot the guest's init runs, on /dev/vda and then on /dev/nvme0n1, one request at a time and with
# O_DIRECT so every request reaches the device (bench/guest/blkload.c, built static with the host's gcc:
# Debian's busybox dd prints no timing, and /proc/uptime's 10 ms are too coarse for QEMU's fastest runs):
#   write — SEQ MiB from offset 0 in 1 MiB writes;
#   read  — the same SEQ MiB back in 1 MiB reads;
#   rand  — RAND reads of 4 KiB at fixed pseudo-random offsets over the whole disk.
# Each is timed with the guest's monotonic clock (both machines keep guest time on the host's clock).
# Prints each run, then per device the medians and the ratio flint/qemu (above 1: Flint is faster).
# Usage: bench/guest-blk.sh [RUNS]   (default 3; BENCH_SEQ_MIB=64 and BENCH_RAND=2000 set the workload,
# BENCH_TIMEOUT=600 the seconds one VM may take before the run counts as failed).
# Needs qemu-system-x86, cpio, gcc and libc6-dev (bin/test installs them). Images live in target/bench-guest-blk.
set -euo pipefail
runs=${1:-3}
seq_mib=${BENCH_SEQ_MIB:-64}
rand=${BENCH_RAND:-2000}
vm_timeout=${BENCH_TIMEOUT:-600}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-guest-blk
mkdir -p "$work"
# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

"$repo/bin/flint" guest fetch >/dev/null
cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
kernel=$(ls "$cache"/debian/boot/vmlinuz-* | head -1)
modules=$(ls -d "$cache"/debian/lib/modules/*/ | head -1)
busybox=$cache/debian/bin/busybox

# The initramfs: busybox, the virtio-blk and NVMe drivers (dependency order, as Flint's own initramfs
# loads them) and the workload program.
root=$work/initrd
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib"
cp "$busybox" "$root/bin/busybox"
gcc -static -O2 -o "$root/bin/blkload" "$repo/bench/guest/blkload.c"
mods="kernel/drivers/virtio/virtio_ring kernel/drivers/virtio/virtio kernel/drivers/virtio/virtio_pci_legacy_dev
      kernel/drivers/virtio/virtio_pci_modern_dev kernel/drivers/virtio/virtio_pci kernel/drivers/block/virtio_blk
      kernel/crypto/crct10dif_common kernel/crypto/crct10dif_generic kernel/lib/crc-t10dif kernel/lib/crc64
      kernel/crypto/crc64_rocksoft_generic kernel/lib/crc64-rocksoft kernel/block/t10-pi
      kernel/drivers/nvme/host/nvme-core kernel/drivers/nvme/host/nvme"
for m in $mods; do cp "$modules/$m.ko" "$root/lib/"; done
{
    echo '#!/bin/busybox sh'
    echo '/bin/busybox --install -s /bin'
    echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev'
    for m in $mods; do echo "insmod /lib/${m##*/}.ko"; done
    cat <<INIT
for dev in vda nvme0n1; do
    n=0; while [ ! -b /dev/\$dev ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done
done
echo BENCH-BOOTED
for dev in vda nvme0n1; do
    echo "BENCH-BLK \$dev \$(blkload /dev/\$dev write $seq_mib) \$(blkload /dev/\$dev read $seq_mib) \$(blkload /dev/\$dev rand $rand)"
done
poweroff -f
INIT
} > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/bench.cpio.gz"

# The same two images for both machines: written once with non-zero data, so reads return real blocks.
size_mib=$((seq_mib + 64))
for img in virtio nvme; do
    if [[ ! -f $work/$img.img || $(stat -c %s "$work/$img.img") -ne $((size_mib << 20)) ]]; then
        head -c $((size_mib << 20)) /dev/urandom > "$work/$img.img"
    fi
done

cmdline="console=ttyS0 panic=-1"
flint_cmd=("$repo/bin/flint" run --engine emu --cpus 1 --memory 256 --kernel "$kernel" --initrd "$work/bench.cpio.gz"
           --cmdline "$cmdline" --drive "$work/virtio.img" --drive "$work/nvme.img,if=nvme,serial=bench")
qemu_cmd=(qemu-system-x86_64 -accel tcg -M pc -smp 1 -m 256 -nographic -no-reboot -kernel "$kernel"
          -initrd "$work/bench.cpio.gz" -append "$cmdline"
          -drive "file=$work/virtio.img,if=virtio,format=raw"
          -drive "file=$work/nvme.img,if=none,id=nv0,format=raw" -device nvme,drive=nv0,serial=bench)

# Runs one VM (at most BENCH_TIMEOUT seconds), its console in LOG; appends "DEV WRITE_MIBS READ_MIBS RAND_IOPS" lines to OUT.
measure() {
    local out=$1 log=$2; shift 2
    timeout -s KILL "$vm_timeout" "$@" </dev/null >"$log" 2>&1 || true
    tr -d '\r' <"$log" | awk -v mib="$seq_mib" -v want="$rand" '
        $1 == "BENCH-BLK" && $3 == "write" && $4 == mib && $6 == "read" && $7 == mib && $9 == "rand" && $10 == want \
            && $5 > 0 && $8 > 0 && $11 > 0 {
            printf "%s %.2f %.2f %.0f\n", $2, mib / $5, mib / $8, want / $11; n++ }
        END { exit n == 2 ? 0 : 1 }' >> "$out" || { echo "run failed: $1 (console: $log)" >&2; tail -5 "$log" >&2; return 1; }
}

: > "$work/flint.txt"; : > "$work/qemu.txt"
for i in $(seq "$runs"); do
    measure "$work/flint.txt" "$work/flint-$i.log" "${flint_cmd[@]}"
    measure "$work/qemu.txt" "$work/qemu-$i.log" "${qemu_cmd[@]}"
    for dev in vda nvme0n1; do
        read -r _ fw fr fi < <(grep "^$dev " "$work/flint.txt" | tail -1)
        read -r _ qw qr qi < <(grep "^$dev " "$work/qemu.txt" | tail -1)
        printf 'run %d %-7s  flint-emu write %6.1f MiB/s read %6.1f MiB/s rand %6.0f IOPS   qemu-tcg write %6.1f MiB/s read %6.1f MiB/s rand %6.0f IOPS   (load %s)\n' \
            "$i" "$dev" "$fw" "$fr" "$fi" "$qw" "$qr" "$qi" "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
done

echo
echo "guest-side block I/O, median of $runs boots each: $seq_mib MiB sequential (1 MiB, O_DIRECT), $rand random 4 KiB reads (QD1, O_DIRECT)"
for dev in vda nvme0n1; do
    label=virtio-blk; [[ $dev == vda ]] || label=nvme
    line="$(printf '%-10s' "$label")"
    for col in 2 3 4; do
        f=$(grep "^$dev " "$work/flint.txt" | cut -d' ' -f$col | median)
        q=$(grep "^$dev " "$work/qemu.txt" | cut -d' ' -f$col | median)
        case $col in 2) what="write MiB/s" ;; 3) what="read MiB/s" ;; 4) what="4k-rand IOPS" ;; esac
        line+="$(printf '   %s flint-emu %.1f qemu-tcg %.1f ratio %.2f' "$what" "$f" "$q" "$(echo "$f / $q" | bc -l)")"
    done
    echo "$line"
done
