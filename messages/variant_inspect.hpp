// variant_inspect.hpp: inspect() for the std::variant messages (CAF 0.17
// knows only its own caf::variant): the alternative's index, then the
// alternative itself.
#pragma once

#include <cstdint>
#include <utility>
#include <variant>

#include "caf/error.hpp"
#include "caf/meta/load_callback.hpp"
#include "caf/sec.hpp"

namespace ember::messages::detail {

/// Refers to a variant's current alternative during inspection.
template <class Variant>
struct alternative_ref {
  Variant* v;
};

template <class Inspector, class Variant>
typename Inspector::result_type inspect(Inspector& f,
                                        alternative_ref<Variant>& x) {
  return std::visit([&](auto& alt) { return f(alt); }, *x.v);
}

template <class Variant, size_t... Is>
bool emplace_index(Variant& v, size_t index, std::index_sequence<Is...>) {
  bool found = false;
  ((index == Is ? (v.template emplace<Is>(), found = true) : false), ...);
  return found;
}

/// Inspects `v` as (index, alternative) under `name`.
template <class Inspector, class Variant, class Name>
typename Inspector::result_type inspect_variant(Inspector& f, Name name,
                                                Variant& v) {
  auto index = static_cast<uint8_t>(v.index());
  auto load = caf::meta::load_callback([&]() -> caf::error {
    constexpr auto n = std::variant_size_v<Variant>;
    if (!emplace_index(v, index, std::make_index_sequence<n>{}))
      return caf::sec::invalid_argument;
    return caf::none;
  });
  alternative_ref<Variant> alt{&v};
  return f(name, index, load, alt);
}

} // namespace ember::messages::detail
