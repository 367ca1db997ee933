// The command line of `ember-persist` (CLI11): subcommands, options and the
// --help texts, which document each output format and the exit codes.
#include <ostream>

#include <CLI/CLI.hpp>

#include "app/dir_stats.hpp"
#include "app/encrypt_dir.hpp"
#include "app/keygen.hpp"
#include "app/listing.hpp"

namespace ember::app {

namespace {

constexpr const char* tool_footer = R"(Exit codes (every subcommand):
  0  the file is clean / recovery succeeded / the change was made
  1  damaged: torn tail, corruption, unreadable file; recovery or the
     change refused (nothing changed)
  2  usage error, missing or unreadable file or key file, I/O error

Encrypted (v3) files need --key KEYFILE: 32 raw bytes, or 64 hex characters
and an optional newline. Key material is never printed. A key file that
group or others can access is warned about on stderr (chmod 600 it).
Run `ember-persist SUBCOMMAND --help` for each output format.)";

constexpr const char* dump_footer = R"(Output: one JSON object per line.
  Per AOF record: index, file_offset, byte_size, tag, crc32 (v2, 8 hex
  digits), op and the record's fields (bytes as lowercase hex in *_hex keys,
  ZADD members as {score_bits, member} with the f64 bit pattern in 16 hex
  digits, VADD vector_f32_bits as 8 hex digits per f32, 64-bit integers
  exact); v3 records add nonce_hex, ciphertext_len, plaintext_size.
  Per snapshot entry: index, file_offset, byte_size, key, type (string,
  list, sorted_set, hash, set, proto, vector), the value (value_hex,
  elements_hex, members, fields, type_name + data_hex, or metric,
  quantization, connectivity, expansion_add, dim, elements) and expire_ms;
  v3 entries add nonce_hex, ciphertext_len, plaintext_size.
  Last line, the status (with format, header and the item count):
    {"status":"clean"}
    {"status":"torn_tail","offset":N}     N = end of the last whole record
    {"status":"corrupt","index":I,"offset":N,"reason":"..."}
        I, N = the first bad record/entry (I = entry_count: snapshot footer)
    {"status":"unreadable","reason":"..."}  bad magic, unsupported version,
        encrypted without --key
    {"status":"io_error","index":I,"offset":N,"reason":"..."}  the disk
        failed while reading (the file itself may be intact)
Exit codes: 0 clean, 1 torn_tail/corrupt/unreadable, 2 usage or I/O error.)";

constexpr const char* recover_footer
  = R"(Output: the recovered keyspace, one JSON object per key, sorted by key
bytes: key, type (string, list, hash, set, sorted_set, proto, vector), the
value (value_hex; elements_hex; fields_sorted [{field, value_hex}];
members_sorted; members_sorted_by_name [{member, score_bits}]; proto:
type_name, data_hex; vector: metric, quantization, connectivity,
expansion_add, dim, elements), "ttl": "present"|"absent" and deadline_ms
(unix ms) when present. Then one line {"report":{...}}: shard,
loaded_snapshot, replayed_aof, key_count, records_replayed, records_skipped,
expired_dropped, aof_valid_end, snapshot and aof file reports, duration_us.
By default a damaged file (mid-file AOF corruption, a bad snapshot, a
snapshot of another shard) refuses recovery: nothing on stdout, one
diagnosis line on stderr naming the file and offset, exit 1. --salvage loads
what is readable instead: a bad snapshot is set aside whole, a corrupt AOF
contributes the records before the bad one. Files are never modified.
Exit codes: 0 recovered, 1 refused, 2 usage or I/O error.)";

constexpr const char* check_footer
  = R"(Output: one line on stdout.
  clean:   "FILE: ok, N records, version V" (snapshots: "N entries")
  damaged: one diagnosis line naming the file, the offset, the record or
           entry index, the reason and what to do (a torn tail says how many
           bytes follow the last whole record; `ember-persist repair` cuts
           them)
  unreadable (bad magic, version, encrypted without --key): the reason.
Usage and I/O errors go to stderr.
Exit codes: 0 clean, 1 damaged or unreadable, 2 usage or I/O error.)";

constexpr const char* repair_footer
  = R"(Cuts an AOF back to its last whole record: a torn tail, or everything
from the first corrupt record on. Without --yes it only says what it would
cut (exit 1). With --yes it first copies the whole file to
FILE.bak-<unix ms> (mode 0600, fsynced), then truncates FILE and fsyncs it,
and prints what was cut. A clean file is left alone (exit 0). Snapshots are
never cut (a snapshot is whole or unusable): restore one from a backup or
let recovery set it aside with on-corruption=salvage. Records this build
cannot read (optional kinds) are not damage: repair refuses them.
Exit codes: 0 repaired or nothing to do, 1 refused or not confirmed,
2 usage or I/O error.)";

constexpr const char* keygen_footer
  = R"(Writes a new random AES-256 key (Crypto++ AutoSeededRandomPool) to FILE
as 64 hex characters and a newline, the key-file form --key and emberd's
persistence.key-file read. FILE is created exclusively (an existing file,
even an empty one, is never overwritten) with mode 0600, and the file and
its directory are fsynced before keygen reports success. The key is never
printed. Keep a copy in a safe place: encrypted files cannot be read
without it.
Exit codes: 0 written, 1 FILE exists (refused), 2 I/O error.)";

constexpr const char* encrypt_footer
  = R"(Rewrites every shard-N.snap and shard-N.aof of DIR in the encrypted
format (v3) with the key of KEYFILE. Stop emberd first. Each file is
written to FILE.tmp (fsynced), then read back fully with the key and
compared record by record (entry by entry) with the original; only when
every file of DIR verified is each one renamed into place (and DIR
fsynced). Files already v3 with this key are left alone (reported).
Refused, with nothing changed: a damaged file (torn tail or corruption: run
`ember-persist check FILE`, then `repair`, first), an unreadable one, a
file encrypted with another key, an unfinished rewrite (shard-N.rewrite),
or a file that changed meanwhile (emberd running). Snapshots keep their
modification time (emberd anchors their TTLs at it).
Exit codes: 0 encrypted or nothing to do, 1 refused (nothing changed),
2 usage or I/O error.)";

constexpr const char* stats_footer
  = R"(Per shard found in DIR (shard-N.snap, shard-N.aof, shard-N.rewrite):
for each file whether it is present, its size in bytes, format version,
whether it is encrypted, its records/entries, how it ends (clean; torn
tail with the offset of the last whole record and the bytes after it;
corrupt with the bad record's index and offset; unreadable) and its
modification time (UTC); then the keys after recovery (what `recover`
would load, without --salvage), how many have a TTL, and the count per
type. Then every problem found, one line each. Encrypted files need --key.
--json prints one JSON document instead: {"dir", "shards":[{"shard",
"files":[{"file", "format", "present", "bytes", "modified_ms", "modified",
"version", "encrypted", "records"|"entries", "end":{"status",...}}],
"rewrite_pending", "recovery":{"status":"ok", "keys", "keys_with_ttl",
"types"} or {"status":"refused"|"io_error", "reason"}}], "problems":[...]}.
Files are never modified.
Exit codes: 0 no problem, 1 problems found (damaged or unreadable file,
recovery refused, rewrite pending), 2 usage or I/O error.)";

CLI::Option* add_key_option(CLI::App* cmd, std::string& key) {
  return cmd->add_option("--key", key,
                         "AES-256 key file of encrypted (v3) files: 32 raw "
                         "bytes or 64 hex characters")
    ->type_name("KEYFILE");
}

std::optional<std::string> given(const CLI::Option* opt,
                                 const std::string& value) {
  if (opt->count() == 0)
    return std::nullopt;
  return value;
}

} // namespace

int run_tool(int argc, const char* const* argv, std::ostream& out,
             std::ostream& err) {
  CLI::App app{"Inspect, check, repair, recover and encrypt ember "
               "persistence files (AOF and snapshots).",
               "ember-persist"};
  app.footer(tool_footer);
  app.require_subcommand(1);

  std::string file;
  std::string dir;
  std::string key;
  int shard = 0;
  bool salvage = false;

  auto* dump = app.add_subcommand(
    "dump", "List every record or entry of an AOF or snapshot as JSON lines");
  dump->footer(dump_footer);
  dump->add_option("FILE", file, "AOF (EAOF) or snapshot (ESNP) file")
    ->required();
  auto* dump_key = add_key_option(dump, key);

  auto* recover = app.add_subcommand(
    "recover",
    "Rebuild a shard's keyspace from DIR and print it as JSON lines");
  recover->footer(recover_footer);
  recover->add_option("DIR", dir, "data directory with shard-N.snap/.aof")
    ->required();
  recover->add_option("--shard", shard, "shard number N (0..65535)")
    ->type_name("N")
    ->required()
    ->check(CLI::Range(0, 65535));
  auto* recover_key = add_key_option(recover, key);
  recover->add_flag("--salvage", salvage,
                    "load what is readable instead of refusing damaged files");

  auto* check = app.add_subcommand(
    "check", "Verify an AOF or snapshot and print a one-line verdict");
  check->footer(check_footer);
  check->add_option("FILE", file, "AOF (EAOF) or snapshot (ESNP) file")
    ->required();
  auto* check_key = add_key_option(check, key);

  bool yes = false;
  auto* repair = app.add_subcommand(
    "repair", "Cut a torn or corrupt AOF tail back to the last whole record");
  repair->footer(repair_footer);
  repair->add_option("FILE", file, "AOF file (EAOF)")->required();
  auto* repair_key = add_key_option(repair, key);
  repair->add_flag("--yes", yes, "really cut (after writing a backup)");

  auto* keygen = app.add_subcommand(
    "keygen", "Write a new random AES-256 key file (mode 0600)");
  keygen->footer(keygen_footer);
  keygen->add_option("FILE", file, "the key file to create (must not exist)")
    ->required();

  auto* encrypt = app.add_subcommand(
    "encrypt",
    "Rewrite a data directory's files as encrypted (v3), verified first");
  encrypt->footer(encrypt_footer);
  encrypt->add_option("DIR", dir, "data directory with shard-N.snap/.aof")
    ->required();
  encrypt->add_option("--key", key, "AES-256 key file to encrypt with")
    ->type_name("KEYFILE")
    ->required();

  bool as_json = false;
  auto* stats = app.add_subcommand(
    "stats", "Per shard: files, versions, ends, keys after recovery");
  stats->footer(stats_footer);
  stats->add_option("DIR", dir, "data directory with shard-N.snap/.aof")
    ->required();
  auto* stats_key = add_key_option(stats, key);
  stats->add_flag("--json", as_json, "print one JSON document");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a "parse error" with exit code 0.
    return app.exit(e, out, err) == 0 ? exit_ok : exit_usage;
  }
  if (dump->parsed())
    return dump_file(file, given(dump_key, key), out, err);
  if (check->parsed())
    return check_file(file, given(check_key, key), out, err);
  if (repair->parsed())
    return repair_file(file, given(repair_key, key), yes, out, err);
  if (keygen->parsed())
    return keygen_file(file, out, err);
  if (encrypt->parsed())
    return encrypt_dir(dir, key, out, err);
  if (stats->parsed())
    return stats_dir({dir, given(stats_key, key), as_json}, out, err);
  recover_request req{dir, static_cast<uint16_t>(shard),
                      given(recover_key, key), salvage};
  return recover_dir(req, out, err);
}

} // namespace ember::app
