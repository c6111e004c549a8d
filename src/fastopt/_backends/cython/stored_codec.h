/* The 8-bit codec's inner loops (stored.pxi): decode codes into values, and encode values
   (already divided by their block's absmax) into the number of map midpoints below them.

   In C for `restrict` (a store through uint8_t* may alias anything, which keeps a compiler
   from vectorising the table lookups) and, where AVX-512 is on (the v4 build), for explicit
   permutes: a table lookup would otherwise be a gather, which many x86 CPUs run slowly
   (and microcode mitigations slower still).  The AVX-512 encoder is a binary search whose
   k-th step needs only 2**k of the midpoints, held in registers; both paths count the
   midpoints below each value exactly, so they give the same codes. */
#ifndef FASTOPT_STORED_CODEC_H
#define FASTOPT_STORED_CODEC_H

#include <stdint.h>
#include <string.h>
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#endif
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define FASTOPT_CODEC_AVX512 1
#endif

#define FASTOPT_MAG_LO (104 << 7)
#define FASTOPT_MAG_BUCKETS (25 * 128)

static inline uint32_t fastopt_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fastopt_f32_from(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fastopt_f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fastopt_f64_from(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* A hint that the cache line at p + offset is wanted soon.  Never faults, whatever the
   address (offset may run past the end of p's buffer), so the address is made as an
   integer. */
static inline void fastopt_prefetch_line(const void* p, Py_ssize_t offset) {
    const void* a = (const void*)((uintptr_t)p + (uintptr_t)offset);
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(a, 1, 3);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    _mm_prefetch((const char*)a, _MM_HINT_T0);
#else
    (void)a;
#endif
}

/* One 8-bit map as the codec reads it: its values, its midpoints (255, then +inf) and the
   scalar encoder's buckets; and for the AVX-512 encoder, the midpoints each step of the
   binary search compares with (step b needs mid[c + 2**b - 1] for c a multiple of 2**(b+1)). */
typedef struct {
    float values[256];
    float mid[256];
    int32_t positive_floor;   /* 1 for the unsigned map: a positive value never takes code 0 */
    int32_t lut[2 * FASTOPT_MAG_BUCKETS];
    float step5[16], step4[16], step3[16];
    float step2[32], step1[64], step0[128];
} fastopt_qmap;

static inline void fastopt_qmap_steps(fastopt_qmap* m) {
    int k;
    for (k = 0; k < 16; k++) {
        m->step5[k] = m->mid[(64 * k + 31) & 255];
        m->step4[k] = m->mid[(32 * k + 15) & 255];
        m->step3[k] = m->mid[16 * k + 7];
    }
    for (k = 0; k < 32; k++) m->step2[k] = m->mid[8 * k + 3];
    for (k = 0; k < 64; k++) m->step1[k] = m->mid[4 * k + 1];
    for (k = 0; k < 128; k++) m->step0[k] = m->mid[2 * k];
}

/* The scalar encoder: a value's bucket (magnitude bits 16..30 and sign) gives the count of
   midpoints below the bucket, and one comparison the rest. */
static inline uint8_t fastopt_encode8_one(float r, const fastopt_qmap* restrict m) {
    uint32_t u = fastopt_f32_bits(r);
    int32_t mag = (int32_t)((u & 0x7fffffffu) >> 16) - FASTOPT_MAG_LO;
    mag = mag < 0 ? 0 : (mag > FASTOPT_MAG_BUCKETS - 1 ? FASTOPT_MAG_BUCKETS - 1 : mag);
    int32_t c = m->lut[mag + (int32_t)(u >> 31) * FASTOPT_MAG_BUCKETS];
    c = c + (m->mid[c] < r);
    return (uint8_t)(c + (m->positive_floor & (c == 0) & (r > 0)));
}

#ifdef FASTOPT_CODEC_AVX512
static inline __m512 fastopt_decode16(__m128i bytes, const fastopt_qmap* restrict m) {
    __m512i c = _mm512_cvtepu8_epi32(bytes);
    const float* t = m->values;
    __m512 r0 = _mm512_permutex2var_ps(_mm512_loadu_ps(t), c, _mm512_loadu_ps(t + 16));
    __m512 r1 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 32), c, _mm512_loadu_ps(t + 48));
    __m512 r2 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 64), c, _mm512_loadu_ps(t + 80));
    __m512 r3 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 96), c, _mm512_loadu_ps(t + 112));
    __m512 r4 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 128), c, _mm512_loadu_ps(t + 144));
    __m512 r5 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 160), c, _mm512_loadu_ps(t + 176));
    __m512 r6 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 192), c, _mm512_loadu_ps(t + 208));
    __m512 r7 = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 224), c, _mm512_loadu_ps(t + 240));
    __mmask16 b5 = _mm512_test_epi32_mask(c, _mm512_set1_epi32(32));
    __mmask16 b6 = _mm512_test_epi32_mask(c, _mm512_set1_epi32(64));
    __mmask16 b7 = _mm512_test_epi32_mask(c, _mm512_set1_epi32(128));
    __m512 lo = _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, r0, r1),
                                     _mm512_mask_blend_ps(b5, r2, r3));
    __m512 hi = _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, r4, r5),
                                     _mm512_mask_blend_ps(b5, r6, r7));
    return _mm512_mask_blend_ps(b7, lo, hi);
}

#define FASTOPT_STEP(T, ADD) do { \
        __mmask16 k_ = _mm512_cmp_ps_mask((T), r, _CMP_LT_OQ); \
        c = _mm512_mask_add_epi32(c, k_, c, _mm512_set1_epi32(ADD)); } while (0)

static inline __m128i fastopt_encode16(__m512 r, const fastopt_qmap* restrict m) {
    __m512i c = _mm512_setzero_si512(), i;
    __m512 t, p0, p1, p2, p3;
    __mmask16 k5, k6;
    FASTOPT_STEP(_mm512_set1_ps(m->mid[127]), 128);
    t = _mm512_mask_blend_ps(_mm512_test_epi32_mask(c, _mm512_set1_epi32(128)),
                             _mm512_set1_ps(m->mid[63]), _mm512_set1_ps(m->mid[191]));
    FASTOPT_STEP(t, 64);
    FASTOPT_STEP(_mm512_permutexvar_ps(_mm512_srli_epi32(c, 6), _mm512_loadu_ps(m->step5)), 32);
    FASTOPT_STEP(_mm512_permutexvar_ps(_mm512_srli_epi32(c, 5), _mm512_loadu_ps(m->step4)), 16);
    FASTOPT_STEP(_mm512_permutexvar_ps(_mm512_srli_epi32(c, 4), _mm512_loadu_ps(m->step3)), 8);
    FASTOPT_STEP(_mm512_permutex2var_ps(_mm512_loadu_ps(m->step2), _mm512_srli_epi32(c, 3),
                                        _mm512_loadu_ps(m->step2 + 16)), 4);
    i = _mm512_srli_epi32(c, 2);
    p0 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step1), i, _mm512_loadu_ps(m->step1 + 16));
    p1 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step1 + 32), i, _mm512_loadu_ps(m->step1 + 48));
    FASTOPT_STEP(_mm512_mask_blend_ps(_mm512_test_epi32_mask(i, _mm512_set1_epi32(32)), p0, p1), 2);
    i = _mm512_srli_epi32(c, 1);
    p0 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step0), i, _mm512_loadu_ps(m->step0 + 16));
    p1 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step0 + 32), i, _mm512_loadu_ps(m->step0 + 48));
    p2 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step0 + 64), i, _mm512_loadu_ps(m->step0 + 80));
    p3 = _mm512_permutex2var_ps(_mm512_loadu_ps(m->step0 + 96), i, _mm512_loadu_ps(m->step0 + 112));
    k5 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(32));
    k6 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(64));
    FASTOPT_STEP(_mm512_mask_blend_ps(k6, _mm512_mask_blend_ps(k5, p0, p1),
                                      _mm512_mask_blend_ps(k5, p2, p3)), 1);
    if (m->positive_floor)
        c = _mm512_mask_mov_epi32(c, _mm512_mask_cmpeq_epi32_mask(
                _mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_GT_OQ), c,
                _mm512_setzero_si512()), _mm512_set1_epi32(1));
    return _mm512_cvtepi32_epi8(c);
}
#undef FASTOPT_STEP
#endif

static inline void fastopt_decode8_f32(const uint8_t* restrict codes, Py_ssize_t n, float a,
                                       const fastopt_qmap* restrict m, float* restrict x) {
    Py_ssize_t i = 0;
#ifdef FASTOPT_CODEC_AVX512
    __m512 va = _mm512_set1_ps(a);
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(
            fastopt_decode16(_mm_loadu_si128((const __m128i*)(codes + i)), m), va));
#endif
    for (; i < n; i++) x[i] = m->values[codes[i]] * a;
}

static inline void fastopt_decode8_f64(const uint8_t* restrict codes, Py_ssize_t n, double a,
                                       const fastopt_qmap* restrict m, double* restrict x) {
    Py_ssize_t i = 0;
#ifdef FASTOPT_CODEC_AVX512
    __m512d va = _mm512_set1_pd(a);
    for (; i + 16 <= n; i += 16) {
        __m512 v = fastopt_decode16(_mm_loadu_si128((const __m128i*)(codes + i)), m);
        _mm512_storeu_pd(x + i, _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), va));
        _mm512_storeu_pd(x + i + 8, _mm512_mul_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))),
            va));
    }
#endif
    for (; i < n; i++) x[i] = (double)m->values[codes[i]] * a;
}

static inline void fastopt_encode8_f32(const float* restrict x, Py_ssize_t n, float inv,
                                       const fastopt_qmap* restrict m, uint8_t* restrict codes) {
    Py_ssize_t i = 0;
#ifdef FASTOPT_CODEC_AVX512
    __m512 vinv = _mm512_set1_ps(inv);
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i*)(codes + i),
                         fastopt_encode16(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv), m));
#endif
    for (; i < n; i++) codes[i] = fastopt_encode8_one(x[i] * inv, m);
}

static inline void fastopt_encode8_f64(const double* restrict x, Py_ssize_t n, double inv,
                                       const fastopt_qmap* restrict m, uint8_t* restrict codes) {
    Py_ssize_t i = 0;
#ifdef FASTOPT_CODEC_AVX512
    __m512d vinv = _mm512_set1_pd(inv);
    for (; i + 16 <= n; i += 16) {
        __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_loadu_pd(x + i), vinv));
        __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_loadu_pd(x + i + 8), vinv));
        __m512 r = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
        _mm_storeu_si128((__m128i*)(codes + i), fastopt_encode16(r, m));
    }
#endif
    for (; i < n; i++) codes[i] = fastopt_encode8_one((float)(x[i] * inv), m);
}

#endif
