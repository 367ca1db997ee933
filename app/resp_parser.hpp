// resp_parser.hpp: an incremental RESP2 request parser (no CAF, no I/O), so
// the front door and a fuzz target share it.
//
// Bytes arrive in any split (feed); next() hands out one complete command
// at a time as its argument strings. Both request forms of Redis work:
// multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, what clients send) and
// inline (`GET k\r\n`, what a person types into a raw socket). Every limit
// is checked before memory is reserved for it, so a peer announcing a huge
// bulk costs nothing until its bytes arrive, and never more than the limit.
//
// After an error the parser stays in the error state: the connection must
// be answered with error() and closed, as Redis does, because the framing of
// whatever follows is unknown.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ember::resp {

struct parser_limits {
  /// Largest single argument (Redis proto-max-bulk-len defaults to 512 MiB).
  size_t max_bulk_bytes = 512u << 20;
  /// Most arguments in one command.
  size_t max_args = 1u << 20;
  /// Longest inline command or header line.
  size_t max_inline_bytes = 64u << 10;
  /// Sum of the argument bytes of one command.
  size_t max_request_bytes = 512u << 20;
};

enum class parse_status { incomplete, command, error };

class parser {
public:
  explicit parser(parser_limits limits = {}) : limits_(limits) {}

  /// Appends received bytes (copied).
  void feed(std::string_view bytes);

  /// Takes the next complete command out of the buffer into `args` (cleared
  /// first). `incomplete` = wait for more bytes; `error` = see error().
  parse_status next(std::vector<std::string>& args);

  /// The Redis-style error line without the leading '-' and CRLF, e.g.
  /// "ERR Protocol error: invalid bulk length"; empty unless failed.
  const std::string& error() const noexcept {
    return error_;
  }

  /// Bytes received and not yet consumed.
  size_t buffered() const noexcept {
    return buf_.size() - pos_;
  }

private:
  enum class state { start, bulk_header, bulk_data, failed };

  parse_status fail(std::string msg);
  // A header line ending at the next '\n', without its "\r\n"; false when
  // incomplete (and an error set when the line is already too long).
  // Leaves pos_ alone when it returns false.
  bool take_line(std::string_view& line);
  // Why take_line() gave no line: incomplete, or an error it set.
  parse_status not_yet() const;
  parse_status parse_inline(std::vector<std::string>& args);
  void compact();

  parser_limits limits_;
  std::string buf_;
  size_t pos_ = 0;
  state state_ = state::start;
  size_t args_left_ = 0;     // multibulk arguments still to read
  size_t bulk_len_ = 0;      // length of the bulk being read
  size_t request_bytes_ = 0; // argument bytes of the current command
  std::vector<std::string> pending_;
  std::string error_;
};

/// Splits an inline command line into arguments: blanks separate, "..."
/// and '...' group (backslash escapes \" \\ \n \r \t inside "..."). False on
/// unbalanced quotes.
bool split_inline(std::string_view line, std::vector<std::string>& out);

} // namespace ember::resp
