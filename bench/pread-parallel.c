/*
 * How fast the host copies a page-cached file into memory with pread(2), from one thread or several at once: the
 * ceiling for a block device that splits a batch's large reads between threads (docs/block-path.md, Round 9).
 *
 *   gcc -O2 -pthread -o /tmp/pread-parallel bench/pread-parallel.c
 *   dd if=/dev/urandom of=/tmp/img bs=1M count=256 && cat /tmp/img >/dev/null   # written 1 MiB at a time
 *   /tmp/pread-parallel /tmp/img THREADS BUFFERS HUGE PASSES
 *
 * Each pass reads the whole file in 1 MiB pieces, piece k by thread k mod THREADS, each thread into its own
 * BUFFERS buffers of 1 MiB in turn (a device's slots), in memory advised MADV_HUGEPAGE (HUGE=1) or
 * MADV_NOHUGEPAGE (0). Prints the medians over the passes of the wall time per MiB and of all threads' CPU
 * time per MiB (CLOCK_THREAD_CPUTIME_ID): if the copy scaled with cores, two threads would halve the wall time
 * and keep the CPU time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1L << 20)

static int fd, threads, buffers;
static long pieces;

struct worker { int index; char *memory; double cpu_us; };

static double micros(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *reader(void *arg) {
    struct worker *w = arg;
    double start = micros(CLOCK_THREAD_CPUTIME_ID);
    long turn = 0;
    for (long piece = w->index; piece < pieces; piece += threads, turn++) {
        if (pread(fd, w->memory + (turn % buffers) * MIB, MIB, piece * MIB) != MIB) { perror("pread"); exit(1); }
    }
    w->cpu_us = micros(CLOCK_THREAD_CPUTIME_ID) - start;
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s FILE THREADS BUFFERS HUGE PASSES\n", argv[0]); return 2; }
    fd = open(argv[1], O_RDONLY);
    threads = atoi(argv[2]), buffers = atoi(argv[3]);
    int huge = atoi(argv[4]), passes = atoi(argv[5]);
    if (fd < 0 || threads < 1 || threads > 16 || buffers < 1 || passes < 1 || passes > 1000) { fprintf(stderr, "bad arguments\n"); return 2; }
    pieces = lseek(fd, 0, SEEK_END) / MIB;
    size_t bytes = (size_t) threads * buffers * MIB;
    char *raw = mmap(NULL, bytes + 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { perror("mmap"); return 1; }
    char *memory = (char *) (((unsigned long) raw + 2 * MIB - 1) & ~(2 * MIB - 1)); /* 2 MiB aligned, as guest RAM */
    madvise(memory, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(memory, 1, bytes); /* touched before the passes, as the bench's guest buffers are */
    double wall[1000], cpu[1000];
    for (int p = 0; p < passes; p++) {
        pthread_t tid[16];
        struct worker w[16];
        double start = micros(CLOCK_MONOTONIC), used = 0;
        for (int t = 0; t < threads; t++) {
            w[t] = (struct worker) { t, memory + (size_t) t * buffers * MIB, 0 };
            pthread_create(&tid[t], NULL, reader, &w[t]);
        }
        for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); used += w[t].cpu_us; }
        wall[p] = (micros(CLOCK_MONOTONIC) - start) / pieces;
        cpu[p] = used / pieces;
    }
    qsort(wall, passes, sizeof wall[0], by_value);
    qsort(cpu, passes, sizeof cpu[0], by_value);
    printf("threads %d buffers %d huge %d: wall %.1f us/MiB, CPU %.1f us/MiB (medians of %d passes)\n",
           threads, buffers, huge, wall[passes / 2], cpu[passes / 2], passes);
    return 0;
}
