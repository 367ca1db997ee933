// encrypt_dir.hpp: `ember-persist encrypt DIR --key KEYFILE`, migrating a
// data directory's files to the encrypted format (v3).
//
// Stop emberd first: the tool refuses (nothing changed) when a file
// changes while it works. Steps:
//  1. Inspect every shard-N.snap and shard-N.aof with the key. Refuse the
//     whole directory when any is damaged (torn tail, corruption: run
//     `check`/`repair` first), unreadable, encrypted with another key, or a
//     rewrite is pending (shard-N.rewrite). v3 files that read cleanly with
//     this key are left alone.
//  2. For each remaining file write the v3 version to FILE.tmp (the
//     FORMATS.md temporaries, so a crash leaves only files emberd discards
//     on start), fsynced, with the original's mtime (snapshot TTLs are
//     anchored at it).
//  3. Verify each tmp by reading it back fully with the key and comparing
//     every record/entry with the source's decoded contents.
//  4. Only when every file verified and no source changed: rename each tmp
//     over its file, then fsync the directory. Each file is whole at every
//     moment, and a v3 snapshot with a v2 AOF (or the reverse) is a valid
//     pair, so an interruption here leaves a readable directory; rerunning
//     encrypt finishes it.
// On refusal or error before step 4 the temporaries are removed.
#pragma once

#include <iosfwd>
#include <string>

namespace ember::app {

/// Exit: 0 encrypted (or nothing to do), 1 refused with nothing changed,
/// 2 usage or I/O error (a key file that cannot be read, a failed write).
int encrypt_dir(const std::string& dir, const std::string& key_file,
                std::ostream& out, std::ostream& err);

} // namespace ember::app
