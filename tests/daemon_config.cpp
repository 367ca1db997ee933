// emberd's configuration: every option read from a file and from the
// command line, and strict refusal of unknown keys, wrong types and values
// out of range, naming the key and what is allowed.
#define CAF_SUITE daemon_config
#include "caf/test/unit_test_impl.hpp"

#include <string>
#include <vector>

#include "app/daemon_config.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::app;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const char* full_file = R"(
; every option, none at its default
[persistence]
data-dir = "/var/lib/ember"
shards = 8
fsync = "always"
key-file = "/etc/ember/key"
on-corruption = "salvage"
save = ["900 1", "300 10"]
auto-rewrite-percentage = 50
auto-rewrite-min-size = 1048576
max-restarts = 5
restart-period = 2min
max-inflight-bytes = 4096

[server]
bind = "0.0.0.0"
port = 7000
max-clients = 16
max-request-bytes = 65536
worker-threads = 3
scheduler = "sharing"

[log]
level = "debug"
file = "/tmp/emberd.log"
)";

} // namespace

CAF_TEST(every option is read from a file) {
  auto r = parse_config_text(full_file, "test");
  CAF_REQUIRE_EQUAL(r.error, "");
  auto& c = r.config;
  CAF_CHECK_EQUAL(c.data_dir, "/var/lib/ember");
  CAF_CHECK_EQUAL(c.shards, 8u);
  CAF_CHECK(c.fsync == messages::fsync_policy::always);
  CAF_CHECK_EQUAL(c.key_file, "/etc/ember/key");
  CAF_CHECK(c.on_corruption == codec::corruption_policy::salvage);
  CAF_REQUIRE_EQUAL(c.save_rules.size(), 2u);
  CAF_CHECK_EQUAL(c.save_rules[1].seconds, 300u);
  CAF_CHECK_EQUAL(c.save_rules[1].changes, 10u);
  CAF_CHECK_EQUAL(c.auto_rewrite_percentage, 50u);
  CAF_CHECK_EQUAL(c.auto_rewrite_min_size, 1048576u);
  CAF_CHECK_EQUAL(c.max_restarts, 5u);
  CAF_CHECK_EQUAL(c.restart_period_s, 120u);
  CAF_CHECK_EQUAL(c.max_inflight_bytes, 4096u);
  CAF_CHECK_EQUAL(c.bind, "0.0.0.0");
  CAF_CHECK_EQUAL(c.port, 7000u);
  CAF_CHECK_EQUAL(c.max_clients, 16u);
  CAF_CHECK_EQUAL(c.max_request_bytes, 65536u);
  CAF_CHECK_EQUAL(c.worker_threads, 3u);
  CAF_CHECK_EQUAL(c.scheduler, "sharing");
  CAF_CHECK_EQUAL(c.log_level, "debug");
  CAF_CHECK_EQUAL(c.log_file, "/tmp/emberd.log");
  // ... and map onto the shard options.
  auto opts = shard_options_of(c);
  CAF_REQUIRE_EQUAL(opts.size(), 8u);
  CAF_CHECK_EQUAL(opts[7].shard_id, 7u);
  CAF_CHECK_EQUAL(opts[7].data_dir, "/var/lib/ember");
  CAF_CHECK(opts[7].fsync == messages::fsync_policy::always);
  CAF_CHECK_EQUAL(opts[7].restart_period.count(), 120);
  CAF_CHECK_EQUAL(opts[7].max_inflight_bytes, 4096u);
  CAF_CHECK_EQUAL(opts[7].save_rules.size(), 2u);
}

CAF_TEST(an empty file keeps the defaults) {
  auto r = parse_config_text("", "test");
  CAF_REQUIRE_EQUAL(r.error, "");
  CAF_CHECK_EQUAL(r.config.port, 6399u);
  CAF_CHECK_EQUAL(r.config.bind, "127.0.0.1");
  CAF_CHECK(r.config.fsync == messages::fsync_policy::everysec);
  CAF_CHECK_EQUAL(r.config.worker_threads, 0u);
  CAF_CHECK_EQUAL(r.config.scheduler, "wakeful");
  CAF_CHECK_EQUAL(r.config.shards, 0u); // resolved from the data directory
}

CAF_TEST(bad files are refused naming the key and what is allowed) {
  struct bad {
    const char* text;
    std::vector<std::string> parts;
  };
  std::vector<bad> cases = {
    {"[persistence]\nfsyncc = \"always\"\n",
     {"cfg.ini", "unknown option 'persistence.fsyncc'", "persistence.fsync"}},
    {"[persistance]\nfsync = \"always\"\n",
     {"unknown option 'persistance.fsync'"}},
    {"port = 1\n", {"unknown option 'port'"}},
    {"[persistence]\nshards = \"4\"\n",
     {"persistence.shards", "expected an integer in 0..255", "\"4\""}},
    {"[persistence]\nshards = -1\n", {"persistence.shards", "0..255"}},
    {"[persistence]\nshards = 256\n", {"persistence.shards", "0..255"}},
    {"[persistence]\nfsync = \"sometimes\"\n",
     {"persistence.fsync", "always, everysec, no", "sometimes"}},
    {"[persistence]\nfsync = 1\n", {"persistence.fsync"}},
    {"[persistence]\non-corruption = \"ignore\"\n",
     {"persistence.on-corruption", "refuse, salvage"}},
    {"[persistence]\nsave = [\"900\"]\n",
     {"persistence.save", "SECONDS CHANGES"}},
    {"[persistence]\nsave = \"900 1\"\n", {"persistence.save"}},
    {"[persistence]\nsave = [\"0 1\"]\n", {"persistence.save"}},
    {"[persistence]\nrestart-period = 1500ms\n",
     {"persistence.restart-period", "whole seconds"}},
    {"[persistence]\nmax-inflight-bytes = 10\n",
     {"persistence.max-inflight-bytes"}},
    {"[server]\nport = 70000\n", {"server.port", "0..65535"}},
    {"[server]\nport = -1\n", {"server.port"}},
    {"[server]\nbind = \"\"\n", {"server.bind", "non-empty"}},
    {"[server]\nworker-threads = 257\n", {"server.worker-threads", "0..256"}},
    {"[server]\nscheduler = \"fast\"\n",
     {"server.scheduler", "wakeful, stealing, sharing", "fast"}},
    {"[log]\nlevel = \"loud\"\n", {"log.level", "trace"}},
    {"[persistence]\nfsync = always\n", {"cfg.ini", "line 2"}},
    {"[persistence\n", {"cfg.ini"}},
  };
  for (auto& c : cases) {
    auto r = parse_config_text(c.text, "cfg.ini");
    CAF_CHECK(!r);
    for (auto& part : c.parts)
      if (!contains(r.error, part))
        CAF_FAIL("for " << c.text << " the error '" << r.error
                        << "' lacks '" << part << "'");
  }
}

CAF_TEST(the command line overrides the file and is checked the same way) {
  test::temp_dir dir;
  auto file = dir.file("emberd.ini");
  test::spit(file, "[persistence]\nshards = 2\nfsync = \"no\"\n");
  auto r = load_config({"--config-file=" + file, "--persistence.shards=3",
                        "--persistence.data-dir=/tmp/x y",
                        "--persistence.save=[\"60 5\"]",
                        "--server.port=0"});
  CAF_REQUIRE_EQUAL(r.error, "");
  CAF_CHECK_EQUAL(r.config.shards, 3u);
  CAF_CHECK(r.config.fsync == messages::fsync_policy::no);
  CAF_CHECK_EQUAL(r.config.data_dir, "/tmp/x y");
  CAF_CHECK_EQUAL(r.config.save_rules.size(), 1u);
  CAF_CHECK_EQUAL(r.config.port, 0u);
  struct bad {
    std::string arg;
    std::string part;
  };
  std::vector<bad> cases = {
    {"--persistence.shardz=3", "unknown option 'persistence.shardz'"},
    {"--persistence.shards=three", "expected an integer"},
    {"--persistence.shards=256", "0..255"},
    {"--persistence.fsync=sometimes", "always, everysec, no"},
    {"--server.port=65536", "0..65535"},
    {"--shards=3", "--<group>.<name>=<value>"},
    {"persistence.shards=3", "--<group>.<name>=<value>"},
    {"--persistence.shards", "--<group>.<name>=<value>"},
  };
  for (auto& c : cases) {
    auto bad_r = load_config({"--config-file=" + file, c.arg});
    CAF_CHECK(!bad_r);
    CAF_CHECK(contains(bad_r.error, "command line"));
    if (!contains(bad_r.error, c.part))
      CAF_FAIL("for " << c.arg << " the error '" << bad_r.error
                      << "' lacks '" << c.part << "'");
  }
}

CAF_TEST(a missing config file is an error and help lists every option) {
  auto r = load_config({"--config-file=/nonexistent/emberd.ini"});
  CAF_CHECK(!r);
  CAF_CHECK(contains(r.error, "/nonexistent/emberd.ini"));
  CAF_CHECK(load_config({"--help"}).help);
  auto help = help_text();
  for (auto* opt :
       {"persistence.data-dir", "persistence.shards", "persistence.fsync",
        "persistence.key-file", "persistence.key-file-permissions",
        "persistence.on-corruption",
        "persistence.save", "persistence.auto-rewrite-percentage",
        "persistence.auto-rewrite-min-size", "persistence.max-restarts",
        "persistence.restart-period", "persistence.max-inflight-bytes",
        "server.bind", "server.port", "server.max-clients",
        "server.max-request-bytes", "server.worker-threads",
        "server.scheduler", "log.level",
        "log.file"})
    if (!contains(help, opt))
      CAF_FAIL("--help lacks " << opt);
  CAF_CHECK(contains(help, "[6399]"));
  CAF_CHECK(contains(help, "[\"everysec\"]"));
}
