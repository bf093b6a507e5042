#!/usr/bin/env bash
# Benchmark for the emu engine (issue 3): the same stock Debian kernel + busybox initramfs booted by
# Flint's software CPU and by QEMU's (TCG, -M pc), alternating, RUNS times each. Prints per-run wall
# times, the medians and their ratio, for
#   boot  — process start until the guest's init prints its marker;
#   cpu   — a CPU-bound job inside the guest: sha256sum of 64 MiB of zeros, timed by the guest's own
#           clock (/proc/uptime; both machines keep guest time on the host's clock).
# Both at 1 and at 2 vCPUs (BENCH_CPUS="1" for one of them), each with its two ratios.
# And each side's peak RSS (/usr/bin/time -f %M), medians and ratio.
# Usage: bench/emu-boot.sh [RUNS]   (default 5). Needs qemu-system-x86 and cpio (bin/test installs them).
set -euo pipefail
runs=${1:-5}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-emu
mkdir -p "$work"

"$repo/bin/flint" guest fetch >/dev/null
cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
kernel=$(ls "$cache"/debian/boot/vmlinuz-* | head -1)
busybox=$cache/debian/bin/busybox

# An initramfs whose init prints the boot marker, runs the CPU job and powers off.
root=$work/initrd
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/dev"
cp "$busybox" "$root/bin/busybox"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
echo BENCH-BOOTED
t0=$(cut -d' ' -f1 /proc/uptime)
sum=$(dd if=/dev/zero bs=1048576 count=64 2>/dev/null | sha256sum)
t1=$(cut -d' ' -f1 /proc/uptime)
echo "BENCH-CPU $t0 $t1 ${sum%% *}"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/bench.cpio.gz"

cmdline="console=ttyS0 panic=-1"
# The commands for N vCPUs.
flint_cmd() { flint_cmd=("$repo/bin/flint" run --engine emu --cpus "$1" --memory 256 --kernel "$kernel" --initrd "$work/bench.cpio.gz" --cmdline "$cmdline"); }
qemu_cmd() { qemu_cmd=(qemu-system-x86_64 -accel tcg -M pc -smp "$1" -m 256 -nographic -no-reboot -kernel "$kernel"
                       -initrd "$work/bench.cpio.gz" -append "$cmdline"); }

# Runs a command, prints "BOOT_SECONDS CPU_SECONDS" (boot = wall time to the marker line).
measure() {
    local start log
    log=$work/run.log
    start=$(date +%s.%N)
    "$@" </dev/null 2>&1 | while IFS= read -r line; do
        line=${line%$'\r'} # serial consoles end lines with CR LF
        case $line in
            *BENCH-BOOTED*) echo "booted $(date +%s.%N)" ;;
            *BENCH-CPU*) echo "cpu ${line#*BENCH-CPU }" ;;
        esac
    done > "$log"
    local booted cpu
    booted=$(awk '/^booted/ {print $2}' "$log")
    # The job must really have run: the digest of 64 MiB of zeros.
    cpu=$(awk -v want="$zeros_sha" '/^cpu/ && $4 == want {printf "%.2f", $3 - $2}' "$log")
    [[ -n $booted && -n $cpu ]] || { echo "run failed: $*" >&2; return 1; }
    echo "$(echo "$booted - $start" | bc -l) $cpu"
}

zeros_sha=$(head -c $((64 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)

# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

# Peak RSS of each side (issue 15, memory): /usr/bin/time -f %M wraps the command (bin/flint execs its JVM,
# so it is the VMM process); both sides' medians and their ratio are printed with the times.
rss_file=$work/rss.txt
with_rss() { /usr/bin/time -o "$rss_file" -f %M "$@"; }
rss_mib() { echo "$(($(tail -1 "$rss_file") / 1024))"; }

# Both machines alternate run by run, so load from elsewhere on the host hits them alike; the load
# average is printed with each run because wall times on a shared host mean little without it.
summary=(); rss_summary=()
for cpus in ${BENCH_CPUS:-1 2}; do
    flint_cmd "$cpus"; qemu_cmd "$cpus"
    : > "$work/flint.txt"; : > "$work/qemu.txt"; : > "$work/flint-rss.txt"; : > "$work/qemu-rss.txt"
    for i in $(seq "$runs"); do
        f=$(measure with_rss "${flint_cmd[@]}"); echo "$f" >> "$work/flint.txt"; fr=$(rss_mib); echo "$fr" >> "$work/flint-rss.txt"
        q=$(measure with_rss "${qemu_cmd[@]}"); echo "$q" >> "$work/qemu.txt"; qr=$(rss_mib); echo "$qr" >> "$work/qemu-rss.txt"
        printf '%d vCPU run %d  flint-emu boot %6.2f s cpu %6.2f s rss %4d MiB   qemu-tcg boot %6.2f s cpu %6.2f s rss %4d MiB   (load %s)\n' \
            "$cpus" "$i" $f "$fr" $q "$qr" "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
    fm=$(median < "$work/flint-rss.txt"); qm=$(median < "$work/qemu-rss.txt")
    rss_summary+=("$(printf '%d vCPU, median of %d   peak RSS: flint-emu %.0f MiB, qemu-tcg %.0f MiB, ratio %.2f' \
        "$cpus" "$runs" "$fm" "$qm" "$(echo "$fm / $qm" | bc -l)")")
    fb=$(cut -d' ' -f1 "$work/flint.txt" | median); qb=$(cut -d' ' -f1 "$work/qemu.txt" | median)
    fc=$(cut -d' ' -f2 "$work/flint.txt" | median); qc=$(cut -d' ' -f2 "$work/qemu.txt" | median)
    summary+=("$(printf '%d vCPU, median of %d   boot: flint-emu %.2f s, qemu-tcg %.2f s, ratio %.2f   sha256sum 64 MiB: flint-emu %.2f s, qemu-tcg %.2f s, ratio %.2f' \
        "$cpus" "$runs" "$fb" "$qb" "$(echo "$fb / $qb" | bc -l)" "$fc" "$qc" "$(echo "$fc / $qc" | bc -l)")")
done
echo
printf '%s\n' "${summary[@]}"
printf '%s\n' "${rss_summary[@]}"
