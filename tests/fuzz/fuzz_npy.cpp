// .npy reader: header parsing, dtype, shape and size checks, then every row that exists is read.
#include "core/npy.h"

#include <exception>
#include <vector>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = captioner::fuzz::write_file("input.npy", data, size);
  try {
    const auto array = captioner::NpyArray::open(path);
    std::vector<float> row(static_cast<size_t>(array.row_size()));
    for (int64_t r = 0; r < array.rows() && r < 64; ++r) array.read_row(r, row.data());
  } catch (const std::exception&) {
  }
  return 0;
}
