// writer_actor.hpp: the actor that owns a shard's AOF.
//
// Protocol (messages/interfaces.hpp, writer_actor):
//   append(batch) -> offset   the batch is encoded into the pending buffer;
//                             the reply says the AOF offset that covers it
//                             and comes when it is durable under the policy:
//                             always   - after an fsync that covers it
//                             everysec - once written to the OS
//                             no       - once written to the OS
//                             The batch's acks (the clients' replies, see
//                             messages::record_batch) run right before it,
//                             in this actor, with the same outcome.
//   tick                      everysec: fsync unless one is still running
//                             (then count a delayed fsync, as Redis does);
//                             always: end a group-commit hold, fsync now
//   sync -> offset            write and fsync everything appended so far
//                             (any policy)
//   stats -> writer_stats
//   snapshot -> L             the snapshot point of a rewrite
//   rewrite(L) -> size        switch to the fresh AOF and commit the rewrite
//
// Group commit: under `everysec` and `no`, every append already waiting in
// the mailbox is written with one write(2) (the writer sends itself `flush`
// behind them). With `always` the fsync runs in a separate syncer actor
// (its own thread by default), so appends that arrive during an fsync are
// encoded meanwhile and form the next batch, written with one write(2) when
// its fsync starts: one write and one fsync per batch, never one per
// record, and no reply before the fsync that covers it. Right after an
// fsync the writer may hold the next one back briefly until the batch is
// whole again (writer_config::group_commit_wait).
//
// Failure: a failed write or fsync fails every waiting request with
// io_error and the writer quits with that error; its supervisor reopens the
// AOF (re-verifying it from disk) in a new writer. Never silence.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "caf/fwd.hpp"

#include "codec/aof_writer.hpp"
#include "messages/commands.hpp"
#include "messages/interfaces.hpp"

namespace ember::actors {

struct writer_config {
  /// The open AOF; the writer takes it over.
  std::shared_ptr<codec::aof_writer> aof;
  messages::fsync_policy policy = messages::fsync_policy::everysec;
  /// Run fsyncs on a thread of their own (production). Deterministic tests
  /// set false so the syncer is an ordinary scheduled actor.
  bool detached_io = true;
  /// Group commit under `always`: right after an fsync, the writers it
  /// released usually send their next write at once, but over two
  /// mailboxes (producer -> shard -> writer), so the first to arrive would
  /// start the next fsync alone and the batch would split. While fewer
  /// records wait than the last batch held (those released plus those that
  /// came meanwhile), the writer holds the fsync back until they arrived or
  /// half the average fsync time passed, at most this long. 0: never hold.
  /// One producer never waits (its batch of one is complete at once).
  std::chrono::microseconds group_commit_wait{2000};
  /// Where the AOF lives, for switching to a fresh one at a rewrite.
  codec::file_system* fs = &codec::posix_file_system();
  std::string data_dir;
  uint16_t shard_id = 0;
  std::shared_ptr<const codec::encryption_key> key;
};

/// Spawns a writer (linked syncer included) in `sys`.
messages::writer_actor spawn_writer(caf::actor_system& sys, writer_config cfg);

} // namespace ember::actors
