#include "core/util/archive_check.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <regex>
#include <string_view>

namespace captioner {

namespace {

// How an opcode's argument is laid out.
enum class Arg { none, fixed, line, two_lines, length };

struct Layout {
  Arg arg = Arg::none;
  size_t size = 0;  // fixed: the argument's bytes; length: the bytes of its length field
};

// The opcodes of each layout, as Python's pickletools documents them.
bool layout_of(unsigned char op, Layout& out) {
  struct Group {
    std::string_view ops;
    Layout layout;
  };
  static const Group groups[] = {
      {"(.012N}])aebdltsuRoQ"
       "\x88\x89\x8f\x91\x85\x86\x87\x90\x81\x92\x93\x94\x97\x98",
       {Arg::none, 0}},
      {"Khq"
       "\x80\x82",
       {Arg::fixed, 1}},
      {"M"
       "\x83",
       {Arg::fixed, 2}},
      {"Jjr"
       "\x84",
       {Arg::fixed, 4}},
      {"G"
       "\x95",
       {Arg::fixed, 8}},  // BINFLOAT; FRAME, whose length is not trusted either
      {"ILFSVgpP", {Arg::line, 0}},
      {"ci", {Arg::two_lines, 0}},
      {"UC"
       "\x8c\x8a",
       {Arg::length, 1}},
      {"TBX"
       "\x8b",
       {Arg::length, 4}},
      {"\x8d\x8e\x96", {Arg::length, 8}},
  };
  for (const auto& group : groups)
    if (group.ops.find(static_cast<char>(op)) != std::string_view::npos) {
      out = group.layout;
      return true;
    }
  return false;
}

// The archive's bytes for LibTorch's zip reader, which may ask past the end of a cut file:
// LibTorch's own in-memory adapter copies whatever is asked (fuzz_checkpoint found it).
class BoundedBytes final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedBytes(const std::string& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    const size_t count = std::min<size_t>(n, bytes_.size() - static_cast<size_t>(pos));
    std::memcpy(buf, bytes_.data() + pos, count);
    return count;
  }

 private:
  const std::string& bytes_;
};

}  // namespace

std::string pickle_problem(const std::string& pickle) {
  const auto* data = reinterpret_cast<const unsigned char*>(pickle.data());
  const size_t size = pickle.size();
  auto at_byte = [](const std::string& why, size_t at) { return why + " at byte " + std::to_string(at); };
  for (size_t at = 0; at < size;) {
    const unsigned char op = data[at];
    Layout layout;
    if (!layout_of(op, layout)) return at_byte("unknown opcode " + std::to_string(op), at);
    size_t next = at + 1;
    if (layout.arg == Arg::fixed) {
      next += layout.size;
    } else if (layout.arg == Arg::line || layout.arg == Arg::two_lines) {
      for (int lines = layout.arg == Arg::line ? 1 : 2; lines > 0; --lines) {
        const void* newline = next < size ? std::memchr(data + next, '\n', size - next) : nullptr;
        if (newline == nullptr) return at_byte("a text argument without its end", at);
        next = static_cast<size_t>(static_cast<const unsigned char*>(newline) - data) + 1;
      }
    } else if (layout.arg == Arg::length) {
      if (next + layout.size > size) return at_byte("a length cut short", at);
      uint64_t length = 0;
      for (size_t i = 0; i < layout.size; ++i) length |= static_cast<uint64_t>(data[next + i]) << (8 * i);  // little-endian
      next += layout.size;
      if (length > size - next)
        return at_byte("an argument of " + std::to_string(length) + " bytes where " + std::to_string(size - next) + " are left",
                       at);
      next += static_cast<size_t>(length);
    }
    if (next > size) return at_byte("an argument cut short", at);
    if (op == '.') return {};  // STOP
    at = next;
  }
  return at_byte("no STOP opcode", size);
}

std::string short_storage_problem(const torch::Tensor& t) {
  if (t.numel() == 0) return {};
  const size_t needed = static_cast<size_t>(t.storage_offset() + t.numel()) * t.element_size();
  if (t.is_contiguous() && t.storage().nbytes() >= needed) return {};
  return std::to_string(t.storage().nbytes()) + " bytes where its shape needs " + std::to_string(needed);
}

std::string archive_pickle_problem(const std::string& archive_bytes) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::vector<std::string> records;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(std::make_shared<BoundedBytes>(archive_bytes));
    records = reader->getAllRecords();
  } catch (const std::exception&) {
    return {};  // not an archive LibTorch reads: load_from says so
  }
  auto ends_with = [](const std::string& name, const char* end) {
    const size_t n = std::strlen(end);
    return name.size() >= n && name.compare(name.size() - n, n, end) == 0;
  };
  for (const auto& name : records) {
    const bool pickle = ends_with(name, "pkl");  // .pkl, and the code's .debug_pkl
    const bool code = name.rfind("code/", 0) == 0 && ends_with(name, ".py");
    if (!pickle && !code) continue;
    std::string text;
    try {
      auto [bytes, size] = reader->getRecord(name);
      text.assign(static_cast<const char*>(bytes.get()), size);
    } catch (const std::exception&) {
      continue;  // load_from reports it
    }
    const std::string problem = pickle ? pickle_problem(text) : module_code_problem(text);
    if (!problem.empty()) return "its record " + name + (pickle ? " is not a valid pickle: " : " ") + problem;
  }
  return {};
}

std::string module_code_problem(const std::string& code) {
  // What LibTorch writes for a module made in C++: its class, the names of its parameters and
  // buffers, and each attribute's type (by name, or through __annotations__ for a name that is
  // not an identifier).
  static const std::regex line_shape(
      R"((class \w+\(\w+\):)|(  __(parameters|buffers)__ = \[("[^"\n]*", )*\])|(  (\w+|__annotations__\["[^"\n]*"\]) (:|=) [\w.\[\], ]+)|)");
  constexpr size_t kMaxLine = 1000;
  constexpr int kMaxDepth = 8;
  size_t number = 0;
  for (size_t start = 0; start <= code.size();) {
    const size_t end = std::min(code.find('\n', start), code.size());
    const std::string line = code.substr(start, end - start);
    start = end + 1;
    ++number;
    int depth = 0, deepest = 0;
    for (const char c : line) deepest = std::max(deepest, depth += c == '[' ? 1 : c == ']' ? -1 : 0);
    if (line.size() > kMaxLine || deepest > kMaxDepth || !std::regex_match(line, line_shape))
      return "is not the code LibTorch writes for a module's attributes (line " + std::to_string(number) + ")";
  }
  return {};
}

}  // namespace captioner
