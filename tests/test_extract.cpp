// Feature extraction into the on-disk cache: rows equal the encoder's own output, bad images are
// listed and skipped, and an interrupted run resumes without recomputing finished images.
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/npy.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"
#include "core/vision/image_io.h"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <filesystem>

#include "test_support.h"

using namespace captioner;
using captioner::test::npy_row;

namespace {

class CancelAfter : public ExtractObserver {
 public:
  CancelAfter(std::atomic<bool>& flag, int64_t after) : flag_(flag), after_(after) {}
  void on_progress(const ExtractProgress& p) override {
    if (p.done >= after_) flag_ = true;
  }

 private:
  std::atomic<bool>& flag_;
  int64_t after_;
};

}  // namespace

class TestExtract : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  Encoder encoder_;
  std::vector<std::string> images_;
  std::string path(const std::string& name) { return dir_.path().toStdString() + "/" + name; }
  // An uninterrupted cache of every image, for the tests that compare with one; made by whichever
  // test needs it first, so no test depends on another having run.
  std::string reference_cache() {
    const std::string out = path("reference_cache");
    if (!std::filesystem::exists(out + "/images.txt")) extract_features(encoder_, images_, out, {});
    return out;
  }

 private Q_SLOTS:
  void initTestCase() {
    encoder_ = load_encoder(find_default_encoder());
    const std::string img = path("images");
    std::filesystem::create_directories(img + "/sub");
    std::filesystem::copy_file(std::string(CAPTIONER_TEST_DATA) + "/images/cat.png", img + "/a_cat.png");
    std::filesystem::copy_file(std::string(CAPTIONER_TEST_DATA) + "/images/coffee.png", img + "/sub/c_coffee.png");
    cv::imwrite(img + "/b_pattern.jpg", cv::Mat(48, 64, CV_8UC3, cv::Scalar(20, 200, 90)));
    test::write_text(img + "/d_broken.jpg", "not a jpeg");
    cv::imwrite(img + "/e_tiny.png", cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)));
    test::write_text(img + "/notes.txt", "ignored: not an image extension");
    images_ = list_images(img);
    QCOMPARE(images_.size(), size_t{5});
    QVERIFY(images_[2].find("d_broken.jpg") != std::string::npos);
    QVERIFY(images_[4].find("sub/c_coffee.png") != std::string::npos);
  }

  void rows_match_the_encoder_and_bad_images_are_listed() {
    const std::string out = path("cache");
    const auto r = extract_features(encoder_, images_, out, {});
    QCOMPARE(r.encoded, int64_t{3});  // the 3 good images
    QCOMPARE(r.failed.size(), size_t{2});
    QVERIFY(r.failed[0].first.find("d_broken.jpg") != std::string::npos);
    QVERIFY(r.failed[0].second.find("not a readable image") != std::string::npos);
    QVERIFY(r.failed[1].second.find("at least 8") != std::string::npos);

    const auto pooled = NpyArray::open(out + "/pooled.npy");
    const auto grid = NpyArray::open(out + "/grid.npy");
    QCOMPARE(pooled.shape(), (std::vector<int64_t>{5, 2048}));
    QCOMPARE(grid.shape(), (std::vector<int64_t>{5, 64, 2048}));
    QCOMPARE(grid.descr(), std::string("<f2"));
    torch::NoGradGuard no_grad;
    const auto direct = encoder_.net->forward(inception_input(load_image_rgb(images_[0])).unsqueeze(0));
    const auto cached = torch::tensor(npy_row(pooled, 0));
    QVERIFY(torch::allclose(cached, direct.pooled[0], 1e-5, 1e-5));
    // grid row: 64 cells x 2048 channels; cell (r, c) = grid[:, r, c]
    const auto cells = torch::tensor(npy_row(grid, 0)).view({64, 2048});
    QVERIFY(torch::allclose(cells[9], direct.grid[0].select(1, 1).select(1, 1), 1e-2, 1e-2));
    QVERIFY(torch::allclose(cells.mean(0), direct.pooled[0], 1e-2, 1e-2));
    QCOMPARE(torch::tensor(npy_row(pooled, 3)).abs().sum().item<float>(), 0.0f);  // a bad image's row stays empty

    const auto again = extract_features(encoder_, images_, out, {});
    QCOMPARE(again.encoded, int64_t{0});
    QCOMPARE(again.skipped, int64_t{5});
    QCOMPARE(again.failed.size(), size_t{2});
    // The same files spelt another way (a dataset given by another path) use the same cache.
    std::vector<std::string> respelt;
    for (const auto& f : images_) {
      const auto p = std::filesystem::path(f);
      respelt.push_back((p.parent_path() / "." / p.filename()).string());
    }
    QCOMPARE(extract_features(encoder_, respelt, out, {}).encoded, int64_t{0});
  }

  // An image entry that cannot be followed (a link to itself, a link to nothing) is listed and
  // reported with the reason, not skipped unseen nor fatal to the folder's listing.
  void links_that_cannot_be_followed_are_reported() {
    const std::string dir = path("links");
    std::filesystem::create_directories(dir);
    cv::imwrite(dir + "/a_good.png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(20, 120, 220)));
    std::filesystem::create_symlink("b_loop.jpg", dir + "/b_loop.jpg");
    std::filesystem::create_symlink("nowhere.png", dir + "/c_gone.png");
    const auto listed = list_images(dir);
    QCOMPARE(listed.size(), size_t{3});
    const auto r = extract_features(encoder_, listed, path("links-cache"), {});
    QCOMPARE(r.encoded, int64_t{1});
    QCOMPARE(r.failed.size(), size_t{2});
    std::string named;
    for (const auto& [file, reason] : r.failed) {
      QVERIFY2(!reason.empty(), file.c_str());
      named += std::filesystem::path(file).filename().string() + " ";
    }
    QVERIFY2(named.find("b_loop.jpg") != std::string::npos && named.find("c_gone.png") != std::string::npos, named.c_str());
  }

  void a_mixed5_cache_has_768_channels_and_keeps_its_layer() {
    Encoder early = load_encoder(find_default_encoder());  // its own network: the fixture's stays mixed10
    use_grid_layer(early, GridLayer::Mixed5);
    const std::string out = path("cache-mixed5");
    const std::vector<std::string> good = {images_[0], images_[1]};
    QCOMPARE(extract_features(early, good, out, {}).encoded, int64_t{2});
    QCOMPARE(NpyArray::open(out + "/pooled.npy").shape(), (std::vector<int64_t>{2, 768}));
    const auto grid = NpyArray::open(out + "/grid.npy");
    QCOMPARE(grid.shape(), (std::vector<int64_t>{2, 64, 768}));
    QCOMPARE(features_encoder_id(out + "/pooled.npy"), encoder_.id + "/mixed5-cells");
    torch::NoGradGuard no_grad;
    const auto direct = early.net->forward(inception_input(load_image_rgb(good[1])).unsqueeze(0));
    const auto cells = torch::tensor(npy_row(grid, 1)).view({64, 768});
    QVERIFY(torch::allclose(cells[8 * 3 + 5], direct.grid[0].select(1, 3).select(1, 5), 1e-2, 1e-2));
    // The mixed10 encoder may not add to (or resume) this cache.
    test::expect_error([&] { extract_features(encoder_, good, out, {}); },
                       {"/mixed5", "not " + encoder_.id, "delete its folder"});
  }

  void an_interrupted_run_resumes_where_it_stopped() {
    const std::string out = path("resumed");
    ExtractOptions options;
    options.batch_size = 1;
    options.workers = 1;
    std::atomic<bool> cancel{false};
    CancelAfter stop(cancel, 2);
    const auto first = extract_features(encoder_, images_, out, options, &stop, &cancel);
    QVERIFY(first.cancelled);
    const auto status = read_cache_status(cache_files(out, false));
    const auto done = std::count_if(status.state.begin(), status.state.end(), [](int8_t s) { return s != 0; });
    QCOMPARE(done, 2L);
    // A batch torn mid-journal line is simply redone.
    const std::string journal = read_file(out + "/progress.log");
    write_file_atomically(out + "/progress.log", journal + "4 o");
    const auto second = extract_features(encoder_, images_, out, options);
    QVERIFY(!second.cancelled);
    QCOMPARE(second.skipped, int64_t{2});
    QCOMPARE(first.encoded + second.encoded, int64_t{3});  // every good image encoded exactly once
    QCOMPARE(second.failed.size(), size_t{2});
    const auto full = read_cache_status(cache_files(out, false));
    QVERIFY(std::all_of(full.state.begin(), full.state.end(), [](int8_t s) { return s != 0; }));
    // Same rows as the uninterrupted cache.
    const auto a = NpyArray::open(reference_cache() + "/pooled.npy");
    const auto b = NpyArray::open(out + "/pooled.npy");
    for (int64_t i = 0; i < 5; ++i) QCOMPARE(npy_row(a, i), npy_row(b, i));
  }

  // An image rewritten in place (a dataset regenerated, a photo edited) has a stale row: the next
  // run encodes it again; training refuses the stale row until then.
  void a_changed_image_is_encoded_again() {
    const std::string dir = path("changing");
    std::filesystem::create_directories(dir);
    const std::vector<std::string> files = {dir + "/one.png", dir + "/two.png"};
    std::filesystem::copy_file(images_[0], files[0]);
    std::filesystem::copy_file(images_[4], files[1]);
    const std::string out = path("changing_cache");
    QCOMPARE(extract_features(encoder_, files, out, {}).encoded, int64_t{2});
    // Another picture under the same name (and a later modification time).
    std::filesystem::copy_file(images_[1], files[1], std::filesystem::copy_options::overwrite_existing);
    std::filesystem::last_write_time(files[1], std::filesystem::last_write_time(files[1]) + std::chrono::seconds(5));
    CaptionDataset dataset;
    for (int64_t i = 0; i < 2; ++i) {
      ImageRecord image;
      image.feature_row = i;
      dataset.images.push_back(image);
    }
    test::expect_error([&] { require_extracted_rows(out + "/pooled.npy", dataset); }, {"two.png", "changed"});
    const auto again = extract_features(encoder_, files, out, {});
    QCOMPARE(again.encoded, int64_t{1});
    QCOMPARE(again.refreshed, std::vector<std::string>{files[1]});
    require_extracted_rows(out + "/pooled.npy", dataset);
    torch::NoGradGuard no_grad;
    const auto direct = encoder_.net->forward(inception_input(load_image_rgb(files[1])).unsqueeze(0));
    const auto cached = torch::tensor(npy_row(NpyArray::open(out + "/pooled.npy"), 1));
    QVERIFY(torch::allclose(cached, direct.pooled[0], 1e-5, 1e-5));
  }

  // A dataset folder copied with its cache (dates kept, as cp -a does) keeps the cache: images
  // under the cache's parent folder are listed relative to the cache. Before, every copy was
  // refused ("made for another list of images").
  void a_copied_dataset_folder_keeps_its_cache() {
    namespace fs = std::filesystem;
    const std::string original = path("dataset_a");
    fs::create_directories(original + "/images");
    std::vector<std::string> files = {original + "/images/one.png", original + "/images/two.png"};
    fs::copy_file(images_[0], files[0]);
    fs::copy_file(images_[4], files[1]);
    QCOMPARE(extract_features(encoder_, files, original + "/features", {}).encoded, int64_t{2});
    const std::string copy = path("dataset_b");
    fs::copy(original, copy, fs::copy_options::recursive);
    for (const auto& entry : fs::recursive_directory_iterator(original))
      fs::last_write_time(copy + "/" + fs::relative(entry.path(), original).string(), fs::last_write_time(entry.path()));
    for (auto& f : files) f.replace(0, original.size(), copy);
    const auto again = extract_features(encoder_, files, copy + "/features", {});
    QCOMPARE(again.encoded, int64_t{0});
    QCOMPARE(again.skipped, int64_t{2});
    QVERIFY(read_file(copy + "/features/images.txt").find(original) == std::string::npos);
  }

  // Linux allows a line break in a file name; the cache's one-path-per-line list must still
  // resume (it once could not: every later run said the list differed).
  void a_line_break_in_a_file_name_keeps_the_cache_resumable() {
    const std::string dir = path("odd_names");
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(images_[0], dir + "/two\nlines.png");
    std::filesystem::copy_file(images_[1], dir + "/back\\slash.jpg");
    const auto files = list_images(dir);
    QCOMPARE(files.size(), size_t{2});
    const std::string out = path("odd_cache");
    QCOMPARE(extract_features(encoder_, files, out, {}).encoded, int64_t{2});
    const auto again = extract_features(encoder_, files, out, {});
    QCOMPARE(again.encoded, int64_t{0});
    QCOMPARE(again.skipped, int64_t{2});
  }

  void a_corrupt_progress_log_is_refused_by_name() {
    const std::string out = path("corrupt");
    std::filesystem::create_directories(out);
    test::write_text(out + "/images.txt", "a.png\nb.png\n");
    test::write_text(out + "/progress.log", "encoder x\n0 ok\nbanana ok\n");
    test::expect_error([&] { read_cache_status(cache_files(out, false)); },
                       {out + "/progress.log", "line 3", "not a progress entry"});
  }

  void pooled_only_writes_a_standard_npy_and_refuses_mismatches() {
    const std::string out = path("codes.npy");
    ExtractOptions o;
    o.pooled_only = true;
    o.batch_size = 1;
    o.workers = 1;
    // Interrupted: nothing under the final name, so nothing can mistake the array for a whole one.
    std::atomic<bool> cancel{false};
    CancelAfter stop(cancel, 1);
    QVERIFY(extract_features(encoder_, images_, out, o, &stop, &cancel).cancelled);
    QVERIFY(!std::filesystem::exists(out));
    QVERIFY(std::filesystem::exists(out + ".partial"));
    {  // the unfinished file itself is never trained on
      CaptionDataset dataset;
      ImageRecord image;
      image.feature_row = 0;
      dataset.images.push_back(image);
      test::expect_error([&] { open_dataset_features(dataset, out + ".partial", false); },
                         {out + ".partial", "is an unfinished extraction", "then use " + out});
    }
    const auto r = extract_features(encoder_, images_, out, o);
    QCOMPARE(r.encoded + 1, int64_t{3});  // the 3 good images, one of them in the first run
    QVERIFY(!std::filesystem::exists(out + ".partial"));
    const auto codes = NpyArray::open(out);
    QCOMPARE(codes.shape(), (std::vector<int64_t>{5, 2048}));
    QVERIFY(!std::filesystem::exists(path("codes.npy.grid.npy")));
    QCOMPARE(extract_features(encoder_, images_, out, o).skipped, int64_t{5});  // a finished array is kept as it is

    // Rows of unreadable images hold zeros: training refuses them, or the CLI leaves them out.
    CaptionDataset dataset;
    for (int64_t i = 0; i < 5; ++i) {
      ImageRecord image;
      image.key = std::to_string(i);
      image.feature_row = i;
      dataset.images.push_back(image);
    }
    test::expect_error([&] { require_extracted_rows(out, dataset); }, {out, "row 2", "d_broken.jpg", "could not be read"});
    const auto dropped = drop_images_without_features(out, dataset);
    QCOMPARE(dropped.size(), size_t{2});
    QCOMPARE(dataset.images.size(), size_t{3});
    require_extracted_rows(out, dataset);  // no throw: every row left is real
    auto other = images_;
    other.pop_back();
    test::expect_error([&] { extract_features(encoder_, other, reference_cache(), {}); }, {"images.txt", "another list"});
    QVERIFY_THROWS_EXCEPTION(ConfigError, extract_features(encoder_, images_, path("x.npy"), {}));
    test::expect_error([&] { list_images(path("nothing_here")); }, {"nothing_here"});
  }
};

QTEST_GUILESS_MAIN(TestExtract)
#include "test_extract.moc"
