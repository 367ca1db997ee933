// Direct sends of replies: only to the socket CAF names, everything the
// socket takes, nothing while CAF holds bytes, and errors left to CAF.
#define CAF_SUITE socket_sender
#include "caf/test/unit_test_impl.hpp"

#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/socket_sender.hpp"

using ember::app::socket_sender;

namespace {

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int x) : fd(x) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
  void reset() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
};

uint16_t port_of(int fd, bool local) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  auto* p = reinterpret_cast<sockaddr*>(&a);
  if ((local ? ::getsockname(fd, p, &len) : ::getpeername(fd, p, &len)) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// A connected loopback TCP pair: `server` is the accepted side, as the
// front door holds it.
struct fixture {
  fd_guard listener{::socket(AF_INET, SOCK_STREAM, 0)};
  fd_guard client{::socket(AF_INET, SOCK_STREAM, 0)};
  fd_guard server{-1};

  fixture() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto* p = reinterpret_cast<sockaddr*>(&a);
    socklen_t len = sizeof(a);
    if (::bind(listener.fd, p, len) != 0 || ::listen(listener.fd, 1) != 0
        || ::getsockname(listener.fd, p, &len) != 0
        || ::connect(client.fd, p, len) != 0)
      CAF_FAIL("cannot set up a loopback connection");
    server.fd = ::accept(listener.fd, nullptr, nullptr);
    CAF_REQUIRE(server.fd >= 0);
  }

  socket_sender sender() {
    return socket_sender::for_socket(server.fd, port_of(server.fd, true),
                                     port_of(server.fd, false));
  }

  std::string receive(size_t n) {
    std::string got(n, '\0');
    size_t have = 0;
    while (have < n) {
      auto k = ::recv(client.fd, got.data() + have, n - have, 0);
      if (k <= 0)
        break;
      have += static_cast<size_t>(k);
    }
    got.resize(have);
    return got;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(socket_sender_tests, fixture)

CAF_TEST(direct only for the socket with the ports CAF reports) {
  CAF_CHECK(sender().direct());
  auto local = port_of(server.fd, true);
  auto remote = port_of(server.fd, false);
  CAF_CHECK(!socket_sender::for_socket(server.fd, local, remote + 1).direct());
  CAF_CHECK(!socket_sender::for_socket(server.fd, remote, local).direct());
  CAF_CHECK(!socket_sender::for_socket(-1, local, remote).direct());
  CAF_CHECK(!socket_sender::for_socket(server.fd, 0, 0).direct());
  int p[2];
  CAF_REQUIRE(::pipe(p) == 0);
  fd_guard r{p[0]}, w{p[1]};
  CAF_CHECK(!socket_sender::for_socket(w.fd, local, remote).direct());
  socket_sender none;
  CAF_CHECK(!none.direct());
  CAF_CHECK_EQUAL(none.send_now("x", 1), 0u);
}

CAF_TEST(a socket with room takes the whole reply) {
  auto s = sender();
  std::string reply = "+OK\r\n";
  CAF_CHECK_EQUAL(s.send_now(reply.data(), reply.size()), reply.size());
  CAF_CHECK_EQUAL(receive(reply.size()), reply);
}

CAF_TEST(nothing goes direct while CAF holds bytes) {
  auto s = sender();
  s.handed_to_caf(10);
  CAF_CHECK_EQUAL(s.send_now("abc", 3), 0u);
  s.caf_wrote(4);
  CAF_CHECK_EQUAL(s.held_by_caf(), 6u);
  CAF_CHECK_EQUAL(s.send_now("abc", 3), 0u);
  s.caf_wrote(100); // never below zero
  CAF_CHECK_EQUAL(s.held_by_caf(), 0u);
  CAF_CHECK_EQUAL(s.send_now("abc", 3), 3u);
  CAF_CHECK_EQUAL(receive(3), "abc");
}

CAF_TEST(a full socket takes part and then nothing without blocking) {
  int small = 4096;
  ::setsockopt(server.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  ::setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  auto s = sender();
  std::string big(8u << 20, 'v');
  auto first = s.send_now(big.data(), big.size());
  CAF_CHECK_LESS(first, big.size());
  size_t total = first;
  // The socket fills up: further sends return 0 instead of blocking.
  for (int i = 0; i < 64 && total < big.size(); ++i) {
    auto k = s.send_now(big.data() + total, big.size() - total);
    total += k;
    if (k == 0)
      break;
  }
  CAF_CHECK_LESS(total, big.size());
  CAF_CHECK_EQUAL(s.send_now(big.data() + total, big.size() - total), 0u);
}

CAF_TEST(a closed peer ends in 0 and no SIGPIPE) {
  auto s = sender();
  client.reset();
  // The first send may still succeed (the peer answers it with a reset);
  // then the socket reports the error and send_now returns 0.
  size_t last = 1;
  for (int i = 0; i < 100 && last != 0; ++i) {
    last = s.send_now("+OK\r\n", 5);
    if (last != 0)
      ::usleep(1000);
  }
  CAF_CHECK_EQUAL(last, 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
