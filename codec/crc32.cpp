#include "codec/crc32.hpp"

#include <array>
#include <cstring>

#include <boost/crc.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#define EMBER_CRC32_CLMUL 1
#endif

namespace ember::codec {

namespace {

// Slicing-by-16: 16 bytes per step through 16 tables (64 KiB, fits L2);
// about 1.5x slicing-by-8 on 100-byte records, the AOF's common size.
constexpr size_t slices = 16;
using tables = std::array<std::array<uint32_t, 256>, slices>;

tables make_tables() {
  tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < slices; ++s)
      t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

const tables& crc_tables() {
  static const tables t = make_tables();
  return t;
}

#if EMBER_CRC32_CLMUL
// Carry-less multiplication folding (Intel, "Fast CRC Computation for
// Generic Polynomials Using PCLMULQDQ", 2009), for the reflected IEEE
// polynomial. A 128-bit lane is folded 128*d bits forward by multiplying
// its low half by x^(128d+32) mod P and its high half by x^(128d-32) mod P
// (bit-reflected, shifted left by one: the constants zlib and Linux use).
#define EMBER_CLMUL_TARGET __attribute__((target("pclmul,sse4.1,ssse3")))

// x^e mod P for the unreflected polynomial 0x04C11DB7.
constexpr uint32_t xpow_mod(unsigned e) {
  uint32_t r = 1;
  for (unsigned i = 0; i < e; ++i)
    r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
  return r;
}

// The folding constant for x^e: reflected and shifted into 33 bits.
constexpr uint64_t fold_constant(unsigned e) {
  auto v = xpow_mod(e);
  uint64_t r = 0;
  for (unsigned i = 0; i < 32; ++i)
    r |= uint64_t{(v >> i) & 1u} << (31 - i);
  return r << 1;
}

// Short buffers fold every block straight onto the last one, each with the
// constants of its own distance, so that the multiplications run in
// parallel instead of as a chain of dependent folds.
constexpr size_t max_short_blocks = 16;
// Below this the tables win (the reduction alone is a chain of four
// multiplications).
constexpr size_t short_clmul_min = 32;

struct fold_pair {
  uint64_t lo; ///< x^(128d+32) mod P
  uint64_t hi; ///< x^(128d-32) mod P
};

constexpr std::array<fold_pair, max_short_blocks> make_fold_constants() {
  std::array<fold_pair, max_short_blocks> k{};
  for (unsigned d = 1; d < max_short_blocks; ++d)
    k[d] = {fold_constant(128 * d + 32), fold_constant(128 * d - 32)};
  return k;
}

constexpr auto fold_constants = make_fold_constants();
constexpr uint64_t x64_constant = fold_constant(64);

EMBER_CLMUL_TARGET inline __m128i constants_for(size_t distance) noexcept {
  auto& k = fold_constants[distance];
  return _mm_set_epi64x(static_cast<long long>(k.hi),
                        static_cast<long long>(k.lo));
}

// One lane folded forward (by the constants in `k`) onto `next`.
EMBER_CLMUL_TARGET inline __m128i fold_lane(__m128i x, __m128i k,
                                            __m128i next) noexcept {
  auto lo = _mm_clmulepi64_si128(x, k, 0x00);
  auto hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

EMBER_CLMUL_TARGET inline __m128i load16(const unsigned char* p) noexcept {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// 128 -> 64 bits, then Barrett reduction to the 32-bit register. (A table
// step over the lane's 16 bytes instead measured slower: more work per
// record, where records overlap in the pipeline anyway.)
EMBER_CLMUL_TARGET inline uint32_t reduce128(__m128i x1) noexcept {
  // x^(128-32) mod P (high half); x^64 mod P; P' and mu.
  const __m128i k3k4 = constants_for(1);
  const __m128i k5k0 = _mm_set_epi64x(0, static_cast<long long>(x64_constant));
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  auto x2b = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2b);
  auto x3b = _mm_srli_si128(x1, 4);
  x1 = _mm_and_si128(x1, low32);
  x1 = _mm_clmulepi64_si128(x1, k5k0, 0x00);
  x1 = _mm_xor_si128(x1, x3b);
  auto t = _mm_and_si128(x1, low32);
  t = _mm_clmulepi64_si128(t, poly, 0x10);
  t = _mm_and_si128(t, low32);
  t = _mm_clmulepi64_si128(t, poly, 0x00);
  x1 = _mm_xor_si128(x1, t);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

// Four lanes folded 64 bytes at a time, then into one lane. Takes and
// returns the register (not inverted); `len` >= 64 and a multiple of 16.
EMBER_CLMUL_TARGET uint32_t
fold_clmul(const unsigned char* buf, size_t len, uint32_t crc) noexcept {
  const __m128i k1k2 = constants_for(4);
  const __m128i k3k4 = constants_for(1);
  auto x1 =
    _mm_xor_si128(load16(buf), _mm_cvtsi32_si128(static_cast<int>(crc)));
  auto x2 = load16(buf + 16);
  auto x3 = load16(buf + 32);
  auto x4 = load16(buf + 48);
  buf += 64;
  len -= 64;
  while (len >= 64) {
    x1 = fold_lane(x1, k1k2, load16(buf));
    x2 = fold_lane(x2, k1k2, load16(buf + 16));
    x3 = fold_lane(x3, k1k2, load16(buf + 32));
    x4 = fold_lane(x4, k1k2, load16(buf + 48));
    buf += 64;
    len -= 64;
  }
  x1 = fold_lane(x1, k3k4, x2);
  x1 = fold_lane(x1, k3k4, x3);
  x1 = fold_lane(x1, k3k4, x4);
  while (len >= 16) {
    x1 = fold_lane(x1, k3k4, load16(buf));
    buf += 16;
    len -= 16;
  }
  return reduce128(x1);
}

// `b` folded `distance` blocks forward (0: it is the last block).
EMBER_CLMUL_TARGET inline __m128i onto_last(__m128i b,
                                            size_t distance) noexcept {
  if (distance == 0)
    return b;
  return fold_lane(b, constants_for(distance), _mm_setzero_si128());
}

// A short buffer (16 <= len < 16 * max_short_blocks) in one parallel fold,
// with no table tail: the len % 16 odd bytes come first, in a block padded
// with leading zeros (which do not change a CRC once the register is mixed
// into the first four bytes), so every later load is a whole block.
// Takes and returns the register (not inverted).
EMBER_CLMUL_TARGET uint32_t
fold_short(const unsigned char* buf, size_t len, uint32_t crc) noexcept {
  // From offset r: moves the first r bytes of a block to its top and zeroes
  // the rest (0x80 = zero).
  alignas(16) static constexpr unsigned char shift_table[32] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0,    1,    2,    3,    4,    5,
    6,    7,    8,    9,    10,   11,   12,   13,   14,   15};
  auto head = len % 16;
  auto blocks = len / 16;
  auto first =
    _mm_xor_si128(load16(buf), _mm_cvtsi32_si128(static_cast<int>(crc)));
  auto acc = _mm_setzero_si128();
  if (head != 0) {
    acc = onto_last(_mm_shuffle_epi8(first, load16(shift_table + head)),
                    blocks);
    buf += head;
    // A head under 4 bytes holds only part of the register.
    auto spill = head < 4 ? crc >> (8 * head) : 0;
    first =
      _mm_xor_si128(load16(buf), _mm_cvtsi32_si128(static_cast<int>(spill)));
  }
  acc = _mm_xor_si128(acc, onto_last(first, blocks - 1));
  for (size_t i = 1; i + 1 < blocks; ++i)
    acc = _mm_xor_si128(acc, onto_last(load16(buf + 16 * i), blocks - 1 - i));
  if (blocks > 1)
    acc = _mm_xor_si128(acc, load16(buf + 16 * (blocks - 1)));
  return reduce128(acc);
}

bool has_clmul() noexcept {
  static const bool yes = __builtin_cpu_supports("pclmul")
                          && __builtin_cpu_supports("sse4.1")
                          && __builtin_cpu_supports("ssse3");
  return yes;
}
#endif

} // namespace

bool crc32_supported(crc32_impl impl) noexcept {
  switch (impl) {
    case crc32_impl::tables:
      return true;
#if EMBER_CRC32_CLMUL
    case crc32_impl::clmul:
      return has_clmul();
#endif
    default:
      return false;
  }
}

uint32_t crc32_using(crc32_impl impl, const void* data, size_t size,
                     uint32_t running) noexcept {
  const auto& t = crc_tables();
  auto p = static_cast<const unsigned char*>(data);
  uint32_t c = ~running;
  // Table k maps a byte to its CRC contribution k bytes before the end of
  // the block being folded.
  auto word = [&](size_t k, uint32_t w) {
    return t[k + 3][w & 0xFF] ^ t[k + 2][(w >> 8) & 0xFF]
           ^ t[k + 1][(w >> 16) & 0xFF] ^ t[k][w >> 24];
  };
  auto block = [&](const void* q, uint32_t reg) {
    uint32_t w[4];
    std::memcpy(w, q, 16);
    return word(12, w[0] ^ reg) ^ word(8, w[1]) ^ word(4, w[2])
           ^ word(0, w[3]);
  };
#if EMBER_CRC32_CLMUL
  if (impl != crc32_impl::tables && size >= short_clmul_min) {
    if (size < 16 * max_short_blocks)
      return ~fold_short(p, size, c);
    auto n = size & ~size_t{15};
    c = fold_clmul(p, n, c);
    p += n;
    size -= n;
  }
#else
  (void)impl;
#endif
  while (size >= 16) {
    c = block(p, c);
    p += 16;
    size -= 16;
  }
  if (size >= 8) {
    uint32_t w[2];
    std::memcpy(w, p, 8);
    c = word(4, w[0] ^ c) ^ word(0, w[1]);
    p += 8;
    size -= 8;
  }
  while (size--)
    c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}

uint32_t crc32(const void* data, size_t size, uint32_t running) noexcept {
  static const crc32_impl best = crc32_supported(crc32_impl::clmul)
                                   ? crc32_impl::clmul
                                   : crc32_impl::tables;
  return crc32_using(best, data, size, running);
}

uint32_t crc32_boost(const void* data, size_t size,
                     uint32_t running) noexcept {
  // Boost takes the initial remainder unreflected; the running value is the
  // reflected register after xorout, so undo both.
  uint32_t reg = ~running;
  uint32_t init = 0;
  for (int i = 0; i < 32; ++i)
    init |= ((reg >> i) & 1u) << (31 - i);
  boost::crc_optimal<32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc(
    init);
  crc.process_bytes(data, size);
  return crc.checksum();
}

} // namespace ember::codec
