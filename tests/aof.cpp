// AOF reader and writer: golden files, round trips, torn tails, bit flips,
// encryption, append after a torn tail, and writer faults.
#define CAF_SUITE aof
#include "caf/test/unit_test_impl.hpp"

#include <atomic>
#include <filesystem>
#include <thread>

#include "codec/aof_reader.hpp"
#include "codec/aof_writer.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/format.hpp"
#include "tests/random_records.hpp"
#include "tests/test_support.hpp"

using namespace ember::codec;
using namespace ember::test;
using nlohmann::json;

namespace {

struct read_result {
  std::vector<aof_record> records;
  std::vector<record_info> infos;
  read_end end;
  uint8_t version = 0;
};

result<read_result> read_all(const std::string& path,
                             const encryption_key* key = nullptr) {
  auto reader = aof_reader::open(posix_file_system(), path, key);
  if (!reader)
    return std::move(reader).err();
  read_result out;
  out.version = reader->version();
  aof_record r;
  while (reader->next(r)) {
    out.records.push_back(r);
    out.infos.push_back(reader->info());
  }
  out.end = reader->end();
  return out;
}

encryption_key golden_key() {
  auto key = encryption_key::load(posix_file_system(), golden("key.hex"));
  if (!key)
    CAF_FAIL("cannot load golden key: " << key.err().message);
  return std::move(*key);
}

std::string write_records(const std::string& path,
                          const std::vector<aof_record>& records,
                          const encryption_key* key = nullptr) {
  aof_writer_options opts;
  opts.key = key;
  opts.truncate_existing = true;
  auto w = aof_writer::open(posix_file_system(), path, opts);
  if (!w)
    CAF_FAIL("open writer: " << w.err().message);
  for (auto& r : records)
    if (auto st = w->add(r); !st)
      CAF_FAIL("add: " << st.err().message);
  if (auto st = w->commit(); !st)
    CAF_FAIL("commit: " << st.err().message);
  return slurp(path);
}

std::vector<aof_record> sample_records() {
  return {rec::set{"a", "1", -1},     rec::rpush{"l", {"x", "y"}},
          rec::incr{"a"},             rec::hset{"h", {{"f", "v"}}},
          rec::zadd{"z", {{1.5, "m"}}}, rec::pexpireat{"a", 1700000000000},
          rec::del{"l"}};
}

// The golden end condition of a file, mapped to our read_end kinds.
struct expected_end {
  read_end::kind_t kind;
  uint64_t index = 0;
  std::string error_kind;
};

expected_end expected_end_of(const json& file) {
  auto& end = file["expected"]["end"];
  auto outcome = end["outcome"].get<std::string>();
  if (outcome == "clean_end") {
    bool truncated = file.contains("damage")
                     && file["damage"]["type"] == "truncate";
    return {truncated ? read_end::torn_tail : read_end::clean, 0, ""};
  }
  return {read_end::corrupt, end.value("error_at_record_index", uint64_t{0}),
          end["error_kind"].get<std::string>()};
}

} // namespace

// Group commit's one cross-thread call: the writer actor's syncer fsyncs
// the shared file while the writer keeps appending (aof_writer.hpp). Under
// TSan (scripts/sanitize.sh tsan) this proves the file layer allows it.
CAF_TEST(a file is fsynced on another thread while records are appended) {
  temp_dir dir;
  auto path = dir.file("concurrent.aof");
  aof_writer_options opts;
  opts.truncate_existing = true;
  auto w = aof_writer::open(posix_file_system(), path, opts);
  CAF_REQUIRE(w.ok());
  auto file = w->shared_file();
  std::atomic<bool> done{false};
  std::atomic<int> syncs{0};
  std::thread syncer([&] {
    while (!done.load()) {
      if (file->sync())
        ++syncs;
    }
  });
  // Keep appending until several fsyncs ran meanwhile: a fixed count of
  // records can finish before the other thread's first fsync on a busy
  // machine, and then nothing ran concurrently.
  size_t n = 0;
  while (n < 3000 || syncs.load() < 3) {
    CAF_REQUIRE(w->add(rec::set{"k" + std::to_string(n), "v", -1}).ok());
    if (++n % 10 == 0)
      CAF_REQUIRE(w->flush().ok());
  }
  CAF_REQUIRE(w->flush().ok());
  done = true;
  syncer.join();
  CAF_REQUIRE(w->commit().ok());
  auto got = read_all(path);
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got->records.size(), n);
  CAF_CHECK(got->end.kind == read_end::clean);
}

CAF_TEST(every golden AOF reads as its listing says) {
  auto manifest = golden_json("MANIFEST.json");
  auto key = golden_key();
  size_t files = 0;
  for (auto& file : manifest["files"]) {
    if (file["kind"] != "aof")
      continue;
    auto name = file["name"].get<std::string>();
    auto listing = golden_json(name + ".expected.json");
    bool features = name == "aof_feature_records.aof";
    auto res = read_all(golden(name), &key);
    auto exp = expected_end_of(file);
    CAF_MESSAGE(name);
    ++files;
    if (exp.error_kind == "InvalidMagic") {
      CAF_REQUIRE(!res);
      CAF_CHECK_EQUAL(res.err().code, errc::invalid_magic);
      continue;
    }
    CAF_REQUIRE(res);
    if (features && !(with_proto && with_vector)) {
      CAF_CHECK_EQUAL(res->end.kind, read_end::corrupt);
      CAF_CHECK_EQUAL(res->end.code, errc::unknown_tag);
      continue;
    }
    auto& records = listing["records"];
    CAF_REQUIRE_EQUAL(res->records.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      auto& e = records[i];
      auto& info = res->infos[i];
      CAF_CHECK_EQUAL(info.offset, e["file_offset"].get<uint64_t>());
      CAF_CHECK_EQUAL(info.size, e["byte_size"].get<uint64_t>());
      CAF_CHECK_EQUAL(std::string{op_name(tag_of(res->records[i]))},
                      e["op"].get<std::string>());
      if (e.contains("tag"))
        CAF_CHECK_EQUAL(tag_of(res->records[i]), e["tag"].get<int>());
      if (e.contains("crc32")) {
        char buf[9];
        std::snprintf(buf, sizeof(buf), "%08x", info.crc);
        CAF_CHECK_EQUAL(std::string{buf}, e["crc32"].get<std::string>());
      }
      if (e.contains("key"))
        CAF_CHECK_EQUAL(std::string{primary_key(res->records[i])},
                        e["key"].get<std::string>());
      if (e.contains("nonce_hex")) {
        CAF_CHECK_EQUAL(to_hex(info.nonce), e["nonce_hex"].get<std::string>());
        CAF_CHECK_EQUAL(info.ciphertext_len, e["ciphertext_len"].get<uint32_t>());
        CAF_CHECK_EQUAL(info.plaintext_size, e["plaintext_size"].get<uint32_t>());
      }
    }
    CAF_CHECK_EQUAL(res->end.kind, exp.kind);
    if (exp.kind == read_end::torn_tail) {
      // Torn: the status names where the last whole record ends.
      auto last_end = res->infos.empty()
                        ? uint64_t{header_size}
                        : res->infos.back().offset + res->infos.back().size;
      CAF_CHECK_EQUAL(res->end.offset, last_end);
      if (file["damage"].contains("truncated_record_offset"))
        CAF_CHECK_EQUAL(res->end.offset,
                        file["damage"]["truncated_record_offset"]
                          .get<uint64_t>());
    }
    if (exp.kind == read_end::corrupt) {
      CAF_CHECK_EQUAL(res->end.index, exp.index);
      CAF_CHECK_EQUAL(std::string{reference_kind(res->end.code)},
                      exp.error_kind);
      if (file["damage"].contains("file_offset")) {
        // The end offset is the start of the damaged record.
        auto bad = file["damage"]["file_offset"].get<uint64_t>();
        CAF_CHECK(res->end.offset <= bad);
        CAF_CHECK_EQUAL(res->end.offset, res->infos.empty()
                                           ? uint64_t{header_size}
                                           : res->infos.back().offset
                                               + res->infos.back().size);
      }
    }
  }
  CAF_CHECK_EQUAL(files, 15u);
}

CAF_TEST(re-encoding golden records reproduces the files byte for byte) {
  std::vector<std::string> names = {"aof_all_records.aof", "aof_header_only.aof",
                                    "shard-3.aof", "shard-5.aof",
                                    "shard-6.aof"};
  if (with_proto && with_vector)
    names.push_back("aof_feature_records.aof");
  temp_dir dir;
  for (auto& name : names) {
    auto res = read_all(golden(name));
    CAF_REQUIRE(res);
    CAF_REQUIRE_EQUAL(res->end.kind, read_end::clean);
    auto out = write_records(dir.file(name), res->records);
    CAF_CHECK(out == slurp(golden(name)));
  }
}

CAF_TEST(the encrypted golden AOF holds the plaintext golden records) {
  auto key = golden_key();
  auto plain = read_all(golden("aof_all_records.aof"));
  auto enc = read_all(golden("aof_encrypted_v3.aof"), &key);
  CAF_REQUIRE(plain && enc);
  CAF_CHECK_EQUAL(enc->version, 3);
  CAF_CHECK(plain->records == enc->records);
  // Sealing those plaintexts again with the listed nonces gives the file.
  auto listing = golden_json("aof_encrypted_v3.aof.expected.json");
  aes_gcm gcm{key};
  std::string rebuilt{aof_magic};
  rebuilt.push_back(3);
  for (size_t i = 0; i < enc->records.size(); ++i) {
    std::string pt;
    encode_payload(pt, enc->records[i]);
    gcm.seal_with_nonce(rebuilt,
                        from_hex(listing["records"][i]["nonce_hex"]
                                   .get<std::string>()),
                        pt);
  }
  CAF_CHECK(rebuilt == slurp(golden("aof_encrypted_v3.aof")));
}

CAF_TEST(thousands of random records round-trip plain and encrypted) {
  record_randomizer gen{20261125};
  std::vector<aof_record> records;
  for (int i = 0; i < 5000; ++i)
    records.push_back(gen.next());
  // Every supported kind at least once.
  for (uint8_t tag = 1; tag <= max_tag; ++tag)
    if (tag_supported(tag))
      records.push_back(gen.make(tag));
  const auto key = encryption_key::generate();
  temp_dir dir;
  for (auto* k : {static_cast<const encryption_key*>(nullptr), &key}) {
    auto path = dir.file(k ? "enc.aof" : "plain.aof");
    write_records(path, records, k);
    auto res = read_all(path, k);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(res->version, k ? 3 : 2);
    CAF_CHECK_EQUAL(res->end.kind, read_end::clean);
    CAF_REQUIRE_EQUAL(res->records.size(), records.size());
    CAF_CHECK(res->records == records);
  }
}

CAF_TEST(cutting an AOF at every offset yields a prefix and a torn tail) {
  temp_dir dir;
  const auto key = encryption_key::generate();
  for (auto* k : {static_cast<const encryption_key*>(nullptr), &key}) {
    auto records = sample_records();
    auto full = write_records(dir.file("full.aof"), records, k);
    auto whole = read_all(dir.file("full.aof"), k);
    CAF_REQUIRE(whole);
    std::vector<uint64_t> ends{header_size};
    for (auto& info : whole->infos)
      ends.push_back(info.offset + info.size);
    for (size_t cut = header_size; cut <= full.size(); ++cut) {
      auto path = dir.file("cut.aof");
      spit(path, full.substr(0, cut));
      auto res = read_all(path, k);
      CAF_REQUIRE(res);
      // Whole records before the cut come back.
      size_t whole_records = 0;
      while (whole_records + 1 < ends.size() && ends[whole_records + 1] <= cut)
        ++whole_records;
      CAF_REQUIRE_EQUAL(res->records.size(), whole_records);
      CAF_REQUIRE(whole_records <= records.size());
      CAF_CHECK(std::equal(res->records.begin(), res->records.end(),
                           records.begin()));
      if (cut == ends[whole_records]) {
        CAF_CHECK_EQUAL(res->end.kind, read_end::clean);
      } else {
        CAF_CHECK_EQUAL(res->end.kind, read_end::torn_tail);
        CAF_CHECK_EQUAL(res->end.offset, ends[whole_records]);
        CAF_CHECK_EQUAL(res->end.dropped_bytes, cut - ends[whole_records]);
      }
    }
    // Shorter than a header: an open error, never a crash.
    for (size_t cut = 0; cut < header_size; ++cut) {
      spit(dir.file("cut.aof"), full.substr(0, cut));
      auto res = read_all(dir.file("cut.aof"), k);
      CAF_CHECK(!res);
    }
  }
}

CAF_TEST(flipping any bit of an AOF is reported as damage) {
  temp_dir dir;
  const auto key = encryption_key::generate();
  for (auto* k : {static_cast<const encryption_key*>(nullptr), &key}) {
    auto full = write_records(dir.file("full.aof"), sample_records(), k);
    size_t detected = 0;
    for (size_t byte = 0; byte < full.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        auto damaged = full;
        damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
        spit(dir.file("flip.aof"), damaged);
        auto res = read_all(dir.file("flip.aof"), k);
        if (!res || res->end.kind != read_end::clean)
          ++detected;
        else
          CAF_FAIL("flip of bit " << bit << " at byte " << byte
                                  << " went unnoticed");
      }
    }
    CAF_CHECK_EQUAL(detected, full.size() * 8);
  }
}

CAF_TEST(a zero-filled tail left by a crash is a torn tail) {
  temp_dir dir;
  auto full = write_records(dir.file("z.aof"), sample_records());
  spit(dir.file("z.aof"), full + std::string(4096, '\0'));
  auto res = read_all(dir.file("z.aof"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->records.size(), sample_records().size());
  CAF_CHECK_EQUAL(res->end.kind, read_end::torn_tail);
  CAF_CHECK_EQUAL(res->end.offset, full.size());
  CAF_CHECK_EQUAL(res->end.dropped_bytes, 4096u);
}

CAF_TEST(an oversized length inside the file is corrupt without allocating) {
  temp_dir dir;
  std::string file{aof_magic};
  file.push_back(2);
  file.push_back(static_cast<char>(rec::set::tag));
  uint32_t huge = max_bytes_len + 1;
  file.append(reinterpret_cast<const char*>(&huge), 4);
  file.append(100, 'x');
  spit(dir.file("big.aof"), file);
  auto res = read_all(dir.file("big.aof"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->end.kind, read_end::corrupt);
  CAF_CHECK_EQUAL(res->end.code, errc::invalid_data);
  CAF_CHECK_EQUAL(res->end.index, 0u);
  CAF_CHECK_EQUAL(res->end.offset, header_size);
}

CAF_TEST(encryption errors) {
  auto key = golden_key();
  auto other = encryption_key::generate();
  // Wrong key: the first record fails authentication.
  auto wrong = read_all(golden("aof_encrypted_v3.aof"), &other);
  CAF_REQUIRE(wrong);
  CAF_CHECK_EQUAL(wrong->records.size(), 0u);
  CAF_CHECK_EQUAL(wrong->end.code, errc::decryption_failed);
  CAF_CHECK_EQUAL(wrong->end.reason,
                  "decryption failed (wrong key or tampered data)");
  // A v3 file without a key.
  auto nokey = read_all(golden("aof_encrypted_v3.aof"));
  CAF_REQUIRE(!nokey);
  CAF_CHECK_EQUAL(nokey.err().code, errc::encryption_required);
  CAF_CHECK(nokey.err().message.find(
              "file is encrypted but no encryption key was provided")
            != std::string::npos);
  // A v2 file read with a key is fine.
  auto v2 = read_all(golden("aof_all_records.aof"), &key);
  CAF_REQUIRE(v2);
  CAF_CHECK_EQUAL(v2->records.size(), 71u);
  CAF_CHECK_EQUAL(v2->end.kind, read_end::clean);
  // One tampered byte in each record of a small v3 file.
  temp_dir dir;
  write_records(dir.file("e.aof"), sample_records(), &key);
  auto good = read_all(dir.file("e.aof"), &key);
  CAF_REQUIRE(good);
  auto bytes = slurp(dir.file("e.aof"));
  for (size_t i = 0; i < good->infos.size(); ++i) {
    auto damaged = bytes;
    auto pos = good->infos[i].offset + nonce_size + 4 + 1;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x01);
    spit(dir.file("t.aof"), damaged);
    auto res = read_all(dir.file("t.aof"), &key);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(res->records.size(), i);
    CAF_CHECK_EQUAL(res->end.code, errc::decryption_failed);
    CAF_CHECK_EQUAL(res->end.index, i);
    CAF_CHECK_EQUAL(res->end.offset, good->infos[i].offset);
  }
}

CAF_TEST(key files) {
  auto hex = encryption_key::load(posix_file_system(), golden("key.hex"));
  auto bin = encryption_key::load(posix_file_system(), golden("key.bin"));
  CAF_REQUIRE(hex && bin);
  CAF_CHECK(hex->bytes() == bin->bytes());
  auto text = hex->to_key_file_text();
  CAF_CHECK(text == slurp(golden("key.hex")));
  auto reparsed = encryption_key::parse(text, "mem");
  CAF_REQUIRE(reparsed);
  CAF_CHECK(reparsed->bytes() == hex->bytes());
  auto raw = slurp(golden("key.bin"));
  auto hex_text = slurp(golden("key.hex")).substr(0, 64);
  // Accepted shapes.
  CAF_CHECK(encryption_key::parse(hex_text, "k"));
  CAF_CHECK(encryption_key::parse(hex_text + " \r\n\t", "k"));
  CAF_CHECK(encryption_key::parse(raw, "k"));
  // Rejected shapes, each with a message naming both accepted forms and
  // never the key bytes.
  std::vector<std::string> bad = {"",
                                  raw.substr(0, 31),
                                  raw + "x",
                                  hex_text.substr(0, 63),
                                  hex_text + "00",
                                  hex_text + " junk",
                                  std::string(64, 'g'),
                                  hex_text.substr(0, 62) + "\n\n"};
  for (auto& content : bad) {
    auto k = encryption_key::parse(content, "bad.key");
    CAF_REQUIRE(!k);
    CAF_CHECK_EQUAL(k.err().code, errc::invalid_key);
    CAF_CHECK(k.err().message.find("bad.key") != std::string::npos);
    CAF_CHECK(k.err().message.find("32 raw bytes") != std::string::npos);
    CAF_CHECK(k.err().message.find("64 hex") != std::string::npos);
    CAF_CHECK(k.err().message.find(hex_text.substr(0, 8))
              == std::string::npos);
  }
  auto missing = encryption_key::load(posix_file_system(), "/nonexistent/k");
  CAF_REQUIRE(!missing);
  CAF_CHECK_EQUAL(missing.err().code, errc::invalid_key);
}

CAF_TEST(append after a torn tail continues the old prefix) {
  temp_dir dir;
  const auto key = encryption_key::generate();
  for (auto* k : {static_cast<const encryption_key*>(nullptr), &key}) {
    auto path = dir.file(k ? "e.aof" : "p.aof");
    auto records = sample_records();
    auto full = write_records(path, records, k);
    spit(path, full.substr(0, full.size() - 3));
    aof_writer_options opts;
    opts.key = k;
    aof_open_report report;
    auto w = aof_writer::open(posix_file_system(), path, opts, &report);
    CAF_REQUIRE(w);
    CAF_CHECK_EQUAL(report.records, records.size() - 1);
    CAF_CHECK(report.cut_bytes > 0);
    CAF_CHECK(!report.created);
    std::vector<aof_record> more = {rec::set{"after", "tear", -1},
                                    rec::lpush{"l2", {"q"}}};
    for (auto& r : more)
      CAF_REQUIRE(w->add(r));
    CAF_REQUIRE(w->commit());
    auto res = read_all(path, k);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(res->end.kind, read_end::clean);
    std::vector<aof_record> want(records.begin(), records.end() - 1);
    want.insert(want.end(), more.begin(), more.end());
    CAF_CHECK(res->records == want);
  }
}

CAF_TEST(a corrupt AOF is never appended to) {
  temp_dir dir;
  auto path = dir.file("bad.aof");
  auto original = slurp(golden("aof_bad_crc.aof"));
  spit(path, original);
  auto w = aof_writer::open(posix_file_system(), path);
  CAF_REQUIRE(!w);
  CAF_CHECK_EQUAL(w.err().code, errc::corrupt_file);
  CAF_CHECK(w.err().message.find(path) != std::string::npos);
  CAF_CHECK(w.err().message.find("103014") != std::string::npos);
  CAF_CHECK(slurp(path) == original);
  // A v3 file cannot be appended to without its key.
  spit(path, slurp(golden("aof_encrypted_v3.aof")));
  auto w2 = aof_writer::open(posix_file_system(), path);
  CAF_REQUIRE(!w2);
  CAF_CHECK_EQUAL(w2.err().code, errc::encryption_required);
}

CAF_TEST(invalid records are refused and nothing is logged) {
  temp_dir dir;
  auto w = aof_writer::open(posix_file_system(), dir.file("v.aof"));
  CAF_REQUIRE(w);
  auto st = w->add(rec::set{"bad\xff", "v", -1});
  CAF_CHECK(!st);
  CAF_CHECK_EQUAL(st.err().code, errc::invalid_data);
  CAF_CHECK_EQUAL(w->pending_bytes(), 0u);
  CAF_CHECK(w->add(rec::set{"good", "v", -1}));
}

CAF_TEST(a new AOF keeps a v2 file v2 with a key until a rewrite) {
  temp_dir dir;
  const auto key = encryption_key::generate();
  auto path = dir.file("m.aof");
  write_records(path, sample_records());
  aof_writer_options opts;
  opts.key = &key;
  auto w = aof_writer::open(posix_file_system(), path, opts);
  CAF_REQUIRE(w);
  CAF_CHECK_EQUAL(w->version(), 2);
  opts.truncate_existing = true;
  auto w3 = aof_writer::open(posix_file_system(), path, opts);
  CAF_REQUIRE(w3);
  CAF_CHECK_EQUAL(w3->version(), 3);
}

CAF_TEST(a failed write or fsync closes the writer for good) {
  temp_dir dir;
  fault_injection_file_system fs;
  auto path = dir.file("f.aof");
  auto w = aof_writer::open(fs, path);
  CAF_REQUIRE(w);
  CAF_REQUIRE(w->add(rec::set{"a", "1", -1}));
  CAF_REQUIRE(w->commit());
  fs.short_write(1, ENOSPC);
  CAF_REQUIRE(w->add(rec::set{"b", "2", -1}));
  auto st = w->flush();
  CAF_CHECK(!st);
  CAF_CHECK_EQUAL(st.err().sys_errno, ENOSPC);
  CAF_CHECK(w->closed());
  // Every later call fails, even after the disk recovered.
  fs.heal();
  CAF_CHECK_EQUAL(w->add(rec::set{"c", "3", -1}).err().code, errc::closed);
  CAF_CHECK_EQUAL(w->sync().err().code, errc::closed);
  // Reopening verifies from disk and cuts the half-written record.
  aof_open_report report;
  auto again = aof_writer::open(fs, path, {}, &report);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(report.records, 1u);
  CAF_CHECK(report.cut_bytes > 0);
  // A failing fsync closes it too.
  CAF_REQUIRE(again->add(rec::set{"d", "4", -1}));
  fs.fail(fault_op::sync, 1, EIO);
  CAF_CHECK(!again->commit());
  CAF_CHECK(again->closed());
  CAF_CHECK_EQUAL(again->commit().err().code, errc::closed);
}

CAF_TEST(a crash drops what was not fsynced and keeps what was) {
  temp_dir dir;
  fault_injection_file_system fs;
  auto path = dir.file("c.aof");
  {
    auto w = aof_writer::open(fs, path);
    CAF_REQUIRE(w);
    CAF_REQUIRE(w->add(rec::set{"durable", "1", -1}));
    CAF_REQUIRE(w->commit());
    CAF_REQUIRE(w->add(rec::set{"lost", "2", -1}));
    CAF_REQUIRE(w->flush()); // reached the OS, never fsynced
  }
  CAF_REQUIRE(fs.crash());
  auto res = read_all(path);
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->records.size(), 1u);
  CAF_CHECK(res->records[0] == aof_record{rec::set{"durable", "1", -1}});
  // A new file whose directory was never fsynced vanishes; ours was synced.
  fault_injection_file_system fs2;
  auto other = dir.file("unsynced-dir.aof");
  {
    auto f = fs2.open_writable(other, open_mode::create_truncate);
    CAF_REQUIRE(f);
    CAF_REQUIRE((*f)->append("EAOF\x02"));
    CAF_REQUIRE((*f)->sync());
  }
  CAF_REQUIRE(fs2.crash());
  CAF_CHECK(!std::filesystem::exists(other));
}

CAF_TEST(a file renamed while open keeps its durable state) {
  temp_dir dir;
  fault_injection_file_system fs;
  auto tmp = dir.file("a.tmp");
  auto final_path = dir.file("a");
  auto f = fs.open_writable(tmp, open_mode::create_truncate);
  CAF_REQUIRE(f);
  CAF_REQUIRE((*f)->append("hello"));
  CAF_REQUIRE((*f)->sync());
  CAF_REQUIRE(fs.rename(tmp, final_path));
  CAF_REQUIRE(fs.sync_dir(dir.path()));
  CAF_REQUIRE((*f)->append(" world"));
  CAF_REQUIRE((*f)->sync()); // through the handle opened under the old name
  CAF_REQUIRE((*f)->append(" lost"));
  CAF_REQUIRE(fs.crash());
  CAF_CHECK_EQUAL(slurp(final_path), "hello world");
}

// Write-behind (aof_writer_options::write_behind): the bulk writers' mode.
// Its flush() only queues, so each test pins down what is in the file when.

namespace {

std::vector<aof_record> random_records(int n, uint64_t seed) {
  record_randomizer gen{seed};
  std::vector<aof_record> records;
  for (int i = 0; i < n; ++i)
    records.push_back(gen.next());
  return records;
}

aof_writer_options behind_opts(const encryption_key* key = nullptr) {
  aof_writer_options o;
  o.key = key;
  o.truncate_existing = true;
  o.write_behind = true;
  return o;
}

} // namespace

CAF_TEST(write-behind writes the bytes the in-line writer writes) {
  temp_dir dir;
  auto records = random_records(3000, 7);
  auto in_line = write_records(dir.file("in-line.aof"), records);
  auto path = dir.file("behind.aof");
  auto w = aof_writer::open(posix_file_system(), path, behind_opts());
  CAF_REQUIRE(w);
  CAF_CHECK(w->writes_behind());
  uint64_t flushes = 0;
  for (auto& r : records) {
    CAF_REQUIRE(w->add(r));
    // Small chunks, so that several are queued and buffers are reused.
    if (w->pending_bytes() >= 512) {
      CAF_REQUIRE(w->flush());
      ++flushes;
    }
  }
  CAF_REQUIRE(w->commit());
  CAF_CHECK_GREATER(flushes, 20u);
  CAF_CHECK_EQUAL(w->synced_size(), in_line.size());
  CAF_CHECK(slurp(path) == in_line);
}

CAF_TEST(write-behind encrypts as the in-line writer does) {
  temp_dir dir;
  auto key = golden_key();
  auto records = random_records(500, 11);
  auto path = dir.file("behind.aof");
  {
    auto w = aof_writer::open(posix_file_system(), path, behind_opts(&key));
    CAF_REQUIRE(w);
    for (auto& r : records) {
      CAF_REQUIRE(w->add(r));
      if (w->pending_bytes() >= 256)
        CAF_REQUIRE(w->flush());
    }
    CAF_REQUIRE(w->commit());
  }
  auto res = read_all(path, &key);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->version, format_v3);
  CAF_CHECK_EQUAL(res->end.kind, read_end::clean);
  CAF_CHECK(res->records == records);
}

CAF_TEST(write-behind bytes are in the file after drain and after destruction) {
  temp_dir dir;
  auto path = dir.file("d.aof");
  auto w = aof_writer::open(posix_file_system(), path, behind_opts());
  CAF_REQUIRE(w);
  CAF_REQUIRE(w->add(rec::set{"a", "1", -1}));
  CAF_REQUIRE(w->flush());
  CAF_REQUIRE(w->drain());
  CAF_CHECK_EQUAL(std::filesystem::file_size(path), w->size());
  CAF_CHECK_EQUAL(w->flushed_size(), w->size());
  CAF_CHECK_EQUAL(w->synced_size(), header_size); // drained, not synced
  // Flushed and then destroyed: the queued bytes still reach the file.
  CAF_REQUIRE(w->add(rec::set{"b", "2", -1}));
  CAF_REQUIRE(w->flush());
  auto size = w->size();
  { auto gone = std::move(*w); }
  CAF_CHECK_EQUAL(std::filesystem::file_size(path), size);
  // So does a writer moved over: its thread stops after writing them.
  auto first = aof_writer::open(posix_file_system(), path, {});
  CAF_REQUIRE(first);
  auto other = aof_writer::open(posix_file_system(), dir.file("e.aof"),
                                behind_opts());
  CAF_REQUIRE(other);
  CAF_REQUIRE(other->add(rec::set{"c", "3", -1}));
  CAF_REQUIRE(other->flush());
  auto other_size = other->size();
  *other = std::move(*first);
  CAF_CHECK_EQUAL(std::filesystem::file_size(dir.file("e.aof")), other_size);
  auto res = read_all(dir.file("e.aof"));
  CAF_REQUIRE(res);
  CAF_CHECK(res->records == std::vector<aof_record>{rec::set{"c", "3", -1}});
}

namespace {

// A writer opened writing behind, through the fault-injecting file system,
// with SET a=1 added and not yet flushed.
struct behind_writer {
  temp_dir dir;
  fault_injection_file_system fs;
  std::string path = dir.file("w.aof");
  result<aof_writer> w = open_with_first_record();

  result<aof_writer> open_with_first_record() {
    auto writer = aof_writer::open(fs, path, behind_opts());
    if (!writer)
      CAF_FAIL("open writer: " << writer.err().message);
    if (auto st = writer->add(rec::set{"a", "1", -1}); !st)
      CAF_FAIL("add: " << st.err().message);
    return writer;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(write_behind_faults, behind_writer)

CAF_TEST(write-behind ends with write_in_line and flushes in line after) {
  CAF_REQUIRE(w->flush());
  CAF_REQUIRE(w->write_in_line());
  CAF_CHECK(!w->writes_behind());
  auto writes = fs.count(fault_op::write);
  CAF_REQUIRE(w->add(rec::set{"b", "2", -1}));
  CAF_REQUIRE(w->flush());
  // In line: the append happened inside flush().
  CAF_CHECK_EQUAL(fs.count(fault_op::write), writes + 1);
  CAF_CHECK_EQUAL(std::filesystem::file_size(path), w->size());
  CAF_CHECK(w->write_in_line()); // a no-op now
}

CAF_TEST(a failed write-behind append closes the writer and is reported) {
  CAF_REQUIRE(w->commit());
  fs.short_write(1, ENOSPC);
  CAF_REQUIRE(w->add(rec::set{"b", "2", -1}));
  CAF_REQUIRE(w->flush()); // queued; the append fails on the thread
  auto st = w->drain();
  CAF_REQUIRE(!st);
  CAF_CHECK_EQUAL(st.err().sys_errno, ENOSPC);
  CAF_CHECK(st.err().message.find(path) != std::string::npos);
  CAF_CHECK(w->closed());
  fs.heal();
  CAF_CHECK_EQUAL(w->add(rec::set{"c", "3", -1}).err().code, errc::closed);
  CAF_CHECK_EQUAL(w->sync().err().code, errc::closed);
  // The failed writer cuts its tail back to what was synced.
  CAF_REQUIRE(w->discard_unsynced());
  auto res = read_all(path);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->end.kind, read_end::clean);
  CAF_CHECK(res->records == std::vector<aof_record>{rec::set{"a", "1", -1}});
}

CAF_TEST(after a failed write-behind append later flushes fail too) {
  fs.fail(fault_op::write, 1, EIO, true);
  CAF_REQUIRE(w->flush());
  // Whichever call sees the failure first closes the writer; by sync()
  // at the latest every call reports it.
  for (int i = 0; i < 3 && !w->closed(); ++i) {
    CAF_REQUIRE(w->add(rec::set{"b", "2", -1}) || w->closed());
    (void)w->flush();
  }
  auto st = w->sync();
  CAF_CHECK(!st);
  CAF_CHECK(w->closed());
  CAF_CHECK_EQUAL(w->commit().err().code, errc::closed);
}

CAF_TEST_FIXTURE_SCOPE_END()
