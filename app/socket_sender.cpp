#include "app/socket_sender.hpp"

#include <cerrno>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ember::app {

namespace {

// The port of a TCP/IP socket address, 0 for anything else.
uint16_t port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

} // namespace

socket_sender socket_sender::for_socket(int fd, uint16_t local_port,
                                        uint16_t remote_port) {
  if (fd < 0 || local_port == 0 || remote_port == 0)
    return {};
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_len = sizeof(local);
  socklen_t remote_len = sizeof(remote);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0
      || ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_len)
           != 0)
    return {};
  if (port_of(local) != local_port || port_of(remote) != remote_port)
    return {};
  return socket_sender{fd};
}

size_t socket_sender::send_now(const char* data, size_t n) {
  if (fd_ < 0 || held_by_caf_ > 0 || n == 0)
    return 0;
  for (;;) {
    auto sent = ::send(fd_, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0)
      return static_cast<size_t>(sent);
    if (errno != EINTR)
      return 0; // EAGAIN: CAF sends it on a write event; else CAF reports it
  }
}

} // namespace ember::app
