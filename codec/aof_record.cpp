#include "codec/aof_record.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/format.hpp"
#include "codec/utf8.hpp"

namespace ember::codec {

namespace {

// -- encoding -----------------------------------------------------------------

// The wire form of each field kind, written once for two sinks: a counter
// (the encoded size, so that encoding grows its buffer once per record) and
// an unchecked_writer that stores the bytes into that room.
template <class Sink>
struct encoder {
  Sink& out;
  void str(const char*, const std::string& s) {
    out.put_bytes(s);
  }
  void bytes(const char*, const std::string& s) {
    out.put_bytes(s);
  }
  void i64(const char*, int64_t v) {
    out.put(v);
  }
  void duration(const char*, int64_t v) {
    out.put(v);
  }
  void u8(const char*, uint8_t v) {
    out.put(v);
  }
  void bitop(const char*, uint8_t v) {
    out.put(v);
  }
  void flag(const char*, bool v) {
    out.put(static_cast<uint8_t>(v ? 1 : 0));
  }
  void u32(const char*, uint32_t v) {
    out.put(v);
  }
  void strs(const char*, const std::vector<std::string>& v) {
    out.put(static_cast<uint32_t>(v.size()));
    for (auto& s : v)
      out.put_bytes(s);
  }
  void bytes_list(const char* n, const std::vector<std::string>& v) {
    strs(n, v);
  }
  void scored(const char*, const std::vector<scored_member>& v) {
    out.put(static_cast<uint32_t>(v.size()));
    for (auto& m : v) {
      out.put(m.score);
      out.put_bytes(m.member);
    }
  }
  void pairs(const char*, const std::vector<field_value>& v) {
    out.put(static_cast<uint32_t>(v.size()));
    for (auto& p : v) {
      out.put_bytes(p.field);
      out.put_bytes(p.value);
    }
  }
  void floats(const char*, const std::vector<float>& v) {
    out.put(static_cast<uint32_t>(v.size()));
    for (auto x : v)
      out.put(x);
  }
};

// Counts what an unchecked_writer would store.
struct byte_counter {
  size_t n = 0;
  template <class T>
  void put(T) noexcept {
    n += sizeof(T);
  }
  void put_bytes(std::string_view v) noexcept {
    n += sizeof(uint32_t) + v.size();
  }
};

// Tag + payload of `x`: what encode_payload appends.
template <class R>
size_t payload_size(const R& x) {
  byte_counter c;
  encoder<byte_counter> e{c};
  R::describe(e, x);
  return 1 + c.n;
}

// Stores tag + payload at `p`, which has room for encoded_payload_size().
template <class R>
void store_payload(char* p, const R& x) {
  unchecked_writer w{p};
  w.put(R::tag);
  encoder<unchecked_writer> e{w};
  R::describe(e, x);
}

// Stores tag + payload (`size` bytes, from payload_size) and, for a v2
// record, its CRC at `p`, which has room for them.
template <class R>
void store_encoded(char* p, const R& x, size_t size, bool with_crc) {
  store_payload(p, x);
  if (with_crc)
    unchecked_writer{p + size}.put(crc32(p, size));
}

// Appends what store_encoded stores, growing `out` once. (The zero fill of
// resize is cheaper than the per-field appends it replaces.)
template <class R>
void append_encoded(std::string& out, const R& x, size_t size, bool with_crc) {
  auto start = out.size();
  out.resize(start + size + (with_crc ? sizeof(uint32_t) : 0));
  store_encoded(out.data() + start, x, size, with_crc);
}

// -- decoding -----------------------------------------------------------------

// Reads fields in order; after the first failure every call is a no-op and
// `in` holds the reason.
struct decoder {
  byte_reader& in;
  void str(const char* n, std::string& s) {
    in.str(s, n);
  }
  void bytes(const char* n, std::string& s) {
    in.bytes(s, n);
  }
  void i64(const char*, int64_t& v) {
    in.i64(v);
  }
  void duration(const char* n, int64_t& v) {
    in.non_negative(v, n);
  }
  void u8(const char*, uint8_t& v) {
    in.u8(v);
  }
  void bitop(const char*, uint8_t& v) {
    if (in.u8(v) && v > 3)
      in.invalid("BITOP op " + std::to_string(v)
                 + " is not one of 0 (AND), 1 (OR), 2 (XOR), 3 (NOT)");
  }
  void flag(const char*, bool& v) {
    uint8_t b;
    if (in.u8(b))
      v = b != 0;
  }
  void u32(const char*, uint32_t& v) {
    in.u32(v);
  }
  template <class Read>
  void list(const char* n, uint32_t& count, Read read_one) {
    if (!in.count(count, n))
      return;
    for (uint32_t i = 0; i < count && !in.failed(); ++i)
      read_one();
  }
  void strs(const char* n, std::vector<std::string>& v) {
    v.clear();
    uint32_t count = 0;
    list(n, count, [&] {
      if (v.empty())
        v.reserve(byte_reader::reserve_hint(count));
      in.str(v.emplace_back(), n);
    });
  }
  void bytes_list(const char* n, std::vector<std::string>& v) {
    v.clear();
    uint32_t count = 0;
    list(n, count, [&] {
      if (v.empty())
        v.reserve(byte_reader::reserve_hint(count));
      in.bytes(v.emplace_back(), n);
    });
  }
  void scored(const char* n, std::vector<scored_member>& v) {
    v.clear();
    uint32_t count = 0;
    list(n, count, [&] {
      if (v.empty())
        v.reserve(byte_reader::reserve_hint(count));
      auto& m = v.emplace_back();
      if (in.f64(m.score))
        in.str(m.member, "member");
    });
  }
  void pairs(const char* n, std::vector<field_value>& v) {
    v.clear();
    uint32_t count = 0;
    list(n, count, [&] {
      if (v.empty())
        v.reserve(byte_reader::reserve_hint(count));
      auto& p = v.emplace_back();
      if (in.str(p.field, "field"))
        in.bytes(p.value, "value");
    });
  }
  void floats(const char*, std::vector<float>& v) {
    v.clear();
    uint32_t dim = 0;
    if (!in.u32(dim))
      return;
    if (dim > max_vector_dims) {
      in.invalid("vector dimension " + std::to_string(dim)
                 + " exceeds the limit of 65536");
      return;
    }
    v.reserve(std::min<size_t>(dim, in.remaining() / sizeof(float)));
    for (uint32_t i = 0; i < dim && !in.failed(); ++i) {
      float x;
      if (in.f32(x))
        v.push_back(x);
    }
  }
};

// -- validation ---------------------------------------------------------------

// Walks a record's fields (R::describe) and keeps the first problem.
struct validator {
  bool allow_negative_durations = false;
  field_problem problem;

  void fail(field_problem::kind_t kind, const char* n, const char* what) {
    if (!problem)
      problem = {kind, std::string{n} + " " + what};
  }
  void check_len(const char* n, size_t len) {
    if (len > max_bytes_len)
      fail(field_problem::too_large, n, "is longer than the 512 MiB limit");
  }
  void str(const char* n, const std::string& s) {
    check_len(n, s.size());
    if (!valid_utf8(s))
      fail(field_problem::invalid_utf8, n, "is not valid UTF-8");
  }
  void bytes(const char* n, const std::string& s) {
    check_len(n, s.size());
  }
  void i64(const char*, int64_t) {
  }
  void duration(const char* n, int64_t v) {
    if (v < 0 && !allow_negative_durations)
      fail(field_problem::bad_value, n, "must not be negative");
  }
  void u8(const char*, uint8_t) {
  }
  void bitop(const char* n, uint8_t v) {
    if (v > 3)
      fail(field_problem::bad_value, n,
           "must be 0 (AND), 1 (OR), 2 (XOR) or 3 (NOT)");
  }
  void flag(const char*, bool) {
  }
  void u32(const char*, uint32_t) {
  }
  void count(const char* n, size_t c) {
    if (c > max_collection_count)
      fail(field_problem::too_large, n, "has more than 100000000 elements");
  }
  void strs(const char* n, const std::vector<std::string>& v) {
    count(n, v.size());
    for (auto& s : v)
      str(n, s);
  }
  void bytes_list(const char* n, const std::vector<std::string>& v) {
    count(n, v.size());
    for (auto& s : v)
      bytes(n, s);
  }
  void scored(const char* n, const std::vector<scored_member>& v) {
    count(n, v.size());
    for (auto& m : v)
      str(n, m.member);
  }
  void pairs(const char* n, const std::vector<field_value>& v) {
    count(n, v.size());
    for (auto& p : v) {
      str(n, p.field);
      bytes(n, p.value);
    }
  }
  void floats(const char* n, const std::vector<float>& v) {
    if (v.size() > max_vector_dims)
      fail(field_problem::too_large, n, "has more than 65536 dimensions");
  }
};

// Walks a record's fields once for two visitors (validation and sizing: the
// writer needs both for every record, and the second walk cost as much as
// the first).
template <class A, class B>
struct both {
  A& a;
  B& b;
#define EMBER_BOTH(kind)                                                     \
  template <class T>                                                          \
  void kind(const char* n, const T& v) {                                      \
    a.kind(n, v), b.kind(n, v);                                               \
  }
  EMBER_BOTH(str) EMBER_BOTH(bytes) EMBER_BOTH(i64) EMBER_BOTH(duration)
  EMBER_BOTH(u8) EMBER_BOTH(bitop) EMBER_BOTH(flag) EMBER_BOTH(u32)
  EMBER_BOTH(strs) EMBER_BOTH(bytes_list) EMBER_BOTH(scored)
  EMBER_BOTH(pairs) EMBER_BOTH(floats)
#undef EMBER_BOTH
};

// -- per-tag dispatch ---------------------------------------------------------

template <size_t I>
bool decode_alternative(byte_reader& in, aof_record& out) {
  if (out.index() != I)
    out.emplace<I>();
  decoder d{in};
  using R = std::variant_alternative_t<I, aof_record>;
  R::describe(d, std::get<I>(out));
  return !in.failed();
}

using decode_fn = bool (*)(byte_reader&, aof_record&);

template <size_t... Is>
constexpr std::array<decode_fn, sizeof...(Is)>
make_decoders(std::index_sequence<Is...>) {
  return {&decode_alternative<Is>...};
}

constexpr auto decoders
  = make_decoders(std::make_index_sequence<std::variant_size_v<aof_record>>{});

template <size_t... Is>
constexpr std::array<const char*, sizeof...(Is)>
make_names(std::index_sequence<Is...>) {
  return {std::variant_alternative_t<Is, aof_record>::op_text.data()...};
}

constexpr auto names
  = make_names(std::make_index_sequence<std::variant_size_v<aof_record>>{});

static_assert(std::variant_size_v<aof_record> == max_tag);

// validate()'s text for a problem in a record's fields; "" for none.
std::string invalid_record(uint8_t tag, const field_problem& problem) {
  if (!problem)
    return {};
  return std::string{names[tag - 1]} + ": " + problem.text;
}

std::string unsupported_kind(uint8_t tag) {
  return unsupported_by_build(std::string{names[tag - 1]} + " record (tag "
                                + std::to_string(tag) + ")",
                              tag <= rec::proto_register::tag);
}

} // namespace

const char* op_name(uint8_t tag) noexcept {
  if (tag == 0 || tag > max_tag)
    return nullptr;
  return names[tag - 1];
}

bool tag_supported(uint8_t tag) noexcept {
  if (tag == 0 || tag > max_tag)
    return false;
  if (tag == rec::proto_set::tag || tag == rec::proto_register::tag)
    return with_proto;
  if (tag == rec::vadd::tag || tag == rec::vrem::tag)
    return with_vector;
  return true;
}

std::string_view primary_key(const aof_record& r) noexcept {
  return std::visit(
    [](const auto& x) -> std::string_view {
      using R = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<R, rec::copy>)
        return x.destination;
      else if constexpr (std::is_same_v<R, rec::bitop>)
        return x.dest;
      else if constexpr (std::is_same_v<R, rec::proto_register>)
        return {};
      else
        return x.key;
    },
    r);
}

size_t encoded_payload_size(const aof_record& r) noexcept {
  return std::visit([](const auto& x) { return payload_size(x); }, r);
}

void encode_payload(std::string& out, const aof_record& r) {
  std::visit([&](const auto& x) { append_encoded(out, x, payload_size(x), false); },
             r);
}

void encode_record(std::string& out, const aof_record& r) {
  std::visit([&](const auto& x) { append_encoded(out, x, payload_size(x), true); },
             r);
}

std::string validate(const aof_record& r) {
  auto tag = tag_of(r);
  if (!tag_supported(tag))
    return unsupported_kind(tag);
  return invalid_record(tag, check_fields(r, false));
}

namespace {

// validate(r), then `store(x, payload size)` when valid: one dispatch on the
// kind, and one walk over the fields for validation and sizing.
template <class Store>
std::string if_valid(const aof_record& r, Store&& store) {
  auto tag = tag_of(r);
  if (!tag_supported(tag))
    return unsupported_kind(tag);
  return std::visit(
    [&](const auto& x) {
      validator v{false, {}};
      byte_counter c;
      encoder<byte_counter> e{c};
      both<validator, encoder<byte_counter>> walk{v, e};
      x.describe(walk, x);
      if (v.problem)
        return invalid_record(tag, v.problem);
      store(x, 1 + c.n);
      return std::string{};
    },
    r);
}

} // namespace

std::string append_valid(std::string& out, const aof_record& r, bool with_crc) {
  return if_valid(r, [&](const auto& x, size_t size) {
    append_encoded(out, x, size, with_crc);
  });
}

std::string append_valid_at(std::string& buf, size_t& used,
                            const aof_record& r, bool with_crc) {
  return if_valid(r, [&](const auto& x, size_t size) {
    auto need = size + (with_crc ? sizeof(uint32_t) : 0);
    if (buf.size() - used < need) // geometric, so each byte is zeroed once
      buf.resize(std::max(2 * buf.size(), used + need));
    store_encoded(buf.data() + used, x, size, with_crc);
    used += need;
  });
}

field_problem check_fields(const aof_record& r, bool allow_negative_durations) {
  validator v{allow_negative_durations, {}};
  std::visit([&](const auto& x) { x.describe(v, x); }, r);
  return std::move(v.problem);
}

bool decode_payload(byte_reader& in, aof_record& out, bool& unknown_tag) {
  unknown_tag = false;
  uint8_t tag;
  if (!in.u8(tag))
    return false;
  if (!tag_supported(tag)) {
    unknown_tag = true;
    return in.invalid(op_name(tag) ? unsupported_kind(tag)
                                   : "unknown record tag: "
                                       + std::to_string(tag));
  }
  return decoders[tag - 1](in, out);
}

} // namespace ember::codec
