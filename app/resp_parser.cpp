#include "app/resp_parser.hpp"

#include <charconv>
#include <cstdint>

namespace ember::resp {

namespace {

// A header number: optional '-', digits only, no blanks (as Redis reads it).
bool parse_header_number(std::string_view s, int64_t& out) {
  if (s.empty())
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && s[0] != '+';
}

} // namespace

void parser::feed(std::string_view bytes) {
  buf_.append(bytes.data(), bytes.size());
}

parse_status parser::fail(std::string msg) {
  state_ = state::failed;
  error_ = std::move(msg);
  pending_.clear();
  return parse_status::error;
}

void parser::compact() {
  // Drop consumed bytes once they dominate, so the buffer stays bounded by
  // what is still unparsed without shifting on every command.
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

parse_status parser::not_yet() const {
  return state_ == state::failed ? parse_status::error
                                 : parse_status::incomplete;
}

bool parser::take_line(std::string_view& line) {
  auto nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) {
    if (buf_.size() - pos_ > limits_.max_inline_bytes)
      fail("ERR Protocol error: too big inline request");
    return false;
  }
  if (nl - pos_ > limits_.max_inline_bytes) {
    fail("ERR Protocol error: too big inline request");
    return false;
  }
  auto end = nl;
  if (end > pos_ && buf_[end - 1] == '\r')
    --end;
  line = std::string_view{buf_}.substr(pos_, end - pos_);
  pos_ = nl + 1;
  return true;
}

parse_status parser::parse_inline(std::vector<std::string>& args) {
  std::string_view line;
  if (!take_line(line))
    return not_yet();
  if (!split_inline(line, args))
    return fail("ERR Protocol error: unbalanced quotes in request");
  if (args.size() > limits_.max_args)
    return fail("ERR Protocol error: too many arguments in inline request");
  return parse_status::command;
}

parse_status parser::next(std::vector<std::string>& args) {
  args.clear();
  for (;;) {
    switch (state_) {
      case state::failed:
        return parse_status::error;
      case state::start: {
        compact();
        if (pos_ == buf_.size())
          return parse_status::incomplete;
        if (buf_[pos_] != '*') {
          auto st = parse_inline(args);
          if (st == parse_status::command && args.empty())
            continue; // an empty line is no command (Redis skips it)
          return st;
        }
        std::string_view line;
        if (!take_line(line))
          return not_yet();
        int64_t n = 0;
        if (!parse_header_number(line.substr(1), n)
            || n > static_cast<int64_t>(limits_.max_args))
          return fail("ERR Protocol error: invalid multibulk length");
        if (n <= 0)
          continue; // "*0" and "*-1" are no commands
        args_left_ = static_cast<size_t>(n);
        request_bytes_ = 0;
        pending_.clear();
        state_ = state::bulk_header;
        break;
      }
      case state::bulk_header: {
        std::string_view line;
        if (!take_line(line))
          return not_yet();
        if (line.empty() || line[0] != '$')
          return fail("ERR Protocol error: expected '$', got '"
                      + std::string(line.empty() ? "" : line.substr(0, 1))
                      + "'");
        int64_t len = 0;
        if (!parse_header_number(line.substr(1), len) || len < 0
            || static_cast<uint64_t>(len) > limits_.max_bulk_bytes)
          return fail("ERR Protocol error: invalid bulk length");
        bulk_len_ = static_cast<size_t>(len);
        request_bytes_ += bulk_len_;
        if (request_bytes_ > limits_.max_request_bytes)
          return fail("ERR request larger than server.max-request-bytes ("
                      + std::to_string(limits_.max_request_bytes)
                      + " bytes)");
        state_ = state::bulk_data;
        break;
      }
      case state::bulk_data: {
        if (buf_.size() - pos_ < bulk_len_ + 2) {
          // Reserve once the header is known to be within the limits.
          if (buf_.capacity() < pos_ + bulk_len_ + 2)
            buf_.reserve(pos_ + bulk_len_ + 2);
          return parse_status::incomplete;
        }
        if (buf_[pos_ + bulk_len_] != '\r' || buf_[pos_ + bulk_len_ + 1] != '\n')
          return fail("ERR Protocol error: bulk string not followed by CRLF");
        pending_.emplace_back(buf_, pos_, bulk_len_);
        pos_ += bulk_len_ + 2;
        state_ = --args_left_ == 0 ? state::start : state::bulk_header;
        if (state_ == state::start) {
          args.swap(pending_);
          pending_.clear();
          return parse_status::command;
        }
        break;
      }
    }
  }
}

bool split_inline(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  size_t i = 0;
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (i < line.size()) {
    while (i < line.size() && blank(line[i]))
      ++i;
    if (i == line.size())
      break;
    std::string arg;
    while (i < line.size() && !blank(line[i])) {
      char c = line[i];
      if (c != '"' && c != '\'') {
        arg.push_back(c);
        ++i;
        continue;
      }
      char quote = c;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == quote) {
          closed = true;
          break;
        }
        if (quote == '"' && d == '\\' && i < line.size()) {
          char e = line[i++];
          switch (e) {
            case 'n': arg.push_back('\n'); break;
            case 'r': arg.push_back('\r'); break;
            case 't': arg.push_back('\t'); break;
            default: arg.push_back(e); break;
          }
          continue;
        }
        arg.push_back(d);
      }
      if (!closed)
        return false;
    }
    out.push_back(std::move(arg));
  }
  return true;
}

} // namespace ember::resp
