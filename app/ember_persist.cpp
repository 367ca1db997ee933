// ember-persist: operator tool for ember persistence files (dump, check,
// recover, repair, keygen, encrypt, stats). All logic lives in the
// ember_listing library so the tests exercise the same code.
#include <iostream>

#include "app/listing.hpp"

int main(int argc, char** argv) {
  return ember::app::run_tool(argc, argv, std::cout, std::cerr);
}
