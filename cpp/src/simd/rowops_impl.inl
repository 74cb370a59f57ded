// Row kernels, included once per ISA by rowops_<isa>.cpp inside namespace isa_<isa>.
//
// Every kernel has a portable loop (the scalar path, and what the compiler vectorises for NEON,
// where NEON is the base ISA) and, where it pays, hand-written intrinsics for SSE4.1 / AVX2.
// All arithmetic is integer or unfused float, so every path gives bit-identical results.
// Rules for this file: no STL, no inline helpers from shared headers (see rowops.h).

static inline int32_t blend_one(const int32_t* V, int32_t off, int32_t step, int32_t w1) {
  return (( kWeightOne - w1) * V[off] + w1 * V[off + step] + kBlendRound) >> kBlendShift;
}

void vblend_u8(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
               ptrdiff_t n) {
  ptrdiff_t i = 0;
#if defined(FASTFER_ISA_AVX2)
  // Interleave the two rows as int16 pairs and let pmaddwd do w0*a + w1*b in one step.
  const __m256i w = _mm256_set1_epi32((w1 << 16) | (w0 & 0xFFFF));
  for (; i + 16 <= n; i += 16) {
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + i)));
    __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + i)));
    __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w);  // 0-3, 8-11
    __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w);  // 4-7, 12-15
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 8),
                        _mm256_permute2x128_si256(lo, hi, 0x31));
  }
#elif defined(FASTFER_ISA_SSE41)
  const __m128i w = _mm_set1_epi32((w1 << 16) | (w0 & 0xFFFF));
  for (; i + 8 <= n; i += 8) {
    __m128i a = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r0 + i)));
    __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r1 + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_madd_epi16(_mm_unpacklo_epi16(a, b), w));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 4),
                     _mm_madd_epi16(_mm_unpackhi_epi16(a, b), w));
  }
#elif defined(FASTFER_ISA_NEON)
  const uint16_t u0 = static_cast<uint16_t>(w0), u1 = static_cast<uint16_t>(w1);
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t a = vmovl_u8(vld1_u8(r0 + i)), b = vmovl_u8(vld1_u8(r1 + i));
    const uint32x4_t lo = vmlal_n_u16(vmull_n_u16(vget_low_u16(a), u0), vget_low_u16(b), u1);
    const uint32x4_t hi = vmlal_n_u16(vmull_n_u16(vget_high_u16(a), u0), vget_high_u16(b), u1);
    vst1q_s32(out + i, vreinterpretq_s32_u32(lo));
    vst1q_s32(out + i + 4, vreinterpretq_s32_u32(hi));
  }
#endif
  for (; i < n; ++i) out[i] = w0 * r0[i] + w1 * r1[i];
}

void hblend_u8(const int32_t* V, const int32_t* eofs, const int32_t* ew1, int channels,
               uint8_t* out, int n) {
  int e = 0;
#if defined(FASTFER_ISA_AVX2)
  const __m256i one = _mm256_set1_epi32(kWeightOne);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m256i step = _mm256_set1_epi32(channels);
  auto blend8 = [&](int at) {
    __m256i off = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(eofs + at));
    __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ew1 + at));
    __m256i a = _mm256_i32gather_epi32(reinterpret_cast<const int*>(V), off, 4);
    __m256i b = _mm256_i32gather_epi32(reinterpret_cast<const int*>(V), _mm256_add_epi32(off, step), 4);
    __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(a, _mm256_sub_epi32(one, w1)),
                                 _mm256_mullo_epi32(b, w1));
    return _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
  };
  for (; e + 16 <= n; e += 16) {
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(blend8(e), blend8(e + 8)), 0xD8);
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + e), bytes);
  }
#endif
  for (; e < n; ++e) out[e] = static_cast<uint8_t>(blend_one(V, eofs[e], channels, ew1[e]));
}

void hpass_quad(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                int32_t* out, int simd_end, int n) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2) || defined(FASTFER_ISA_SSE41)
  // One pixel per 128-bit lane: its two taps as int16 pairs (c of tap 0, c of tap 1) for each
  // channel, so one pmaddwd against (w0, w1) pairs gives its 4 channel sums.
  const __m128i taps = channels == 4
      ? _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1)
      : _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const int limit = simd_end < n ? simd_end : n;
#endif
#if defined(FASTFER_ISA_AVX2)
  const __m256i taps2 = _mm256_set_m128i(taps, taps);
  for (; x + 2 <= limit; x += 2) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x]));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + 1]));
    const int32_t w1a = wx1[x], w1b = wx1[x + 1];
    const __m256i w = _mm256_set_m128i(_mm_set1_epi32((kWeightOne - w1b) | (w1b << 16)),
                                       _mm_set1_epi32((kWeightOne - w1a) | (w1a << 16)));
    const __m256i px = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), taps2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * x), _mm256_madd_epi16(px, w));
  }
#elif defined(FASTFER_ISA_SSE41)
  for (; x < limit; ++x) {
    const __m128i px = _mm_shuffle_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x])), taps);
    const int32_t w1 = wx1[x];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x),
                     _mm_madd_epi16(px, _mm_set1_epi32((kWeightOne - w1) | (w1 << 16))));
  }
#elif defined(FASTFER_ISA_NEON)
  // One pixel per vector: its 8 bytes widened, and the same shifted by one pixel, so that a
  // multiply and a multiply-add give [c0, c1, c2, c3] of w0*tap0 + w1*tap1 for the pixel.
  const int limit = simd_end < n ? simd_end : n;
  const uint32x4_t keep = channels == 4 ? vdupq_n_u32(0xFFFFFFFFu) : vsetq_lane_u32(0, vdupq_n_u32(0xFFFFFFFFu), 3);
  for (; x < limit; ++x) {
    const uint16x8_t px = vmovl_u8(vld1_u8(row + xofs[x]));
    const uint16x8_t next = channels == 4 ? vextq_u16(px, px, 4) : vextq_u16(px, px, 3);
    const uint16_t w1 = static_cast<uint16_t>(wx1[x]), w0 = static_cast<uint16_t>(kWeightOne - w1);
    const uint32x4_t sum = vmlal_n_u16(vmull_n_u16(vget_low_u16(px), w0), vget_low_u16(next), w1);
    vst1q_s32(out + 4 * x, vreinterpretq_s32_u32(vandq_u32(sum, keep)));
  }
#else
  (void)simd_end;
#endif
  for (; x < n; ++x) {
    const uint8_t* p = row + xofs[x];
    const int32_t w1 = wx1[x], w0 = kWeightOne - w1;
    const int step = w1 == 0 ? 0 : channels;  // a clamped last pixel: do not step past the row
    for (int c = 0; c < 4; ++c) out[4 * x + c] = c < channels ? w0 * p[c] + w1 * p[step + c] : 0;
  }
}

void vpass_quad_u8(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                   uint8_t* out, int n) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2)
  const __m256i vw0 = _mm256_set1_epi32(w0), vw1 = _mm256_set1_epi32(w1);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m128i drop4th = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  auto blend = [&](int at) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + at));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + at));
    const __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(va, vw0), _mm256_mullo_epi32(vb, vw1));
    return _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
  };
  for (; x + 4 <= n; x += 4) {  // 4 pixels: 16 sums -> 16 bytes
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(blend(4 * x), blend(4 * x + 8)), 0xD8);
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    if (channels == 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x), bytes);
    } else {  // 12 bytes, stored as 8 + 4 so nothing past the row is touched
      const __m128i packed = _mm_shuffle_epi8(bytes, drop4th);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * x), packed);
      _mm_storeu_si32(out + 3 * x + 8, _mm_srli_si128(packed, 8));
    }
  }
#elif defined(FASTFER_ISA_SSE41)
  const __m128i vw0 = _mm_set1_epi32(w0), vw1 = _mm_set1_epi32(w1);
  const __m128i round = _mm_set1_epi32(kBlendRound);
  const __m128i drop4th = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  auto blend = [&](int at) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + at));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + at));
    const __m128i s = _mm_add_epi32(_mm_mullo_epi32(va, vw0), _mm_mullo_epi32(vb, vw1));
    return _mm_srai_epi32(_mm_add_epi32(s, round), kBlendShift);
  };
  for (; x + 4 <= n; x += 4) {
    const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(blend(4 * x), blend(4 * x + 4)),
                                           _mm_packus_epi32(blend(4 * x + 8), blend(4 * x + 12)));
    if (channels == 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x), bytes);
    } else {
      const __m128i packed = _mm_shuffle_epi8(bytes, drop4th);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * x), packed);
      _mm_storeu_si32(out + 3 * x + 8, _mm_srli_si128(packed, 8));
    }
  }
#elif defined(FASTFER_ISA_NEON)
  const int32x4_t round = vdupq_n_s32(kBlendRound);
  auto blend = [&](int at) {
    const int32x4_t sum = vmlaq_n_s32(vmlaq_n_s32(round, vld1q_s32(a + at), w0), vld1q_s32(b + at), w1);
    return vshrq_n_s32(sum, kBlendShift);
  };
  static const uint8_t kDrop4th[16] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 16, 16, 16};
  const uint8x16_t drop4th = vld1q_u8(kDrop4th);
  for (; x + 4 <= n; x += 4) {  // 4 pixels: 16 sums -> 16 bytes
    const uint16x8_t lo = vcombine_u16(vqmovun_s32(blend(4 * x)), vqmovun_s32(blend(4 * x + 4)));
    const uint16x8_t hi = vcombine_u16(vqmovun_s32(blend(4 * x + 8)), vqmovun_s32(blend(4 * x + 12)));
    const uint8x16_t bytes = vcombine_u8(vqmovn_u16(lo), vqmovn_u16(hi));
    if (channels == 4) {
      vst1q_u8(out + 4 * x, bytes);
    } else {  // 12 bytes, stored as 8 + 4 so nothing past the row is touched
      const uint8x16_t packed = vqtbl1q_u8(bytes, drop4th);
      vst1_u8(out + 3 * x, vget_low_u8(packed));
      vst1q_lane_u32(reinterpret_cast<uint32_t*>(out + 3 * x + 8), vreinterpretq_u32_u8(packed), 2);
    }
  }
#endif
  for (; x < n; ++x) {
    for (int c = 0; c < channels; ++c) {
      out[x * channels + c] =
          static_cast<uint8_t>((w0 * a[4 * x + c] + w1 * b[4 * x + c] + kBlendRound) >> kBlendShift);
    }
  }
}

// Horizontal pass of the detector input for one BGR source row, into three int32 planes:
// plane c gets (w0*row[xofs[x] + c] + w1*row[xofs[x] + c + 3]) for x < n, w1 = wx1[x].
// Reads 16 bytes from row + xofs[x] for x < simd_end (the caller guarantees they are inside the
// row); the rest goes through the portable loop, which reads only the 6 bytes it needs.
void hpass_planar3(const uint8_t* row, const int32_t* xofs, const int32_t* wx1, int32_t* b_plane,
                   int32_t* g_plane, int32_t* r_plane, int simd_end, int n) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2)
  // Per 128-bit lane, one pixel's two taps become int16 pairs (B0,B1)(G0,G1)(R0,R1)(0,0) so that a
  // single pmaddwd against (w0,w1) pairs gives [B, G, R, 0]; lanes hold pixels x+j and x+j+4,
  // so a 4×4 transpose per lane leaves eight pixels of one channel in order.
  const __m256i taps = _mm256_setr_epi8(
      0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
      0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i one = _mm256_set1_epi32(kWeightOne);
  const int limit = simd_end < n ? simd_end : n;
  for (; x + 8 <= limit; x += 8) {
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wx1 + x));
    const __m256i pairs = _mm256_or_si256(_mm256_sub_epi32(one, w1), _mm256_slli_epi32(w1, 16));
    __m256i m[4];
    for (int j = 0; j < 4; ++j) {
      const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j]));
      const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j + 4]));
      const __m256i px = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), taps);
      const __m256i w = _mm256_permutevar8x32_epi32(pairs, _mm256_setr_epi32(j, j, j, j, j + 4, j + 4, j + 4, j + 4));
      m[j] = _mm256_madd_epi16(px, w);
    }
    const __m256i t0 = _mm256_unpacklo_epi32(m[0], m[1]);  // B0 B1 G0 G1
    const __m256i t1 = _mm256_unpacklo_epi32(m[2], m[3]);  // B2 B3 G2 G3
    const __m256i t2 = _mm256_unpackhi_epi32(m[0], m[1]);  // R0 R1 0 0
    const __m256i t3 = _mm256_unpackhi_epi32(m[2], m[3]);  // R2 R3 0 0
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b_plane + x), _mm256_unpacklo_epi64(t0, t1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(g_plane + x), _mm256_unpackhi_epi64(t0, t1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r_plane + x), _mm256_unpacklo_epi64(t2, t3));
  }
#elif defined(FASTFER_ISA_SSE41)
  const __m128i taps = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const int limit = simd_end < n ? simd_end : n;
  for (; x + 4 <= limit; x += 4) {
    __m128i m[4];
    for (int j = 0; j < 4; ++j) {
      const __m128i px = _mm_shuffle_epi8(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j])), taps);
      const int32_t w1 = wx1[x + j];
      m[j] = _mm_madd_epi16(px, _mm_set1_epi32((kWeightOne - w1) | (w1 << 16)));
    }
    const __m128i t0 = _mm_unpacklo_epi32(m[0], m[1]);
    const __m128i t1 = _mm_unpacklo_epi32(m[2], m[3]);
    const __m128i t2 = _mm_unpackhi_epi32(m[0], m[1]);
    const __m128i t3 = _mm_unpackhi_epi32(m[2], m[3]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b_plane + x), _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(g_plane + x), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r_plane + x), _mm_unpacklo_epi64(t2, t3));
  }
#elif defined(FASTFER_ISA_NEON)
  // As hpass_quad, four pixels at a time, then a 4×4 transpose into the planes.
  const int limit = simd_end < n ? simd_end : n;
  for (; x + 4 <= limit; x += 4) {
    uint32x4_t q[4];
    for (int j = 0; j < 4; ++j) {
      const uint16x8_t px = vmovl_u8(vld1_u8(row + xofs[x + j]));
      const uint16x8_t next = vextq_u16(px, px, 3);
      const uint16_t w1 = static_cast<uint16_t>(wx1[x + j]), w0 = static_cast<uint16_t>(kWeightOne - w1);
      q[j] = vmlal_n_u16(vmull_n_u16(vget_low_u16(px), w0), vget_low_u16(next), w1);
    }
    const uint32x4x2_t t01 = vtrnq_u32(q[0], q[1]);  // [B0 B1 R0 R1], [G0 G1 x x]
    const uint32x4x2_t t23 = vtrnq_u32(q[2], q[3]);
    vst1q_s32(b_plane + x, vreinterpretq_s32_u32(vcombine_u32(vget_low_u32(t01.val[0]), vget_low_u32(t23.val[0]))));
    vst1q_s32(g_plane + x, vreinterpretq_s32_u32(vcombine_u32(vget_low_u32(t01.val[1]), vget_low_u32(t23.val[1]))));
    vst1q_s32(r_plane + x, vreinterpretq_s32_u32(vcombine_u32(vget_high_u32(t01.val[0]), vget_high_u32(t23.val[0]))));
  }
#else
  (void)simd_end;
#endif
  for (; x < n; ++x) {
    const uint8_t* p = row + xofs[x];
    const int32_t w1 = wx1[x], w0 = kWeightOne - w1;
    // The second tap of a clamped last pixel has weight 0: read the first one again instead of
    // stepping past the end of the row.
    const int step = w1 == 0 ? 0 : 3;
    b_plane[x] = w0 * p[0] + w1 * p[step];
    g_plane[x] = w0 * p[1] + w1 * p[step + 1];
    r_plane[x] = w0 * p[2] + w1 * p[step + 2];
  }
}

// Vertical pass of the detector input for one plane, normalised on the way:
// out[x] = (float((w0*a[x] + w1*b[x] + round) >> kBlendShift) - mean) * scale.
void vpass_norm(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean,
                float scale, float* out, int n) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2)
  const __m256i vw0 = _mm256_set1_epi32(w0), vw1 = _mm256_set1_epi32(w1);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m256 vmean = _mm256_set1_ps(mean), vscale = _mm256_set1_ps(scale);
  for (; x + 8 <= n; x += 8) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + x));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + x));
    __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(va, vw0), _mm256_mullo_epi32(vb, vw1));
    s = _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
    _mm256_storeu_ps(out + x, _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(s), vmean), vscale));
  }
#elif defined(FASTFER_ISA_SSE41)
  const __m128i vw0 = _mm_set1_epi32(w0), vw1 = _mm_set1_epi32(w1);
  const __m128i round = _mm_set1_epi32(kBlendRound);
  const __m128 vmean = _mm_set1_ps(mean), vscale = _mm_set1_ps(scale);
  for (; x + 4 <= n; x += 4) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
    __m128i s = _mm_add_epi32(_mm_mullo_epi32(va, vw0), _mm_mullo_epi32(vb, vw1));
    s = _mm_srai_epi32(_mm_add_epi32(s, round), kBlendShift);
    _mm_storeu_ps(out + x, _mm_mul_ps(_mm_sub_ps(_mm_cvtepi32_ps(s), vmean), vscale));
  }
#elif defined(FASTFER_ISA_NEON)
  const int32x4_t round = vdupq_n_s32(kBlendRound);
  const float32x4_t vmean = vdupq_n_f32(mean);
  for (; x + 4 <= n; x += 4) {
    const int32x4_t sum = vmlaq_n_s32(vmlaq_n_s32(round, vld1q_s32(a + x), w0), vld1q_s32(b + x), w1);
    const float32x4_t v = vsubq_f32(vcvtq_f32_s32(vshrq_n_s32(sum, kBlendShift)), vmean);
    vst1q_f32(out + x, vmulq_n_f32(v, scale));
  }
#endif
  for (; x < n; ++x) {
    const int32_t v = (w0 * a[x] + w1 * b[x] + kBlendRound) >> kBlendShift;
    out[x] = (static_cast<float>(v) - mean) * scale;
  }
}

void affine_taps(double a, double b, double c, int size, int n, int32_t* i0, int32_t* i1,
                 int32_t* w1) {
  // __builtin_floor / __builtin_nearbyint: single instructions in the SSE4.1 and AVX2 builds
  // (libm calls in the scalar one); the shared <cmath> inlines are avoided on purpose (rowops.h).
  const double hi = static_cast<double>(size);
  int u = 0;
#if defined(FASTFER_ISA_AVX2)
  // Four positions at a time; cvtpd_epi32 rounds to nearest even like __builtin_nearbyint.
  const __m256d va = _mm256_set1_pd(a), vb = _mm256_set1_pd(b), vc = _mm256_set1_pd(c);
  const __m256d lo = _mm256_set1_pd(-1.0), vhi = _mm256_set1_pd(hi);
  const __m256d weight_one = _mm256_set1_pd(kWeightOne);
  const __m128i zero = _mm_setzero_si128(), last = _mm_set1_epi32(size - 1), step = _mm_set1_epi32(1);
  for (; u + 4 <= n; u += 4) {
    const __m256d pos = _mm256_setr_pd(u, u + 1, u + 2, u + 3);
    __m256d coord = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(va, pos), vb), vc);
    coord = _mm256_min_pd(_mm256_max_pd(coord, lo), vhi);
    const __m256d first = _mm256_floor_pd(coord);
    const __m128i i = _mm256_cvttpd_epi32(first);
    const __m128i weight = _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_sub_pd(coord, first), weight_one));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w1 + u), weight);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(i0 + u), _mm_min_epi32(_mm_max_epi32(i, zero), last));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(i1 + u),
                     _mm_min_epi32(_mm_max_epi32(_mm_add_epi32(i, step), zero), last));
  }
#endif
  for (; u < n; ++u) {
    double coord = (a * static_cast<double>(u) + b) + c;
    coord = coord < -1.0 ? -1.0 : (coord > hi ? hi : coord);
    const double first = __builtin_floor(coord);
    const int i = static_cast<int>(first);
    w1[u] = static_cast<int32_t>(__builtin_nearbyint((coord - first) * kWeightOne));
    i0[u] = i < 0 ? 0 : (i > size - 1 ? size - 1 : i);
    i1[u] = i + 1 < 0 ? 0 : (i + 1 > size - 1 ? size - 1 : i + 1);
  }
}

void warp_sample3(const uint8_t* base, ptrdiff_t row_stride, ptrdiff_t gather_limit,
                  const int32_t* x0, const int32_t* x1, const int32_t* wx, const int32_t* y0,
                  const int32_t* y1, const int32_t* wy, int n, int32_t* b, int32_t* g,
                  int32_t* r) {
  int u = 0;
#if defined(FASTFER_ISA_AVX2)
  if (gather_limit >= 0) {
    const __m256i stride = _mm256_set1_epi32(static_cast<int32_t>(row_stride));
    const __m256i limit = _mm256_set1_epi32(static_cast<int32_t>(gather_limit));
    const __m256i one = _mm256_set1_epi32(kWeightOne), round = _mm256_set1_epi32(kBlendRound);
    const __m256i low_byte = _mm256_set1_epi32(0xFF);
    const int* pixels = reinterpret_cast<const int*>(base);
    auto load = [](const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
    auto times3 = [](__m256i v) { return _mm256_add_epi32(v, _mm256_add_epi32(v, v)); };
    for (; u + 8 <= n; u += 8) {
      const __m256i top_row = _mm256_mullo_epi32(load(y0 + u), stride);
      const __m256i bottom_row = _mm256_mullo_epi32(load(y1 + u), stride);
      const __m256i left = times3(load(x0 + u)), right = times3(load(x1 + u));
      const __m256i o00 = _mm256_add_epi32(top_row, left), o01 = _mm256_add_epi32(top_row, right);
      const __m256i o10 = _mm256_add_epi32(bottom_row, left);
      const __m256i o11 = _mm256_add_epi32(bottom_row, right);
      // Offsets only grow with the taps, so o11 is the largest of each pixel's four.
      if (!_mm256_testz_si256(_mm256_cmpgt_epi32(o11, limit), _mm256_cmpgt_epi32(o11, limit))) break;
      const __m256i p00 = _mm256_i32gather_epi32(pixels, o00, 1);
      const __m256i p01 = _mm256_i32gather_epi32(pixels, o01, 1);
      const __m256i p10 = _mm256_i32gather_epi32(pixels, o10, 1);
      const __m256i p11 = _mm256_i32gather_epi32(pixels, o11, 1);
      const __m256i w1x = load(wx + u), w1y = load(wy + u);
      const __m256i w0x = _mm256_sub_epi32(one, w1x), w0y = _mm256_sub_epi32(one, w1y);
      int32_t* planes[3] = {b, g, r};
      for (int c = 0; c < 3; ++c) {
        const __m128i shift = _mm_cvtsi32_si128(8 * c);
        auto channel = [&](__m256i p) { return _mm256_and_si256(_mm256_srl_epi32(p, shift), low_byte); };
        const __m256i top = _mm256_add_epi32(_mm256_mullo_epi32(w0x, channel(p00)),
                                             _mm256_mullo_epi32(w1x, channel(p01)));
        const __m256i bottom = _mm256_add_epi32(_mm256_mullo_epi32(w0x, channel(p10)),
                                                _mm256_mullo_epi32(w1x, channel(p11)));
        const __m256i sum = _mm256_add_epi32(_mm256_mullo_epi32(w0y, top), _mm256_mullo_epi32(w1y, bottom));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(planes[c] + u),
                            _mm256_srai_epi32(_mm256_add_epi32(sum, round), kBlendShift));
      }
    }
  }
#else
  (void)gather_limit;
#endif
  for (; u < n; ++u) {
    const uint8_t* r0 = base + y0[u] * row_stride;
    const uint8_t* r1 = base + y1[u] * row_stride;
    const ptrdiff_t a = 3 * static_cast<ptrdiff_t>(x0[u]), c1 = 3 * static_cast<ptrdiff_t>(x1[u]);
    const int32_t w1x = wx[u], w0x = kWeightOne - w1x, w1y = wy[u], w0y = kWeightOne - w1y;
    int32_t* planes[3] = {b, g, r};
    for (int c = 0; c < 3; ++c) {
      const int32_t top = w0x * r0[a + c] + w1x * r0[c1 + c];
      const int32_t bottom = w0x * r1[a + c] + w1x * r1[c1 + c];
      planes[c][u] = (w0y * top + w1y * bottom + kBlendRound) >> kBlendShift;
    }
  }
}

void gray_row(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2, uint8_t* dst,
              int width) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2) || defined(FASTFER_ISA_SSE41)
  // Four pixels per 128-bit lane: one shuffle makes (c0, c1) int16 pairs, another (c2, 1) pairs
  // (the 1 comes from an OR), so two pmaddwd and an add give c0*p0 + c1*p1 + c2*p2 + round.
  const __m128i first_two = channels == 4
      ? _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1)
      : _mm_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1);
  const __m128i third = channels == 4
      ? _mm_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1)
      : _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1);
  const ptrdiff_t row_bytes = static_cast<ptrdiff_t>(width) * channels;
#endif
#if defined(FASTFER_ISA_AVX2)
  const __m256i mask01 = _mm256_set_m128i(first_two, first_two), mask2 = _mm256_set_m128i(third, third);
  const __m256i ones = _mm256_set1_epi32(1 << 16);
  const __m256i w01 = _mm256_set1_epi32((c1 << 16) | c0), w2 = _mm256_set1_epi32((1 << 29) | c2);
  auto eight = [&](const uint8_t* p) {  // pixels 0-3 in the low lane, 4-7 in the high one
    const __m256i v = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * channels)),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i sum = _mm256_add_epi32(
        _mm256_madd_epi16(_mm256_shuffle_epi8(v, mask01), w01),
        _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(v, mask2), ones), w2));
    return _mm256_srli_epi32(sum, 14);
  };
  for (; static_cast<ptrdiff_t>(x + 12) * channels + 16 <= row_bytes; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(eight(p), eight(p + 8 * channels)), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x),
                     _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1)));
  }
#elif defined(FASTFER_ISA_SSE41)
  const __m128i ones = _mm_set1_epi32(1 << 16);
  const __m128i w01 = _mm_set1_epi32((c1 << 16) | c0), w2 = _mm_set1_epi32((1 << 29) | c2);
  auto four = [&](const uint8_t* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i sum = _mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(v, first_two), w01),
                                      _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(v, third), ones), w2));
    return _mm_srli_epi32(sum, 14);
  };
  for (; static_cast<ptrdiff_t>(x + 12) * channels + 16 <= row_bytes; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    const __m128i lo = _mm_packus_epi32(four(p), four(p + 4 * channels));
    const __m128i hi = _mm_packus_epi32(four(p + 8 * channels), four(p + 12 * channels));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), _mm_packus_epi16(lo, hi));
  }
#elif defined(FASTFER_ISA_NEON)
  // 16 pixels per step, de-interleaved by vld3/vld4; u16 × u16 -> u32 multiply-adds.
  const uint32x4_t round = vdupq_n_u32(1 << 13);
  const uint16_t k0 = static_cast<uint16_t>(c0), k1 = static_cast<uint16_t>(c1), k2 = static_cast<uint16_t>(c2);
  auto weigh = [&](uint16x4_t p0, uint16x4_t p1, uint16x4_t p2) {
    return vshrn_n_u32(vmlal_n_u16(vmlal_n_u16(vmlal_n_u16(round, p0, k0), p1, k1), p2, k2), 14);
  };
  auto half = [&](uint8x8_t p0, uint8x8_t p1, uint8x8_t p2) {
    const uint16x8_t a = vmovl_u8(p0), b = vmovl_u8(p1), c = vmovl_u8(p2);
    return vmovn_u16(vcombine_u16(weigh(vget_low_u16(a), vget_low_u16(b), vget_low_u16(c)),
                                  weigh(vget_high_u16(a), vget_high_u16(b), vget_high_u16(c))));
  };
  for (; x + 16 <= width; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    uint8x16_t ch0, ch1, ch2;
    if (channels == 4) {
      const uint8x16x4_t v = vld4q_u8(p);
      ch0 = v.val[0], ch1 = v.val[1], ch2 = v.val[2];
    } else {
      const uint8x16x3_t v = vld3q_u8(p);
      ch0 = v.val[0], ch1 = v.val[1], ch2 = v.val[2];
    }
    vst1q_u8(dst + x, vcombine_u8(half(vget_low_u8(ch0), vget_low_u8(ch1), vget_low_u8(ch2)),
                                  half(vget_high_u8(ch0), vget_high_u8(ch1), vget_high_u8(ch2))));
  }
#endif
  for (; x < width; ++x) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    dst[x] = static_cast<uint8_t>((c0 * p[0] + c1 * p[1] + c2 * p[2] + (1 << 13)) >> 14);
  }
}

void gray_norm(const int32_t* b, const int32_t* g, const int32_t* r, int32_t cb, int32_t cg,
               int32_t cr, float mean, float scale, float* out, int n) {
  for (int x = 0; x < n; ++x) {
    const int32_t v = (cb * b[x] + cg * g[x] + cr * r[x] + (1 << 13)) >> 14;
    out[x] = (static_cast<float>(v) - mean) * scale;
  }
}

void nms_suppress(const float* x1, const float* y1, const float* x2, const float* y2,
                  const float* area, ptrdiff_t i, ptrdiff_t n, float threshold,
                  uint8_t* suppressed) {
  // Branch-free on purpose: the compiler vectorises this loop in the SSE4.1/AVX2/NEON builds.
  const float ax1 = x1[i], ay1 = y1[i], ax2 = x2[i], ay2 = y2[i], aarea = area[i];
  for (ptrdiff_t j = i + 1; j < n; ++j) {
    const float ix1 = ax1 > x1[j] ? ax1 : x1[j];
    const float iy1 = ay1 > y1[j] ? ay1 : y1[j];
    const float ix2 = ax2 < x2[j] ? ax2 : x2[j];
    const float iy2 = ay2 < y2[j] ? ay2 : y2[j];
    const float w = ix2 - ix1 > 0.0f ? ix2 - ix1 : 0.0f;
    const float h = iy2 - iy1 > 0.0f ? iy2 - iy1 : 0.0f;
    const float inter = w * h;
    const float uni = (aarea + area[j]) - inter;
    suppressed[j] |= static_cast<uint8_t>(inter > threshold * uni);
  }
}

// Planar to interleaved, three floats per pixel. AVX2: each group of 8 pixels is 3 vectors of
// the output; every output vector takes its a, b and c elements by one permute of each plane and
// two blends (the classic 3-way interleave).
void interleave3_f32(const float* p0, const float* p1, const float* p2, float* out, int n) {
  int x = 0;
#if defined(FASTFER_ISA_AVX2)
  // Lane l of output vector v is element 8v + l of the interleaved row: plane (8v + l) % 3,
  // pixel (8v + l) / 3. The index vectors pick that pixel; lanes of other planes read 0, unused.
  const __m256i ia0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0);
  const __m256i ib0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2);
  const __m256i ic0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
  const __m256i ia1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5);
  const __m256i ib1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0);
  const __m256i ic1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
  const __m256i ia2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0);
  const __m256i ib2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0);
  const __m256i ic2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
  for (; x + 8 <= n; x += 8) {
    const __m256 a = _mm256_loadu_ps(p0 + x), b = _mm256_loadu_ps(p1 + x), c = _mm256_loadu_ps(p2 + x);
    float* o = out + 3 * x;
    // blend imm: bit l set takes lane l from the second operand.
    __m256 v0 = _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia0), _mm256_permutevar8x32_ps(b, ib0), 0x92);
    v0 = _mm256_blend_ps(v0, _mm256_permutevar8x32_ps(c, ic0), 0x24);
    __m256 v1 = _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia1), _mm256_permutevar8x32_ps(b, ib1), 0x24);
    v1 = _mm256_blend_ps(v1, _mm256_permutevar8x32_ps(c, ic1), 0x49);
    __m256 v2 = _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia2), _mm256_permutevar8x32_ps(b, ib2), 0x49);
    v2 = _mm256_blend_ps(v2, _mm256_permutevar8x32_ps(c, ic2), 0x92);
    _mm256_storeu_ps(o, v0);
    _mm256_storeu_ps(o + 8, v1);
    _mm256_storeu_ps(o + 16, v2);
  }
#endif
  for (; x < n; ++x) {
    out[3 * x] = p0[x];
    out[3 * x + 1] = p1[x];
    out[3 * x + 2] = p2[x];
  }
}

// This ISA's table, in the member order of RowOps.
const RowOps kTable = {vblend_u8,    hblend_u8,   hpass_quad, vpass_quad_u8, hpass_planar3,
                       vpass_norm,   affine_taps, warp_sample3, gray_row,    gray_norm,
                       interleave3_f32, nms_suppress};
