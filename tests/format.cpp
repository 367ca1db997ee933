// Format helpers: CRC32, UTF-8, byte reader limits, record encode/decode.
#define CAF_SUITE format
#include "caf/test/unit_test_impl.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "codec/aof_record.hpp"
#include "codec/byte_reader.hpp"
#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/string_ops.hpp"
#include "codec/utf8.hpp"
#include "tests/random_records.hpp"

using namespace ember::codec;

CAF_TEST(crc32 check value) {
  CAF_CHECK_EQUAL(crc32("123456789"), 0xCBF43926u);
  CAF_CHECK_EQUAL(crc32_boost("123456789", 9), 0xCBF43926u);
  CAF_CHECK_EQUAL(crc32(""), 0u);
}

namespace {

// Every implementation this CPU runs; crc32 itself takes the first.
std::vector<crc32_impl> supported_impls() {
  std::vector<crc32_impl> out;
  for (auto impl : {crc32_impl::clmul, crc32_impl::tables})
    if (crc32_supported(impl))
      out.push_back(impl);
    else
      CAF_MESSAGE("crc32 implementation " << static_cast<int>(impl)
                                          << " not supported here: not tested");
  return out;
}

} // namespace

CAF_TEST(crc32 equals boost crc on every length 0 to 4096) {
  std::mt19937_64 rng{42};
  std::string buf(4096 + 8, '\0');
  for (auto& c : buf)
    c = static_cast<char>(rng());
  for (auto impl : supported_impls())
    for (size_t len = 0; len <= 4096; ++len) {
      // Vary alignment too.
      auto off = len % 8;
      auto fast = crc32_using(impl, buf.data() + off, len);
      auto slow = crc32_boost(buf.data() + off, len);
      if (fast != slow)
        CAF_FAIL("crc mismatch at length " << len << " with implementation "
                                           << static_cast<int>(impl));
    }
  CAF_CHECK_EQUAL(crc32(buf.data(), 97), crc32_boost(buf.data(), 97));
}

CAF_TEST(crc32 equals boost crc at every offset with any running value) {
  // The short-buffer fold moves the odd bytes and part of the running
  // register into a block of their own: every split of both is covered
  // here, on buffers that end where their allocation ends so that a read
  // past either end shows under ASan.
  std::mt19937_64 rng{7};
  std::string buf(600 + 16, '\0');
  for (auto& c : buf)
    c = static_cast<char>(rng());
  for (auto impl : supported_impls())
    for (size_t len = 0; len <= 600; ++len)
      for (size_t off = 0; off < 16; ++off) {
        auto running = static_cast<uint32_t>(rng());
        std::vector<char> exact(buf.begin() + off, buf.begin() + off + len);
        if (crc32_using(impl, exact.data(), len, running)
            != crc32_boost(buf.data() + off, len, running))
          CAF_FAIL("crc mismatch at length " << len << " offset " << off
                                             << " with implementation "
                                             << static_cast<int>(impl));
      }
  CAF_CHECK(true);
}

CAF_TEST(crc32 continues a running value) {
  std::string a = "hello ", b = "world";
  CAF_CHECK_EQUAL(crc32(b, crc32(a)), crc32(a + b));
  CAF_CHECK_EQUAL(crc32_boost(b.data(), b.size(), crc32_boost(a.data(), 6)),
                  crc32(a + b));
}

CAF_TEST(utf8 validation) {
  CAF_CHECK(valid_utf8(""));
  CAF_CHECK(valid_utf8("plain ascii text longer than eight"));
  CAF_CHECK(valid_utf8("\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xf0\x9f\x94\x91"));
  CAF_CHECK(!valid_utf8("\xc3\x28"));         // bad continuation
  CAF_CHECK(!valid_utf8("\xc0\xaf"));         // overlong
  CAF_CHECK(!valid_utf8("\xed\xa0\x80"));     // surrogate
  CAF_CHECK(!valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
  CAF_CHECK(!valid_utf8("abc\xe2\x82"));      // cut short
  CAF_CHECK(!valid_utf8("\xff"));
}

CAF_TEST(floats are bit exact) {
  const uint64_t patterns[] = {0x7ff8000000000000ull, 0xfff8000000000001ull,
                               0x8000000000000000ull, 0x0000000000000001ull,
                               0x7ff0000000000000ull};
  for (auto bits : patterns) {
    double d;
    std::memcpy(&d, &bits, 8);
    std::string buf;
    put_f64(buf, d);
    byte_reader in{buf};
    double back;
    CAF_REQUIRE(in.f64(back));
    uint64_t back_bits;
    std::memcpy(&back_bits, &back, 8);
    CAF_CHECK_EQUAL(back_bits, bits);
  }
}

CAF_TEST(a length above 512 MiB is rejected before allocating) {
  std::string buf;
  put_u32(buf, max_bytes_len + 1);
  byte_reader in{buf};
  std::string out;
  CAF_CHECK(!in.bytes(out));
  CAF_CHECK(in.why() == byte_reader::failure::invalid);
  CAF_CHECK(out.capacity() < 1024);
  // Exactly the limit, with too few bytes behind it: a cut, not invalid.
  std::string buf2;
  put_u32(buf2, max_bytes_len);
  byte_reader in2{buf2};
  CAF_CHECK(!in2.bytes(out));
  CAF_CHECK(in2.why() == byte_reader::failure::eof);
}

CAF_TEST(a count above 100000000 is rejected before allocating) {
  std::string buf;
  put_u8(buf, rec::lpush::tag);
  put_bytes(buf, "k");
  put_u32(buf, max_collection_count + 1);
  byte_reader in{buf};
  aof_record r;
  bool unknown = false;
  CAF_CHECK(!decode_payload(in, r, unknown));
  CAF_CHECK(in.why() == byte_reader::failure::invalid);
  CAF_CHECK(!unknown);
  // A count at the limit with no elements behind it only reserves a little.
  std::string buf2;
  put_u8(buf2, rec::lpush::tag);
  put_bytes(buf2, "k");
  put_u32(buf2, max_collection_count);
  byte_reader in2{buf2};
  CAF_CHECK(!decode_payload(in2, r, unknown));
  CAF_CHECK(in2.why() == byte_reader::failure::eof);
  CAF_CHECK(std::get<rec::lpush>(r).values.capacity() <= max_prereserve);
}

CAF_TEST(record validation rejects what readers reject) {
  CAF_CHECK(validate(rec::set{"k", "v", -1}).empty());
  CAF_CHECK(!validate(rec::set{"\xff", "v", -1}).empty());
  CAF_CHECK(!validate(rec::expire{"k", -1}).empty());
  CAF_CHECK(!validate(rec::pexpire{"k", -5}).empty());
  CAF_CHECK(!validate(rec::pexpireat{"k", -1}).empty());
  rec::bitop b;
  b.op = 4;
  b.dest = "d";
  CAF_CHECK(!validate(b).empty());
  rec::sadd s{"k", {"ok", "\xc3\x28"}};
  CAF_CHECK(!validate(s).empty());
  CAF_CHECK_EQUAL(clamp_to_i64(UINT64_MAX), INT64_MAX);
  // The writer's path refuses the same records with the same text and
  // appends nothing.
  for (aof_record bad : {aof_record{rec::set{"\xff", "v", -1}},
                         aof_record{rec::expire{"k", -1}}, aof_record{b},
                         aof_record{s}}) {
    std::string out = "kept";
    auto why = validate(bad);
    CAF_CHECK_EQUAL(append_valid(out, bad, true), why);
    CAF_CHECK_EQUAL(append_valid(out, bad, false), why);
    CAF_CHECK_EQUAL(out, "kept");
    std::string buf = "kept....";
    size_t used = 4;
    CAF_CHECK_EQUAL(append_valid_at(buf, used, bad, true), why);
    CAF_CHECK_EQUAL(buf, "kept....");
    CAF_CHECK_EQUAL(used, 4u);
    CAF_CHECK(!why.empty());
  }
}

CAF_TEST(negative durations and bad bitop are invalid data on read) {
  std::string buf;
  encode_payload(buf, rec::expire{"k", 5});
  // Overwrite the seconds with -1.
  int64_t neg = -1;
  std::memcpy(buf.data() + buf.size() - 8, &neg, 8);
  byte_reader in{buf};
  aof_record r;
  bool unknown;
  CAF_CHECK(!decode_payload(in, r, unknown));
  CAF_CHECK(in.why() == byte_reader::failure::invalid);
  std::string b2;
  rec::bitop b;
  b.op = 3;
  b.dest = "d";
  b.keys = {"a"};
  encode_payload(b2, b);
  b2[1] = 7;
  byte_reader in2{b2};
  CAF_CHECK(!decode_payload(in2, r, unknown));
  CAF_CHECK(in2.why() == byte_reader::failure::invalid);
}

CAF_TEST(unknown tags are reported as such) {
  for (int tag : {0, 36, 200}) {
    std::string buf(1, static_cast<char>(tag));
    buf += "xxxx";
    byte_reader in{buf};
    aof_record r;
    bool unknown = false;
    CAF_CHECK(!decode_payload(in, r, unknown));
    CAF_CHECK(unknown);
  }
}

CAF_TEST(integers parse in the reference's and in Redis's syntax) {
  using ember::codec::int_syntax;
  using ember::codec::parse_i64;
  struct row {
    const char* text;
    bool reference_ok;
    bool redis_ok;
  };
  for (auto r : {row{"0", true, true}, row{"-5", true, true},
                 row{"+5", true, false}, row{"007", true, false},
                 row{"-0", true, false}, row{"9223372036854775807", true, true},
                 row{"-9223372036854775808", true, true},
                 row{"9223372036854775808", false, false}, row{"", false, false},
                 row{" 1", false, false}, row{"1.0", false, false},
                 row{"-", false, false}}) {
    CAF_CHECK_EQUAL(parse_i64(r.text, int_syntax::reference).has_value(),
                    r.reference_ok);
    CAF_CHECK_EQUAL(parse_i64(r.text, int_syntax::redis).has_value(),
                    r.redis_ok);
  }
  CAF_CHECK_EQUAL(parse_i64("-9223372036854775808", int_syntax::redis).value_or(0),
                  INT64_MIN);
  CAF_CHECK_EQUAL(parse_i64("+007", int_syntax::reference).value_or(0), 7);
}

CAF_TEST(encoded_payload_size counts what encode_payload appends) {
  // Every kind, supported by this build or not, with random contents
  // (multi-byte UTF-8, empty and long fields, collections of 0..4).
  ember::test::record_randomizer gen{11};
  for (uint8_t tag = 1; tag <= max_tag; ++tag)
    for (int i = 0; i < 50; ++i) {
      auto r = gen.make(tag);
      std::string payload;
      encode_payload(payload, r);
      if (encoded_payload_size(r) != payload.size())
        CAF_FAIL("size mismatch for " << op_name(tag));
      std::string record;
      encode_record(record, r);
      CAF_CHECK_EQUAL(record.size(), payload.size() + 4);
      CAF_CHECK_EQUAL(record.compare(0, payload.size(), payload), 0);
      if (!tag_supported(tag))
        continue;
      std::string again = "prefix";
      CAF_CHECK_EQUAL(append_valid(again, r, true), "");
      CAF_CHECK_EQUAL(again, "prefix" + record);
      again.erase(0, 6);
      CAF_CHECK_EQUAL(again, record);
      std::string plain;
      CAF_CHECK_EQUAL(append_valid(plain, r, false), "");
      CAF_CHECK_EQUAL(plain, payload);
    }
}

CAF_TEST(append_valid_at stores what append_valid appends) {
  // The AOF writer's buffer: its size runs ahead of `used`, and the bytes
  // after `used` are scratch (here: left over from earlier records).
  ember::test::record_randomizer gen{12};
  std::string expected;
  std::string buf;
  size_t used = 0;
  for (int i = 0; i < 3000; ++i) {
    auto r = gen.next();
    auto crc = i % 3 != 0;
    CAF_REQUIRE_EQUAL(append_valid(expected, r, crc), "");
    CAF_REQUIRE_EQUAL(append_valid_at(buf, used, r, crc), "");
    CAF_REQUIRE_EQUAL(used, expected.size());
    CAF_REQUIRE(buf.size() >= used);
    CAF_REQUIRE_EQUAL(buf.compare(0, used, expected), 0);
    if (i % 500 == 499) { // a flush: start over in the same buffer
      expected.clear();
      used = 0;
    }
  }
}
