// socket_sender.hpp: sends a connection's replies straight to its socket.
//
// Why: CAF 0.17's stream sends a broker's write buffer only from a write
// event. flush() asks epoll for EPOLLOUT (one epoll_ctl), the next
// epoll_wait reports it, the stream sends, and once its buffer is empty it
// asks epoll to stop (a second epoll_ctl). For an unpipelined client that
// is two system calls and an extra event per reply besides the send
// itself. Like Redis, the front door sends at once and uses CAF's buffer
// only for what the socket does not take (a slow reader, a large reply).
//
// Order: once bytes are in CAF's buffer, CAF sends them later, so every
// byte after them goes through CAF too, until CAF reports (with write
// acknowledgements on) that it wrote them all.
//
// Plain value type, one per connection, used on the broker's thread. It
// never closes the descriptor: CAF owns it, and the caller must only send
// while CAF still holds the connection.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember::app {

class socket_sender {
public:
  /// Sends nothing itself: every byte goes through CAF.
  socket_sender() = default;

  /// For a connection that CAF's default multiplexer names by its
  /// descriptor `fd`. Direct sends are enabled only when `fd` is a TCP
  /// socket with the local and remote ports CAF reports for the
  /// connection; otherwise (another multiplexer) everything goes through
  /// CAF.
  static socket_sender for_socket(int fd, uint16_t local_port,
                                  uint16_t remote_port);

  /// True when send_now() may send.
  bool direct() const {
    return fd_ >= 0;
  }

  /// Bytes handed to CAF that it has not reported written.
  uint64_t held_by_caf() const {
    return held_by_caf_;
  }

  /// Sends as much of [data, data + n) as the socket takes now, without
  /// blocking and without SIGPIPE, and returns how many bytes it sent.
  /// Returns 0 when not direct(), while CAF holds bytes, and on any error
  /// (the caller hands the rest to CAF, whose write then reports the
  /// error as for any connection).
  size_t send_now(const char* data, size_t n);

  /// Notes `n` bytes the caller put into CAF's write buffer.
  void handed_to_caf(size_t n) {
    held_by_caf_ += n;
  }

  /// Notes CAF's report (a data_transferred_msg) that it wrote `n` bytes.
  void caf_wrote(uint64_t n) {
    held_by_caf_ -= n < held_by_caf_ ? n : held_by_caf_;
  }

private:
  explicit socket_sender(int fd) : fd_(fd) {}

  int fd_ = -1;
  uint64_t held_by_caf_ = 0;
};

} // namespace ember::app
