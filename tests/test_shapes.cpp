// The built-in Shapes dataset: deterministic scenes whose captions and boxes tell the truth,
// and the measures that use them (what a caption names, where its attention points).
#include "core/data/dataset.h"
#include "core/data/scene_textures.h"
#include "core/data/shapes.h"
#include "core/data/tokenizer.h"
#include "core/eval/evaluation.h"
#include "core/util/atomic_file.h"
#include "core/util/hash.h"

#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "test_support.h"

using namespace captioner;
using captioner::test::expect_error;

namespace {

ShapesOptions small_options() {
  ShapesOptions o;
  o.count = 60;
  o.seed = 3;
  o.style = "classic";
  return o;
}

ShapesOptions natural_options() {
  auto o = small_options();
  o.style = "natural";
  return o;
}

// Hue in degrees, saturation and value in [0, 1] of the mean colour of the 5x5 pixels at `at`.
cv::Vec3f mean_hsv(const cv::Mat& bgr, cv::Point2d at) {
  const cv::Scalar mean = cv::mean(bgr(cv::Rect(static_cast<int>(at.x) - 2, static_cast<int>(at.y) - 2, 5, 5)));
  cv::Mat pixel(1, 1, CV_32FC3, cv::Scalar(mean[0] / 255, mean[1] / 255, mean[2] / 255)), hsv;
  cv::cvtColor(pixel, hsv, cv::COLOR_BGR2HSV);
  return hsv.at<cv::Vec3f>(0, 0);
}

cv::Point2d centre(const ShapeObject& o) { return {o.bbox[0] + o.bbox[2] / 2.0, o.bbox[1] + o.bbox[3] / 2.0}; }

DecodedCaption caption_with_maps(const std::vector<std::string>& words, const std::vector<int>& argmax_cells) {
  DecodedCaption c;
  for (size_t i = 0; i < words.size(); ++i) {
    DecodedToken t;
    t.word = words[i];
    t.id = 4;
    if (argmax_cells[i] >= 0) {
      t.attention.assign(64, 0.001f);
      t.attention[static_cast<size_t>(argmax_cells[i])] = 0.9f;
    }
    c.tokens.push_back(t);
  }
  return c;
}

}  // namespace

class TestShapes : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void scenes_are_deterministic_per_seed_and_index() {
    const auto o = small_options();
    const auto a = render_scene(7, 12, o), b = render_scene(7, 12, o), c = render_scene(8, 12, o);
    QVERIFY(cv::norm(a.image, b.image, cv::NORM_INF) == 0);
    QCOMPARE(a.captions, b.captions);
    QVERIFY(cv::norm(a.image, c.image, cv::NORM_INF) > 0);
  }

  void scenes_respect_the_specification() {
    const auto o = small_options();
    std::set<std::string> shapes, colours, sizes, backgrounds;
    for (int64_t i = 0; i < 200; ++i) {
      const auto s = render_scene(5, i, o);
      QCOMPARE(s.image.rows, 299);
      QVERIFY(!s.objects.empty() && s.objects.size() <= 3);
      QCOMPARE(s.captions.size(), size_t(5));
      backgrounds.insert(s.background);
      for (size_t k = 0; k < s.objects.size(); ++k) {
        const auto& obj = s.objects[k];
        shapes.insert(obj.shape);
        colours.insert(obj.color);
        sizes.insert(obj.size);
        QVERIFY(obj.bbox[0] >= 0 && obj.bbox[1] >= 0 && obj.bbox[0] + obj.bbox[2] <= 299 && obj.bbox[1] + obj.bbox[3] <= 299);
        QVERIFY(obj.bbox[2] >= 40);  // every object covers at least one 8x8 cell centre (37.4 px apart)
        for (size_t m = k + 1; m < s.objects.size(); ++m) {
          const auto& other = s.objects[m];
          const bool apart = obj.bbox[0] + obj.bbox[2] <= other.bbox[0] || other.bbox[0] + other.bbox[2] <= obj.bbox[0] ||
                             obj.bbox[1] + obj.bbox[3] <= other.bbox[1] || other.bbox[1] + other.bbox[3] <= obj.bbox[1];
          QVERIFY2(apart, "objects overlap");
        }
        // The object is drawn where its box says: the box centre has a saturated / bright
        // pixel unlike the dull background (every shape covers its box centre).
        const auto p = s.image.at<cv::Vec3b>(static_cast<int>(centre(obj).y), static_cast<int>(centre(obj).x));
        const int spread = std::max({p[0], p[1], p[2]}) - std::min({p[0], p[1], p[2]});
        QVERIFY2(spread > 60 || std::min({p[0], p[1], p[2]}) > 200, (obj.color + " " + obj.shape).c_str());
      }
      // Every caption names exactly the scene's (colour, shape) pairs, and says each size.
      for (const auto& caption : s.captions) {
        const auto words = tokenize(caption);
        QVERIFY2(names_exactly(words, s.objects), caption.c_str());
        QCOMPARE(static_cast<size_t>(std::count_if(words.begin(), words.end(),
                                                   [](const std::string& w) { return w == "small" || w == "large"; })),
                 s.objects.size());
      }
    }
    QVERIFY(shapes.size() >= 5);
    QVERIFY(colours.size() >= 6);
    QCOMPARE(sizes.size(), size_t(2));
    QCOMPARE(backgrounds.size(), size_t(4));
  }

  // The classic style must keep drawing the scenes its published results were measured on:
  // FNV-1a hashes of three scenes recorded from the generator before the natural style existed.
  void classic_style_draws_as_before() {
    const auto o = small_options();
    const uint64_t expected[] = {4710491088161714231ull, 3187206484803958888ull, 15375067751970556474ull};
    for (int64_t i = 0; i < 3; ++i) {
      const auto s = render_scene(4, i, o);
      QVERIFY(s.image.isContinuous());
      QCOMPARE(fnv1a(s.image.data, s.image.total() * s.image.elemSize()), expected[i]);
    }
  }

  // Whatever the texture, clutter, light and compression, each object keeps its colour where its
  // box says, the captions name exactly the objects, and every kind of background occurs.
  void natural_scenes_keep_their_objects_visible() {
    const auto o = natural_options();
    const std::map<std::string, float> hues = {{"red", 0},    {"yellow", 57}, {"green", 116},
                                               {"cyan", 183}, {"blue", 226},  {"magenta", 300}};
    std::set<std::string> backgrounds;
    int differs_from_classic = 0;
    for (int64_t i = 0; i < 200; ++i) {
      const auto s = render_scene(5, i, o);
      backgrounds.insert(s.background);
      QCOMPARE(s.image.rows, 299);
      QCOMPARE(s.image.type(), CV_8UC3);
      for (const auto& obj : s.objects) {
        QVERIFY(obj.bbox[0] >= 0 && obj.bbox[1] >= 0 && obj.bbox[0] + obj.bbox[2] <= 299 && obj.bbox[1] + obj.bbox[3] <= 299);
        const auto hsv = mean_hsv(s.image, centre(obj));
        const std::string what = obj.color + " " + obj.shape + " in scene " + std::to_string(i) + " on " + s.background;
        if (obj.color == "white") {
          QVERIFY2(hsv[1] < 0.35f && hsv[2] > 0.6f, what.c_str());
        } else {
          const float off = std::abs(hsv[0] - hues.at(obj.color));
          QVERIFY2(std::min(off, 360 - off) < 35 && hsv[1] > 0.45f, what.c_str());
        }
      }
      for (const auto& caption : s.captions) QVERIFY2(names_exactly(tokenize(caption), s.objects), caption.c_str());
      const bool textured = std::count(textured_background_kinds().begin(), textured_background_kinds().end(), s.background) > 0;
      for (const auto& caption : s.captions)
        if (caption.find(" background") != std::string::npos)
          QVERIFY2((caption.find("textured") != std::string::npos) == textured, caption.c_str());
      auto classic = small_options();
      differs_from_classic += cv::norm(s.image, render_scene(5, i, classic).image, cv::NORM_INF) > 0;
    }
    for (const auto& kind : textured_background_kinds()) QVERIFY2(backgrounds.count(kind), kind.c_str());
    for (const char* kind : {"plain", "gradient", "noise", "stripes"}) QVERIFY2(backgrounds.count(kind), kind);
    QVERIFY(!backgrounds.count("photo"));  // no photos given
    QCOMPARE(differs_from_classic, 200);
  }

  // Photos given as backgrounds fill about half of the scenes, dimmed behind the objects.
  void background_photos_fill_a_share_of_natural_scenes() {
    auto o = natural_options();
    auto photos = std::make_shared<std::vector<cv::Mat>>();
    photos->emplace_back(360, 480, CV_8UC3, cv::Scalar(230, 230, 230));
    photos->emplace_back(300, 300, CV_8UC3, cv::Scalar(210, 220, 230));
    o.background_photos = photos;
    int on_photos = 0;
    for (int64_t i = 0; i < 400; ++i) {
      const auto s = render_scene(6, i, o);
      if (s.background != "photo") continue;
      ++on_photos;
      // The light photo, dimmed by 0.35-0.7 (plus at most 15), then lit by at most 1.12.
      cv::Mat grey;
      cv::cvtColor(s.image, grey, cv::COLOR_BGR2GRAY);
      std::vector<uchar> values(grey.begin<uchar>(), grey.end<uchar>());
      std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
      const int median = values[values.size() / 2];
      QVERIFY2(median >= 55 && median <= 200, std::to_string(median).c_str());
    }
    QVERIFY2(on_photos >= 160 && on_photos <= 240, std::to_string(on_photos).c_str());  // 200 expected
    // A test set all on photos.
    o.photo_share = 1;
    for (int64_t i = 0; i < 20; ++i) QCOMPARE(render_scene(6, i, o).background, std::string("photo"));
  }

  void styles_are_recorded_and_checked() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    auto o = natural_options();
    o.count = 4;
    o.background_photos = std::make_shared<std::vector<cv::Mat>>(1, cv::Mat(100, 100, CV_8UC3, cv::Scalar(90, 90, 90)));
    o.background_names = {"street.jpg"};
    write_shapes_dataset(root + "/natural", o);
    const auto doc = nlohmann::json::parse(read_file(root + "/natural/dataset.json"));
    QCOMPARE(doc["style"].get<std::string>(), std::string("natural"));
    QCOMPARE(doc["background_photos"], nlohmann::json::array({"street.jpg"}));
    o.style = "classic";
    expect_error([&] { write_shapes_dataset(root + "/classic", o); }, {"background photos need the natural style"});
    o.style = "photographic";
    expect_error([&] { write_shapes_dataset(root + "/other", o); }, {"style must be classic or natural", "photographic"});
    QVERIFY(!QFile::exists(QString::fromStdString(root + "/classic/dataset.json")));
  }

  void relations_match_the_geometry() {
    const auto o = small_options();
    int checked = 0;
    for (int64_t i = 0; i < 300 && checked < 20; ++i) {
      const auto s = render_scene(9, i, o);
      if (s.objects.size() != 2) continue;
      for (const auto& caption : s.captions) {
        const auto at = caption.find(" to the left of ");
        if (at == std::string::npos) continue;
        // "a <size> <colour> <shape> to the left of a <size> <colour> <shape>": first is left.
        const auto left = tokenize(caption.substr(0, at)), right = tokenize(caption.substr(at + 16));
        const ShapeObject* l = nullptr;
        const ShapeObject* r = nullptr;
        for (const auto& obj : s.objects) {
          if (obj.shape == left.back() && obj.color == left[left.size() - 2]) l = &obj;
          if (obj.shape == right.back() && obj.color == right[right.size() - 2]) r = &obj;
        }
        QVERIFY2(l && r, caption.c_str());
        QVERIFY2(centre(*l).x < centre(*r).x, caption.c_str());
        ++checked;
      }
    }
    QVERIFY(checked >= 5);
  }

  void dataset_on_disk_reads_as_karpathy_with_objects() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    auto o = small_options();
    write_shapes_dataset(root, o);
    const auto ds = read_dataset(root);
    QCOMPARE(ds.images.size(), size_t(60));
    QVERIFY(ds.has_own_split());
    const auto annotations = read_shapes_annotations(root + "/dataset.json");
    QCOMPARE(annotations.objects.size(), size_t(60));
    QCOMPARE(annotations.image_size, 299);
    const auto again = render_scene(o.seed, 17, o);
    QCOMPARE(annotations.objects[17].size(), again.objects.size());
    QCOMPARE(annotations.objects[17][0].bbox, again.objects[0].bbox);
    const cv::Mat png = cv::imread(root + "/" + ds.images[17].file);
    QVERIFY(cv::norm(png, again.image, cv::NORM_INF) == 0);  // PNG is lossless
    QCOMPARE(ds.images[17].captions.size(), size_t(5));
    QCOMPARE(ds.images[17].id, std::string("17"));

    o.split = "test";
    write_shapes_dataset(root + "/t", o);
    for (const auto& image : read_dataset(root + "/t").images) QVERIFY(image.split == Split::Test);
  }

  void never_overwrites_an_existing_dataset() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    auto o = small_options();
    write_shapes_dataset(root, o);
    const std::string dataset = read_file(root + "/dataset.json");
    const std::string image = read_file(root + "/images/000000.png");
    o.seed += 1;  // other scenes: every file would differ
    expect_error([&] { write_shapes_dataset(root, o); }, {root, "already holds a dataset", "nothing was written"});
    QCOMPARE(read_file(root + "/dataset.json"), dataset);
    QCOMPARE(read_file(root + "/images/000000.png"), image);
  }

  void cancelled_generation_writes_no_dataset_file() {
    QTemporaryDir dir;
    auto o = small_options();
    write_shapes_dataset(dir.path().toStdString(), o, [](int64_t done, int64_t) { return done < 5; });
    QVERIFY(!QFile::exists(dir.path() + "/dataset.json"));
  }

  void bad_options_and_objects_are_refused() {
    QTemporaryDir dir;
    auto o = small_options();
    o.count = 0;
    expect_error([&] { write_shapes_dataset(dir.path().toStdString(), o); }, {"count"});
    const std::string bad = captioner::test::write_text(dir.path().toStdString() + "/bad.json",
                                                        R"({"images": [{"objects": [{"shape": "circle"}]}]})");
    expect_error([&] { read_shapes_annotations(bad); }, {"bad.json", "images[0].objects[0]"});
    // A box coordinate that is not an int (nlohmann's cast of 1e300 to int is undefined).
    const std::string huge = captioner::test::write_text(
        dir.path().toStdString() + "/huge.json",
        R"({"images": [{"objects": [{"shape": "circle", "color": "red", "size": "small", "bbox": [1e300, 0, 1, 1]}]}]})");
    expect_error([&] { read_shapes_annotations(huge); }, {"huge.json", "images[0].objects[0]", "4 integers"});
  }

  void names_pairs_colour_with_its_shape() {
    const auto pairs = named_objects(tokenize("a small red circle to the left of a large blue square"));
    QCOMPARE(pairs.size(), size_t(2));
    QCOMPARE(pairs[0].color + " " + pairs[0].shape, std::string("red circle"));
    QCOMPARE(pairs[0].token, size_t(3));
    QCOMPARE(pairs[1].color + " " + pairs[1].shape, std::string("blue square"));
    QCOMPARE(pairs[1].token, size_t(11));
    const std::vector<ShapeObject> truth = {{"circle", "red", "small", {0, 0, 50, 50}},
                                            {"square", "blue", "large", {100, 100, 99, 99}}};
    QVERIFY(names_exactly(tokenize("a large blue square and a small red circle"), truth));
    QVERIFY(!names_exactly(tokenize("a small red circle"), truth));                                   // one missing
    QVERIFY(!names_exactly(tokenize("a small green circle and a large blue square"), truth));         // wrong colour
    QVERIFY(!names_exactly(tokenize("a small red circle , a large blue square and a star"), truth));  // extra
  }

  // Hand-made captions of one scene (a red circle and a blue square) whose hallucination
  // figures are known.
  void object_mentions_measure_hallucination() {
    const std::vector<ShapeObject> truth = {{"circle", "red", "small", {0, 0, 50, 50}},
                                            {"square", "blue", "large", {100, 100, 99, 99}}};
    ObjectMentions m;
    count_object_mentions(tokenize("a large blue square and a small red circle"), truth, m);        // exact
    count_object_mentions(tokenize("two shapes , a small red circle and a green star"), truth, m);  // 1 invented; count right
    count_object_mentions(tokenize("three shapes , a blue square , a blue square and a white star"), truth,
                          m);                                     // repeat, invention, wrong count
    count_object_mentions(tokenize("a small circle"), truth, m);  // no colour: any circle matches
    QCOMPARE(m.captions, int64_t{4});
    QCOMPARE(m.mentioned, int64_t{2 + 2 + 2 + 1});  // distinct per caption
    QCOMPARE(m.hallucinated, int64_t{0 + 1 + 1 + 0});
    QCOMPARE(m.chair_i(), 2.0 / 7.0);
    QCOMPARE(m.chair_s(), 2.0 / 4.0);
    QCOMPARE(m.objects, int64_t{8});
    QCOMPARE(m.recalled, int64_t{2 + 1 + 1 + 0});  // a colourless circle does not name the red circle
    QCOMPARE(m.recall(), 4.0 / 8.0);
    QCOMPARE(m.counting_captions, int64_t{2});
    QCOMPARE(m.count_accuracy(), 0.5);
    QCOMPARE(m.repetition(), 0.25);
    ObjectMentions none;
    QVERIFY(std::isnan(none.chair_i()) && std::isnan(none.count_accuracy()));
  }

  // Content accuracy by score band: equal-count bands, least confident first; and the split a
  // threshold makes.
  void scores_are_banded_by_confidence() {
    std::vector<EvaluatedImage> images;
    // Scores -1.0, -0.9, ..., -0.1 (given out of order); right from -0.5 up, and at -1.0.
    for (int i : {3, 0, 9, 5, 1, 7, 2, 8, 4, 6}) {
      EvaluatedImage image;
      image.mean_log_prob = -1.0 + 0.1 * i;
      image.names_exactly = i >= 5 || i == 0;
      images.push_back(image);
    }
    const auto bands = score_bands(images, 2);
    QCOMPARE(bands.size(), size_t{2});
    QVERIFY(std::abs(bands[0].lowest + 1.0) < 1e-9 && std::abs(bands[0].highest + 0.6) < 1e-9);
    QCOMPARE(bands[0].images, int64_t{5});
    QVERIFY(std::abs(bands[0].content_accuracy - 0.2) < 1e-9);
    QVERIFY(std::abs(bands[1].content_accuracy - 1.0) < 1e-9);
    QCOMPARE(score_bands(images, 40).size(), size_t{10});  // never more bands than images
    QVERIFY(score_bands({}, 10).empty());
    const UnsureSplit split = split_by_score(images, -0.45);
    QCOMPARE(split.unsure, int64_t{6});
    QCOMPARE(split.sure, int64_t{4});
    QVERIFY(std::abs(split.unsure_accuracy - 2.0 / 6) < 1e-9 && std::abs(split.sure_accuracy - 1.0) < 1e-9);
  }

  void pointing_game_scores_argmax_cells() {
    // Red circle in box (0, 0, 80, 80): cells (0,0), (0,1), (1,0), (1,1) have centres inside.
    // Blue square in box (150, 150, 120, 120): cell (4,4) (centre 168) and the image-centre cell.
    const std::vector<ShapeObject> objects = {{"circle", "red", "small", {0, 0, 80, 80}},
                                              {"square", "blue", "large", {150, 150, 120, 120}}};
    Pointing score;
    // "circle" looks at cell 9 = (1,1): hit. "square" looks at cell 0: miss. "star" matches nothing.
    play_pointing_game(caption_with_maps({"a", "red", "circle", "and", "a", "blue", "square", "star"}, {0, 0, 9, 0, 0, 0, 0, 0}),
                       objects, 299, score);
    QCOMPARE(score.words, int64_t{2});
    QCOMPARE(score.hits, int64_t{1});
    QCOMPARE(score.centre_hits, int64_t{1});  // the centre cell (4,4) lies in the square only
    // A colour that contradicts the object: the word matches no object and is not counted.
    play_pointing_game(caption_with_maps({"a", "green", "circle"}, {0, 0, 9}), objects, 299, score);
    QCOMPARE(score.words, int64_t{2});
    // Words without maps (an LSTM model) are not counted either.
    play_pointing_game(caption_with_maps({"a", "red", "circle"}, {-1, -1, -1}), objects, 299, score);
    QCOMPARE(score.words, int64_t{2});
    QVERIFY(std::abs(score.rate() - 0.5) < 1e-12);
  }
};

QTEST_APPLESS_MAIN(TestShapes)
#include "test_shapes.moc"
