#include "tests/test_support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// -- keyspaces as text ------------------------------------------------------------

std::string score_hex(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(u));
  return buf;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return "[" + out + "]";
}

std::string describe(const codec::value& v) {
  using namespace codec;
  static const char* const type_names[] = {"string", "list", "sorted_set",
                                           "hash",   "set",  "proto",
                                           "vector"};
  std::vector<std::string> parts;
  if (auto s = get_if<std::string>(&v))
    return "string " + to_hex(*s);
  if (auto l = get_if<list_value>(&v)) {
    for (auto& x : *l)
      parts.push_back(to_hex(x));
  } else if (auto h = get_if<hash_value>(&v)) {
    for (auto& [f, x] : *h)
      parts.push_back(f + "=" + to_hex(x));
    std::sort(parts.begin(), parts.end());
  } else if (auto s = get_if<set_value>(&v)) {
    parts.assign(s->begin(), s->end());
    std::sort(parts.begin(), parts.end());
  } else if (auto z = get_if<sorted_set>(&v)) {
    for (auto& [score, member] : z->by_score())
      parts.push_back(member + ":" + score_hex(score));
    std::sort(parts.begin(), parts.end());
  } else if (auto p = get_if<proto_value>(&v)) {
    return "proto " + p->type_name + " " + to_hex(p->data);
  } else if (auto vs = get_if<vector_value>(&v)) {
    for (auto& el : vs->elements)
      parts.push_back(el.name + "/"
                      + to_hex(std::string_view{
                        reinterpret_cast<const char*>(el.vector.data()),
                        el.vector.size() * sizeof(float)}));
  }
  return std::string{type_names[v.index()]} + " " + join(parts);
}

std::string fingerprint(const codec::keyspace& ks) {
  std::string out;
  for (auto& key : ks.sorted_keys()) {
    auto e = ks.find(key);
    out += to_hex(key) + " @" + std::to_string(e->deadline_ms) + " "
           + describe(e->val) + "\n";
  }
  return out;
}

} // namespace ember::test
