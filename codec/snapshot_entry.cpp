#include "codec/snapshot_entry.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "codec/byte_writer.hpp"
#include "codec/format.hpp"
#include "codec/utf8.hpp"

namespace ember::codec {

namespace {

// -- value layouts ------------------------------------------------------------
//
// One `describe` per value type names its fields in on-disk order; the
// encoder, decoder and validator below interpret it (the pattern of
// aof_record.hpp), so each layout is written down exactly once:
//
//     f.bytes(name, s)            bytes
//     f.str(name, s)              str
//     f.bytes_list(name, v)       count u32 + count x bytes
//     f.strs(name, v)             count u32 + count x str
//     f.scored(name, v)           count u32 + count x (score f64, member str)
//     f.pairs(name, v)            count u32 + count x (field str, value bytes)
//     f.small(name, v, max)       u8 that must be <= max
//     f.u32(name, v)              u32
//     f.vectors(name, dim, v)     dim u32, count u32,
//                                 count x (name str, dim x f32)

template <class T>
struct layout;

template <>
struct layout<std::string> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.bytes("value", x);
  }
};

template <>
struct layout<snap::list> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.bytes_list("element", x.elements);
  }
};

template <>
struct layout<snap::sorted_set> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.scored("member", x.members);
  }
};

template <>
struct layout<snap::hash> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.pairs("field", x.fields);
  }
};

template <>
struct layout<snap::set> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.strs("member", x.members);
  }
};

template <>
struct layout<snap::proto> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.str("type_name", x.type_name), f.bytes("data", x.data);
  }
};

template <>
struct layout<snap::vector_set> {
  template <class F, class S>
  static void describe(F& f, S& x) {
    f.small("metric", x.metric, 2), f.small("quantization", x.quantization, 2);
    f.u32("connectivity", x.connectivity);
    f.u32("expansion_add", x.expansion_add);
    f.vectors("vector element", x.dim, x.elements);
  }
};

// Runs `f` over the layout of whatever `v` holds.
template <class F, class V>
void describe_value(F& f, V& v) {
  std::visit(
    [&f](auto& x) { layout<std::decay_t<decltype(x)>>::describe(f, x); }, v);
}

constexpr uint8_t proto_type = 5;
constexpr uint8_t vector_type = 6;
constexpr uint8_t type_count = std::variant_size_v<snapshot_value>;

// "" when this build reads and writes `type`, else why not.
std::string unsupported(size_t type) {
  if (type >= type_count)
    return "unknown value type " + std::to_string(type)
           + " (known types are 0..6)";
  if ((type == proto_type && !with_proto)
      || (type == vector_type && !with_vector))
    return unsupported_by_build(
      "value type " + std::to_string(type) + " ("
        + type_name(static_cast<uint8_t>(type)) + ")",
      type == proto_type);
  return {};
}

// "" when a vector set's shape is within the limits of FORMATS.md.
std::string vector_shape_problem(uint64_t dim, uint64_t count) {
  if (dim > max_vector_dims)
    return "vector dimension " + std::to_string(dim)
           + " exceeds the limit of 65536";
  if (count > max_vector_count)
    return "vector element count " + std::to_string(count)
           + " exceeds the limit of 10000000";
  if (dim * count > max_vector_total)
    return "vector set of " + std::to_string(count) + " x "
           + std::to_string(dim)
           + " floats exceeds the limit of 1000000000 floats";
  return {};
}

// -- encoding -----------------------------------------------------------------

// Callers validate first: lengths and counts fit their u32 fields.
struct encoder {
  std::string& out;
  void bytes(const char*, const std::string& s) {
    put_bytes(out, s);
  }
  void str(const char*, const std::string& s) {
    put_bytes(out, s);
  }
  void small(const char*, uint8_t v, uint8_t) {
    put_u8(out, v);
  }
  void u32(const char*, uint32_t v) {
    put_u32(out, v);
  }
  template <class T, class Put>
  void list(const std::vector<T>& v, Put put_one) {
    put_u32(out, static_cast<uint32_t>(v.size()));
    for (auto& x : v)
      put_one(x);
  }
  void bytes_list(const char*, const std::vector<std::string>& v) {
    list(v, [this](const std::string& s) { put_bytes(out, s); });
  }
  void strs(const char* n, const std::vector<std::string>& v) {
    bytes_list(n, v);
  }
  void scored(const char*, const std::vector<scored_member>& v) {
    list(v, [this](const scored_member& m) {
      put_f64(out, m.score);
      put_bytes(out, m.member);
    });
  }
  void pairs(const char*, const std::vector<field_value>& v) {
    list(v, [this](const field_value& p) {
      put_bytes(out, p.field);
      put_bytes(out, p.value);
    });
  }
  void vectors(const char*, uint32_t dim,
               const std::vector<snap::vector_element>& v) {
    put_u32(out, dim);
    list(v, [this](const snap::vector_element& e) {
      put_bytes(out, e.name);
      // Floats in one go: the host is little-endian (byte_writer.hpp
      // asserts it), so memory order is the on-disk order, bit-exact.
      out.append(reinterpret_cast<const char*>(e.vector.data()),
                 e.vector.size() * sizeof(float));
    });
  }
};

// -- decoding -----------------------------------------------------------------

// Reads fields in order; after the first failure every call is a no-op and
// `in` holds the reason.
struct decoder {
  byte_reader& in;
  void bytes(const char* n, std::string& s) {
    in.bytes(s, n);
  }
  void str(const char* n, std::string& s) {
    in.str(s, n);
  }
  void small(const char* n, uint8_t& v, uint8_t max) {
    if (in.u8(v) && v > max)
      in.invalid(std::string{n} + " " + std::to_string(v)
                 + " is above the maximum of " + std::to_string(max));
  }
  void u32(const char*, uint32_t& v) {
    in.u32(v);
  }
  // A count read off disk is not trusted: reserve at most reserve_hint(count)
  // and no more elements than the bytes left could hold.
  template <class T>
  void reserve_for(std::vector<T>& v, uint32_t count, size_t min_size) {
    v.reserve(std::min(byte_reader::reserve_hint(count),
                       in.remaining() / min_size));
  }
  // Reads a count, then `read_one(element)` per element (each element takes
  // at least a 4-byte length prefix).
  template <class T, class Read>
  void list(const char* n, std::vector<T>& v, Read read_one) {
    v.clear();
    uint32_t count = 0;
    if (!in.count(count, n))
      return;
    reserve_for(v, count, 4);
    for (uint32_t i = 0; i < count && !in.failed(); ++i)
      read_one(v.emplace_back());
  }
  void bytes_list(const char* n, std::vector<std::string>& v) {
    list(n, v, [this, n](std::string& s) { in.bytes(s, n); });
  }
  void strs(const char* n, std::vector<std::string>& v) {
    list(n, v, [this, n](std::string& s) { in.str(s, n); });
  }
  void scored(const char* n, std::vector<scored_member>& v) {
    list(n, v, [this, n](scored_member& m) {
      if (in.f64(m.score))
        in.str(m.member, n);
    });
  }
  void pairs(const char* n, std::vector<field_value>& v) {
    list(n, v, [this, n](field_value& p) {
      if (in.str(p.field, n))
        in.bytes(p.value, "hash value");
    });
  }
  void vectors(const char* n, uint32_t& dim,
               std::vector<snap::vector_element>& v) {
    v.clear();
    uint32_t count = 0;
    if (!in.u32(dim) || !in.u32(count))
      return;
    if (auto problem = vector_shape_problem(dim, count); !problem.empty()) {
      in.invalid(std::move(problem));
      return;
    }
    auto floats_size = size_t{dim} * sizeof(float);
    reserve_for(v, count, 4 + floats_size);
    for (uint32_t i = 0; i < count && !in.failed(); ++i) {
      auto& e = v.emplace_back();
      std::string_view raw;
      // Take the floats as a view first so a cut file allocates nothing.
      if (in.str(e.name, n) && in.raw(raw, floats_size)) {
        e.vector.resize(dim);
        if (dim != 0) // memcpy must not see the null data() of dim 0
          std::memcpy(e.vector.data(), raw.data(), raw.size());
      }
    }
  }
};

template <size_t I>
void decode_alternative(byte_reader& in, snapshot_value& out) {
  if (out.index() != I)
    out.emplace<I>();
  decoder d{in};
  layout<std::variant_alternative_t<I, snapshot_value>>::describe(
    d, std::get<I>(out));
}

using decode_fn = void (*)(byte_reader&, snapshot_value&);

template <size_t... Is>
constexpr std::array<decode_fn, sizeof...(Is)>
make_decoders(std::index_sequence<Is...>) {
  return {&decode_alternative<Is>...};
}

constexpr auto decoders = make_decoders(std::make_index_sequence<type_count>{});

// -- validation ---------------------------------------------------------------

// Collects the first problem; mirrors what the decoder rejects.
struct validator {
  std::string problem;
  void fail(std::string what) {
    if (problem.empty())
      problem = std::move(what);
  }
  void check_len(const char* n, size_t len) {
    if (len > max_bytes_len)
      fail(std::string{n} + " of " + std::to_string(len)
           + " bytes is longer than the 512 MiB limit");
  }
  void bytes(const char* n, const std::string& s) {
    check_len(n, s.size());
  }
  void str(const char* n, const std::string& s) {
    check_len(n, s.size());
    if (!valid_utf8(s))
      fail(std::string{n} + " is not valid UTF-8");
  }
  void small(const char* n, uint8_t v, uint8_t max) {
    if (v > max)
      fail(std::string{n} + " " + std::to_string(v)
           + " is above the maximum of " + std::to_string(max));
  }
  void u32(const char*, uint32_t) {
  }
  template <class T, class Check>
  void list(const char* n, const std::vector<T>& v, Check check_one) {
    if (v.size() > max_collection_count)
      fail(std::string{n} + " count " + std::to_string(v.size())
           + " exceeds the limit of 100000000");
    for (size_t i = 0; i < v.size() && problem.empty(); ++i)
      check_one(v[i]);
  }
  void bytes_list(const char* n, const std::vector<std::string>& v) {
    list(n, v, [this, n](const std::string& s) { bytes(n, s); });
  }
  void strs(const char* n, const std::vector<std::string>& v) {
    list(n, v, [this, n](const std::string& s) { str(n, s); });
  }
  void scored(const char* n, const std::vector<scored_member>& v) {
    list(n, v, [this, n](const scored_member& m) { str(n, m.member); });
  }
  void pairs(const char* n, const std::vector<field_value>& v) {
    list(n, v, [this, n](const field_value& p) {
      str(n, p.field);
      bytes("hash value", p.value);
    });
  }
  void vectors(const char* n, uint32_t dim,
               const std::vector<snap::vector_element>& v) {
    fail(vector_shape_problem(dim, v.size()));
    for (size_t i = 0; i < v.size() && problem.empty(); ++i) {
      str(n, v[i].name);
      if (v[i].vector.size() != dim)
        fail(std::string{n} + " " + std::to_string(i) + " has "
             + std::to_string(v[i].vector.size())
             + " floats but the vector set has dim "
             + std::to_string(dim));
    }
  }
};

} // namespace

const char* type_name(uint8_t type) noexcept {
  static constexpr const char* names[] = {"string", "list", "sorted_set",
                                          "hash",   "set",  "proto",
                                          "vector"};
  static_assert(std::size(names) == type_count);
  return type < type_count ? names[type] : "unknown";
}

void encode_entry(std::string& out, const snapshot_entry& e) {
  put_bytes(out, e.key);
  put_u8(out, static_cast<uint8_t>(e.value.index()));
  encoder enc{out};
  describe_value(enc, e.value);
  put_i64(out, e.expire_ms);
}

std::string validate(const snapshot_entry& e) {
  if (auto why = unsupported(e.value.index()); !why.empty())
    return why;
  validator v;
  v.str("key", e.key);
  describe_value(v, e.value);
  if (!v.problem.empty())
    return std::string{type_name(static_cast<uint8_t>(e.value.index()))}
           + " entry: " + v.problem;
  return {};
}

bool decode_entry(byte_reader& in, uint8_t version, snapshot_entry& out) {
  if (version != format_v1 && version != format_v2)
    return in.invalid("snapshot entries of format version "
                      + std::to_string(version) + " are not plaintext");
  if (!in.str(out.key, "key"))
    return false;
  // v1 entries are untyped strings: [key][value bytes][expire_ms].
  uint8_t type = 0;
  if (version == format_v2 && !in.u8(type))
    return false;
  if (auto why = unsupported(type); !why.empty())
    return in.invalid(std::move(why));
  decoders[type](in, out.value);
  return in.i64(out.expire_ms);
}

} // namespace ember::codec
