// codec_cases.cpp: encoding and decoding SET records (16-byte keys, 64-byte
// values) without any file I/O on the encode side; decode reads through
// aof_reader (page cache) and checks every CRC, as recovery does.
#include <memory>
#include <vector>

#include "bench/harness.hpp"
#include "bench/workload.hpp"
#include "codec/aof_reader.hpp"
#include "codec/aof_writer.hpp"

namespace ember::bench {

void add_codec_cases(runner& r) {
  auto n = aof_records(r.opts().quick);
  auto records = set_records(n);
  auto out = std::make_shared<std::string>();
  r.add({"codec encode SET", "records", false,
         {{limit::memcpy_, true, {}}}, {}, {}, [=] {
           out->clear();
           auto start = clock_type::now();
           for (auto& rec : *records)
             codec::encode_record(*out, rec);
           return sample{seconds_since(start), n, out->size(), {}, {}};
         }});

  auto path = r.case_dir("codec") + "/decode.aof";
  {
    codec::aof_writer_options o;
    o.truncate_existing = true;
    auto w = codec::aof_writer::open(codec::posix_file_system(), path, o);
    for (auto& rec : *records)
      (void) w->add(rec);
    (void) w->flush();
  }
  r.add({"codec decode SET + CRC (aof_reader)", "records", false,
         {{limit::crc_ours, true, {}}}, {}, {}, [=] {
           auto start = clock_type::now();
           auto rd = codec::aof_reader::open(codec::posix_file_system(), path);
           codec::aof_record rec;
           uint64_t count = 0;
           while (rd->next(rec))
             ++count;
           return sample{seconds_since(start), count, rd->file_size(), {}, {}};
         }});
}

} // namespace ember::bench
