/*
 * Generates SSE/SSE2 scalar test vectors from the host CPU, for SseHostVectorsTest.
 * Each line: op mxcsr a b result flags   (hex; result of comi* is ZF<<2|PF<<1|CF).
 * Build and run:  gcc -O1 -o /tmp/sse-vectors sse-vectors.c && /tmp/sse-vectors COUNT [SEED] > vectors.txt
 * (the committed resource is `/tmp/sse-vectors 8`)
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static const uint64_t special_d[] = {
    0, 0x8000000000000000ull, 0x3FF0000000000000ull, 0xBFF0000000000000ull, 1, 0x000FFFFFFFFFFFFFull,
    0x0010000000000000ull, 0x7FEFFFFFFFFFFFFFull, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
    0x7FF8000000000001ull, 0x7FF0000000000001ull, 0x41E0000000000000ull, 0xC1E0000000000000ull,
    0x41DFFFFFFFE00000ull, 0x43E0000000000000ull, 0xC3E0000000000000ull, 0x3FE0000000000000ull,
    0x4004000000000000ull, 0xC1E0000000100000ull, 0x3CA0000000000000ull};
static const uint32_t special_s[] = {
    0, 0x80000000u, 0x3F800000u, 0xBF800000u, 1, 0x007FFFFFu, 0x00800000u, 0x7F7FFFFFu, 0x7F800000u,
    0xFF800000u, 0x7FC00001u, 0x7F800001u, 0x4F000000u, 0xCF000000u, 0x5F000000u, 0x3F000000u,
    0x40200000u, 0x33800000u};

static uint64_t pick_d(void) {
    uint64_t r = next();
    switch (r % 6) {
    case 0: return special_d[(r >> 8) % (sizeof special_d / 8)];
    case 1: return next();
    case 2: { /* near 1.0 with random mantissa */
        return (next() & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)((r >> 8) % 64) - 32) << 52); }
    case 3: /* tiny */
        return (next() & 0x800FFFFFFFFFFFFFull) | ((uint64_t)((r >> 8) % 40) << 52);
    case 4: /* huge */
        return (next() & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(2046 - (r >> 8) % 40) << 52);
    default: /* integer-ish */
        { double d = (double)(int64_t)(next() >> ((r >> 8) % 64)) / (double)(1 << ((r >> 16) % 4)); uint64_t u; memcpy(&u, &d, 8); return u; }
    }
}

static uint32_t pick_s(void) {
    uint64_t r = next();
    switch (r % 6) {
    case 0: return special_s[(r >> 8) % (sizeof special_s / 4)];
    case 1: return (uint32_t)next();
    case 2: return ((uint32_t)next() & 0x807FFFFFu) | ((uint32_t)(127 + (int)((r >> 8) % 48) - 24) << 23);
    case 3: return ((uint32_t)next() & 0x807FFFFFu) | ((uint32_t)((r >> 8) % 30) << 23);
    case 4: return ((uint32_t)next() & 0x807FFFFFu) | ((uint32_t)(254 - (r >> 8) % 30) << 23);
    default: { float f = (float)(int32_t)((uint32_t)next() >> ((r >> 8) % 32)) / (float)(1 << ((r >> 16) % 4)); uint32_t u; memcpy(&u, &f, 4); return u; }
    }
}

#define SS(name, insn) \
    static uint64_t name(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) { \
        __m128 x = _mm_castsi128_ps(_mm_cvtsi32_si128((int)a)), y = _mm_castsi128_ps(_mm_cvtsi32_si128((int)b)); \
        _mm_setcsr(csr); __asm__ volatile(insn " %1, %0" : "+x"(x) : "x"(y)); *fl = _mm_getcsr() & 0x3F; \
        _mm_setcsr(0x1F80); return (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(x)); }
#define SD(name, insn) \
    static uint64_t name(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) { \
        __m128d x = _mm_castsi128_pd(_mm_cvtsi64_si128((long long)a)), y = _mm_castsi128_pd(_mm_cvtsi64_si128((long long)b)); \
        _mm_setcsr(csr); __asm__ volatile(insn " %1, %0" : "+x"(x) : "x"(y)); *fl = _mm_getcsr() & 0x3F; \
        _mm_setcsr(0x1F80); return (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(x)); }
#define TOGPR(name, insn, T, src) \
    static uint64_t name(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) { \
        (void)b; src; T r; _mm_setcsr(csr); __asm__ volatile(insn " %1, %0" : "=r"(r) : "x"(x)); \
        *fl = _mm_getcsr() & 0x3F; _mm_setcsr(0x1F80); return (uint64_t)(uint32_t)0 + (sizeof(T) == 4 ? (uint32_t)r : (uint64_t)r); }
#define FROMGPR(name, insn, V, out) \
    static uint64_t name(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) { \
        (void)b; V x = (V){0}; int64_t v = (int64_t)a; _mm_setcsr(csr); __asm__ volatile(insn " %1, %0" : "+x"(x) : "r"(v)); \
        *fl = _mm_getcsr() & 0x3F; _mm_setcsr(0x1F80); return out; }
#define COMI(name, insn, V, load) \
    static uint64_t name(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) { \
        V x = load(a), y = load(b); uint64_t f; _mm_setcsr(csr); \
        __asm__ volatile(insn " %2, %1\n\tpushfq\n\tpopq %0" : "=r"(f) : "x"(x), "x"(y) : "cc"); \
        *fl = _mm_getcsr() & 0x3F; _mm_setcsr(0x1F80); return ((f >> 6) & 1) << 2 | ((f >> 2) & 1) << 1 | (f & 1); }

static __m128 lds(uint64_t a) { return _mm_castsi128_ps(_mm_cvtsi32_si128((int)a)); }
static __m128d ldd(uint64_t a) { return _mm_castsi128_pd(_mm_cvtsi64_si128((long long)a)); }

SS(addss, "addss") SS(subss, "subss") SS(mulss, "mulss") SS(divss, "divss") SS(sqrtss, "sqrtss")
SS(minss, "minss") SS(maxss, "maxss") SS(cmpltss, "cmpltss") SS(cmpneqss, "cmpneqss") SS(cmpunordss, "cmpunordss")
SD(addsd, "addsd") SD(subsd, "subsd") SD(mulsd, "mulsd") SD(divsd, "divsd") SD(sqrtsd, "sqrtsd")
SD(minsd, "minsd") SD(maxsd, "maxsd") SD(cmplesd, "cmplesd") SD(cmpeqsd, "cmpeqsd") SD(cmpnlesd, "cmpnlesd")
SD(cvtsd2ss, "cvtsd2ss")
TOGPR(cvtsd2si32, "cvtsd2si", uint32_t, __m128d x = ldd(a))
TOGPR(cvtsd2si64, "cvtsd2si", uint64_t, __m128d x = ldd(a))
TOGPR(cvttsd2si32, "cvttsd2si", uint32_t, __m128d x = ldd(a))
TOGPR(cvttsd2si64, "cvttsd2si", uint64_t, __m128d x = ldd(a))
TOGPR(cvtss2si32, "cvtss2si", uint32_t, __m128 x = lds(a))
TOGPR(cvttss2si64, "cvttss2si", uint64_t, __m128 x = lds(a))
FROMGPR(cvtsi2sd64, "cvtsi2sdq", __m128d, (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(x)))
FROMGPR(cvtsi2ss64, "cvtsi2ssq", __m128, (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(x)))
COMI(comisd, "comisd", __m128d, ldd) COMI(ucomisd, "ucomisd", __m128d, ldd)
COMI(comiss, "comiss", __m128, lds) COMI(ucomiss, "ucomiss", __m128, lds)

static uint64_t cvtss2sd(uint64_t a, uint64_t b, uint32_t csr, uint32_t *fl) {
    (void)b; __m128d x = _mm_setzero_pd(); __m128 y = lds(a); _mm_setcsr(csr);
    __asm__ volatile("cvtss2sd %1, %0" : "+x"(x) : "x"(y)); *fl = _mm_getcsr() & 0x3F; _mm_setcsr(0x1F80);
    return (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(x));
}

struct op { const char *name; uint64_t (*fn)(uint64_t, uint64_t, uint32_t, uint32_t *); int kind; /* 0 s,s 1 d,d 2 int64 */ };
static const struct op ops[] = {
    {"addss", addss, 0}, {"subss", subss, 0}, {"mulss", mulss, 0}, {"divss", divss, 0}, {"sqrtss", sqrtss, 0},
    {"minss", minss, 0}, {"maxss", maxss, 0}, {"cmpltss", cmpltss, 0}, {"cmpneqss", cmpneqss, 0},
    {"cmpunordss", cmpunordss, 0}, {"addsd", addsd, 1}, {"subsd", subsd, 1}, {"mulsd", mulsd, 1},
    {"divsd", divsd, 1}, {"sqrtsd", sqrtsd, 1}, {"minsd", minsd, 1}, {"maxsd", maxsd, 1}, {"cmplesd", cmplesd, 1},
    {"cmpeqsd", cmpeqsd, 1}, {"cmpnlesd", cmpnlesd, 1}, {"cvtsd2ss", cvtsd2ss, 1}, {"cvtss2sd", cvtss2sd, 0},
    {"cvtsd2si32", cvtsd2si32, 1}, {"cvtsd2si64", cvtsd2si64, 1}, {"cvttsd2si32", cvttsd2si32, 1},
    {"cvttsd2si64", cvttsd2si64, 1}, {"cvtss2si32", cvtss2si32, 0}, {"cvttss2si64", cvttss2si64, 0},
    {"cvtsi2sd64", cvtsi2sd64, 2}, {"cvtsi2ss64", cvtsi2ss64, 2}, {"comisd", comisd, 1}, {"ucomisd", ucomisd, 1},
    {"comiss", comiss, 0}, {"ucomiss", ucomiss, 0},
};
static const uint32_t modes[] = {0x1F80, 0x3F80, 0x5F80, 0x7F80, 0x9F80, 0x1FC0, 0xFFC0};

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20;
    if (argc > 2) rng ^= strtoull(argv[2], 0, 0) * 0x2545F4914F6CDD1Dull;
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            for (int i = 0; i < n; i++) {
                uint64_t a, b;
                if (ops[o].kind == 0) { a = pick_s(); b = pick_s(); }
                else if (ops[o].kind == 1) { a = pick_d(); b = pick_d(); }
                else { a = next() >> (next() % 64); if (next() & 1) a = -a; b = 0; }
                uint32_t fl;
                uint64_t r = ops[o].fn(a, b, modes[m], &fl);
                printf("%s %x %llx %llx %llx %x\n", ops[o].name, modes[m], (unsigned long long)a,
                       (unsigned long long)b, (unsigned long long)r, fl);
            }
        }
    }
    return 0;
}
