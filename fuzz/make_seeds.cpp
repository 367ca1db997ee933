// make_seeds: writes the generated part of the fuzz seed corpora (the
// golden files are the other part; scripts/fuzz.sh copies those):
//   OUT/record_decode/  random records of every kind, as tag + payload
//   OUT/aof_reader/     AOFs of random records, plaintext and encrypted
// Seeds are build output, never committed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "codec/aof_writer.hpp"
#include "fuzz/fuzz_key.hpp"
#include "tests/random_records.hpp"

using namespace ember;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "make_seeds: %s\n", what.c_str());
  std::exit(1);
}

void write_aof(const std::string& path, const codec::encryption_key* key,
               test::record_randomizer& gen, int records) {
  codec::aof_writer_options opts;
  opts.key = key;
  auto w = codec::aof_writer::open(codec::posix_file_system(), path, opts);
  if (!w)
    die(w.err().message);
  for (int i = 0; i < records; ++i)
    if (auto st = w->add(gen.next()); !st)
      die(st.err().message);
  if (auto st = w->flush(); !st)
    die(st.err().message);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2)
    die("usage: make_seeds OUTDIR");
  std::string out = argv[1];
  std::filesystem::create_directories(out + "/record_decode");
  std::filesystem::create_directories(out + "/aof_reader");
  test::record_randomizer gen{20261125};
  for (int i = 0; i < 300; ++i) {
    std::string payload;
    codec::encode_payload(payload, gen.next());
    std::ofstream(out + "/record_decode/gen-" + std::to_string(i),
                  std::ios::binary)
      << payload;
  }
  for (int i = 0; i < 20; ++i) {
    auto n = std::to_string(i);
    write_aof(out + "/aof_reader/gen-plain-" + n + ".aof", nullptr, gen,
              1 + i % 7);
    write_aof(out + "/aof_reader/gen-v3-" + n + ".aof", &fuzz::test_key(),
              gen, 1 + i % 7);
  }
  // Client bytes: single commands, pipelines, inline commands, and a
  // command cut short; the first byte picks where the target splits.
  std::filesystem::create_directories(out + "/resp_parser");
  const char* requests[] = {
    "\x05*1\r\n$4\r\nPING\r\n",
    ("\x10*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"
     "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), // a pipeline of two
    "\x03SET k \"quoted value\" EX 10\r\nPING\r\n",
    "\x07*2\r\n$4\r\nECHO\r\n$10\r\nhalf",
    "\x01*0\r\n*-1\r\n\r\n*1\r\n$-1\r\n",
  };
  int n = 0;
  for (auto* r : requests)
    std::ofstream(out + "/resp_parser/seed-" + std::to_string(n++),
                  std::ios::binary)
      << r;
  return 0;
}
