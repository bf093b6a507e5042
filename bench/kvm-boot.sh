#!/usr/bin/env bash
# Boot-time benchmark of Flint's kvm engine (not a test).
#
#   bench/kvm-boot.sh [N]     (default N=5)
#
# 1. Inside ONE nested-KVM guest (L1: QEMU TCG with AMD SVM, see src/test/java/dev/flint/nested), boots the
#    stock Debian kernel + a marker initramfs with `flint vmm --engine kvm` driven over its API and with
#    `qemu-system-x86_64 -accel kvm -M microvm`, in turn, N times each. Flint's figure is the wall time
#    from InstanceStart to the marker on the console (the VMM process is started and configured first, as
#    Firecracker users do); QEMU's from launching the process to the marker. The guest also prints its
#    uptime at the marker: kernel boot alone. TCG distorts absolute numbers: only the ratios between them,
#    measured side by side in the same L1, mean something.
#    Flint boots the vmlinux `flint guest fetch` unpacked into the guest cache (the bzImage's decompressor
#    never runs; Firecracker also boots a vmlinux). QEMU runs twice per round: with the bzImage
#    (`-kernel vmlinuz-...`, its decompressor runs in the guest, slow under TCG) and with that same vmlinux
#    (`-kernel <vmlinux>`: Debian's vmlinux carries the Xen PVH entry note, XEN_ELFNOTE_PHYS32_ENTRY, and
#    QEMU's microvm, through its qboot firmware, enters it there; no option needed). The LIKE-FOR-LIKE ratio
#    is "ratio flint/qemu-vmlinux:" (same kernel image, same entry work); "ratio flint/qemu:" (kept for the
#    tools that parse it) is against the bzImage, whose decompressor runs in QEMU's guest (measured in
#    docs/startup.md: under TCG the two QEMU boots take about the same time).
# 2. On this host (PVM /dev/kvm: a stock kernel does not get far, but the VMM path until the guest's
#    first instruction is the same), Flint's start-up time — launch to vCPU 0's first KVM_RUN, which the
#    kvm engine logs with --debug — and its resident memory apart from guest RAM.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$repo"
N=${1:-5}
MARKER=FLINT-BENCH-MARKER
MEM=256
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

# Build once on the host: inside L1 the repository is read-only.
./mvnw -q -B -o -DskipTests package test-compile >/dev/null 2>&1 || ./mvnw -q -B -DskipTests package test-compile
# guest fetch also unpacks the kernel into Flint's cache and notes it there: the kvm engine then enters that
# vmlinux instead of running the bzImage's decompressor in the guest.
bin/flint guest fetch >/dev/null
# bin/flint makes each jar's start-up cache on its first run after a build; inside L1 the repository is
# read-only, so make flint vmm's here (a usage line is enough to trigger it).
bin/flint vmm --help >/dev/null
cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
version=$(sed -n 's/^kernel.version=//p' "$cache/debian/flint-guest.properties")
kernel=$cache/debian/boot/vmlinuz-$version
# The vmlinux Flint boots: the unpacked cache's alias file for the bzImage names it (path on line 1, the
# entry's name on line 2).
vmlinux=
for alias in "$cache"/unpacked/*.alias; do
  [[ -e $alias && $(head -1 "$alias" | cut -d' ' -f1) == "$kernel" ]] && vmlinux=$cache/unpacked/$(sed -n 2p "$alias").vmlinux
done
if [[ -z $vmlinux || ! -f $vmlinux ]]; then echo "no unpacked vmlinux for $kernel in $cache/unpacked"; exit 1; fi
if command -v readelf >/dev/null && ! readelf -n "$vmlinux" | grep -q 'Xen .*0x00000012'; then
  echo "$vmlinux has no Xen PVH entry note: QEMU cannot boot it directly"; exit 1
fi

# The marker guest: busybox prints the marker and powers off. Outside /tmp (L1 mounts its own /tmp).
work=$repo/target/bench
mkdir -p "$work/initrd/bin" "$work/initrd/dev" "$work/initrd/proc" "$work/initrd/sys"
cp "$cache/debian/bin/busybox" "$work/initrd/bin/busybox"
cat >"$work/initrd/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox echo $MARKER uptime \$(/bin/busybox cut -d' ' -f1 /proc/uptime)
/bin/busybox poweroff -f
INIT
chmod 755 "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/marker.cpio.gz"
initrd=$work/marker.cpio.gz
append="console=ttyS0 quiet panic=-1"

# shellcheck source=lib.sh
source "$repo/bench/lib.sh"

echo "== nested (L1 = QEMU TCG + SVM), $N boots each: InstanceStart (Flint) or launch (QEMU) to the init's marker"
# Flint as Firecracker users run it: `flint vmm` started and configured over its API first, the clock
# starts at InstanceStart. QEMU has no such step: its clock starts at launch (its start-up is C, well
# under a second even under TCG). Both clocks stop when the marker line reaches the console (bash's
# EPOCHREALTIME, no process per line). Every JVM in L1 runs with $L1_JAVA_OPTS (the nested tests' setting:
# L1 has one CPU, where C2's compilations would compete with the vCPU thread).
L1_JAVA_OPTS=${BENCH_L1_JAVA_OPTS:--XX:TieredStopAtLevel=1}
cat >"$work/inner.sh" <<INNER
[ -n "\${BASH_VERSION:-}" ] || exec /bin/bash "\$0" "\$@"
set -u
us() { local t=\$EPOCHREALTIME; echo \${t/./}; }
# L1's HOME is a fresh tmpfs: Flint uses this host's cache folder (read-only over 9p), as it would on the host.
export FLINT_CACHE=$cache
# Reads a console on stdin; prints the time the marker arrived and the guest uptime it reports.
stamp() { local line; while IFS= read -r line; do case \$line in *$MARKER*) echo "\$(us) \$(echo "\$line" | sed -n 's/.*$MARKER uptime \([0-9.]*\).*/\1/p')";; esac; done; }
api() { curl -s -S --unix-socket "\$sock" -X PUT "http://localhost/\$1" -d "\$2" -o /dev/null -w '%{http_code}'; }
for i in \$(seq $N); do
  sock=/tmp/bench-\$i.sock stamp_file=/tmp/bench-\$i.stamp
  FLINT_JAVA_OPTS=$L1_JAVA_OPTS $repo/bin/flint vmm --api-sock "\$sock" --engine kvm </dev/null 2>/tmp/bench-\$i.err | stamp >"\$stamp_file" &
  for _ in \$(seq 600); do [ -S "\$sock" ] && break; sleep 0.1; done
  codes="\$(api boot-source '{"kernel_image_path": "$kernel", "initrd_path": "$initrd", "boot_args": "$append"}') \$(api machine-config '{"vcpu_count": 1, "mem_size_mib": $MEM}')"
  t0=\$(us)
  codes="\$codes \$(api actions '{"action_type": "InstanceStart"}')"
  wait
  read -r t1 uptime <"\$stamp_file" || true
  if [ "\$codes" = "204 204 204" ] && [ -n "\${t1:-}" ]; then echo "flint \$(( (t1 - t0) / 1000 )) \$uptime"; else echo "flint-failed: API \$codes; \$(tail -3 /tmp/bench-\$i.err | tr '\n' ' ')"; fi
  t0=\$(us)
  qemu-system-x86_64 -accel kvm -M microvm -m $MEM -nodefaults -display none -serial stdio -monitor none \
      -no-reboot -kernel $kernel -initrd $initrd -append "$append" </dev/null 2>&1 | stamp >/tmp/qemu-\$i.stamp
  read -r t1 uptime </tmp/qemu-\$i.stamp || true
  if [ -n "\${t1:-}" ]; then echo "qemu \$(( (t1 - t0) / 1000 )) \$uptime"; else echo "qemu-failed"; fi
  # The same vmlinux Flint boots, entered at its PVH note: like for like.
  t1= uptime=
  t0=\$(us)
  qemu-system-x86_64 -accel kvm -M microvm -m $MEM -nodefaults -display none -serial stdio -monitor none \
      -no-reboot -kernel $vmlinux -initrd $initrd -append "$append" </dev/null 2>&1 | stamp >/tmp/qemuvm-\$i.stamp
  read -r t1 uptime </tmp/qemuvm-\$i.stamp || true
  if [ -n "\${t1:-}" ]; then echo "qemu-vmlinux \$(( (t1 - t0) / 1000 )) \$uptime"; else echo "qemu-vmlinux-failed"; fi
done
INNER
cp=$(./mvnw -q -B -o dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test 2>/dev/null)
results=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$cp" \
    dev.flint.nested.RunInL1 "$work/inner.sh" 60 || true)
echo "$results" | grep -E '^(flint|qemu)' || echo "$results" | tail -20
flint_med=$(echo "$results" | awk '$1=="flint"{print $2}' | median)
qemu_med=$(echo "$results" | awk '$1=="qemu"{print $2}' | median)
echo "median flint-kvm InstanceStart to marker: ${flint_med:-n/a} ms   median qemu-kvm-microvm launch to marker: ${qemu_med:-n/a} ms"
qemuvm_med=$(echo "$results" | awk '$1=="qemu-vmlinux"{print $2}' | median)
echo "median qemu-kvm-microvm (same vmlinux as Flint, PVH entry) launch to marker: ${qemuvm_med:-n/a} ms"
echo "median guest uptime at the marker: flint $(echo "$results" | awk '$1=="flint"{print $3}' | median) s," \
     "qemu $(echo "$results" | awk '$1=="qemu"{print $3}' | median) s   (kernel boot alone, without VMM start-up)"
echo "median guest uptime at the marker: qemu-vmlinux $(echo "$results" | awk '$1=="qemu-vmlinux"{print $3}' | median) s"
if [[ -n ${flint_med:-} && -n ${qemu_med:-} ]]; then
  awk -v f="$flint_med" -v q="$qemu_med" 'BEGIN {printf "ratio flint/qemu: %.2f\n", f / q}'
fi
if [[ -n ${flint_med:-} && -n ${qemuvm_med:-} ]]; then
  awk -v f="$flint_med" -v q="$qemuvm_med" 'BEGIN {printf "ratio flint/qemu-vmlinux: %.2f   (like for like: both boot the same vmlinux)\n", f / q}'
fi

if [[ ! -e /dev/kvm ]]; then
  echo "== host: no /dev/kvm here, so no host start-up figures (bench/api.sh measures the VMM's start-up without KVM)"
  exit 0
fi
echo "== host ($(grep -q -w -E 'vmx|svm' /proc/cpuinfo && echo hardware KVM || echo PVM)): start-up to first KVM_RUN, RSS apart from guest RAM"
for i in $(seq "$N"); do
  log=$work/host-$i.log
  : >"$log" # exists before the poll below reads it (the background run may not have opened it yet)
  t0=$(date +%s%3N)
  FLINT_JAVA_OPTS=-Dflint.kvm.allowPvm=true bin/flint --debug run --engine kvm --kernel "$kernel" --initrd "$initrd" \
      --memory $MEM --cpus 1 </dev/null >"$log" 2>&1 &
  pid=$!
  first=
  for _ in $(seq 300); do
    first=$(sed -n 's/.*first KVM_RUN at epoch ms \([0-9]*\).*/\1/p' "$log" | head -1)
    [[ -n $first ]] && break
    sleep 0.05
  done
  sleep 0.5 # let the guest touch what it touches early; the VMM's own memory is what we measure
  java_pid=$(pgrep -P "$pid" java || echo "$pid")
  # RSS of everything except guest RAM: the kvm engine logs (--debug) where each memory slot lives on
  # the host; the mappings holding those addresses are guest RAM.
  rss=$(python3 - "$java_pid" "$log" <<'PY'
import re, sys
pid, log = sys.argv[1], sys.argv[2]
slots = [int(h, 16) for h in re.findall(r"memory slot: .* at host 0x([0-9a-f]+)", open(log).read())]
total = guest = 0
inside = False
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
    if m:
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        inside = any(lo <= a < hi for a in slots)
    elif line.startswith("Rss:"):
        kb = int(line.split()[1])
        total += kb
        guest += kb if inside else 0
print(total, guest)
PY
) || rss="0 0"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ -z $first ]]; then echo "run $i: no first KVM_RUN logged:"; tail -3 "$log"; continue; fi
  read -r total guest <<<"$rss"
  echo "startup $((first - t0)) ms  rss-total $((total / 1024)) MiB  rss-guest $((guest / 1024)) MiB  rss-vmm $(((total - guest) / 1024)) MiB"
done | tee "$work/host.txt"
echo "median start-up: $(awk '/^startup/{print $2}' "$work/host.txt" | median) ms   median VMM RSS: $(awk '/^startup/{print $11}' "$work/host.txt" | median) MiB"
