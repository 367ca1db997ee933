#include "tests/test_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ember::test {

namespace {

[[noreturn]] void die(const std::string& what) {
  std::cerr << "test support: " << what << std::endl;
  std::abort();
}

} // namespace

std::string golden_dir() {
  if (auto env = std::getenv("EMBER_GOLDEN_DIR"))
    return env;
  return EMBER_GOLDEN_DIR;
}

std::string golden(std::string_view name) {
  return golden_dir() + "/" + std::string{name};
}

nlohmann::json golden_json(std::string_view name) {
  return nlohmann::json::parse(slurp(golden(name)));
}

std::string private_key(std::string_view name) {
  static temp_dir dir;
  auto path = dir.file(name);
  if (!std::filesystem::exists(path))
    spit(path, slurp(golden(name)));
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    die("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, std::string_view content) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  if (!out)
    die("cannot write " + path);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out)
    die("cannot write " + path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read
                                       | std::filesystem::perms::owner_write);
}

std::string from_hex(std::string_view hex) {
  auto val = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(val(hex[i]) * 16 + val(hex[i + 1])));
  return out;
}

temp_dir::temp_dir() {
  auto base = std::filesystem::temp_directory_path() / "ember-test-XXXXXX";
  std::string tmpl = base.string();
  if (!::mkdtemp(tmpl.data()))
    die("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::file(std::string_view name) const {
  return path_ + "/" + std::string{name};
}

} // namespace ember::test
