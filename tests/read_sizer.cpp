// The per-connection read size: starts small, doubles while reads fill the
// buffer, halves after a run of small reads, within its bounds.
#define CAF_SUITE read_sizer
#include "caf/test/unit_test_impl.hpp"

#include "app/read_sizer.hpp"

using ember::app::read_sizer;

CAF_TEST(a new connection reads the minimum and small reads keep it there) {
  read_sizer r;
  CAF_CHECK_EQUAL(r.size(), read_sizer::min_size);
  for (int i = 0; i < 100; ++i)
    CAF_CHECK(!r.on_read(100));
  CAF_CHECK_EQUAL(r.size(), read_sizer::min_size);
}

CAF_TEST(full reads double the size up to the maximum) {
  read_sizer r;
  size_t expected = read_sizer::min_size;
  while (expected < read_sizer::max_size) {
    CAF_CHECK(r.on_read(r.size()));
    expected *= 2;
    CAF_CHECK_EQUAL(r.size(), expected);
  }
  CAF_CHECK(!r.on_read(r.size()));
  CAF_CHECK_EQUAL(r.size(), read_sizer::max_size);
}

CAF_TEST(a run of small reads halves the size and one fuller read resets it) {
  read_sizer r;
  while (r.size() < read_sizer::max_size)
    r.on_read(r.size());
  auto quarter = read_sizer::max_size / 4;
  for (unsigned i = 1; i < read_sizer::shrink_after; ++i)
    CAF_CHECK(!r.on_read(quarter));
  // A read over a quarter of the buffer starts the run again.
  CAF_CHECK(!r.on_read(quarter + 1));
  for (unsigned i = 1; i < read_sizer::shrink_after; ++i)
    CAF_CHECK(!r.on_read(10));
  CAF_CHECK_EQUAL(r.size(), read_sizer::max_size);
  CAF_CHECK(r.on_read(10));
  CAF_CHECK_EQUAL(r.size(), read_sizer::max_size / 2);
  // Down to the minimum, never below it.
  for (int i = 0; i < 1000; ++i)
    r.on_read(1);
  CAF_CHECK_EQUAL(r.size(), read_sizer::min_size);
}
