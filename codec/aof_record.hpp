// aof_record.hpp: the 35 AOF record kinds of FORMATS.md and their encoding.
//
// A plaintext (v2) record on disk is
//
//     [tag u8][payload][crc32 u32]      crc32 covers tag + payload
//
// and an encrypted (v3) record is [nonce 12][ct_len u32][AES-GCM(tag+payload)]
// (see aof_writer.hpp). Tag values are stable forever; never reuse one.
//
// Each record kind is a plain struct with a static `describe` function that
// names its payload fields in on-disk order with their wire kind. That one
// description drives encoding, decoding and the operator tool's JSON, so the
// layout of a record is written down exactly once:
//
//     f.str(name, s)        str: u32 length + UTF-8 bytes
//     f.bytes(name, s)      bytes: u32 length + bytes
//     f.i64(name, v)        i64
//     f.duration(name, v)   i64 that must be >= 0 (seconds, ms, unix ms)
//     f.u8(name, v)         u8
//     f.flag(name, b)       u8, 0 = false, any other = true
//     f.u32(name, v)        u32
//     f.bitop(name, v)      u8 in 0..3 (AND, OR, XOR, NOT)
//     f.strs(name, v)       count u32 + count x str
//     f.bytes_list(name, v) count u32 + count x bytes
//     f.scored(name, v)     count u32 + count x (score f64, member str)
//     f.pairs(name, v)      count u32 + count x (field str, value bytes)
//     f.floats(name, v)     dim u32 + dim x f32
//
// Field names are the keys of the golden listings (bytes fields get "_hex"
// appended there).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "codec/byte_reader.hpp"

namespace ember::codec {

struct scored_member {
  double score = 0;
  std::string member;
  friend bool operator==(const scored_member& a, const scored_member& b) {
    // Bit-exact: NaN == NaN with the same payload, -0.0 != 0.0.
    return std::memcmp(&a.score, &b.score, sizeof(double)) == 0
           && a.member == b.member;
  }
};

struct field_value {
  std::string field;
  std::string value;
  friend bool operator==(const field_value& a, const field_value& b) {
    return a.field == b.field && a.value == b.value;
  }
};

namespace rec {

#define EMBER_RECORD(type, tag_value, text)                                 \
  static constexpr uint8_t tag = tag_value;                                    \
  static constexpr std::string_view op_text = text;                            \
  friend bool operator==(const type& a, const type& b) {                       \
    return eq_fields(a, b);                                                    \
  }

template <class R>
bool eq_fields(const R& a, const R& b);

struct set {
  EMBER_RECORD(set, 1, "SET")
  std::string key;
  std::string value;
  int64_t expire_ms = -1; ///< -1 none, else remaining ms (0 = expired)
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.bytes("value", x.value);
    f.i64("expire_ms", x.expire_ms);
  }
};

struct del {
  EMBER_RECORD(del, 2, "DEL")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct expire {
  EMBER_RECORD(expire, 3, "EXPIRE")
  std::string key;
  int64_t seconds = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.duration("seconds", x.seconds);
  }
};

struct lpush {
  EMBER_RECORD(lpush, 4, "LPUSH")
  std::string key;
  std::vector<std::string> values;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.bytes_list("values", x.values);
  }
};

struct rpush {
  EMBER_RECORD(rpush, 5, "RPUSH")
  std::string key;
  std::vector<std::string> values;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.bytes_list("values", x.values);
  }
};

struct lpop {
  EMBER_RECORD(lpop, 6, "LPOP")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct rpop {
  EMBER_RECORD(rpop, 7, "RPOP")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct zadd {
  EMBER_RECORD(zadd, 8, "ZADD")
  std::string key;
  std::vector<scored_member> members;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.scored("members", x.members);
  }
};

struct zrem {
  EMBER_RECORD(zrem, 9, "ZREM")
  std::string key;
  std::vector<std::string> members;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.strs("members", x.members);
  }
};

struct persist {
  EMBER_RECORD(persist, 10, "PERSIST")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct pexpire {
  EMBER_RECORD(pexpire, 11, "PEXPIRE")
  std::string key;
  int64_t milliseconds = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.duration("milliseconds", x.milliseconds);
  }
};

struct incr {
  EMBER_RECORD(incr, 12, "INCR")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct decr {
  EMBER_RECORD(decr, 13, "DECR")
  std::string key;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key);
  }
};

struct hset {
  EMBER_RECORD(hset, 14, "HSET")
  std::string key;
  std::vector<field_value> fields;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.pairs("fields", x.fields);
  }
};

struct hdel {
  EMBER_RECORD(hdel, 15, "HDEL")
  std::string key;
  std::vector<std::string> fields;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.strs("fields", x.fields);
  }
};

struct hincrby {
  EMBER_RECORD(hincrby, 16, "HINCRBY")
  std::string key;
  std::string field;
  int64_t delta = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.str("field", x.field), f.i64("delta", x.delta);
  }
};

struct sadd {
  EMBER_RECORD(sadd, 17, "SADD")
  std::string key;
  std::vector<std::string> members;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.strs("members", x.members);
  }
};

struct srem {
  EMBER_RECORD(srem, 18, "SREM")
  std::string key;
  std::vector<std::string> members;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.strs("members", x.members);
  }
};

struct incrby {
  EMBER_RECORD(incrby, 19, "INCRBY")
  std::string key;
  int64_t delta = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("delta", x.delta);
  }
};

struct decrby {
  EMBER_RECORD(decrby, 20, "DECRBY")
  std::string key;
  int64_t delta = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("delta", x.delta);
  }
};

struct append {
  EMBER_RECORD(append, 21, "APPEND")
  std::string key;
  std::string value;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.bytes("value", x.value);
  }
};

struct rename {
  EMBER_RECORD(rename, 22, "RENAME")
  std::string key;
  std::string newkey;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.str("newkey", x.newkey);
  }
};

/// Optional (EMBER_WITH_PROTO).
struct proto_set {
  EMBER_RECORD(proto_set, 23, "PROTO.SET")
  std::string key;
  std::string type_name;
  std::string data;
  int64_t expire_ms = -1;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.str("type_name", x.type_name);
    f.bytes("data", x.data), f.i64("expire_ms", x.expire_ms);
  }
};

/// Optional (EMBER_WITH_PROTO).
struct proto_register {
  EMBER_RECORD(proto_register, 24, "PROTO.REGISTER")
  std::string name;
  std::string descriptor;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("name", x.name), f.bytes("descriptor", x.descriptor);
  }
};

/// Optional (EMBER_WITH_VECTOR).
struct vadd {
  EMBER_RECORD(vadd, 25, "VADD")
  std::string key;
  std::string element;
  std::vector<float> vector;
  uint8_t metric = 0;
  uint8_t quantization = 0;
  uint32_t connectivity = 0;
  uint32_t expansion_add = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.str("element", x.element);
    f.floats("vector_f32_bits", x.vector);
    f.u8("metric", x.metric), f.u8("quantization", x.quantization);
    f.u32("connectivity", x.connectivity);
    f.u32("expansion_add", x.expansion_add);
  }
};

/// Optional (EMBER_WITH_VECTOR).
struct vrem {
  EMBER_RECORD(vrem, 26, "VREM")
  std::string key;
  std::string element;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.str("element", x.element);
  }
};

struct copy {
  EMBER_RECORD(copy, 27, "COPY")
  std::string source;
  std::string destination;
  bool replace = false;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("source", x.source), f.str("destination", x.destination);
    f.flag("replace", x.replace);
  }
};

struct lset {
  EMBER_RECORD(lset, 28, "LSET")
  std::string key;
  int64_t index = 0;
  std::string value;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("list_index", x.index);
    f.bytes("value", x.value);
  }
};

struct ltrim {
  EMBER_RECORD(ltrim, 29, "LTRIM")
  std::string key;
  int64_t start = 0;
  int64_t stop = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("start", x.start), f.i64("stop", x.stop);
  }
};

struct linsert {
  EMBER_RECORD(linsert, 30, "LINSERT")
  std::string key;
  bool before = true;
  std::string pivot;
  std::string value;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.flag("before", x.before);
    f.bytes("pivot", x.pivot), f.bytes("value", x.value);
  }
};

struct lrem {
  EMBER_RECORD(lrem, 31, "LREM")
  std::string key;
  int64_t count = 0;
  std::string value;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("count", x.count), f.bytes("value", x.value);
  }
};

struct setrange {
  EMBER_RECORD(setrange, 32, "SETRANGE")
  std::string key;
  int64_t offset = 0;
  std::string value;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("offset", x.offset);
    f.bytes("value", x.value);
  }
};

struct setbit {
  EMBER_RECORD(setbit, 33, "SETBIT")
  std::string key;
  int64_t offset = 0;
  uint8_t value = 0;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.i64("offset", x.offset), f.u8("value", x.value);
  }
};

struct bitop {
  EMBER_RECORD(bitop, 34, "BITOP")
  uint8_t op = 0; ///< 0 AND, 1 OR, 2 XOR, 3 NOT
  std::string dest;
  std::vector<std::string> keys;
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.bitop("bitop", x.op), f.str("dest", x.dest), f.strs("keys", x.keys);
  }
};

struct pexpireat {
  EMBER_RECORD(pexpireat, 35, "PEXPIREAT")
  std::string key;
  int64_t timestamp_ms = 0; ///< absolute unix ms
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("key", x.key), f.duration("timestamp_ms", x.timestamp_ms);
  }
};

#undef EMBER_RECORD

} // namespace rec

/// One AOF record. Alternative index + 1 == tag for every alternative.
using aof_record
  = std::variant<rec::set, rec::del, rec::expire, rec::lpush, rec::rpush,
                 rec::lpop, rec::rpop, rec::zadd, rec::zrem, rec::persist,
                 rec::pexpire, rec::incr, rec::decr, rec::hset, rec::hdel,
                 rec::hincrby, rec::sadd, rec::srem, rec::incrby, rec::decrby,
                 rec::append, rec::rename, rec::proto_set, rec::proto_register,
                 rec::vadd, rec::vrem, rec::copy, rec::lset, rec::ltrim,
                 rec::linsert, rec::lrem, rec::setrange, rec::setbit,
                 rec::bitop, rec::pexpireat>;

inline constexpr uint8_t max_tag = 35;

/// Tag of a record (1..35).
inline uint8_t tag_of(const aof_record& r) noexcept {
  return static_cast<uint8_t>(r.index() + 1);
}

/// "SET", "PROTO.SET", ... for a tag; nullptr for an unknown tag.
const char* op_name(uint8_t tag) noexcept;

/// Whether this build reads and writes records with this tag (23..26 depend
/// on EMBER_WITH_PROTO / EMBER_WITH_VECTOR).
bool tag_supported(uint8_t tag) noexcept;

/// The key a record mutates (dest for BITOP, destination for COPY, source's
/// new name for RENAME is `newkey`; PROTO.REGISTER has none and returns "").
std::string_view primary_key(const aof_record& r) noexcept;

/// Bytes encode_payload appends for `r` (tag + payload); a v2 record is 4
/// more (its CRC). Counts without encoding.
size_t encoded_payload_size(const aof_record& r) noexcept;

/// Appends tag + payload (the plaintext that v3 encrypts).
void encode_payload(std::string& out, const aof_record& r);

/// Appends a whole v2 record: tag + payload + crc32(tag + payload).
void encode_record(std::string& out, const aof_record& r);

/// The first problem found in a record's fields (check_fields()).
struct field_problem {
  enum kind_t : uint8_t {
    none,
    too_large,    ///< a field over 512 MiB, a collection over 100 M elements
    invalid_utf8, ///< a key, member or field name that is not UTF-8
    bad_value,    ///< a negative duration, a BITOP op > 3
  };
  kind_t kind = none;
  std::string text; ///< "<field> <what is wrong>"

  explicit operator bool() const noexcept {
    return kind != none;
  }
};

/// Checks field limits and encodings (not whether the kind is supported).
/// `allow_negative_durations`: live requests use -1 for "no TTL"; records
/// in files never hold a negative duration.
field_problem check_fields(const aof_record& r, bool allow_negative_durations);

/// Checks what a reader would reject (invalid UTF-8, negative durations,
/// BITOP op > 3, oversized fields, unsupported optional kinds) so that a
/// writer never produces an unreadable record. Returns "" when valid.
std::string validate(const aof_record& r);

/// validate(r), and when valid appends encode_record(r) (`with_crc`) or
/// encode_payload(r), with one dispatch on the kind and one walk over the
/// fields for both (the writer's per-record path). Appends nothing when
/// invalid.
std::string append_valid(std::string& out, const aof_record& r, bool with_crc);

/// append_valid() into `buf` from offset `used` (<= buf.size()), for a
/// caller that keeps its buffer's size ahead of what it holds: the bytes
/// from `used` on are scratch. Grows `buf` (geometrically) only when the
/// record does not fit, then advances `used` past the record. What it
/// saves over append_valid is the resize, and its zero fill, per record.
std::string append_valid_at(std::string& buf, size_t& used,
                            const aof_record& r, bool with_crc);

/// Decodes tag + payload from `in` into `out`. On failure returns false and
/// `in` says why: eof (the record is cut short) or invalid data. An unknown
/// or unsupported tag sets `unknown_tag` and returns false.
bool decode_payload(byte_reader& in, aof_record& out, bool& unknown_tag);

namespace rec {

template <class R>
bool eq_fields(const R& a, const R& b) {
  std::string ea;
  std::string eb;
  encode_payload(ea, aof_record{a});
  encode_payload(eb, aof_record{b});
  return ea == eb;
}

} // namespace rec

} // namespace ember::codec
