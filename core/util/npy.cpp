#include "core/util/npy.h"

#include <sys/mman.h>
#include <unistd.h>

#include <c10/util/Half.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/printable.h"

namespace captioner {

struct NpyArray::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr && addr != MAP_FAILED) munmap(addr, size);
  }
};

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }.
// A small single-pass scanner reads it: linear time, no recursion, every number overflow-checked,
// so no header (up to kMaxHeader bytes) can exhaust the stack or wrap a size.
constexpr size_t kMaxHeader = 1 << 20;
// A row (the array without its first dimension) the product reads is at most a 64-cell grid of
// 2048 values; readers allocate a row at a time, as float32 whatever the file's dtype, so a row
// of more values than this (256 MiB as float32) is refused, even when the array has no rows and
// so no data.
constexpr int64_t kMaxRowValues = int64_t{1} << 26;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  bool has_descr = false, has_order = false, has_shape = false;
};

class HeaderScanner {
 public:
  HeaderScanner(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        h.descr = quoted();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        h.has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        h.has_shape = true;
      } else {
        fail("unknown key '" + excerpt(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    if (!h.has_descr) fail("no 'descr' entry");
    if (!h.has_order) fail("no 'fortran_order' entry");
    if (!h.has_shape) fail("no 'shape' entry");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(path_, "bad .npy header at byte " + std::to_string(pos_) + ": " + what);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (text_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("expected a dimension");
      int64_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(value, int64_t{10}, &value) || __builtin_add_overflow(value, int64_t{peek() - '0'}, &value))
          fail("dimension too large");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long literals
      dims.push_back(value);
      if (dims.size() > 32) fail("more than 32 dimensions");
      skip_space();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
    ++pos_;
    return dims;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};

float load_element(const unsigned char* p, int item_size, bool swap) {
  unsigned char buf[8];
  if (swap) {
    for (int i = 0; i < item_size; ++i) buf[i] = p[item_size - 1 - i];
  } else {
    std::memcpy(buf, p, static_cast<size_t>(item_size));
  }
  switch (item_size) {
    case 2: {
      uint16_t bits;
      std::memcpy(&bits, buf, 2);
      return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
    }
    case 4: {
      float v;
      std::memcpy(&v, buf, 4);
      return v;
    }
    default: {
      double v;
      std::memcpy(&v, buf, 8);
      return static_cast<float>(v);
    }
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + ")";
}

// Where the header text of the .npy file `bytes` lies: after the magic bytes, the version and its
// length field (2 bytes in version 1, 4 in versions 2 and 3).
std::pair<size_t, size_t> locate_header(const unsigned char* bytes, size_t size, const std::string& path) {
  if (size < kMagicLen + 4 || std::memcmp(bytes, kMagic, kMagicLen) != 0)
    throw DataError(path, "not a .npy file (bad magic bytes)");
  const int major = bytes[6];
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<size_t>(bytes[8]) | static_cast<size_t>(bytes[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw DataError(path, "truncated .npy header");
    header_len = static_cast<size_t>(bytes[8]) | static_cast<size_t>(bytes[9]) << 8 | static_cast<size_t>(bytes[10]) << 16 |
                 static_cast<size_t>(bytes[11]) << 24;
    header_start = 12;
  } else {
    throw DataError(path, "unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > kMaxHeader)
    throw DataError(
        path, ".npy header of " + std::to_string(header_len) + " bytes; at most " + std::to_string(kMaxHeader) + " are accepted");
  if (header_start + header_len > size) throw DataError(path, "truncated .npy header");
  return {header_start, header_len};
}

}  // namespace

NpyArray NpyArray::open(const std::string& path) {
  NpyArray array;
  array.path_ = path;
  auto map = std::make_shared<Mapping>();
  {
    const ReadOnlyFile file(path);
    map->size = static_cast<size_t>(file.size());
    if (map->size > 0) map->addr = mmap(nullptr, map->size, PROT_READ, MAP_SHARED, file.fd(), 0);
  }
  if (map->size > 0 && map->addr == MAP_FAILED) throw DataError(path, std::string("cannot map: ") + std::strerror(errno));
  const auto* bytes = static_cast<const unsigned char*>(map->addr);

  const auto [header_start, header_len] = locate_header(bytes, map->size, path);
  const std::string header_text(reinterpret_cast<const char*>(bytes + header_start), header_len);

  NpyHeader header = HeaderScanner(header_text, path).parse();
  if (header.shape.empty()) throw DataError(path, "npy array is a scalar; expected at least one dimension");
  array.descr_ = header.descr;
  array.fortran_order_ = header.fortran_order;
  array.shape_ = std::move(header.shape);

  const std::string& d = array.descr_;
  if (d.size() != 3 || d[1] != 'f' || (d[2] != '2' && d[2] != '4' && d[2] != '8') ||
      (d[0] != '<' && d[0] != '>' && d[0] != '=' && d[0] != '|'))
    throw DataError(path, "dtype '" + excerpt(d) + "' is not supported; expected a float array (float16/32/64)");
  array.item_size_ = d[2] - '0';
  const bool file_little = d[0] == '<' || ((d[0] == '=' || d[0] == '|') && host_is_little_endian());
  array.swap_bytes_ = file_little != host_is_little_endian();

  // Sizes in checked arithmetic: a shape whose byte count wraps around 64 bits must not pass the
  // "enough data" check below.
  uint64_t need = static_cast<uint64_t>(array.item_size_);
  array.row_size_ = 1;
  for (size_t i = 0; i < array.shape_.size(); ++i) {
    const auto dim = static_cast<uint64_t>(array.shape_[i]);
    if (__builtin_mul_overflow(need, dim, &need) ||
        (i > 0 && __builtin_mul_overflow(array.row_size_, array.shape_[i], &array.row_size_)))
      throw DataError(path, "shape " + shape_text(array.shape_) + " is too large to address");
  }
  if (array.row_size_ > kMaxRowValues)
    throw DataError(path, "shape " + shape_text(array.shape_) + " has rows of " + std::to_string(array.row_size_) +
                              " values; at most " + std::to_string(kMaxRowValues) + " are supported");
  const uint64_t have = map->size - header_start - header_len;
  if (have < need)
    throw DataError(path,
                    "truncated: header promises " + std::to_string(need) + " bytes of data, file has " + std::to_string(have));
  array.data_ = bytes + header_start + header_len;
  array.map_ = std::move(map);
  return array;
}

void NpyArray::read_row(int64_t row, float* out) const {
  if (row < 0 || row >= rows())
    throw std::out_of_range(path_ + ": row " + std::to_string(row) + " outside [0, " + std::to_string(rows()) + ")");
  const auto n = static_cast<uint64_t>(row_size_);
  if (n == 0) return;  // a [rows, 0] array: nothing to copy (and `out` may be null)
  if (!fortran_order_) {
    const unsigned char* p = data_ + static_cast<uint64_t>(row) * n * static_cast<uint64_t>(item_size_);
    if (item_size_ == 4 && !swap_bytes_) {
      std::memcpy(out, p, n * 4);
      return;
    }
    for (uint64_t j = 0; j < n; ++j) out[j] = load_element(p + j * static_cast<uint64_t>(item_size_), item_size_, swap_bytes_);
    return;
  }
  // Fortran order: element (row, j1, ..., jk) lives at row + d0*(j1 + d1*(j2 + ...)).
  // `out` is filled in C order over the trailing dimensions.
  const size_t ndim = shape_.size();
  std::vector<int64_t> index(ndim, 0);
  for (uint64_t c = 0; c < n; ++c) {
    uint64_t rem = c;
    for (size_t k = ndim - 1; k >= 1; --k) {
      index[k] = static_cast<int64_t>(rem % static_cast<uint64_t>(shape_[k]));
      rem /= static_cast<uint64_t>(shape_[k]);
    }
    uint64_t offset = 0;
    for (size_t k = ndim - 1; k >= 1; --k) offset = offset * static_cast<uint64_t>(shape_[k]) + static_cast<uint64_t>(index[k]);
    offset = offset * static_cast<uint64_t>(shape_[0]) + static_cast<uint64_t>(row);
    out[c] = load_element(data_ + offset * static_cast<uint64_t>(item_size_), item_size_, swap_bytes_);
  }
}

const void* NpyArray::row_data(int64_t row) const {
  if (row < 0 || row >= rows())
    throw std::out_of_range(path_ + ": row " + std::to_string(row) + " outside [0, " + std::to_string(rows()) + ")");
  if (fortran_order_) return nullptr;
  return data_ + static_cast<uint64_t>(row) * static_cast<uint64_t>(row_size_) * static_cast<uint64_t>(item_size_);
}

size_t NpyArray::mapped_bytes() const { return map_ ? map_->size : 0; }

void NpyArray::read_rows_by_hand() const {
  if (map_ && map_->addr) madvise(map_->addr, map_->size, MADV_RANDOM);
}

// Tells the kernel `advice` about the whole pages that hold row `row` (not for Fortran order,
// whose rows are not contiguous).
void NpyArray::advise_row(int64_t row, int advice) const {
  if (fortran_order_ || row < 0 || row >= rows() || !map_ || !map_->addr) return;
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(row_data(row));
  const auto end = begin + static_cast<uintptr_t>(row_size_) * static_cast<uintptr_t>(item_size_);
  const uintptr_t first = begin / page * page, last = (end + page - 1) / page * page;
  madvise(reinterpret_cast<void*>(first), last - first, advice);
}

void NpyArray::prefetch_row(int64_t row) const { advise_row(row, MADV_WILLNEED); }

// A read-only shared mapping: the pages stay in the page cache, only our claim on them goes.
void NpyArray::release_row(int64_t row) const { advise_row(row, MADV_DONTNEED); }

std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that magic + version + length + header ends on a 64-byte boundary, newline last.
  const size_t unpadded = kMagicLen + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes(kMagic, kMagicLen);
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  return bytes + header;
}

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  if (!host_is_little_endian()) throw std::runtime_error("big-endian hosts are not supported by write_npy_f32");
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  std::string bytes = npy_header("<f4", shape);
  bytes.append(reinterpret_cast<const char*>(data), count * sizeof(float));
  write_file_atomically(path, bytes);
}

}  // namespace captioner
