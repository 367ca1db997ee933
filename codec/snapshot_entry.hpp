// snapshot_entry.hpp: one snapshot entry as it is on disk.
//
// v2 entry: [key str][type u8][value][expire_ms i64]
//
//   type 0 string      bytes
//   type 1 list        count u32, count x bytes (head first)
//   type 2 sorted set  count u32, count x (score f64, member str)
//   type 3 hash        count u32, count x (field str, value bytes)
//   type 4 set         count u32, count x member str
//   type 5 proto       type_name str, data bytes                (optional)
//   type 6 vector      metric u8 (<=2), quantization u8 (<=2),
//                      connectivity u32, expansion_add u32, dim u32,
//                      count u32, count x (name str, dim x f32) (optional)
//
// v1 entry (legacy, read only): [key str][value bytes][expire_ms i64].
// expire_ms: -1 (any negative) = no expiry, else remaining ms (0 = expired).
//
// Element order is the on-disk order (the operator tool lists it as is).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "codec/aof_record.hpp"
#include "codec/byte_reader.hpp"

namespace ember::codec {

namespace snap {

struct list {
  std::vector<std::string> elements;
};
struct sorted_set {
  std::vector<scored_member> members;
};
struct hash {
  std::vector<field_value> fields;
};
struct set {
  std::vector<std::string> members;
};
struct proto {
  std::string type_name;
  std::string data;
};
struct vector_element {
  std::string name;
  std::vector<float> vector;
};
struct vector_set {
  uint8_t metric = 0;
  uint8_t quantization = 0;
  uint32_t connectivity = 0;
  uint32_t expansion_add = 0;
  uint32_t dim = 0;
  std::vector<vector_element> elements;
};

} // namespace snap

/// Alternative index == on-disk type byte.
using snapshot_value = std::variant<std::string, snap::list, snap::sorted_set,
                                    snap::hash, snap::set, snap::proto,
                                    snap::vector_set>;

/// "string", "list", "sorted_set", "hash", "set", "proto", "vector".
const char* type_name(uint8_t type) noexcept;

struct snapshot_entry {
  std::string key;
  snapshot_value value;
  int64_t expire_ms = -1;
};

/// Appends a v2 entry (the plaintext of a v3 entry).
void encode_entry(std::string& out, const snapshot_entry& e);

/// Checks what a reader would reject (invalid UTF-8 in key, members, fields
/// or names; fields above 512 MiB; counts above the limits; vector limits,
/// metric/quantization above 2, element sizes != dim; types this build does
/// not support), so a writer never produces an unreadable entry. Returns ""
/// when valid, else one line naming the offending field.
std::string validate(const snapshot_entry& e);

/// Decodes one entry of `version` 1 or 2 from `in`; false on failure with
/// `in` saying why (eof or invalid). An unknown or unsupported type byte is
/// invalid data naming the type.
bool decode_entry(byte_reader& in, uint8_t version, snapshot_entry& out);

} // namespace ember::codec
