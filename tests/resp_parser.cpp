// The RESP request parser: both request forms, every split of the input,
// the limits, and errors that stop the parser.
#define CAF_SUITE resp_parser
#include "caf/test/unit_test_impl.hpp"

#include <string>
#include <vector>

#include "app/resp_parser.hpp"

using namespace ember::resp;
using args_t = std::vector<std::string>;
using namespace std::string_literals;

namespace {

// Feeds `input` in the given pieces and collects every command.
std::vector<args_t> parse_split(const std::string& input,
                                const std::vector<size_t>& cuts,
                                parser_limits limits = {},
                                std::string* error = nullptr) {
  parser p{limits};
  std::vector<args_t> out;
  size_t from = 0;
  auto pieces = cuts;
  pieces.push_back(input.size());
  for (auto to : pieces) {
    p.feed(std::string_view{input}.substr(from, to - from));
    from = to;
    args_t args;
    for (;;) {
      auto st = p.next(args);
      if (st == parse_status::incomplete)
        break;
      if (st == parse_status::error) {
        if (error)
          *error = p.error();
        return out;
      }
      out.push_back(args);
    }
  }
  return out;
}

std::vector<args_t> parse_all(const std::string& input,
                              parser_limits limits = {},
                              std::string* error = nullptr) {
  return parse_split(input, {}, limits, error);
}

const std::string pipeline = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\n\0x\r\n"
                             "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
                             "PING\r\n"
                             "set  \"a b\" 'c d'\n"
                             "*1\r\n$0\r\n\r\n"s;

const std::vector<args_t> expected = {
  {"SET", "k", std::string("v\r\n\0x", 5)},
  {"GET", "k"},
  {"PING"},
  {"set", "a b", "c d"},
  {""},
};

} // namespace

CAF_TEST(multibulk and inline commands in one buffer) {
  CAF_CHECK_EQUAL(parse_all(pipeline), expected);
}

CAF_TEST(every split point gives the same commands) {
  for (size_t cut = 0; cut <= pipeline.size(); ++cut)
    if (parse_split(pipeline, {cut}) != expected)
      CAF_FAIL("split at byte " << cut << " changed the result");
  // And byte by byte.
  std::vector<size_t> cuts;
  for (size_t i = 1; i < pipeline.size(); ++i)
    cuts.push_back(i);
  CAF_CHECK_EQUAL(parse_split(pipeline, cuts), expected);
}

CAF_TEST(empty lines and empty multibulks are no commands) {
  CAF_CHECK_EQUAL(parse_all("\r\n\n*0\r\n*-1\r\nPING\r\n"),
                  std::vector<args_t>{{"PING"}});
}

CAF_TEST(incomplete input waits) {
  parser p;
  args_t args;
  p.feed("*2\r\n$3\r\nGET\r\n$1\r\n");
  CAF_CHECK(p.next(args) == parse_status::incomplete);
  p.feed("k");
  CAF_CHECK(p.next(args) == parse_status::incomplete);
  p.feed("\r\n");
  CAF_CHECK(p.next(args) == parse_status::command);
  CAF_CHECK_EQUAL(args, (args_t{"GET", "k"}));
  CAF_CHECK_EQUAL(p.buffered(), 0u);
}

CAF_TEST(protocol errors name the problem and stick) {
  struct bad {
    std::string input;
    std::string error;
  };
  std::vector<bad> cases = {
    {"*x\r\n", "ERR Protocol error: invalid multibulk length"},
    {"*1\r\n+3\r\n", "ERR Protocol error: expected '$', got '+'"},
    {"*1\r\n$-2\r\n", "ERR Protocol error: invalid bulk length"},
    {"*1\r\n$2x\r\n", "ERR Protocol error: invalid bulk length"},
    {"*1\r\n$1\r\nab\r\n",
     "ERR Protocol error: bulk string not followed by CRLF"},
    {"GET \"k\r\n", "ERR Protocol error: unbalanced quotes in request"},
  };
  for (auto& c : cases) {
    std::string err;
    auto cmds = parse_all(c.input, {}, &err);
    CAF_CHECK(cmds.empty());
    CAF_CHECK_EQUAL(err, c.error);
  }
  parser p;
  args_t args;
  p.feed("*x\r\n");
  CAF_CHECK(p.next(args) == parse_status::error);
  p.feed("PING\r\n");
  CAF_CHECK(p.next(args) == parse_status::error);
}

CAF_TEST(limits are checked before the bytes arrive) {
  parser_limits small;
  small.max_bulk_bytes = 10;
  small.max_args = 3;
  small.max_inline_bytes = 16;
  small.max_request_bytes = 12;
  std::string err;
  // A bulk over the limit is refused from its header alone.
  CAF_CHECK(parse_all("*1\r\n$11\r\n", small, &err).empty());
  CAF_CHECK_EQUAL(err, "ERR Protocol error: invalid bulk length");
  CAF_CHECK(parse_all("*4\r\n", small, &err).empty());
  CAF_CHECK_EQUAL(err, "ERR Protocol error: invalid multibulk length");
  // Two bulks within the per-bulk limit but over the request limit.
  CAF_CHECK(parse_all("*2\r\n$7\r\naaaaaaa\r\n$7\r\n", small, &err).empty());
  CAF_CHECK_EQUAL(err, "ERR request larger than server.max-request-bytes "
                       "(12 bytes)");
  // An inline line without end over the limit.
  CAF_CHECK(parse_all(std::string(17, 'a'), small, &err).empty());
  CAF_CHECK_EQUAL(err, "ERR Protocol error: too big inline request");
  // Within every limit.
  CAF_CHECK_EQUAL(parse_all("*3\r\n$1\r\na\r\n$10\r\n0123456789\r\n$0\r\n\r\n",
                            small),
                  (std::vector<args_t>{{"a", "0123456789", ""}}));
}

CAF_TEST(split_inline handles quotes and escapes) {
  args_t out;
  CAF_CHECK(split_inline(R"(SET k "a\"b\n" 'x y' z)", out));
  CAF_CHECK_EQUAL(out, (args_t{"SET", "k", "a\"b\n", "x y", "z"}));
  CAF_CHECK(!split_inline("SET 'k", out));
  CAF_CHECK(split_inline("   ", out));
  CAF_CHECK(out.empty());
}
