/*
 * Generates x87 test vectors from the host CPU, for X87HostVectorsTest.
 * Each line: op fcw a_sig a_se b result status   (hex). For the fst and fist ops a is an 80-bit value (b unused);
 * for the arithmetic ops a and b are doubles (a_se unused) computed with FCW.PC = double precision.
 * status = FSW exception flags (bits 5:0) after the operation.
 * The x... lines hold 80-bit operands (ST0 = a, ST1 = b); the m... lines an 80-bit ST0 and a 32/64-bit memory
 * operand b, with the status word's flags (and, for FCOM, condition codes) after the operation.
 * Build and run:  gcc -O1 -o /tmp/x87-vectors x87-vectors.c && /tmp/x87-vectors 5
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x13198A2E03707344ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

struct ext { uint64_t sig; uint16_t se; } __attribute__((packed));

static struct ext pick_ext(void) {
    struct ext e;
    uint64_t r = next();
    e.sig = next() | (1ull << 63);
    int sign = (r >> 40) & 1;
    switch (r % 8) {
    case 0: e.se = 16383 + (int)((r >> 8) % 140) - 70; break;              /* ordinary */
    case 1: e.se = 16383 - 1022 - (int)((r >> 8) % 60); break;             /* double subnormal range */
    case 2: e.se = 16383 + 1023 + (int)((r >> 8) % 3) - 1; break;          /* double overflow edge */
    case 3: e.se = 16383 - 126 - (int)((r >> 8) % 30); break;              /* float subnormal range */
    case 4: e.se = 16383 + (int)((r >> 8) % 66); break;                    /* integer conversions */
    case 5: e.se = 16383 + 62 + (int)((r >> 8) % 3); e.sig = (r & 4) ? 1ull << 63 : e.sig; break;
    case 6: e.se = 16383 - 1 - (int)((r >> 8) % 3); break;                 /* |x| < 1 */
    default: e.se = 16383 + 30 + (int)((r >> 8) % 4); break;               /* near 2^31 */
    }
    e.se |= sign << 15;
    return e;
}

static uint16_t fsw(void) { uint16_t s; __asm__ volatile("fnstsw %0" : "=m"(s)); return s & 0x3F; }
static void setcw(uint16_t cw) { __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw)); }
static void restore(void) { uint16_t cw = 0x37F; __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw)); }

/* ±0, ±inf, ±QNaN, SNaN, denormals, 1, -2, smallest normal, largest finite */
static const struct ext specials[] = {
    {0, 0}, {0, 0x8000}, {1ull << 63, 0x7FFF}, {1ull << 63, 0xFFFF}, {0xC000000000000000ull, 0x7FFF},
    {0xC000000000000000ull, 0xFFFF}, {0xA000000000000000ull, 0x7FFF}, {1, 0}, {0x4000000000000001ull, 0x8000}, {1ull << 63, 0x3FFF},
    {0xC000000000000000ull, 0xC000}, {0x8000000000000001ull, 0x0001}, {0xFFFFFFFFFFFFFFFFull, 0x7FFE}};
#define NSPECIALS (int)(sizeof specials / sizeof specials[0])

/* Stores ST0 = e with FST m64/m32, FIST m16/m32/m64 or FISTTP m32. */
static void store_op(int op, uint16_t cw, struct ext e) {
    static const char *names[] = {"fst64", "fst32", "fist16", "fist32", "fist64", "fisttp32"};
    uint64_t out = 0;
    uint16_t st;
    setcw(cw);
    __asm__ volatile("fldt %0" : : "m"(e));
    switch (op) {
    case 0: __asm__ volatile("fstpl %0" : "=m"(out)); break;
    case 1: __asm__ volatile("fstps %0" : "=m"(*(uint32_t *)&out)); break;
    case 2: __asm__ volatile("fistps %0" : "=m"(*(uint16_t *)&out)); break;
    case 3: __asm__ volatile("fistpl %0" : "=m"(*(uint32_t *)&out)); break;
    case 4: __asm__ volatile("fistpll %0" : "=m"(out)); break;
    default: __asm__ volatile("fisttpl %0" : "=m"(*(uint32_t *)&out)); break;
    }
    st = fsw();
    restore();
    printf("%s %x %llx %x 0 %llx %x\n", names[op], cw, (unsigned long long)e.sig, e.se,
           (unsigned long long)out, st);
}

/* One register-stack operation with ST0 = a and ST1 = b, printed as one vector line. */
static void extended_op(const char *name, int op, uint16_t cw, struct ext a, struct ext b) {
    struct ext r = {0, 0};
    uint16_t st, sw;
    __asm__ volatile("fninit"); /* FPREM keeps C0/C3 on invalid operands: start from cleared codes */
    setcw(cw);
    __asm__ volatile("fldt %0" : : "m"(b));
    __asm__ volatile("fldt %0" : : "m"(a)); /* ST0 = a, ST1 = b */
    switch (op) {
    case 0: __asm__ volatile("faddp %st, %st(1)"); break;   /* ST1 = a + b */
    case 1: __asm__ volatile("fsubrp %st, %st(1)"); break;  /* assembles to DE E9: ST1 = b - a */
    case 2: __asm__ volatile("fmulp %st, %st(1)"); break;
    case 3: __asm__ volatile("fdivrp %st, %st(1)"); break;  /* assembles to DE F9: ST1 = b / a */
    case 4: __asm__ volatile("fsqrt\n\tfstp %st(1)"); break;
    case 5: __asm__ volatile("fcompp"); break;
    case 6: __asm__ volatile("fprem\n\tfstp %st(1)"); break;
    case 7: __asm__ volatile("fprem1\n\tfstp %st(1)"); break;
    case 8: __asm__ volatile("frndint\n\tfstp %st(1)"); break;
    default: __asm__ volatile("fscale\n\tfstp %st(1)"); break;
    }
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    st = sw & ((op == 6 || op == 7) ? 0x473F : 0x3F); /* FPREM: quotient bits and C2 as well */
    if (op == 5) {
        r.sig = sw & 0x4700;
    } else {
        __asm__ volatile("fstpt %0" : "=m"(r));
    }
    restore();
    printf("%s %x %llx %x %llx %x %llx %x %x\n", name, cw, (unsigned long long)a.sig, a.se,
           (unsigned long long)b.sig, b.se, (unsigned long long)r.sig, r.se, st);
}

/* op 0-4 (FADD, FMUL, FCOM, FDIV, FDIVR) on ST0 and the memory operand m, suffix "s" (m32) or "l" (m64) */
#define MEMORY_OP(op, suffix, m) do { switch (op) { \
    case 0: __asm__ volatile("fadd" suffix " %0" : : "m"(m)); break; \
    case 1: __asm__ volatile("fmul" suffix " %0" : : "m"(m)); break; \
    case 2: __asm__ volatile("fcom" suffix " %0" : : "m"(m)); break; \
    case 3: __asm__ volatile("fdiv" suffix " %0" : : "m"(m)); break; \
    default: __asm__ volatile("fdivr" suffix " %0" : : "m"(m)); break; } } while (0)

/* ST0 = a (80-bit) op a 32/64-bit memory operand m: FADD, FMUL, FCOM, FDIV, FDIVR. */
static void memory_op(int op, int wide, struct ext a, uint64_t m) {
    static const char *names[] = {"madd", "mmul", "mcom", "mdiv", "mdivr"};
    struct ext r = {0, 0};
    uint16_t sw;
    uint32_t m32 = (uint32_t)m;
    __asm__ volatile("fninit");
    __asm__ volatile("fldt %0" : : "m"(a));
    if (wide)
        MEMORY_OP(op, "l", m);
    else
        MEMORY_OP(op, "s", m32);
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    __asm__ volatile("fstpt %0" : "=m"(r));
    restore();
    printf("%s%d 37f %llx %x %llx 0 %llx %x %x\n", names[op], wide ? 64 : 32, (unsigned long long)a.sig, a.se,
           (unsigned long long)m, (unsigned long long)r.sig, r.se, sw & (op == 2 ? 0x473F : 0x3F));
}

/* FBSTP of e (line: fbstp cw sig se bcd_low bcd_high flags) and FBLD of a BCD (fbld 37f low high sig se flags). */
static void bcd_ops(uint16_t cw, struct ext e, uint64_t digits, int negative) {
    struct { uint64_t low; uint16_t high; } __attribute__((packed)) bcd = {0, 0};
    struct ext r = {0, 0};
    setcw(cw);
    __asm__ volatile("fldt %0" : : "m"(e));
    __asm__ volatile("fbstp %0" : "=m"(bcd));
    printf("fbstp %x %llx %x %llx %x %x\n", cw, (unsigned long long)e.sig, e.se, (unsigned long long)bcd.low, bcd.high,
           fsw());
    restore();
    bcd.low = 0;
    bcd.high = negative ? 0x8000 : 0;
    for (int i = 0; i < 18; i++, digits /= 10) {
        uint64_t nibble = digits % 10;
        if (i < 16) bcd.low |= nibble << (4 * i); else bcd.high |= nibble << (4 * (i - 16));
    }
    __asm__ volatile("fbld %0" : : "m"(bcd));
    __asm__ volatile("fstpt %0" : "=m"(r));
    printf("fbld 37f %llx %x %llx %x %x\n", (unsigned long long)bcd.low, bcd.high, (unsigned long long)r.sig, r.se, fsw());
    restore();
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10;
    static const uint16_t rcs[] = {0x000, 0x400, 0x800, 0xC00};
    for (int op = 0; op < 6; op++) {
        for (int m = 0; m < 4; m++) {
            for (int i = 0; i < n * 3; i++) {
                struct ext e = pick_ext();
                store_op(op, 0x37F | rcs[m], e);
            }
        }
    }
    const char *ariths[] = {"fadd", "fsub", "fmul", "fdiv", "fsqrt"};
    for (int op = 0; op < 5; op++) {
        for (int m = 0; m < 4; m++) {
            for (int i = 0; i < n * 3; i++) {
                /* normal doubles with exponents well inside the range */
                uint64_t a = (next() & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)(next() % 400) - 200) << 52);
                uint64_t b = (next() & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)(next() % 400) - 200) << 52);
                if (op == 4) a &= ~(1ull << 63);
                uint16_t cw = 0x27F | rcs[m];
                uint64_t out;
                uint16_t st;
                setcw(cw);
                __asm__ volatile("fldl %0" : : "m"(a));
                switch (op) {
                case 0: __asm__ volatile("faddl %0" : : "m"(b)); break;
                case 1: __asm__ volatile("fsubl %0" : : "m"(b)); break;
                case 2: __asm__ volatile("fmull %0" : : "m"(b)); break;
                case 3: __asm__ volatile("fdivl %0" : : "m"(b)); break;
                default: __asm__ volatile("fsqrt"); break;
                }
                st = fsw();
                __asm__ volatile("fstpl %0" : "=m"(out));
                restore();
                printf("%s %x %llx 0 %llx %llx %x\n", ariths[op], cw, (unsigned long long)a, (unsigned long long)b,
                       (unsigned long long)out, st);
            }
        }
    }
    /* full extended precision (PC = 64, and PC = 24 for some), operands and results as 80-bit values */
    const char *xops[] = {"xadd", "xsub", "xmul", "xdiv", "xsqrt", "xcom", "xprem", "xprem1", "xrndint", "xscale"};
    for (int op = 0; op < 10; op++) {
        for (int m = 0; m < 8; m++) {
            for (int i = 0; i < n * 3; i++) {
                struct ext a = pick_ext(), b = pick_ext();
                if (i % 5 == 0) { b.se = (a.se & 0x7FFF) - (int)(next() % 70) + 35; b.sig = next() | (1ull << 63); }
                if (op == 4) a.se &= 0x7FFF;
                if (op == 6 || op == 7) b.se = (b.se & 0x8000) | ((a.se & 0x7FFF) - (int)(next() % 66) + 3);
                if (op == 9) b.se = (b.se & 0x8000) | (16383 + (int)(next() % 14) - 2);
                uint16_t cw = (m < 4 ? 0x37F : 0x07F) | rcs[m % 4];
                extended_op(xops[op], op, cw, a, b);
            }
        }
    }
    /* every op on the special operands; stores of them too (denormals raise no DE there) */
    int ns = NSPECIALS;
    for (int op = 0; op < 6; op++)
        for (int i = 0; i < ns; i++)
            store_op(op, 0x37F, specials[i]);
    for (int op = 0; op < 10; op++)
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++)
                extended_op(xops[op], op, 0x37F, specials[i], specials[j]);
    /* FPREM/FPREM1 with exponent differences of 64 and more: partial reduction, C2 set */
    for (int op = 6; op < 8; op++)
        for (int i = 0; i < n * 20; i++) {
            struct ext b = pick_ext(), a = b;
            a.sig = next() | (1ull << 63);
            a.se = (b.se & 0x7FFF) + 60 + (int)(next() % 1200);
            if (a.se >= 0x7FFF) a.se = 0x7FFE;
            a.se |= next() & 0x8000;
            extended_op(xops[op], op, rcs[i % 4] | 0x37F, a, b);
        }
    /* memory operands: denormal doubles/floats are normal once widened, yet raise DE unless a NaN,
       an invalid operation or a division by zero takes precedence */
    static const uint64_t doubles[] = {1, 0x800FFFFFFFFFFFFFull, 0, 0x8000000000000000ull, 0x7FF0000000000000ull,
        0x7FF8000000000000ull, 0x7FF4000000000000ull, 0x3FF0000000000000ull};
    static const uint64_t floats[] = {1, 0x807FFFFF, 0, 0x80000000, 0x7F800000, 0x7FC00000, 0x7FA00000, 0x3F800000};
    for (int op = 0; op < 5; op++)
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < 8; j++) {
                memory_op(op, 1, specials[i], doubles[j]);
                memory_op(op, 0, specials[i], floats[j]);
            }
    /* packed BCD: FBSTP of integers near and beyond 18 digits, fractions, specials; FBLD of random digits */
    for (int i = 0; i < n * 40; i++) {
        struct ext e = pick_ext();
        if (i % 3 == 0) e.se = (e.se & 0x8000) | (16383 + 55 + (int)(next() % 9)); /* around 10^18 */
        uint64_t digits = next() % 1000000000000000000ull;
        if (i % 4 == 1) digits %= 1000;
        bcd_ops(0x37F | rcs[i % 4], e, digits, (int)(next() & 1));
    }
    for (int i = 0; i < NSPECIALS; i++)
        bcd_ops(0x37F, specials[i], i == 0 ? 0 : 999999999999999999ull, i & 1);
    return 0;
}
