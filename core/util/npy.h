#pragma once
// Reader and writer for NumPy .npy files (format versions 1-3).
// The reader memory-maps the file and converts rows on demand, so a 1 GB feature array costs
// nothing until rows are read. No Debian package offers memory-mapped, row-wise .npy access
// with dtype/endianness/order conversion, hence this small module.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace captioner {

class NpyArray {
 public:
  // Maps `path` read-only. Throws DataError (naming the file) on a bad header, an unsupported
  // dtype (floating point only: f2, f4, f8 in either byte order) or a truncated file.
  static NpyArray open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::string& descr() const { return descr_; }  // e.g. "<f4"
  bool fortran_order() const { return fortran_order_; }
  int64_t rows() const { return shape_.empty() ? 0 : shape_[0]; }
  int64_t row_size() const { return row_size_; }  // product of the dimensions after the first

  // Copies row `row` into `out` (row_size() floats), converting dtype, byte order and
  // Fortran order. Throws std::out_of_range for a bad row.
  void read_row(int64_t row, float* out) const;
  // The bytes of row `row` as stored, for C-order arrays (nullptr for Fortran order), so callers
  // can convert whole rows with vectorised code.
  const void* row_data(int64_t row) const;
  bool native_byte_order() const { return !swap_bytes_; }
  size_t mapped_bytes() const;
  // Gives back this process's pages of row `row` (a hint; nothing is lost: a later read maps
  // them again, from the page cache when they are still there), so that reading an array
  // bigger than memory does not grow the process's resident size.
  void release_row(int64_t row) const;
  // For big arrays read a few rows at a time in random order: turns the kernel's read-ahead off
  // (it reads megabytes around each page touched: 8 MB per row of a 256 KB grid row was seen)
  // and asks for exactly the rows about to be read instead (prefetch_row, all at once).
  void read_rows_by_hand() const;
  void prefetch_row(int64_t row) const;

 private:
  void advise_row(int64_t row, int advice) const;
  struct Mapping;
  std::shared_ptr<const Mapping> map_;
  std::string path_;
  std::string descr_;
  std::vector<int64_t> shape_;
  bool fortran_order_ = false;
  int64_t row_size_ = 0;
  int item_size_ = 0;
  bool swap_bytes_ = false;
  const unsigned char* data_ = nullptr;
};

// The bytes before the data of a version-1 C-order .npy file: magic, version, header length,
// and the header dict padded so the data starts on a 64-byte boundary. descr: e.g. "<f4".
std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape);

// Writes a little-endian C-order float32 array. The file is replaced atomically.
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace captioner
