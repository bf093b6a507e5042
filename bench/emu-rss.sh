#!/usr/bin/env bash
# Does Flint's emu VMM keep a bounded RSS however long a guest runs new code? (issue 15, memory)
# Boots the stock kernel with an init that repeats, ROUNDS times, a round of varied work: sha256sum,
# sha512sum, md5sum and sha1sum of 4 MiB, gzip and gunzip of it, sort, od and awk — many distinct busybox
# paths, so blocks keep being decoded, compiled and evicted. Prints Flint's RSS (VmRSS of the VMM process)
# after each round and the peak; a bounded VMM levels off after the first rounds.
# Usage: bench/emu-rss.sh [ROUNDS]   (default 8). Needs cpio.
set -euo pipefail
rounds=${1:-8}
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
work=$repo/target/bench-emu-rss
mkdir -p "$work"

"$repo/bin/flint" guest fetch >/dev/null
cache=${FLINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flint}
kernel=$(ls "$cache"/debian/boot/vmlinuz-* | head -1)
root=$work/initrd
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/dev" "$root/tmp"
cp "$cache/debian/bin/busybox" "$root/bin/busybox"
cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
dd if=/dev/urandom of=/tmp/data bs=1048576 count=4 2>/dev/null
i=1
while [ \$i -le $rounds ]; do
    sha256sum /tmp/data >/dev/null; sha512sum /tmp/data >/dev/null; md5sum /tmp/data >/dev/null; sha1sum /tmp/data >/dev/null
    gzip -c /tmp/data | gunzip -c | od -An -tx4 | head -c 2000000 | sort | awk '{ n += length(\$0) } END { print n }' >/dev/null
    echo "RSS-ROUND \$i"
    i=\$((i + 1))
done
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/rss.cpio.gz"

"$repo/bin/flint" run --engine emu --memory 256 --kernel "$kernel" --initrd "$work/rss.cpio.gz" \
    --cmdline "console=ttyS0 panic=-1" </dev/null > "$work/console.log" 2>&1 &
launcher=$!
peak=0
# bin/flint execs its JVM, so the launcher's pid is the VMM's; VmHWM is the kernel's own peak.
while IFS= read -r line; do
    line=${line%$'\r'} # serial consoles end lines with CR LF
    case $line in
        *RSS-ROUND*)
            rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$launcher/status" 2>/dev/null || true)
            hwm=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$launcher/status" 2>/dev/null || true)
            [[ -n $rss && -n $hwm ]] || continue # the VMM ended already
            printf 'round %3s  RSS %4d MiB  peak so far %4d MiB  (load %s)\n' "${line##* }" "$rss" "$hwm" "$(cut -d' ' -f1 /proc/loadavg)"
            peak=$hwm ;;
    esac
done < <(tail -n +1 -f --pid="$launcher" "$work/console.log")
wait "$launcher" || true
echo "peak RSS over $rounds rounds: $peak MiB"
