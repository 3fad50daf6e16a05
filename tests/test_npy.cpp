#include "core/util/npy.h"

#include <c10/util/Half.h>

#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "core/util/errors.h"

#include "test_support.h"

using namespace captioner;
using captioner::test::npy_row;

namespace {

// Builds a .npy file by hand, as NumPy lays it out.
std::string npy_bytes(const std::string& descr, bool fortran, const std::string& shape, const std::string& data,
                      int version = 1) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(version));
  out.push_back('\0');
  const auto len = static_cast<uint32_t>(header.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>((len >> 8) & 0xff));
  if (version != 1) {
    out.push_back(static_cast<char>((len >> 16) & 0xff));
    out.push_back(static_cast<char>((len >> 24) & 0xff));
  }
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& values, bool big_endian = false) {
  std::string s(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  if (big_endian)
    for (size_t i = 0; i < s.size(); i += sizeof(T))
      std::reverse(s.begin() + static_cast<long>(i), s.begin() + static_cast<long>(i + sizeof(T)));
  return s;
}

}  // namespace

class TestNpy : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string file(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path().toStdString() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

 private Q_SLOTS:
  void reads_little_endian_float32() {
    const auto a = NpyArray::open(file("f4.npy", npy_bytes("<f4", false, "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6}))));
    QCOMPARE(a.rows(), int64_t{2});
    QCOMPARE(a.row_size(), int64_t{3});
    QCOMPARE(npy_row(a, 1), (std::vector<float>{4, 5, 6}));
  }
  void reads_big_endian_and_float64() {
    const auto be = NpyArray::open(file("be.npy", npy_bytes(">f4", false, "(2, 2)", raw<float>({1.5f, -2, 3, 4}, true))));
    QCOMPARE(npy_row(be, 0), (std::vector<float>{1.5f, -2}));
    const auto f8 = NpyArray::open(file("f8.npy", npy_bytes("<f8", false, "(1, 2)", raw<double>({0.25, 1e10}))));
    QCOMPARE(npy_row(f8, 0), (std::vector<float>{0.25f, 1e10f}));
    const auto bf8 = NpyArray::open(file("bf8.npy", npy_bytes(">f8", false, "(1, 2)", raw<double>({7, 8}, true))));
    QCOMPARE(npy_row(bf8, 0), (std::vector<float>{7, 8}));
  }
  void reads_float16() {
    std::vector<uint16_t> halves = {c10::Half(0.5f).x, c10::Half(-3.0f).x};
    const auto a = NpyArray::open(file("f2.npy", npy_bytes("<f2", false, "(1, 2)", raw<uint16_t>(halves))));
    QCOMPARE(npy_row(a, 0), (std::vector<float>{0.5f, -3.0f}));
  }
  void reads_fortran_order() {
    // C-order matrix [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6
    const auto a = NpyArray::open(file("fo.npy", npy_bytes("<f4", true, "(2, 3)", raw<float>({1, 4, 2, 5, 3, 6}))));
    QCOMPARE(npy_row(a, 0), (std::vector<float>{1, 2, 3}));
    QCOMPARE(npy_row(a, 1), (std::vector<float>{4, 5, 6}));
    // 3-D [2, 2, 2] in Fortran order: element (i,j,k) at i + 2j + 4k.
    std::vector<float> f(8);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 2; ++k) f[static_cast<size_t>(i + 2 * j + 4 * k)] = static_cast<float>(100 * i + 10 * j + k);
    const auto b = NpyArray::open(file("fo3.npy", npy_bytes("<f4", true, "(2, 2, 2)", raw<float>(f))));
    QCOMPARE(npy_row(b, 1), (std::vector<float>{100, 101, 110, 111}));
  }
  void reads_version_2_header_and_1d_arrays() {
    const auto a = NpyArray::open(file("v2.npy", npy_bytes("<f4", false, "(3,)", raw<float>({7, 8, 9}), 2)));
    QCOMPARE(a.rows(), int64_t{3});
    QCOMPARE(a.row_size(), int64_t{1});
    QCOMPARE(npy_row(a, 2), (std::vector<float>{9}));
  }
  void writer_output_reads_back() {
    const std::vector<float> data = {1, 2, 3, 4, 5, 6};
    const std::string path = dir_.path().toStdString() + "/w.npy";
    write_npy_f32(path, data.data(), {3, 2});
    const auto a = NpyArray::open(path);
    QCOMPARE(a.descr(), std::string("<f4"));
    QCOMPARE(a.shape(), (std::vector<int64_t>{3, 2}));
    QCOMPARE(npy_row(a, 2), (std::vector<float>{5, 6}));
  }
  void refuses_bad_files_with_reasons() {
    using test_error = DataError;
    auto expect = [](const std::string& path, const std::string& fragment) {
      try {
        NpyArray::open(path);
        QFAIL(("no error for " + path).c_str());
      } catch (const test_error& e) {
        const std::string what = e.what();
        QVERIFY2(what.find(path) != std::string::npos && what.find(fragment) != std::string::npos, what.c_str());
      }
    };
    expect(dir_.path().toStdString() + "/missing.npy", "cannot open");
    expect(file("int.npy", npy_bytes("<i8", false, "(1, 1)", raw<int64_t>({1}))), "dtype '<i8' is not supported");
    expect(file("short.npy", npy_bytes("<f4", false, "(2, 3)", raw<float>({1, 2, 3}))), "truncated");
    expect(file("magic.npy", "PK\x03\x04 definitely not numpy"), "not a .npy file");
    expect(file("empty.npy", ""), "not a .npy file");
    expect(file("scalar.npy", npy_bytes("<f4", false, "()", raw<float>({1}))), "scalar");
    // Hostile headers: each once crashed or misread the reader.
    expect(file("long_descr.npy", npy_bytes("<f4" + std::string(40000, 'x'), false, "(1, 1)", raw<float>({1}))),
           "is not supported");  // a 40 KB field overflowed the stack of a regex
    expect(file("wrapping.npy", npy_bytes("<f4", false, "(4611686018427387904, 2048)", raw<float>({1}))),
           "too large to address");  // its byte count wrapped to 0 and passed the size check
    // No rows, so no data, but a reader allocating one row would ask for 6.8 PB, or for 1.2 GB
    // as float32 from a float16 file (fuzz_npy, in its 10-minute runs).
    expect(file("huge_rows.npy", npy_bytes("<f4", false, "(0, 555, 55555555, 55558)", "")), "at most 67108864");
    expect(file("big_rows.npy", npy_bytes(">f2", true, "(0, 555, 555558)", "")), "308334690 values");
    expect(file("huge_dim.npy", npy_bytes("<f4", false, "(99999999999999999999, 1)", raw<float>({1}))), "dimension too large");
    expect(file("no_shape.npy", npy_bytes("<f4", false, "", raw<float>({1}))), "expected '('");
    expect(file("unterminated.npy", std::string("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4   ", 26)), "unterminated string");
    std::string big_header("\x93NUMPY\x02\x00\x00\x00\x20\x00", 12);  // header length 2 MiB
    expect(file("big_header.npy", big_header), "at most");
    const std::string fifo = dir_.path().toStdString() + "/fifo.npy";
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    expect(fifo, "not a regular file");  // refused at once, not blocked waiting for a writer
    // Rows of no elements read as nothing (a null destination once reached memcpy: fuzz_npy).
    const auto empty_rows = NpyArray::open(file("empty_rows.npy", npy_bytes("<f4", false, "(8, 0)", "")));
    QCOMPARE(empty_rows.row_size(), int64_t{0});
    empty_rows.read_row(7, nullptr);
    const auto ok = NpyArray::open(file("ok.npy", npy_bytes("<f4", false, "(1, 1)", raw<float>({1}))));
    float x;
    QVERIFY_THROWS_EXCEPTION(std::out_of_range, ok.read_row(1, &x));
  }
};

QTEST_APPLESS_MAIN(TestNpy)
#include "test_npy.moc"
