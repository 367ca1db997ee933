#include "app/daemon_config.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <thread>

#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/config_value.hpp"
#include "caf/settings.hpp"

#include "actors/wakeful_stealing.hpp"

namespace ember::app {

namespace {

// -- the option table ---------------------------------------------------------

// Applies a value to the config; returns "" or what is wrong with it.
using setter = std::function<std::string(const caf::config_value&,
                                         daemon_config&)>;
// Prints the option's value (for --help's defaults).
using shower = std::function<std::string(const daemon_config&)>;

struct option_spec {
  const char* group;
  const char* name;
  const char* allowed; // type and range, as the user should write it
  const char* help;
  setter set;
  shower show;
};

std::string got(const caf::config_value& v) {
  return std::string{"got "} + caf::to_string(v) + " (" + v.type_name() + ")";
}

template <class T>
std::pair<setter, shower> integer(T daemon_config::*m, int64_t lo,
                                  int64_t hi) {
  auto set = [m, lo, hi](const caf::config_value& v, daemon_config& c) {
    auto* i = caf::get_if<caf::config_value::integer>(&v);
    if (!i || *i < lo || *i > hi)
      return "expected an integer in " + std::to_string(lo) + ".."
             + std::to_string(hi) + ", " + got(v);
    c.*m = static_cast<T>(*i);
    return std::string{};
  };
  auto show = [m](const daemon_config& c) { return std::to_string(c.*m); };
  return {set, show};
}

std::pair<setter, shower> text(std::string daemon_config::*m,
                               bool may_be_empty) {
  auto set = [m, may_be_empty](const caf::config_value& v, daemon_config& c) {
    auto* s = caf::get_if<std::string>(&v);
    if (!s || (!may_be_empty && s->empty()))
      return std::string{may_be_empty ? "expected a quoted string, "
                                      : "expected a non-empty quoted string, "}
             + got(v);
    c.*m = *s;
    return std::string{};
  };
  auto show = [m](const daemon_config& c) { return "\"" + c.*m + "\""; };
  return {set, show};
}

// A string from a fixed set, mapped to a value of type T.
template <class T>
std::pair<setter, shower>
choice(T daemon_config::*m, std::vector<std::pair<std::string, T>> names) {
  auto set = [m, names](const caf::config_value& v, daemon_config& c) {
    auto* s = caf::get_if<std::string>(&v);
    std::string list;
    for (auto& [n, x] : names) {
      if (s && *s == n) {
        c.*m = x;
        return std::string{};
      }
      list += (list.empty() ? "" : ", ") + n;
    }
    return "expected one of " + list + ", " + got(v);
  };
  auto show = [m, names](const daemon_config& c) {
    for (auto& [n, x] : names)
      if (c.*m == x)
        return "\"" + n + "\"";
    return std::string{"?"};
  };
  return {set, show};
}

// "SECONDS CHANGES": two positive integers.
bool parse_save_rule(const std::string& s, actors::save_rule& out) {
  std::istringstream in{s};
  int64_t secs = 0;
  int64_t changes = 0;
  std::string rest;
  if (!(in >> secs >> changes) || (in >> rest) || secs < 1 || changes < 1)
    return false;
  out.seconds = static_cast<uint64_t>(secs);
  out.changes = static_cast<uint64_t>(changes);
  return true;
}

std::pair<setter, shower> save_rules() {
  auto set = [](const caf::config_value& v, daemon_config& c) {
    const std::string expected = "expected a list of \"SECONDS CHANGES\" strings "
                           "with both numbers >= 1, e.g. [\"900 1\", "
                           "\"300 10\"], or [] for none; ";
    auto* xs = caf::get_if<caf::config_value::list>(&v);
    if (!xs)
      return expected + got(v);
    std::vector<actors::save_rule> rules;
    for (auto& x : *xs) {
      auto* s = caf::get_if<std::string>(&x);
      actors::save_rule r;
      if (!s || !parse_save_rule(*s, r))
        return expected + "element " + got(x);
      rules.push_back(r);
    }
    c.save_rules = std::move(rules);
    return std::string{};
  };
  auto show = [](const daemon_config& c) {
    std::string out = "[";
    for (auto& r : c.save_rules)
      out += (out.size() > 1 ? ", \"" : "\"") + std::to_string(r.seconds)
             + " " + std::to_string(r.changes) + "\"";
    return out + "]";
  };
  return {set, show};
}

// Whole seconds, written as an integer or a CAF duration ("60s", "2min").
std::pair<setter, shower> seconds(uint32_t daemon_config::*m, int64_t lo,
                                  int64_t hi) {
  auto [int_set, show] = integer(m, lo, hi);
  auto set = [m, lo, hi, int_set = int_set](const caf::config_value& v,
                                            daemon_config& c) {
    if (auto* t = caf::get_if<caf::timespan>(&v)) {
      auto ns = t->count();
      if (ns % 1000000000 != 0 || ns / 1000000000 < lo
          || ns / 1000000000 > hi)
        return "expected whole seconds in " + std::to_string(lo) + ".."
               + std::to_string(hi) + ", " + got(v);
      c.*m = static_cast<uint32_t>(ns / 1000000000);
      return std::string{};
    }
    return int_set(v, c);
  };
  return {set, show};
}

option_spec make(const char* group, const char* name, const char* allowed,
                 const char* help, std::pair<setter, shower> f) {
  return {group, name, allowed, help, std::move(f.first),
          std::move(f.second)};
}

constexpr int64_t max_i64 = std::numeric_limits<int64_t>::max();

const std::vector<option_spec>& options() {
  using fp = messages::fsync_policy;
  using cp = codec::corruption_policy;
  using dc = daemon_config;
  // The help text below spells the shard limit out.
  static_assert(dc::max_shards == 255,
                "update persistence.shards' allowed values (\"0..255\")");
  static const std::vector<option_spec> table = {
    make("persistence", "data-dir", "string",
         "directory of the shard files (created if missing; relative to the "
         "working directory)",
         text(&dc::data_dir, false)),
    make("persistence", "shards",
         "integer 0..255 (0 = as the data directory was written, 1 for a "
         "new one)",
         "number of shards; fixed for a data directory (emberd refuses "
         "another count)",
         integer(&dc::shards, 0, dc::max_shards)),
    make("persistence", "fsync", "\"always\" | \"everysec\" | \"no\"",
         "when a write is acknowledged: after its fsync, after write(2) with "
         "an fsync every second, or after write(2) only",
         choice(&dc::fsync, std::vector<std::pair<std::string, fp>>{
                              {"always", fp::always},
                              {"everysec", fp::everysec},
                              {"no", fp::no}})),
    make("persistence", "key-file", "string (\"\" = no encryption)",
         "AES-256 key file (ember-persist keygen); new files are encrypted "
         "(v3)",
         text(&dc::key_file, true)),
    make("persistence", "key-file-permissions", "\"warn\" | \"refuse\"",
         "a key file that group or others can access: start with a warning, "
         "or refuse to start",
         choice(&dc::key_file_permissions,
                std::vector<std::pair<std::string, codec::key_permissions>>{
                  {"warn", codec::key_permissions::warn},
                  {"refuse", codec::key_permissions::refuse}})),
    make("persistence", "on-corruption", "\"refuse\" | \"salvage\"",
         "damaged files: refuse to start, or load the valid prefix and keep "
         "a copy of the damaged file",
         choice(&dc::on_corruption, std::vector<std::pair<std::string, cp>>{
                                      {"refuse", cp::refuse},
                                      {"salvage", cp::salvage}})),
    make("persistence", "save",
         "list of \"SECONDS CHANGES\" (each >= 1), [] = none",
         "snapshot (and AOF rewrite) when SECONDS passed since the last one "
         "and at least CHANGES writes happened",
         save_rules()),
    make("persistence", "auto-rewrite-percentage", "integer 0..1000000",
         "rewrite when the AOF grew by this percentage over its size after "
         "the last rewrite (0 = never)",
         integer(&dc::auto_rewrite_percentage, 0, 1000000)),
    make("persistence", "auto-rewrite-min-size", "integer bytes >= 0",
         "no automatic rewrite below this AOF size",
         integer(&dc::auto_rewrite_min_size, 0, max_i64)),
    make("persistence", "max-restarts", "integer 0..1000",
         "writer restarts allowed per restart-period before the shard is "
         "marked failed (writes refused, reads served)",
         integer(&dc::max_restarts, 0, 1000)),
    make("persistence", "restart-period", "seconds 1..86400 (60 or 60s)",
         "window of max-restarts", seconds(&dc::restart_period_s, 1, 86400)),
    make("persistence", "max-inflight-bytes", "integer bytes >= 1024",
         "per shard: bytes waiting for the disk before writes are refused "
         "with an overload error",
         integer(&dc::max_inflight_bytes, 1024, max_i64)),
    make("server", "bind", "string (IPv4/IPv6 address or host name)",
         "address to listen on", text(&dc::bind, false)),
    make("server", "port", "integer 0..65535 (0 = any free port)",
         "TCP port of the Redis protocol", integer(&dc::port, 0, 65535)),
    make("server", "max-clients", "integer 1..1000000",
         "connections served at once; more are answered with an error and "
         "closed",
         integer(&dc::max_clients, 1, 1000000)),
    make("server", "max-request-bytes", "integer bytes 1024..4294967296",
         "largest request (sum of its arguments); larger ones close the "
         "connection with an error",
         integer(&dc::max_request_bytes, 1024, int64_t{1} << 32)),
    make("server", "worker-threads", "integer 0..256 (0 = one per CPU core)",
         "threads that run the actors (the network and the fsyncs have "
         "their own)",
         integer(&dc::worker_threads, 0, 256)),
    make("server", "scheduler", "\"wakeful\" | \"stealing\" | \"sharing\"",
         "how the actor threads share work and wait for it: wakeful "
         "(emberd's: an idle thread waits until new work wakes it), or CAF's "
         "stealing or sharing",
         choice(&dc::scheduler, [] {
           std::vector<std::pair<std::string, std::string>> names;
           for (auto& n : scheduler_names())
             names.emplace_back(n, n);
           return names;
         }())),
    make("log", "level",
         "\"trace\" | \"debug\" | \"info\" | \"warn\" | \"error\" | \"off\"",
         "least severity logged",
         choice(&dc::log_level, std::vector<std::pair<std::string, std::string>>{
                                  {"trace", "trace"},
                                  {"debug", "debug"},
                                  {"info", "info"},
                                  {"warn", "warn"},
                                  {"error", "error"},
                                  {"off", "off"}})),
    make("log", "file", "string (\"\" = stderr only)",
         "also log to this file (appended)", text(&dc::log_file, true)),
  };
  return table;
}

const option_spec* find_option(std::string_view group, std::string_view name) {
  for (auto& o : options())
    if (group == o.group && name == o.name)
      return &o;
  return nullptr;
}

std::string known_keys() {
  std::string out;
  for (auto& o : options())
    out += std::string{out.empty() ? "" : ", "} + o.group + "." + o.name;
  return out;
}

// One key/value from anywhere: "" or the error to report.
std::string apply_option(std::string_view origin, std::string_view group,
                         std::string_view name, const caf::config_value& v,
                         daemon_config& c) {
  auto key = std::string{group} + (group.empty() ? "" : ".") + std::string{name};
  auto* o = find_option(group, name);
  if (!o)
    return std::string{origin} + ": unknown option '" + key
           + "'; known options: " + known_keys();
  auto err = o->set(v, c);
  if (!err.empty())
    return std::string{origin} + ": " + key + ": " + err
           + " (allowed: " + o->allowed + ")";
  return {};
}

// CAF's parser error "parser_error(unexpected_character, ({"column" = 8,
// "line" = 3}))" as "line 3, column 8: unexpected character".
std::string describe_parse_error(const caf::error& err) {
  auto text = caf::actor_system_config::render(err);
  auto ctx = err.context();
  std::string where;
  if (ctx.size() == 1 && ctx.match_element<caf::settings>(0)) {
    auto& pos = ctx.get_as<caf::settings>(0);
    auto line = caf::get_if<int64_t>(&pos, "line");
    auto col = caf::get_if<int64_t>(&pos, "column");
    if (line && col)
      where = "line " + std::to_string(*line) + ", column "
              + std::to_string(*col) + ": ";
  }
  return where + text
         + " (values: strings in double quotes, integers, true/false, "
           "lists in [ ], durations like 60s; groups in [brackets])";
}

} // namespace

config_outcome parse_config_text(std::string_view text,
                                 std::string_view origin, daemon_config base) {
  config_outcome out;
  out.config = std::move(base);
  std::istringstream in{std::string{text}};
  auto parsed = caf::actor_system_config::parse_config(in);
  if (!parsed) {
    out.error = std::string{origin} + ": "
                + describe_parse_error(parsed.error());
    return out;
  }
  for (auto& [group, value] : *parsed) {
    auto* entries = caf::get_if<caf::settings>(&value);
    if (!entries) {
      out.error = apply_option(origin, "", group, value, out.config);
      return out;
    }
    for (auto& [name, v] : *entries) {
      out.error = apply_option(origin, group, name, v, out.config);
      if (!out.error.empty())
        return out;
    }
  }
  return out;
}

config_outcome load_config(const std::vector<std::string>& args) {
  config_outcome out;
  const std::string file_flag = "--config-file=";
  for (auto& a : args)
    if (a == "--help" || a == "-h") {
      out.help = true;
      return out;
    }
  for (auto& a : args) {
    if (a.compare(0, file_flag.size(), file_flag) != 0)
      continue;
    auto path = a.substr(file_flag.size());
    std::ifstream f{path, std::ios::binary};
    std::stringstream text;
    if (!f || !(text << f.rdbuf())) {
      out.error = "cannot read config file '" + path
                  + "': check the path and its permissions";
      return out;
    }
    out = parse_config_text(text.str(), "config file " + path);
    if (!out)
      return out;
  }
  for (auto& a : args) {
    if (a.compare(0, file_flag.size(), file_flag) == 0)
      continue;
    auto eq = a.find('=');
    auto dot = a.find('.');
    if (a.compare(0, 2, "--") != 0 || eq == std::string::npos
        || dot == std::string::npos || dot > eq) {
      out.error = "command line: '" + a
                  + "' is not of the form --<group>.<name>=<value> "
                    "(see --help)";
      return out;
    }
    auto group = a.substr(2, dot - 2);
    auto name = a.substr(dot + 1, eq - dot - 1);
    auto raw = a.substr(eq + 1);
    // Unquoted text that is no CAF value (a path, a word) is a string.
    auto v = caf::config_value::parse(raw);
    auto value = v ? std::move(*v) : caf::config_value{raw};
    out.error = apply_option("command line", group, name, value, out.config);
    if (!out.error.empty())
      return out;
  }
  return out;
}

std::string help_text() {
  std::string out
    = "usage: emberd [--config-file=FILE] [--<group>.<name>=VALUE ...]\n"
      "\n"
      "Serves the shards of a data directory over the Redis protocol (RESP2).\n"
      "The config file is CAF's INI format: [group] headers, name = value,\n"
      "strings in double quotes, lists in [ ], ';' starts a comment. Every\n"
      "option can be given on the command line too, which wins over the\n"
      "file. Unknown options and invalid values stop emberd (exit code 2).\n"
      "\n"
      "options (default in brackets):\n";
  daemon_config defaults;
  std::string group;
  for (auto& o : options()) {
    if (group != o.group) {
      group = o.group;
      out += "\n  [" + group + "]\n";
    }
    out += "  --" + group + "." + o.name + "=" + o.allowed + "  ["
           + o.show(defaults) + "]\n      " + o.help + "\n";
  }
  return out;
}

std::vector<actors::shard_options> shard_options_of(const daemon_config& c) {
  std::vector<actors::shard_options> out;
  for (uint16_t i = 0; i < c.shards; ++i) {
    actors::shard_options o;
    o.data_dir = c.data_dir;
    o.shard_id = i;
    o.fsync = c.fsync;
    o.on_corruption = c.on_corruption;
    o.max_inflight_bytes = c.max_inflight_bytes;
    o.save_rules = c.save_rules;
    o.auto_rewrite_percent = c.auto_rewrite_percentage;
    o.auto_rewrite_min_bytes = c.auto_rewrite_min_size;
    o.max_restarts = c.max_restarts;
    o.restart_period = std::chrono::seconds{c.restart_period_s};
    out.push_back(std::move(o));
  }
  return out;
}

size_t worker_threads(uint32_t configured) {
  if (configured != 0)
    return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names{"wakeful", "stealing",
                                              "sharing"};
  return names;
}

bool configure_scheduler(caf::actor_system_config& cfg,
                         const std::string& scheduler, size_t workers) {
  if (scheduler == "stealing" || scheduler == "sharing")
    cfg.set("scheduler.policy", caf::atom_from_string(scheduler));
  else if (scheduler == "wakeful")
    actors::use_wakeful_stealing(cfg);
  else
    return false;
  cfg.set("scheduler.max-threads", workers);
  // CAF's work stealing: after each message its idle workers poll 100
  // times, then 500 times 50 us apart, before they wait on a condition
  // variable; emberd's timers restarted that, so an idle emberd kept ~20%
  // of a core busy polling. After 20 slow polls a worker waits, and a
  // message from outside the workers wakes it. (wakeful_stealing has no
  // slow polls.)
  cfg.set("work-stealing.moderate-poll-attempts", 20);
  return true;
}

} // namespace ember::app
