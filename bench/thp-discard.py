#!/usr/bin/env python3
"""Does giving back 4 KiB pages of anonymous memory free host memory, on 4 KiB pages and on transparent huge pages?

What a balloon does to guest RAM: maps SIZE_MIB (2048) of anonymous memory, advised MADV_HUGEPAGE or MADV_NOHUGEPAGE,
touches every page, then MADV_DONTNEED of 511 of each 512 pages (all but the first 4 KiB of every 2 MiB), and prints
how much /proc/meminfo MemFree rose and what /proc/vmstat counted (thp_deferred_split_page: huge pages queued for a
split the kernel does only under memory pressure). Alternates the two, ROUNDS (2) times each. MemFree is the whole
host's: on a shared host read it against the amount given back. docs/block-path.md, Round 8.
Usage: bench/thp-discard.py [SIZE_MIB] [ROUNDS]
"""
import mmap
import sys
import time

PAGE, HUGE = 4096, 2 << 20


def memfree_mib():
    for line in open('/proc/meminfo'):
        if line.startswith('MemFree:'):
            return int(line.split()[1]) // 1024


def vmstat(key):
    for line in open('/proc/vmstat'):
        if line.startswith(key + ' '):
            return int(line.split()[1])
    return 0


def main():
    size = (int(sys.argv[1]) if len(sys.argv) > 1 else 2048) << 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    given = (size - size // 512) >> 20
    for _ in range(rounds):
        for huge in (True, False):
            m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            m.madvise(mmap.MADV_HUGEPAGE if huge else mmap.MADV_NOHUGEPAGE)
            for off in range(0, size, PAGE):
                m[off] = 1
            free0, deferred0, split0 = memfree_mib(), vmstat('thp_deferred_split_page'), vmstat('thp_split_page')
            for off in range(0, size, HUGE):
                m.madvise(mmap.MADV_DONTNEED, off + PAGE, HUGE - PAGE)
            time.sleep(1)
            print('%s MemFree %+d MiB after giving back %d MiB; thp_deferred_split_page %+d, thp_split_page %+d (load %s)' % (
                'huge pages' if huge else '4 KiB pages', memfree_mib() - free0, given,
                vmstat('thp_deferred_split_page') - deferred0, vmstat('thp_split_page') - split0,
                open('/proc/loadavg').read().split()[0]))
            m.close()
            time.sleep(1)


if __name__ == '__main__':
    main()
