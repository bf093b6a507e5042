#!/usr/bin/env bash
# Benchmark for virtio-net (issue 4): TCP throughput between the guest and the host over a TAP, on
# Flint's emu engine and on QEMU's TCG with its own virtio-net-pci on the same kind of TAP, alternating,
# RUNS times each. Everything runs inside a throw-away network namespace (the host's own interfaces are
# never touched). The guest's init times, with its own clock (/proc/uptime, kept on the host's):
#   rx — wget of MIB MiB from a busybox httpd on the host side into /dev/null;
#   tx — MIB MiB the guest serves from its tmpfs with busybox httpd, fetched by wget on the host side
#        (timed on the host: the VM is killed once the fetch is done).
# BENCH_BASELINE=/path/to/other/checkout/bin/flint adds a third machine, "base": that build of Flint, run
# alternately with this one (before/after figures), with its ratio flint/base.
# Usage: bench/virtio-net.sh [MIB] [RUNS]   (defaults 64 and 3). Needs root, iproute2 and qemu-system-x86.
set -euo pipefail
mib=${1:-64}
runs=${2:-3}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-net
mkdir -p "$work"

"$repo/bin/flint" guest fetch >/dev/null
cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
kernel=$(ls "$cache"/debian/boot/vmlinuz-* | head -1)
modules=$(ls -d "$cache"/debian/lib/modules/*/ | head -1)
busybox=$cache/debian/bin/busybox

# An initramfs that loads virtio-pci and virtio-net, runs both transfers and powers off.
root=$work/initrd
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib"
cp "$busybox" "$root/bin/busybox"
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
      drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
      drivers/net/virtio_net"
for m in $mods; do cp "$modules/kernel/$m.ko" "$root/lib/"; done
{
    echo '#!/bin/busybox sh'
    echo '/bin/busybox --install -s /bin'
    echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev'
    for m in $mods; do echo "insmod /lib/${m##*/}.ko"; done
    cat <<INIT
ip addr add 10.77.0.2/24 dev eth0 && ip link set eth0 up
while ! ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1; do sleep 1; done
t0=\$(cut -d' ' -f1 /proc/uptime)
got=\$(wget -q -O /dev/null http://10.77.0.1:8080/blob && echo ok)
t1=\$(cut -d' ' -f1 /proc/uptime)
mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=1048576 count=$mib 2>/dev/null
httpd -p 80 -h /tmp/www
echo "BENCH-NET \$t0 \$t1 \$got"
sleep 3600
INIT
} > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/bench.cpio.gz"

ns=flint-bench-$$
tap=fbench0
ip netns add "$ns"
trap 'ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns delete "$ns"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip addr add 10.77.0.1/24 dev "$tap"
in_ns ip link set "$tap" up
truncate -s "${mib}M" "$work/blob"
in_ns "$busybox" httpd -p 10.77.0.1:8080 -h "$work"

# no_timer_check: on a loaded host QEMU's TCG can miss the kernel's early IO-APIC timer check, which then
# panics; both machines skip it alike.
cmdline="console=ttyS0 panic=-1 no_timer_check"
flint_cmd=("$repo/bin/flint" run --engine emu --memory 512 --kernel "$kernel" --initrd "$work/bench.cpio.gz"
           --cmdline "$cmdline" --net "tap=$tap")
baseline=${BENCH_BASELINE:-}
base_cmd=("$baseline" "${flint_cmd[@]:1}")
qemu_cmd=(qemu-system-x86_64 -accel tcg -M pc -m 512 -nographic -no-reboot -kernel "$kernel"
          -initrd "$work/bench.cpio.gz" -append "$cmdline"
          -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off" -device virtio-net-pci,netdev=n0)

# Waits (up to a minute) until no process holds the TAP any more: a persistent TAP has no carrier while
# nobody has it open. The next VM cannot attach before (the kernel answers EBUSY), and a killed VM's
# process lets go of its descriptors only once all its threads are gone, which takes a while for a JVM.
tap_released() {
    for _ in $(seq 600); do
        [[ $(in_ns cat "/sys/class/net/$tap/carrier" 2>/dev/null) == 1 ]] || return 0
        sleep 0.1
    done
    echo "$tap still held after a minute" >&2
    return 1
}

# Runs one VM in a session of its own in the namespace; prints "RX_MBPS TX_MBPS" (MiB/s). rx is timed by
# the guest, tx by the host. The VM's whole process group is killed afterwards and the TAP waited for.
measure() {
    local log=$work/vm.log line t0 t1
    tap_released
    setsid ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
    local vm=$! # setsid runs in the background job's process (not a group leader), so this is the session's group
    for _ in $(seq 1200); do grep -q BENCH-NET "$log" && break; sleep 0.5; done
    line=$(tr -d '\r' <"$log" | grep -m1 BENCH-NET || true)
    rm -f "$work/from-guest"
    t0=$(date +%s.%N)
    in_ns "$busybox" wget -q -O "$work/from-guest" http://10.77.0.2/blob || true
    t1=$(date +%s.%N)
    kill -9 -- "-$vm" 2>/dev/null || true; wait "$vm" 2>/dev/null || true
    tap_released
    set -- $line
    [[ $# -eq 4 && $4 == ok && $(stat -c %s "$work/from-guest" 2>/dev/null || echo 0) -eq $((mib << 20)) ]] || { echo "run failed: $line" >&2; return 1; }
    echo "$(echo "$mib / ($3 - $2)" | bc -l) $(echo "$mib / ($t1 - $t0)" | bc -l)"
}

# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

: > "$work/flint.txt"; : > "$work/base.txt"; : > "$work/qemu.txt"
for i in $(seq "$runs"); do
    b=
    # With a baseline, it goes first on even runs, so neither build always follows the other.
    if [[ -n $baseline && $((i % 2)) -eq 0 ]]; then b=$(measure "${base_cmd[@]}"); echo "$b" >> "$work/base.txt"; fi
    f=$(measure "${flint_cmd[@]}"); echo "$f" >> "$work/flint.txt"
    if [[ -n $baseline && $((i % 2)) -eq 1 ]]; then b=$(measure "${base_cmd[@]}"); echo "$b" >> "$work/base.txt"; fi
    q=$(measure "${qemu_cmd[@]}"); echo "$q" >> "$work/qemu.txt"
    printf 'run %d  flint-emu rx %7.2f MiB/s tx %7.2f MiB/s   qemu-tcg rx %7.2f MiB/s tx %7.2f MiB/s   (load %s)\n' \
        "$i" $f $q "$(cut -d' ' -f1-3 /proc/loadavg)"
    [[ -z $b ]] || printf '       base      rx %7.2f MiB/s tx %7.2f MiB/s\n' $b
done
fr=$(cut -d' ' -f1 "$work/flint.txt" | median); qr=$(cut -d' ' -f1 "$work/qemu.txt" | median)
ft=$(cut -d' ' -f2 "$work/flint.txt" | median); qt=$(cut -d' ' -f2 "$work/qemu.txt" | median)
printf '\nmedian of %d, %d MiB   host->guest: flint-emu %.2f MiB/s, qemu-tcg %.2f MiB/s, ratio %.2f\n' \
    "$runs" "$mib" "$fr" "$qr" "$(echo "$fr / $qr" | bc -l)"
printf '                     guest->host: flint-emu %.2f MiB/s, qemu-tcg %.2f MiB/s, ratio %.2f\n' \
    "$ft" "$qt" "$(echo "$ft / $qt" | bc -l)"
if [[ -n $baseline ]]; then
    br=$(cut -d' ' -f1 "$work/base.txt" | median); bt=$(cut -d' ' -f2 "$work/base.txt" | median)
    printf 'baseline %s: host->guest %.2f MiB/s, guest->host %.2f MiB/s; flint/base rx %.2f tx %.2f\n' \
        "$baseline" "$br" "$bt" "$(echo "$fr / $br" | bc -l)" "$(echo "$ft / $bt" | bc -l)"
fi
