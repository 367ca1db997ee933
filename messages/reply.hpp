// reply.hpp: what a shard answers, shaped like RESP2 so the front door can
// print it as is: nil, a status ("OK"), an integer, a bulk string, or an
// array of replies. Errors are not replies: they travel as caf::error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

namespace ember::messages {

struct reply {
  enum kind_t : uint8_t { nil, status, integer, bulk, array };

  kind_t kind = nil;
  int64_t number = 0;          ///< integer
  std::string text;            ///< status or bulk
  std::vector<reply> elements; ///< array

  static reply none() {
    return {};
  }
  static reply ok() {
    return make_status("OK");
  }
  static reply make_status(std::string s) {
    reply r;
    r.kind = status;
    r.text = std::move(s);
    return r;
  }
  static reply of(int64_t n) {
    reply r;
    r.kind = integer;
    r.number = n;
    return r;
  }
  static reply of(std::string s) {
    reply r;
    r.kind = bulk;
    r.text = std::move(s);
    return r;
  }
  static reply of(std::vector<reply> xs) {
    reply r;
    r.kind = array;
    r.elements = std::move(xs);
    return r;
  }

  friend bool operator==(const reply& a, const reply& b) {
    return a.kind == b.kind && a.number == b.number && a.text == b.text
           && a.elements == b.elements;
  }
  friend bool operator!=(const reply& a, const reply& b) {
    return !(a == b);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reply& x) {
  return f(caf::meta::type_name("reply"), x.kind, x.number, x.text,
           x.elements);
}

} // namespace ember::messages
