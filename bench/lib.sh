# Shared by the bench/ scripts (source it).

# Prints the median of the numbers on stdin, one per line (nothing for no input).
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# The guest cache's kernel, modules directory and busybox (fetched if missing) in $kernel, $modules, $busybox.
guest_assets() {
    local repo=$1
    "$repo/bin/flint" guest fetch >/dev/null
    local cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
    kernel=$(ls "$cache"/debian/boot/vmlinuz-* | head -1)
    modules=$(ls -d "$cache"/debian/lib/modules/*/ | head -1)
    busybox=$cache/debian/bin/busybox
}

# Builds WORK/bench.cpio.gz for the block benches: busybox, the virtio-blk and NVMe drivers (in dependency
# order, as Flint's own initramfs loads them) and bench/guest/blkload.c built static. Its init waits for the
# block devices DEVS (names under /dev), runs a short warm-up pass over all of them, then for each prints
#   BENCH-BLK DEV write SEQ SECONDS read SEQ SECONDS rand RAND SECONDS randq RAND SECONDS
# (SEQ MiB in 1 MiB requests; RAND 4 KiB random reads, one at a time, then from JOBS processes at once)
# and powers off. Needs guest_assets first.
# Usage: blk_initramfs REPO WORK "DEVS" SEQ RAND JOBS
blk_initramfs() {
    local repo=$1 work=$2 devs=$3 seq=$4 rand=$5 jobs=$6 root=$2/initrd m
    rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib"
    cp "$busybox" "$root/bin/busybox"
    gcc -static -O2 -o "$root/bin/blkload" "$repo/bench/guest/blkload.c"
    local mods="kernel/drivers/virtio/virtio_ring kernel/drivers/virtio/virtio kernel/drivers/virtio/virtio_pci_legacy_dev
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
for dev in $devs; do
    n=0; while [ ! -b /dev/\$dev ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done
done
echo BENCH-BOOTED
# A short unmeasured pass over every disk first: the guest's block and driver code (which both emulators
# translate on first use) and the VMM's I/O paths are warm before any disk is measured, so the first disk
# measured is not the slow one.
for dev in $devs; do
    blkload /dev/\$dev write 4 >/dev/null; blkload /dev/\$dev read 4 >/dev/null
    blkload /dev/\$dev rand 100 >/dev/null; blkload /dev/\$dev rand 100 $jobs >/dev/null
done
echo BENCH-WARM
for dev in $devs; do
    echo "BENCH-BLK \$dev \$(blkload /dev/\$dev write $seq) \$(blkload /dev/\$dev read $seq) \$(blkload /dev/\$dev rand $rand) randq \$(blkload /dev/\$dev rand $rand $jobs | cut -d' ' -f2-)"
done
poweroff -f
INIT
    } > "$root/init"
    chmod +x "$root/init"
    (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/bench.cpio.gz"
}

# Reads a VM's console on stdin; prints "DEV WRITE_MIBS READ_MIBS RAND_IOPS RANDQ_IOPS" per complete
# BENCH-BLK line of SEQ MiB and RAND reads; fails unless there are WANT of them.
# Usage: blk_results SEQ RAND WANT < console
blk_results() {
    tr -d '\r' | awk -v mib="$1" -v want="$2" -v lines="$3" '
        $1 == "BENCH-BLK" && $3 == "write" && $4 == mib && $6 == "read" && $7 == mib && $9 == "rand" && $10 == want \
            && $12 == "randq" && $13 == want && $5 > 0 && $8 > 0 && $11 > 0 && $14 > 0 {
            printf "%s %.2f %.2f %.0f %.0f\n", $2, mib / $5, mib / $8, want / $11, want / $14; n++ }
        END { exit n == lines ? 0 : 1 }'
}

# Set-up shared by the guest-side block benches (guest-blk.sh, vhost-user-blk.sh). Sets the workload from the
# environment — $seq_mib (BENCH_SEQ_MIB, 64), $rand (BENCH_RAND, 2000), $jobs (BENCH_JOBS, 8) and $vm_timeout
# (BENCH_TIMEOUT, 600 seconds one VM may take) — and $cmdline, the guest kernel's command line; fetches the
# guest assets, builds WORK/bench.cpio.gz for the block devices DEVS (blk_initramfs) and writes each
# WORK/IMAGE.img with SEQ + 64 MiB of random data, so reads return real blocks (kept while its size fits).
# Usage: blk_bench_setup REPO WORK "DEVS" IMAGE...
blk_bench_setup() {
    local repo=$1 work=$2 devs=$3 img size_mib
    shift 3
    seq_mib=${BENCH_SEQ_MIB:-64}
    rand=${BENCH_RAND:-2000}
    jobs=${BENCH_JOBS:-8}
    vm_timeout=${BENCH_TIMEOUT:-600}
    # no_timer_check: on a loaded host QEMU's TCG can miss the kernel's early IO-APIC timer check, which then
    # panics ("IO-APIC + timer doesn't work!"); both machines skip it alike.
    cmdline="console=ttyS0 panic=-1 no_timer_check"
    mkdir -p "$work"
    guest_assets "$repo"
    blk_initramfs "$repo" "$work" "$devs" "$seq_mib" "$rand" "$jobs"
    size_mib=$((seq_mib + 64))
    for img in "$@"; do
        if [[ ! -f $work/$img.img || $(stat -c %s "$work/$img.img") -ne $((size_mib << 20)) ]]; then
            head -c $((size_mib << 20)) /dev/urandom > "$work/$img.img"
        fi
    done
}

# Runs one block-bench VM, CMD... (at most $vm_timeout seconds), its console in LOG, and appends its two
# result lines (blk_results) to OUT. One retry: on a loaded host a boot can fail for reasons of its own; a
# second failure fails. Needs blk_bench_setup first.
# Usage: blk_measure OUT LOG CMD...
blk_measure() {
    local out=$1 log=$2 try
    shift 2
    for try in 1 2; do
        timeout -s KILL "$vm_timeout" "$@" </dev/null >"$log" 2>&1 || true
        blk_results "$seq_mib" "$rand" 2 <"$log" >"$log.res" && { cat "$log.res" >>"$out"; return 0; }
        echo "run failed (try $try): $1 (console: $log)" >&2; tail -3 "$log" >&2
    done
    return 1
}
