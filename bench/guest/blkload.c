/*
 * The guest side of bench/guest-blk.sh: one block workload on DEVICE, with O_DIRECT so every request
 * reaches the device, one request at a time (queue depth 1), timed with the guest's monotonic clock
 * (busybox's dd in Debian prints no timing of its own):
 *   blkload DEVICE write MIB   MIB MiB of a fixed pattern from offset 0, 1 MiB per write;
 *   blkload DEVICE read MIB    MIB MiB from offset 0, 1 MiB per read;
 *   blkload DEVICE rand COUNT [JOBS]
 *                              COUNT reads of 4 KiB at pseudo-random 4 KiB-aligned offsets over the whole
 *                              device, from a fixed-seed xorshift generator, so every machine reads the
 *                              same blocks in the same order; with JOBS (default 1) that many processes
 *                              share the COUNT, each with its own seed, so up to JOBS reads are in flight.
 * Prints "MODE N SECONDS" (N: MiB or reads); exits 1 on any short or failed transfer. Built static on the
 * host (gcc -static) and put into the benchmark's initramfs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define MIB (1024 * 1024)
#define BLOCK 4096

static unsigned char buffer[MIB] __attribute__((aligned(BLOCK)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* COUNT random 4 KiB reads from the generator seeded with SEED; 0 when all succeeded. */
static int random_reads(int fd, off_t size, long count, uint64_t seed) {
    uint64_t blocks = (uint64_t) size / BLOCK, state = seed;
    if (blocks == 0) { fprintf(stderr, "empty device\n"); return 1; }
    for (long i = 0; i < count; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        if (pread(fd, buffer, BLOCK, (off_t) (state % blocks) * BLOCK) != BLOCK) { perror("pread"); return 1; }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 5 && strcmp(argv[2], "rand") == 0)) {
        fprintf(stderr, "usage: blkload DEVICE write|read N, or blkload DEVICE rand N [JOBS]\n");
        return 2;
    }
    long jobs = argc == 5 ? atol(argv[4]) : 1;
    if (jobs < 1 || jobs > 64) { fprintf(stderr, "blkload: 1 to 64 jobs\n"); return 2; }
    const char *mode = argv[2];
    long n = atol(argv[3]);
    int writing = strcmp(mode, "write") == 0;
    if (!writing && strcmp(mode, "read") != 0 && strcmp(mode, "rand") != 0) {
        fprintf(stderr, "blkload: unknown mode %s\n", mode);
        return 2;
    }
    int fd = open(argv[1], (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror(argv[1]); return 1; }
    off_t size = lseek(fd, 0, SEEK_END);
    memset(buffer, 0xA5, sizeof buffer);
    double t0 = now();
    if (strcmp(mode, "rand") == 0) {
        for (long j = 0; j < jobs; j++) {
            pid_t pid = jobs == 1 ? 0 : fork();
            if (pid < 0) { perror("fork"); return 1; }
            if (pid > 0) continue;
            int failed = random_reads(fd, size, n / jobs + (j < n % jobs), 0x9E3779B97F4A7C15ull ^ (uint64_t) j * 0xD1B54A32D192ED03ull);
            if (jobs > 1) _exit(failed);
            if (failed) return 1;
        }
        int status;
        for (long j = 0; jobs > 1 && j < jobs; j++) {
            if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "blkload: a job failed\n"); return 1; }
        }
    } else {
        if ((off_t) n * MIB > size) { fprintf(stderr, "%s: smaller than %ld MiB\n", argv[1], n); return 1; }
        for (long i = 0; i < n; i++) {
            ssize_t done = writing ? pwrite(fd, buffer, MIB, (off_t) i * MIB) : pread(fd, buffer, MIB, (off_t) i * MIB);
            if (done != MIB) { perror(writing ? "pwrite" : "pread"); return 1; }
        }
    }
    double t1 = now();
    printf("%s %ld %.6f\n", mode, n, t1 - t0);
    return 0;
}
