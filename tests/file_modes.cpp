// Every file the product creates is mode 0600 whatever the umask (issue 5,
// security), each made through the code path that makes it in production;
// and the key file permission policy (warn, refuse).
#define CAF_SUITE file_modes
#include "caf/test/unit_test_impl.hpp"

#include <sys/stat.h>

#include "actors/shard_files.hpp"
#include "app/listing.hpp"
#include "codec/aof_writer.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/rewrite.hpp"
#include "codec/snapshot_writer.hpp"
#include "tests/test_support.hpp"
#include "tests/tool_runner.hpp"

using namespace ember;
using test::cli;
using test::golden;

namespace {

uint32_t mode_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return 0xFFFFFFFF;
  return st.st_mode & 07777;
}

/// umask 0 for the test's lifetime: with it, 0600 can only come from the
/// code itself, not from the environment's umask.
struct open_umask {
  mode_t saved = ::umask(0);
  ~open_umask() {
    ::umask(saved);
  }
};

codec::file_system& posix() {
  return codec::posix_file_system();
}

void check_mode(const std::string& path, const char* what) {
  CAF_MESSAGE(what << ": " << path);
  CAF_CHECK_EQUAL(mode_of(path), 0600u);
}

codec::keyspace one_key() {
  codec::keyspace ks;
  ks.put("k", codec::entry{std::string{"v"}});
  return ks;
}

codec::aof_record set_record() {
  return codec::rec::set{"k", "v", -1};
}

} // namespace

CAF_TEST(aof and snapshot files are 0600) {
  open_umask guard;
  test::temp_dir dir;
  auto aof = dir.file("shard-0.aof");
  auto w = codec::aof_writer::open(posix(), aof);
  CAF_REQUIRE(w);
  CAF_REQUIRE(w->add(set_record()));
  CAF_REQUIRE(w->commit());
  check_mode(aof, "new AOF");
  auto snap = dir.file("shard-0.snap");
  auto s = codec::snapshot_writer::begin(posix(), snap, 0);
  CAF_REQUIRE(s);
  check_mode(s->tmp_path(), "snapshot tmp");
  CAF_REQUIRE(s->add({"k", std::string{"v"}, -1}));
  CAF_REQUIRE(s->commit());
  check_mode(snap, "snapshot");
}

CAF_TEST(a stale world readable tmp file becomes 0600 when reused) {
  open_umask guard;
  test::temp_dir dir;
  auto snap = dir.file("shard-0.snap");
  test::spit(snap + ".tmp", "stale");
  ::chmod((snap + ".tmp").c_str(), 0644);
  auto s = codec::snapshot_writer::begin(posix(), snap, 0);
  CAF_REQUIRE(s);
  check_mode(snap + ".tmp", "reused snapshot tmp");
  test::spit(dir.file("x.aof"), "");
  ::chmod(dir.file("x.aof").c_str(), 0666);
  codec::aof_writer_options opts;
  opts.truncate_existing = true;
  CAF_REQUIRE(codec::aof_writer::open(posix(), dir.file("x.aof"), opts));
  check_mode(dir.file("x.aof"), "truncated AOF");
}

CAF_TEST(rewrite temporaries marker and results are 0600) {
  open_umask guard;
  test::temp_dir dir;
  auto paths = codec::rewrite_paths::of(dir.path(), 0);
  auto old = codec::aof_writer::open(posix(), paths.aof);
  CAF_REQUIRE(old);
  CAF_REQUIRE(old->add(set_record()));
  CAF_REQUIRE(old->commit());
  auto ks = one_key();
  CAF_REQUIRE(codec::write_snapshot_tmp(posix(), dir.path(), 0, ks,
                                        codec::unix_now_ms(), nullptr));
  check_mode(paths.snap_tmp, "rewrite snapshot tmp");
  auto w = codec::switch_aof(posix(), dir.path(), 0, paths.aof, old->size(),
                             nullptr);
  CAF_REQUIRE(w);
  check_mode(paths.aof_tmp, "rewrite AOF tmp");
  check_mode(paths.marker, "rewrite marker");
  CAF_REQUIRE(codec::finish_rewrite(posix(), dir.path(), 0));
  check_mode(paths.snap, "rewritten snapshot");
  check_mode(paths.aof, "rewritten AOF");
}

CAF_TEST(copies backups and damaged copies are 0600) {
  open_umask guard;
  test::temp_dir dir;
  // copy_file_durably from a world-readable source.
  test::spit(dir.file("src"), "bytes");
  ::chmod(dir.file("src").c_str(), 0644);
  CAF_REQUIRE(codec::copy_file_durably(posix(), dir.file("src"),
                                       dir.file("copy")));
  check_mode(dir.file("copy"), "durable copy");
  // It never replaces an existing file.
  CAF_CHECK(!codec::copy_file_durably(posix(), dir.file("src"),
                                      dir.file("copy")));
  // repair's backup.
  auto torn = dir.file("torn.aof");
  test::spit(torn, test::slurp(golden("aof_truncated_tail.aof")));
  auto r = cli({"repair", torn, "--yes"});
  CAF_REQUIRE_EQUAL(r.rc, app::exit_ok);
  auto backup = r.out.substr(r.out.find("backup at ") + 10);
  backup.pop_back();
  check_mode(backup, "repair backup");
  // The shard's copy of a damaged file (on-corruption=salvage).
  test::temp_dir data;
  for (auto name : {"shard-5.snap", "shard-5.aof"})
    test::spit(data.file(name), test::slurp(golden(name)));
  actors::shard_options opts;
  opts.data_dir = data.path();
  opts.shard_id = 5;
  opts.on_corruption = codec::corruption_policy::salvage;
  auto files = actors::open_shard_files(opts);
  CAF_REQUIRE(files);
  CAF_REQUIRE_EQUAL(files->set_aside.size(), 1u);
  CAF_CHECK(files->set_aside[0].find(".damaged-") != std::string::npos);
  check_mode(files->set_aside[0], "damaged copy");
}

CAF_TEST(keygen and encrypt outputs are 0600) {
  open_umask guard;
  test::temp_dir dir;
  auto key = dir.file("k");
  CAF_REQUIRE_EQUAL(cli({"keygen", key}).rc, app::exit_ok);
  check_mode(key, "key file");
  test::temp_dir data;
  for (auto name : {"shard-3.snap", "shard-3.aof"}) {
    test::spit(data.file(name), test::slurp(golden(name)));
    ::chmod(data.file(name).c_str(), 0644);
  }
  CAF_REQUIRE_EQUAL(cli({"encrypt", data.path(), "--key", key}).rc,
                    app::exit_ok);
  check_mode(data.file("shard-3.snap"), "encrypted snapshot");
  check_mode(data.file("shard-3.aof"), "encrypted AOF");
}

// -- key file permissions ------------------------------------------------------

CAF_TEST(a key file others can read is warned about or refused) {
  test::temp_dir dir;
  auto path = dir.file("k");
  test::spit(path, test::slurp(golden("key.hex")));
  codec::key_load_options warn;
  codec::key_load_options refuse;
  refuse.permissions = codec::key_permissions::refuse;
  // 0600 and 0400: no warning under either policy.
  for (mode_t ok : {0600, 0400}) {
    ::chmod(path.c_str(), ok);
    for (auto& opts : {warn, refuse}) {
      auto k = codec::encryption_key::load(posix(), path, opts);
      CAF_REQUIRE(k);
      CAF_CHECK_EQUAL(k->warning, "");
    }
  }
  struct bad_mode {
    mode_t mode;
    const char* who;
  };
  for (auto bad : {bad_mode{0644, "group and others"},
                   bad_mode{0640, "group can"}, bad_mode{0604, "others can"},
                   bad_mode{0602, "others can"}}) {
    ::chmod(path.c_str(), bad.mode);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", bad.mode);
    auto k = codec::encryption_key::load(posix(), path, warn);
    CAF_REQUIRE(k);
    CAF_MESSAGE(k->warning);
    CAF_CHECK(k->warning.find(path) != std::string::npos);
    CAF_CHECK(k->warning.find(std::string{"mode "} + octal)
              != std::string::npos);
    CAF_CHECK(k->warning.find(bad.who) != std::string::npos);
    CAF_CHECK(k->warning.find("chmod 600 " + path) != std::string::npos);
    auto r = codec::encryption_key::load(posix(), path, refuse);
    CAF_REQUIRE(!r);
    CAF_CHECK_EQUAL(r.err().code, codec::errc::invalid_key);
    CAF_CHECK(r.err().message.find("chmod 600 " + path) != std::string::npos);
    CAF_CHECK(r.err().message.find("refused") != std::string::npos);
  }
  // The tool warns on stderr and goes on.
  ::chmod(path.c_str(), 0644);
  auto r = cli({"check", golden("aof_encrypted_v3.aof"), "--key", path});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_CHECK(r.err.find("warning: key file " + path + " has mode 0644")
            != std::string::npos);
  // A missing key file is refused under both policies.
  for (auto& opts : {warn, refuse})
    CAF_CHECK(!codec::encryption_key::load(posix(), dir.file("none"), opts));
}
