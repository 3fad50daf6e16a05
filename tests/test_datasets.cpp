#include "core/data/dataset.h"
#include "core/util/errors.h"

#include "test_support.h"

using namespace captioner;
using captioner::test::expect_error;
using captioner::test::write_text;

class TestDatasets : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string path(const std::string& name) { return dir_.path().toStdString() + "/" + name; }
  std::string handout(const std::string& name, const std::vector<float>& features, int64_t dim,
                      const std::string& captions_json) {
    const std::string d = path(name);
    QDir().mkpath(QString::fromStdString(d));
    write_npy_f32(d + "/image_codes.npy", features.data(), {static_cast<int64_t>(features.size()) / dim, dim});
    write_text(d + "/captions_tokenized.json", captions_json);
    return d;
  }

 private Q_SLOTS:
  void reads_handout_folder() {
    const auto d = handout("ok", std::vector<float>(6, 1.0f), 3, R"([["a dog .", "a brown dog"], ["A Cat"]])");
    const auto ds = read_dataset(d);
    QCOMPARE(ds.format, DatasetFormat::Handout);
    QCOMPARE(ds.images.size(), size_t{2});
    QCOMPARE(ds.images[0].captions[0], (TokenizedCaption{"a", "dog", "."}));
    QCOMPARE(ds.images[1].captions[0], (TokenizedCaption{"a", "cat"}));
    QCOMPARE(ds.images[1].feature_row, int64_t{1});
    QVERIFY(!ds.has_own_split());
    QCOMPARE(ds.caption_count(), size_t{3});
  }
  void reads_coco_captions() {
    const auto ds = read_dataset(std::string(CAPTIONER_TEST_DATA) + "/coco_captions_small.json");
    QCOMPARE(ds.format, DatasetFormat::Coco);
    QCOMPARE(ds.images.size(), size_t{3});    // the image without captions is skipped ...
    QCOMPARE(ds.warnings.size(), size_t{1});  // ... and said so
    QCOMPARE(ds.images[0].key, std::string("391895"));
    QCOMPARE(ds.images[0].file, std::string("000000391895.jpg"));
    QCOMPARE(ds.images[0].captions.size(), size_t{2});
    QCOMPARE(ds.images[0].captions[0].back(), std::string("."));
    QCOMPARE(ds.images[0].captions[0][0], std::string("a"));
    QCOMPARE(ds.images[2].feature_row, int64_t{2});
  }
  void reads_karpathy_split() {
    const auto ds = read_dataset(std::string(CAPTIONER_TEST_DATA) + "/karpathy_small.json");
    QCOMPARE(ds.format, DatasetFormat::Karpathy);
    QCOMPARE(ds.images.size(), size_t{4});
    QCOMPARE(ds.images[0].file, std::string("val2014/COCO_val2014_000000391895.jpg"));
    QCOMPARE(ds.images[0].split, Split::Test);
    QCOMPARE(ds.images[1].split, Split::Train);
    QCOMPARE(ds.images[2].split, Split::Train);  // restval
    QCOMPARE(ds.images[3].split, Split::Val);
    QCOMPARE(ds.images[3].file, std::string("flickr_1000268201.jpg"));
    QCOMPARE(ds.images[0].captions[1][0], std::string("man"));  // tokens lower-cased
    QCOMPARE(ds.images[1].captions[0], (TokenizedCaption{"a", "woman", "cutting", "a", "large", "white", "sheet", "cake", "."}));
    const auto split = split_images(ds, 0.5, 0.5, 1);
    QCOMPARE(split.test, (std::vector<int64_t>{0}));
    QCOMPARE(split.train, (std::vector<int64_t>{1, 2}));
    QCOMPARE(split.val, (std::vector<int64_t>{3}));
  }
  void missing_files_are_named() {
    expect_error([&] { read_dataset(path("nowhere")); }, {path("nowhere"), "cannot open"});
    const std::string d = path("no_codes");
    QDir().mkpath(QString::fromStdString(d));
    write_text(d + "/captions_tokenized.json", "[]");
    expect_error([&] { read_dataset(d); }, {d + "/image_codes.npy", "cannot open"});
    const std::string empty = path("empty_dir");
    QDir().mkpath(QString::fromStdString(empty));
    expect_error([&] { read_dataset(empty); }, {empty, "neither"});
  }
  void malformed_json_is_reported() {
    const auto d = handout("bad_json", std::vector<float>(3, 0.f), 3, R"([["a dog", )");
    expect_error([&] { read_dataset(d); }, {d + "/captions_tokenized.json", "malformed JSON"});
    const auto f = write_text(path("bad.json"), "{\"images\": [1, 2,, ]}");
    expect_error([&] { read_dataset(f); }, {f, "malformed JSON"});
    // A number too large for a double once escaped without the file's name (json out_of_range).
    const auto huge = write_text(path("huge.json"), "{\"images\": [{\"id\": 1e400}], \"annotations\": []}");
    expect_error([&] { read_dataset(huge); }, {huge, "malformed JSON"});
    const auto neither = write_text(path("neither.json"), "{\"foo\": 1}");
    expect_error([&] { read_dataset(neither); }, {neither, "not a COCO captions file"});
  }
  void rows_must_match_caption_lists() {
    const auto d = handout("mismatch", std::vector<float>(9, 0.f), 3, R"([["a"], ["b"]])");
    expect_error([&] { read_dataset(d); }, {d + "/captions_tokenized.json", "2 caption lists", "3 rows"});
  }
  void wrong_feature_shape_or_dtype_is_refused() {
    const std::string d = path("shape3d");
    QDir().mkpath(QString::fromStdString(d));
    std::vector<float> f(8, 0.f);
    write_npy_f32(d + "/image_codes.npy", f.data(), {2, 2, 2});
    write_text(d + "/captions_tokenized.json", R"([["a"], ["b"]])");
    expect_error([&] { read_dataset(d); }, {d + "/image_codes.npy", "2-D", "3 dimension"});
    const std::string d1 = path("shape1d");
    QDir().mkpath(QString::fromStdString(d1));
    write_npy_f32(d1 + "/image_codes.npy", f.data(), {8});
    write_text(d1 + "/captions_tokenized.json", R"([["a"]])");
    expect_error([&] { read_dataset(d1); }, {d1 + "/image_codes.npy", "2-D"});
    const std::string di = path("int_codes");
    QDir().mkpath(QString::fromStdString(di));
    write_text(di + "/image_codes.npy", npy_header("<i4", {1, 1}) + std::string(4, '\0'));
    write_text(di + "/captions_tokenized.json", R"([["a"]])");
    expect_error([&] { read_dataset(di); }, {di + "/image_codes.npy", "dtype '<i4'"});
  }
  void empty_captions_are_refused() {
    const auto d = handout("empty_caption", std::vector<float>(6, 0.f), 3, R"([["a dog"], ["a cat", "  "]])");
    expect_error([&] { read_dataset(d); }, {d + "/captions_tokenized.json", "entry 1, caption 1", "empty"});
    const auto d2 = handout("empty_list", std::vector<float>(6, 0.f), 3, R"([["a dog"], []])");
    expect_error([&] { read_dataset(d2); }, {"entry 1", "no captions"});
    const auto d3 = handout("not_string", std::vector<float>(3, 0.f), 3, R"([["a dog", 5]])");
    expect_error([&] { read_dataset(d3); }, {"entry 0, caption 1", "expected a string"});
    const auto coco = write_text(path("coco_empty.json"),
                                 R"({"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"image_id":1,"caption":""}]})");
    expect_error([&] { read_dataset(coco); }, {coco, "annotations[0]", "empty"});
  }
  void coco_structure_errors_are_located() {
    const auto unknown = write_text(path("coco_unknown.json"),
                                    R"({"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"image_id":2,"caption":"x"}]})");
    expect_error([&] { read_dataset(unknown); }, {unknown, "annotations[0]", "image_id 2"});
    const auto no_name = write_text(path("coco_noname.json"), R"({"images":[{"id":1}],"annotations":[]})");
    expect_error([&] { read_dataset(no_name); }, {"images[0]", "file_name"});
    const auto dup =
        write_text(path("coco_dup.json"), R"({"images":[{"id":1,"file_name":"a"},{"id":1,"file_name":"b"}],"annotations":[]})");
    expect_error([&] { read_dataset(dup); }, {"images[1]", "twice"});
  }
  // A caption over 2000 characters is left out and said so (where the first was); an entry left
  // with none is refused, naming it.
  void overlong_captions_are_left_out_and_reported() {
    const std::string paragraph(2001, 'w');
    const auto coco =
        write_text(path("coco_long.json"), R"({"images":[{"id":1,"file_name":"a.jpg"},{"id":2,"file_name":"b.jpg"}],)"
                                           R"("annotations":[{"image_id":1,"caption":"a dog"},{"image_id":1,"caption":")" +
                                               paragraph + R"("},{"image_id":2,"caption":")" + paragraph + R"("}]})");
    const auto ds = read_dataset(coco);
    QCOMPARE(ds.images.size(), size_t{1});
    QCOMPARE(ds.images[0].captions.size(), size_t{1});
    QCOMPARE(ds.warnings.size(), size_t{2});
    QVERIFY2(ds.warnings[0].find("left out 2 caption(s) over 2000 characters (the first at annotations[1])") != std::string::npos,
             ds.warnings[0].c_str());
    QVERIFY(ds.warnings[1].find("skipped 1 image(s) without captions") != std::string::npos);
    const auto karpathy =
        write_text(path("k_long.json"), R"({"images":[{"filename":"a.jpg","split":"train","sentences":[{"raw":")" + paragraph +
                                            R"("},{"tokens":["a","cat"]}]}]})");
    const auto k = read_dataset(karpathy);
    QCOMPARE(k.images.size(), size_t{1});
    QCOMPARE(k.images[0].captions, (std::vector<TokenizedCaption>{{"a", "cat"}}));
    QVERIFY(k.warnings.at(0).find("images[0].sentences[0]") != std::string::npos);
    const auto d = handout("long_caption", std::vector<float>(6, 0.f), 3, R"([["a dog"], [")" + paragraph + R"("]])");
    expect_error([&] { read_dataset(d); }, {d + "/captions_tokenized.json", "entry 1", "no captions under the length limit"});
  }
  // Members the reader does not use may hold anything; the ones it uses are checked where they are.
  void members_are_checked_where_they_are() {
    const auto extra = write_text(
        path("coco_extra.json"),
        R"({"info":{"x":[1,{"y":2}]},"annotations":[{"image_id":7,"caption":"a cat","segmentation":[[1,2]]}],)"
        R"("images":[{"id":7,"file_name":"c.jpg","sizes":{"w":1}}]})");  // annotations before images: read in either order
    const auto ds = read_dataset(extra);
    QCOMPARE(ds.images.size(), size_t{1});
    QCOMPARE(ds.images[0].captions[0], (TokenizedCaption{"a", "cat"}));
    const auto object_id =
        write_text(path("coco_object_id.json"), R"({"images":[{"id":{"n":1},"file_name":"a"}],"annotations":[]})");
    expect_error([&] { read_dataset(object_id); }, {object_id, "images[0].id", "integer or string id"});
    const auto not_list = write_text(path("coco_not_list.json"), R"({"images":{"id":1},"annotations":[]})");
    expect_error([&] { read_dataset(not_list); }, {not_list, "\"images\" must be a list"});
    const auto token_object = write_text(
        path("k_token.json"), R"({"images":[{"filename":"a.jpg","split":"train","sentences":[{"tokens":["a",{"b":1}]}]}]})");
    expect_error([&] { read_dataset(token_object); }, {token_object, "images[0].sentences[0].tokens[1]", "expected a string"});
  }
  void karpathy_structure_errors_are_located() {
    const auto bad_split =
        write_text(path("k_split.json"), R"({"images":[{"filename":"a.jpg","split":"holdout","sentences":[{"tokens":["x"]}]}]})");
    expect_error([&] { read_dataset(bad_split); }, {bad_split, "images[0].split", "holdout"});
    const auto no_sent = write_text(path("k_nosent.json"), R"({"images":[{"filename":"a.jpg","split":"train","sentences":[]}]})");
    expect_error([&] { read_dataset(no_sent); }, {"images[0].sentences"});
    const auto empty_tokens =
        write_text(path("k_empty.json"), R"({"images":[{"filename":"a.jpg","split":"train","sentences":[{"tokens":[]}]}]})");
    expect_error([&] { read_dataset(empty_tokens); }, {"images[0].sentences[0]", "empty"});
  }
};

QTEST_GUILESS_MAIN(TestDatasets)
#include "test_datasets.moc"
