/*
 * Generates SSE2/SSE3/SSSE3 packed-integer (and packed-float shuffle/unpack/logic) test vectors from the host CPU,
 * for SseHostVectorsTest. Each line: op imm a_lo a_hi b_lo b_hi r_lo r_hi (hex), r = (a op b).
 * Build and run:  gcc -O1 -mssse3 -o /tmp/sse-int-vectors sse-int-vectors.c && /tmp/sse-int-vectors 3
 */
#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* Biased lanes: saturating and sign edge cases show up often. */
static uint64_t pick(void) {
    static const uint64_t edges[] = {0, ~0ull, 0x8000800080008000ull, 0x7FFF7FFF7FFF7FFFull, 0x8080808080808080ull,
                                     0x7F7F7F7F7F7F7F7Full, 0x0001000100010001ull, 0x8000000080000000ull,
                                     0x00FF00FF00FF00FFull, 0xFF00FF00FF00FF00ull};
    uint64_t r = next();
    return r % 3 == 0 ? edges[(r >> 8) % 10] ^ (next() & next() & next()) : next();
}

#define OP(name, insn) \
    static __m128i name(__m128i a, __m128i b, int imm) { (void)imm; __asm__(insn " %1, %0" : "+x"(a) : "x"(b)); return a; }
#define OPI(name, insn) \
    static __m128i name(__m128i a, __m128i b, int imm) { \
        switch (imm) { \
        case 0x1B: __asm__(insn " $0x1B, %1, %0" : "+x"(a) : "x"(b)); break; \
        case 0x4E: __asm__(insn " $0x4E, %1, %0" : "+x"(a) : "x"(b)); break; \
        case 0xD8: __asm__(insn " $0xD8, %1, %0" : "+x"(a) : "x"(b)); break; \
        default: __asm__(insn " $0x01, %1, %0" : "+x"(a) : "x"(b)); break; } \
        return a; }
#define SHI(name, insn) \
    static __m128i name(__m128i a, __m128i b, int imm) { (void)b; \
        switch (imm) { \
        case 0: __asm__(insn " $0, %0" : "+x"(a)); break; case 1: __asm__(insn " $1, %0" : "+x"(a)); break; \
        case 7: __asm__(insn " $7, %0" : "+x"(a)); break; case 15: __asm__(insn " $15, %0" : "+x"(a)); break; \
        case 16: __asm__(insn " $16, %0" : "+x"(a)); break; case 31: __asm__(insn " $31, %0" : "+x"(a)); break; \
        case 33: __asm__(insn " $33, %0" : "+x"(a)); break; default: __asm__(insn " $200, %0" : "+x"(a)); break; } \
        return a; }

OP(punpcklbw, "punpcklbw") OP(punpcklwd, "punpcklwd") OP(punpckldq, "punpckldq") OP(packsswb, "packsswb")
OP(pcmpgtb, "pcmpgtb") OP(pcmpgtw, "pcmpgtw") OP(pcmpgtd, "pcmpgtd") OP(packuswb, "packuswb")
OP(punpckhbw, "punpckhbw") OP(punpckhwd, "punpckhwd") OP(punpckhdq, "punpckhdq") OP(packssdw, "packssdw")
OP(punpcklqdq, "punpcklqdq") OP(punpckhqdq, "punpckhqdq") OP(pcmpeqb, "pcmpeqb") OP(pcmpeqw, "pcmpeqw")
OP(pcmpeqd, "pcmpeqd") OP(psrlw, "psrlw") OP(psrld, "psrld") OP(psrlq, "psrlq") OP(paddq, "paddq")
OP(pmullw, "pmullw") OP(psubusb, "psubusb") OP(psubusw, "psubusw") OP(pminub, "pminub") OP(pand, "pand")
OP(paddusb, "paddusb") OP(paddusw, "paddusw") OP(pmaxub, "pmaxub") OP(pandn, "pandn") OP(pavgb, "pavgb")
OP(psraw, "psraw") OP(psrad, "psrad") OP(pavgw, "pavgw") OP(pmulhuw, "pmulhuw") OP(pmulhw, "pmulhw")
OP(psubsb, "psubsb") OP(psubsw, "psubsw") OP(pminsw, "pminsw") OP(por, "por") OP(paddsb, "paddsb")
OP(paddsw, "paddsw") OP(pmaxsw, "pmaxsw") OP(pxor, "pxor") OP(psllw, "psllw") OP(pslld, "pslld")
OP(psllq, "psllq") OP(pmuludq, "pmuludq") OP(pmaddwd, "pmaddwd") OP(psadbw, "psadbw") OP(psubb, "psubb")
OP(psubw, "psubw") OP(psubd, "psubd") OP(psubq, "psubq") OP(paddb, "paddb") OP(paddw, "paddw") OP(paddd, "paddd")
OP(unpcklps, "unpcklps") OP(unpckhpd, "unpckhpd") OP(andnps, "andnps")
OPI(pshufd, "pshufd") OPI(pshuflw, "pshuflw") OPI(pshufhw, "pshufhw") OPI(shufps, "shufps") OPI(shufpd, "shufpd")
OP(pshufb, "pshufb") OP(phaddw, "phaddw") OP(phaddd, "phaddd") OP(phaddsw, "phaddsw") OP(pmaddubsw, "pmaddubsw")
OP(phsubw, "phsubw") OP(phsubd, "phsubd") OP(phsubsw, "phsubsw") OP(psignb, "psignb") OP(psignw, "psignw")
OP(psignd, "psignd") OP(pmulhrsw, "pmulhrsw") OP(pabsb, "pabsb") OP(pabsw, "pabsw") OP(pabsd, "pabsd")
OP(addsubps, "addsubps") OP(addsubpd, "addsubpd") OP(haddps, "haddps") OP(haddpd, "haddpd") OP(hsubps, "hsubps")
OP(hsubpd, "hsubpd") OP(movsldup, "movsldup") OP(movshdup, "movshdup") OP(movddup, "movddup")
OPI(palignr, "palignr")
SHI(psrlwi, "psrlw") SHI(psradi, "psrad") SHI(psllqi, "psllq") SHI(psrldq, "psrldq") SHI(pslldq, "pslldq")
SHI(psrawi, "psraw")

struct op { const char *name; __m128i (*fn)(__m128i, __m128i, int); int imm; /* 0 none, 1 shuffle, 2 shift */ };
#define E(n) {#n, n, 0}
static const struct op ops[] = {
    E(punpcklbw), E(punpcklwd), E(punpckldq), E(packsswb), E(pcmpgtb), E(pcmpgtw), E(pcmpgtd), E(packuswb),
    E(punpckhbw), E(punpckhwd), E(punpckhdq), E(packssdw), E(punpcklqdq), E(punpckhqdq), E(pcmpeqb), E(pcmpeqw),
    E(pcmpeqd), E(psrlw), E(psrld), E(psrlq), E(paddq), E(pmullw), E(psubusb), E(psubusw), E(pminub), E(pand),
    E(paddusb), E(paddusw), E(pmaxub), E(pandn), E(pavgb), E(psraw), E(psrad), E(pavgw), E(pmulhuw), E(pmulhw),
    E(psubsb), E(psubsw), E(pminsw), E(por), E(paddsb), E(paddsw), E(pmaxsw), E(pxor), E(psllw), E(pslld),
    E(psllq), E(pmuludq), E(pmaddwd), E(psadbw), E(psubb), E(psubw), E(psubd), E(psubq), E(paddb), E(paddw),
    E(paddd), E(unpcklps), E(unpckhpd), E(andnps),
    E(pshufb), E(phaddw), E(phaddd), E(phaddsw), E(pmaddubsw), E(phsubw), E(phsubd), E(phsubsw), E(psignb),
    E(psignw), E(psignd), E(pmulhrsw), E(pabsb), E(pabsw), E(pabsd), E(addsubps), E(addsubpd), E(haddps),
    E(haddpd), E(hsubps), E(hsubpd), E(movsldup), E(movshdup), E(movddup), {"palignr", palignr, 1},
    {"pshufd", pshufd, 1}, {"pshuflw", pshuflw, 1}, {"pshufhw", pshufhw, 1}, {"shufps", shufps, 1},
    {"shufpd", shufpd, 1}, {"psrlwi", psrlwi, 2}, {"psradi", psradi, 2}, {"psllqi", psllqi, 2},
    {"psrldq", psrldq, 2}, {"pslldq", pslldq, 2}, {"psrawi", psrawi, 2},
};
static const int shuffles[] = {0x1B, 0x4E, 0xD8, 0x01};
static const int shifts[] = {0, 1, 7, 15, 16, 31, 33, 200};

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 6;
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (int i = 0; i < n * 4; i++) {
            uint64_t a0 = pick(), a1 = pick(), b0 = pick(), b1 = pick();
            /* register shift counts: keep them small half of the time */
            if (ops[o].name[0] == 'p' && (ops[o].name[2] == 'l' || ops[o].name[2] == 'r') && ops[o].imm == 0 && (i & 1)) {
                b0 = next() % 70;
            }
            int imm = ops[o].imm == 1 ? shuffles[i % 4] : ops[o].imm == 2 ? shifts[i % 8] : 0;
            __m128i a = _mm_set_epi64x((long long)a1, (long long)a0), b = _mm_set_epi64x((long long)b1, (long long)b0);
            __m128i r = ops[o].fn(a, b, imm);
            printf("%s %x %llx %llx %llx %llx %llx %llx\n", ops[o].name, imm, (unsigned long long)a0,
                   (unsigned long long)a1, (unsigned long long)b0, (unsigned long long)b1,
                   (unsigned long long)_mm_cvtsi128_si64(r), (unsigned long long)_mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r)));
        }
    }
    return 0;
}
