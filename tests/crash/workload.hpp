// workload.hpp: the writes of the process kill test and the state they
// leave, shared by the writer program (which sends them) and the driver
// (which checks what survived a SIGKILL).
//
// Producer p sends op n, n+1, ... strictly one at a time, each after the
// previous one's acknowledgement. So after a kill, the ops of p that may be
// applied are exactly its acknowledged ones plus at most the one in flight:
// the recovered keys of p must equal state(p, acked) or state(p, acked + 1).
// Anything else is a lost, repeated (INCR/LPUSH/APPEND applied twice),
// half-applied (a SET without the PEXPIREAT logged with it) or invented
// write.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codec/aof_record.hpp"

namespace ember::test::crash {

/// A key's state as one comparable line: "type ttl|nottl elements...".
using dump = std::map<std::string, std::string>;

/// Every key of producer `p` starts with this (and no other producer's).
inline std::string prefix(uint32_t p) {
  return "p" + std::to_string(p) + ".";
}

inline std::string render(const std::string& type, bool has_ttl,
                          const std::vector<std::string>& elements) {
  auto line = type + (has_ttl ? " ttl" : " nottl");
  for (auto& e : elements)
    line += " " + e;
  return line;
}

/// SETs carry a TTL so that each is logged as SET + PEXPIREAT, two records
/// in one batch that must survive together or not at all.
constexpr int64_t set_ttl_ms = 1'000'000'000;

/// Op `i` of producer `p`: a cycle of SET, INCR, LPUSH, APPEND, HSET and a
/// DEL of the key the cycle's SET created. Values are unique per op.
inline codec::aof_record op(uint32_t p, uint64_t i) {
  namespace rec = codec::rec;
  auto pre = prefix(p);
  auto n = std::to_string(i);
  switch (i % 6) {
    case 0:
      return rec::set{pre + "s" + n, "v" + n, set_ttl_ms};
    case 1:
      return rec::incr{pre + "c"};
    case 2:
      return rec::lpush{pre + "l", {"e" + n}};
    case 3:
      return rec::append{pre + "a", n + ","};
    case 4:
      return rec::hset{pre + "h", {codec::field_value{"f" + n, "v" + n}}};
    default:
      return rec::del{pre + "s" + std::to_string(i - 5)};
  }
}

/// The keys of producer `p` after its ops [0, n) were applied once each.
inline dump state(uint32_t p, uint64_t n) {
  auto pre = prefix(p);
  uint64_t incrs = 0;
  std::vector<std::string> list; // newest first (LPUSH)
  std::string appended;
  std::map<std::string, std::string> hash;
  for (uint64_t i = 0; i < n; ++i) {
    auto s = std::to_string(i);
    switch (i % 6) {
      case 1:
        ++incrs;
        break;
      case 2:
        list.insert(list.begin(), "e" + s);
        break;
      case 3:
        appended += s + ",";
        break;
      case 4:
        hash["f" + s] = "v" + s;
        break;
      default:
        break;
    }
  }
  dump out;
  // The SET of the last cycle survives until its DEL (5 ops later).
  if (n > 0) {
    auto last_set = (n - 1) / 6 * 6;
    if (last_set + 5 >= n)
      out[pre + "s" + std::to_string(last_set)]
        = render("string", true, {"v" + std::to_string(last_set)});
  }
  if (incrs > 0)
    out[pre + "c"] = render("string", false, {std::to_string(incrs)});
  if (!list.empty())
    out[pre + "l"] = render("list", false, list);
  if (!appended.empty())
    out[pre + "a"] = render("string", false, {appended});
  if (!hash.empty()) {
    std::vector<std::string> flat;
    for (auto& [f, v] : hash) {
      flat.push_back(f);
      flat.push_back(v);
    }
    out[pre + "h"] = render("hash", false, flat);
  }
  return out;
}

/// The keys of `all` that belong to producer `p`.
inline dump keys_of(const dump& all, uint32_t p) {
  auto pre = prefix(p);
  dump out;
  for (auto i = all.lower_bound(pre);
       i != all.end() && i->first.compare(0, pre.size(), pre) == 0; ++i)
    out.insert(*i);
  return out;
}

} // namespace ember::test::crash
