// key_dump.hpp: reads every key of a shard through its read path into the
// comparable form of workload.hpp. `ask(query)` sends one read_request to
// the shard and returns the reply (each caller has its own way to wait).
#pragma once

#include <string>
#include <vector>

#include "messages/query.hpp"
#include "messages/reply.hpp"
#include "tests/crash/workload.hpp"

namespace ember::test::crash {

template <class Ask>
void read_keys(Ask&& ask, dump& out) {
  namespace q = messages::q;
  auto text = [](const messages::reply& r) {
    return r.kind == messages::reply::integer ? std::to_string(r.number)
                                              : r.text;
  };
  for (auto& k : ask(q::keys{"*"}).elements) {
    auto& key = k.text;
    auto type = ask(q::type{key}).text;
    bool ttl = ask(q::ttl{key, true}).number >= 0;
    std::vector<std::string> elements;
    if (type == "string") {
      elements.push_back(ask(q::get{key}).text);
    } else {
      auto all = type == "list" ? ask(q::lrange{key, 0, -1})
                                : ask(q::hgetall{key});
      for (auto& e : all.elements)
        elements.push_back(text(e));
    }
    out[key] = render(type, ttl, elements);
  }
}

} // namespace ember::test::crash
