#pragma once
// Helpers shared by the tests: temporary folders and tiny generated datasets.
// Include after <torch/...> / core headers and before nothing Qt-sensitive (see ui/ notes).
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "core/util/npy.h"

namespace captioner::test {

inline std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

// A handout folder: features [lists.size(), dim] from `features` (row-major) and the caption lists.
inline std::string write_handout(const QTemporaryDir& dir, const std::vector<float>& features, int64_t dim,
                                 const std::vector<std::vector<std::string>>& lists) {
  const std::string root = dir.path().toStdString();
  write_npy_f32(root + "/image_codes.npy", features.data(), {static_cast<int64_t>(features.size()) / dim, dim});
  write_text(root + "/captions_tokenized.json", nlohmann::json(lists).dump());
  return root;
}

// Row `r` of a .npy array as floats.
inline std::vector<float> npy_row(const NpyArray& a, int64_t r) {
  std::vector<float> out(static_cast<size_t>(a.row_size()));
  a.read_row(r, out.data());
  return out;
}

// Expects `fn` to throw an exception whose message contains every one of `fragments`.
template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    for (const auto& f : fragments)
      QVERIFY2(what.find(f) != std::string::npos, ("message '" + what + "' lacks '" + f + "'").c_str());
    return;
  }
  QFAIL("no exception thrown");
}

}  // namespace captioner::test
