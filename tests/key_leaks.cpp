// Key material never appears in what the product prints (issue 5,
// security): for a known key, every subcommand of the operator tool is run
// with the right key, a wrong key and malformed key files of both forms,
// and none of the texts it prints, nor the codec's key parsing errors,
// contains the key's raw bytes, its hex (either case) or its base64, in
// whole or as any 8-byte piece.
#define CAF_SUITE key_leaks
#include "caf/test/unit_test_impl.hpp"

#include <cctype>
#include <sys/stat.h>

#include <cryptopp/base64.h>
#include <cryptopp/filters.h>

#include "app/listing.hpp"
#include "codec/encryption_key.hpp"
#include "tests/test_support.hpp"
#include "tests/tool_runner.hpp"

using namespace ember;
using test::cli;
using test::golden;

namespace {

/// A fixed key, so a failure names bytes that can be searched for.
std::string known_raw_key() {
  std::string raw;
  for (int i = 0; i < 32; ++i)
    raw.push_back(static_cast<char>((i * 73 + 41) & 0xFF));
  return raw;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string base64(const std::string& raw, bool padded) {
  std::string out;
  CryptoPP::StringSource src(raw, true,
                             new CryptoPP::Base64Encoder(
                               new CryptoPP::StringSink(out), false));
  if (!padded)
    while (!out.empty() && out.back() == '=')
      out.pop_back();
  return out;
}

/// Every way the key could leak: whole forms, and each 8-byte piece of
/// the raw key (and its 16 hex digits, in both cases).
std::vector<std::string> leak_patterns(const std::string& raw) {
  auto hex = test::to_hex(raw);
  std::vector<std::string> forms{raw,          hex,
                                 upper(hex),   base64(raw, true),
                                 base64(raw, false)};
  for (size_t i = 0; i + 8 <= raw.size(); ++i) {
    forms.push_back(raw.substr(i, 8));
    forms.push_back(hex.substr(2 * i, 16));
    forms.push_back(upper(hex.substr(2 * i, 16)));
  }
  return forms;
}

/// Collects every text the tool printed and checks it for the key.
class leak_check {
public:
  explicit leak_check(const std::string& raw) : patterns_(leak_patterns(raw)) {
  }

  /// Checks for this key as well from now on.
  void add_key(const std::string& raw) {
    for (auto& p : leak_patterns(raw))
      patterns_.push_back(p);
  }

  void text(const std::string& what, const std::string& s) {
    ++texts_;
    for (auto& p : patterns_)
      if (s.find(p) != std::string::npos) {
        CAF_ERROR(what << " prints key material (" << test::to_hex(p)
                       << "): " << s);
        return;
      }
  }

  /// Runs the tool and checks both of its texts.
  void run(std::vector<std::string> args) {
    auto r = cli(args);
    std::string what;
    for (auto& a : args)
      what += a + " ";
    CAF_CHECK(!(r.out + r.err).empty());
    text(what, r.out);
    text(what, r.err);
  }

  size_t texts() const noexcept {
    return texts_;
  }

private:
  std::vector<std::string> patterns_;
  size_t texts_ = 0;
};

/// Every subcommand that reads with a key, on an encrypted data dir.
void run_all(leak_check& leaks, const std::string& dir, const std::string& key) {
  for (auto name : {"shard-3.snap", "shard-3.aof"}) {
    auto path = dir + "/" + name;
    leaks.run({"dump", path, "--key", key});
    leaks.run({"check", path, "--key", key});
  }
  leaks.run({"stats", dir, "--key", key});
  leaks.run({"stats", dir, "--key", key, "--json"});
  leaks.run({"recover", dir, "--shard", "3", "--key", key});
  leaks.run({"encrypt", dir, "--key", key});
  leaks.run({"repair", dir + "/shard-3.aof", "--key", key});
}

} // namespace

CAF_TEST(no subcommand prints the key) {
  auto raw = known_raw_key();
  auto hex = test::to_hex(raw);
  leak_check leaks{raw};
  test::temp_dir keys;
  auto hex_file = keys.file("hex.key");
  auto raw_file = keys.file("raw.key");
  test::spit(hex_file, hex + "\n");
  test::spit(raw_file, raw);
  test::temp_dir data;
  for (auto name : {"shard-3.snap", "shard-3.aof"})
    test::spit(data.file(name), test::slurp(golden(name)));
  // Encrypting, then every reader with the right key in both forms.
  leaks.run({"encrypt", data.path(), "--key", hex_file});
  for (auto name : {"shard-3.snap", "shard-3.aof"}) {
    CAF_REQUIRE_EQUAL(static_cast<int>(test::slurp(data.file(name)).at(4)),
                      3);
    CAF_REQUIRE_EQUAL(
      cli({"check", data.file(name), "--key", raw_file}).rc, app::exit_ok);
  }
  run_all(leaks, data.path(), hex_file);
  run_all(leaks, data.path(), raw_file);
  // A wrong key: every read fails, and says so without either key.
  auto wrong = keys.file("wrong.key");
  CAF_REQUIRE_EQUAL(cli({"keygen", wrong}).rc, app::exit_ok);
  leaks.add_key(test::from_hex(test::slurp(wrong).substr(0, 64)));
  run_all(leaks, data.path(), wrong);
  // Malformed key files of both forms, holding most of the key.
  std::vector<std::pair<const char*, std::string>> malformed{
    {"hex + junk", hex + "zz\n"},
    {"hex + text", hex + "\nsecond line"},
    {"upper hex + junk", upper(hex) + "!"},
    {"63 hex digits", hex.substr(0, 63)},
    {"hex with a non-hex digit", hex.substr(0, 10) + "g" + hex.substr(11)},
    {"hex twice", hex + hex},
    {"31 raw bytes", raw.substr(0, 31)},
    {"33 raw bytes", raw + "x"},
    {"raw + newline + raw", raw + "\n" + raw},
  };
  for (auto& [what, content] : malformed) {
    CAF_MESSAGE(what);
    auto path = keys.file("bad.key");
    test::spit(path, content);
    run_all(leaks, data.path(), path);
    auto parsed = codec::encryption_key::parse(content, "bad.key");
    CAF_REQUIRE(!parsed);
    leaks.text(std::string{"parse error for "} + what, parsed.err().message);
  }
  // The permission warning (a world-readable key file still loads).
  ::chmod(hex_file.c_str(), 0644);
  run_all(leaks, data.path(), hex_file);
  ::chmod(hex_file.c_str(), 0600);
  CAF_MESSAGE(leaks.texts() << " texts checked");
  CAF_CHECK(leaks.texts() >= 240); // 13 key files x 9 runs x 2 texts, + more
}
