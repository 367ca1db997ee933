// ember-persist: operator tool for ember persistence files (dump, recover,
// check). All logic lives in listing.cpp so the tests exercise the same code.
#include <iostream>

#include "app/listing.hpp"

int main(int argc, char** argv) {
  return ember::app::run_tool(argc, argv, std::cout, std::cerr);
}
