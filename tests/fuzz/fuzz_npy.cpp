// .npy reader: header parsing, dtype, shape and size checks, then every row that exists is read.
#include <vector>

#include "core/util/npy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return captioner::fuzz::read_as_file("input.npy", data, size, [](const std::string& path) {
    const auto array = captioner::NpyArray::open(path);
    std::vector<float> row(static_cast<size_t>(array.row_size()));
    for (int64_t r = 0; r < array.rows() && r < 64; ++r) array.read_row(r, row.data());
  });
}
