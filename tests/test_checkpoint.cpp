#include "core/model/caption_net.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/util/archive_check.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "model_reference.h"
#include "test_support.h"

using namespace captioner;

namespace {

struct Fixture {
  TrainConfig config;
  Vocabulary vocab = Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "cat", "dog", "sat"});
  CaptionNet model{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer;
  TrainingState state;
  torch::Tensor features = torch::randn({2, 12});
  torch::Tensor tokens = torch::tensor({{2, 4, 6, 3}, {2, 5, 3, 0}}, torch::kInt64);

  Fixture() {
    config.model.feature_dim = 12;
    config.model.hidden = 16;
    config.model.embed = 8;
    config.model.layers = 2;
    config.model.dropout = 0.1;
    model = CaptionNet(config.model, vocab.size(), Vocabulary::kPad);
    optimizer = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-2));
    state.history.rows.push_back({1, 2.5, std::nan(""), 100, 1e-3, 0.5});
    state.history.rows.push_back({2, 2.0, 2.2, 110, 1e-3, 1.0});
    state.sampler_state = "{}";
    state.caption_rng_state = "1 2 3";
    state.dataset_fingerprint = "fp";
  }
  void train_step() {
    model->train();
    optimizer->zero_grad();
    auto out = test::logits(*model, test::hidden_states(*model, features, tokens)).sum();
    out.backward();
    optimizer->step();
    ++state.step;
  }
  CheckpointContents contents() {
    CheckpointContents c;
    c.config = &config;
    c.vocab = &vocab;
    c.model = model.ptr();
    c.optimizer = optimizer.get();
    c.state = &state;
    return c;
  }
  torch::Tensor outputs(CaptionNet& net) { return outputs(net.ptr()); }
  torch::Tensor outputs(const CaptionModel& model) {
    torch::NoGradGuard g;
    auto net = std::dynamic_pointer_cast<CaptionNetImpl>(model);
    if (!net) throw std::runtime_error("not an LSTM model");
    net->eval();
    return test::logits(*net, test::hidden_states(*net, features, tokens));
  }
};

// Writes `fixture`'s checkpoint again with one record replaced and the metadata (with its
// checksums) kept: what a cut-short or garbled record inside a well-formed file looks like.
void write_with_record(const std::string& good, const std::string& out_path, Fixture& f, const std::string& key,
                       const torch::Tensor& value) {
  torch::serialize::InputArchive in;
  in.load_from(good);
  c10::IValue meta;
  in.read("meta", meta);
  torch::serialize::OutputArchive out;
  out.write("meta", meta);
  for (const std::string k : {"history", "torch_rng", "optimizer_state"}) {
    torch::Tensor t;
    if (k == key) {
      if (!value.defined()) continue;  // the record left out
      t = value;
    } else if (!in.try_read(k, t)) {
      continue;
    }
    out.write(k, t);
  }
  torch::serialize::OutputArchive model;
  f.model->save(model);
  out.write("model", model);
  out.save_to(out_path);
}

}  // namespace

class TestCheckpoint : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string path(const std::string& name) { return dir_.path().toStdString() + "/" + name; }

 private Q_SLOTS:
  void save_then_load_gives_identical_outputs_and_state() {
    torch::manual_seed(0);
    Fixture f;
    f.train_step();
    save_checkpoint(path("a.pt"), f.contents());
    auto loaded = load_checkpoint(path("a.pt"));
    QVERIFY(torch::equal(f.outputs(f.model), f.outputs(loaded.model)));
    QCOMPARE(loaded.vocab, f.vocab);
    QCOMPARE(loaded.config.model.layers, int64_t{2});
    QCOMPARE(loaded.config.model.hidden, int64_t{16});
    QCOMPARE(loaded.state.step, int64_t{1});
    QCOMPARE(loaded.state.history.rows.size(), size_t{2});
    QVERIFY(std::isnan(loaded.state.history.rows[0].val_loss));
    QCOMPARE(loaded.state.history.rows[1].val_loss, 2.2);
    QCOMPARE(loaded.state.caption_rng_state, std::string("1 2 3"));
    QVERIFY(loaded.has_optimizer);

    // The optimizer state round-trips too: one more step from both gives the same weights.
    torch::optim::Adam optimizer(loaded.model->parameters(), torch::optim::AdamOptions(1e-2));
    restore_optimizer(loaded, optimizer, path("a.pt"));
    torch::manual_seed(5);
    f.train_step();
    torch::manual_seed(5);
    loaded.model->train();
    optimizer.zero_grad();
    auto net = std::dynamic_pointer_cast<CaptionNetImpl>(loaded.model);
    test::logits(*net, test::hidden_states(*net, f.features, f.tokens)).sum().backward();
    optimizer.step();
    QVERIFY(torch::allclose(f.outputs(f.model), f.outputs(loaded.model), 1e-6, 1e-7));
  }
  void crash_before_rename_keeps_the_previous_checkpoint() {
    torch::manual_seed(1);
    Fixture f;
    save_checkpoint(path("b.pt"), f.contents());
    const auto good = f.outputs(f.model);
    f.train_step();
    f.train_step();
    bool reached = false;
    try {
      save_checkpoint(path("b.pt"), f.contents(), [&] {
        reached = true;
        throw std::runtime_error("simulated crash");
      });
      QFAIL("the simulated crash did not propagate");
    } catch (const std::runtime_error&) {
    }
    QVERIFY(reached);
    auto loaded = load_checkpoint(path("b.pt"));
    QCOMPARE(loaded.state.step, int64_t{0});
    QVERIFY(torch::equal(good, f.outputs(loaded.model)));
    // The next successful save replaces it, and removes what killed writers left behind (a pid
    // above the kernel's limit never runs) but not a live process's file (pid 1).
    test::write_text(path("b.pt.tmp-4194305"), "left by a killed run");
    test::write_text(path("b.pt.tmp-1"), "being written");
    save_checkpoint(path("b.pt"), f.contents());
    QCOMPARE(load_checkpoint(path("b.pt")).state.step, int64_t{2});
    QVERIFY(!QFile::exists(QString::fromStdString(path("b.pt.tmp-4194305"))));
    QVERIFY(QFile::exists(QString::fromStdString(path("b.pt.tmp-1"))));
  }
  void torn_or_foreign_files_give_clear_errors() {
    torch::manual_seed(2);
    Fixture f;
    save_checkpoint(path("c.pt"), f.contents());
    const std::string bytes = read_file(path("c.pt"));
    test::write_text(path("torn.pt"), bytes.substr(0, bytes.size() / 2));
    test::expect_error([&] { load_checkpoint(path("torn.pt")); }, {path("torn.pt"), "not a readable Captioner checkpoint"});
    test::write_text(path("text.pt"), "hello");
    test::expect_error([&] { load_checkpoint(path("text.pt")); }, {path("text.pt")});
    test::expect_error([&] { load_checkpoint(path("missing.pt")); }, {path("missing.pt"), "cannot open"});
    QVERIFY_THROWS_EXCEPTION(CheckpointError, load_checkpoint(path("torn.pt")));
  }
  // What LibTorch's archive reader lets through is refused by name: flipped weight bytes, weights
  // of another shape than the configuration makes, NaN weights, a negative step.
  void corrupt_or_inconsistent_checkpoints_are_refused() {
    torch::manual_seed(3);
    Fixture f;
    {
      torch::NoGradGuard no_grad;
      f.model->parameters().back().fill_(1234.5f);  // a recognisable run of bytes in the file
    }
    save_checkpoint(path("d.pt"), f.contents());
    QVERIFY(load_checkpoint(path("d.pt")).model);
    std::string bytes = read_file(path("d.pt"));
    const float marker = 1234.5f;
    const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(&marker), sizeof marker));
    QVERIFY(at != std::string::npos);
    bytes[at] ^= 0x01;  // still a finite float, one bit off
    test::write_text(path("flipped.pt"), bytes);
    test::expect_error([&] { load_checkpoint(path("flipped.pt")); }, {path("flipped.pt"), "checksum", "corrupt"});

    Fixture wrong;
    TrainConfig bigger = wrong.config;
    bigger.model.hidden = 32;  // the weights are 16 wide (x 2 layers in cnn_h0)
    auto contents = wrong.contents();
    contents.config = &bigger;
    save_checkpoint(path("shape.pt"), contents);
    test::expect_error([&] { load_checkpoint(path("shape.pt")); },
                       {path("shape.pt"), "cnn_h0.weight is [32, 12]", "hidden 32", "makes [64, 12]"});

    Fixture nan;
    {
      torch::NoGradGuard no_grad;
      nan.model->parameters().front()[0].fill_(std::nanf(""));
    }
    save_checkpoint(path("nan.pt"), nan.contents());
    test::expect_error([&] { load_checkpoint(path("nan.pt")); }, {path("nan.pt"), "NaN or infinite"});

    Fixture negative;
    negative.state.step = -3;
    save_checkpoint(path("negative.pt"), negative.contents());
    test::expect_error([&] { load_checkpoint(path("negative.pt")); }, {path("negative.pt"), "step -3 is negative"});
  }
  // Metadata numbers that do not fit their field (found by fuzz_checkpoint_meta: a float cast to an
  // integer field was undefined behaviour) are refused by name.
  // Every record is checked against its checksum before it is used: a cut-short optimizer state,
  // a changed history or a garbled generator state is refused with the file's name, never read.
  void every_record_is_covered_by_a_checksum() {
    torch::manual_seed(8);
    Fixture f;
    f.train_step();
    f.state.torch_rng_state = at::make_generator<at::CPUGeneratorImpl>(5).get_state();
    const std::string good = path("records.pt");
    save_checkpoint(good, f.contents());
    const auto loaded = load_checkpoint(good);
    QVERIFY(loaded.has_optimizer);
    torch::optim::Adam optimizer(loaded.model->parameters(), torch::optim::AdamOptions(1e-2));
    restore_optimizer(loaded, optimizer, good);  // the intact file restores

    torch::serialize::InputArchive in;
    in.load_from(good);
    torch::Tensor state, history, rng;
    QVERIFY(in.try_read("optimizer_state", state) && in.try_read("history", history) && in.try_read("torch_rng", rng));
    write_with_record(good, path("short_optimizer.pt"), f, "optimizer_state", state.narrow(0, 0, state.numel() / 2).clone());
    test::expect_error([&] { load_checkpoint(path("short_optimizer.pt")); },
                       {path("short_optimizer.pt"), "optimizer_state record does not match the checksum"});
    auto changed = history.clone();
    changed[0][1] = 99.0;
    write_with_record(good, path("history.pt"), f, "history", changed);
    test::expect_error([&] { load_checkpoint(path("history.pt")); }, {path("history.pt"), "history record"});
    write_with_record(good, path("rng.pt"), f, "torch_rng", torch::randint(0, 255, rng.sizes(), torch::kUInt8));
    test::expect_error([&] { load_checkpoint(path("rng.pt")); }, {path("rng.pt"), "torch_rng record"});
    write_with_record(good, path("no_history.pt"), f, "history", torch::Tensor());
    test::expect_error([&] { load_checkpoint(path("no_history.pt")); }, {path("no_history.pt"), "history record is missing"});
  }

  // LibTorch's unpickler sizes a string by its declared length before reading it (a 60 KB file
  // found by fuzz_checkpoint declared 4 GB and took 4.2 GB): each pickle is walked first.
  void a_pickle_argument_longer_than_its_record_is_refused_before_reading() {
    const std::string valid = std::string(
                                  "\x80\x02X\x03\x00\x00\x00"
                                  "abcq\x00",
                                  12) +
                              "cmod\nname\n.";
    QCOMPARE(pickle_problem(valid), std::string());
    const std::string huge = std::string(
        "\x80\x02X\x00\x00\x00\xf0"
        "abc.",
        11);
    QCOMPARE(pickle_problem(huge), std::string("an argument of 4026531840 bytes where 4 are left at byte 2"));
    QVERIFY(pickle_problem(std::string("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.", 12)).find("bytes where") !=
            std::string::npos);
    QCOMPARE(pickle_problem("\x80\x02\xfe."), std::string("unknown opcode 254 at byte 2"));
    QCOMPARE(pickle_problem("\x80\x02"
                            "cmodule_without_end"),
             std::string("a text argument without its end at byte 2"));
    QCOMPARE(pickle_problem("\x80\x02N"), std::string("no STOP opcode at byte 3"));

    // A saved checkpoint whose metadata string declares 4 GB: refused, naming the file.
    torch::manual_seed(9);
    Fixture f;
    const std::string good = path("pickle.pt");
    save_checkpoint(good, f.contents());
    QCOMPARE(archive_pickle_problem(read_file(good)), std::string());
    std::string bytes = read_file(good);
    const size_t meta = bytes.find("{\"");  // the metadata JSON, a BINUNICODE string in data.pkl
    QVERIFY(meta != std::string::npos && meta >= 5 && bytes[meta - 5] == 'X');
    bytes.replace(meta - 4, 4, std::string("\x00\x00\x00\xf0", 4));
    write_file_atomically(path("huge_string.pt"), bytes);
    try {
      load_checkpoint(path("huge_string.pt"));
      QFAIL("a checkpoint declaring a 4 GB string was loaded");
    } catch (const CheckpointError& e) {
      const std::string message = e.what();
      QVERIFY2(message.find(path("huge_string.pt")) != std::string::npos, e.what());
      QVERIFY2(message.find("Exception raised from") == std::string::npos, e.what());  // no LibTorch backtrace
    }
  }

  // LibTorch compiles an archive's code records on loading; its compiler crashed on a class
  // constant (fuzz_checkpoint renamed __parameters__): only what LibTorch writes passes.
  void code_records_hold_only_module_attributes() {
    const std::string written =
        "class Module(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = []\n  weight : Tensor\n"
        "  bias : Tensor\n  lstm : __torch__.___torch_mangle_4.Module\n  __annotations__[\"0\"] = __torch__.Conv\n";
    QCOMPARE(module_code_problem(written), std::string());
    const std::string renamed = "class Module(Module):\n  __parhgeters__ = [\"weight\", ]\n";
    QCOMPARE(module_code_problem(renamed), std::string("is not the code LibTorch writes for a module's attributes (line 2)"));
    QVERIFY(!module_code_problem("class Module(Module):\n  def forward(self):\n").empty());
    QVERIFY(!module_code_problem("class Module(Module):\n  x : " + std::string(20, '[') + "int" + std::string(20, ']') + "\n")
                 .empty());
    // The records of a checkpoint this LibTorch writes pass.
    torch::manual_seed(3);
    Fixture f;
    save_checkpoint(path("code.pt"), f.contents());
    QCOMPARE(archive_pickle_problem(read_file(path("code.pt"))), std::string());
  }

  // A tensor read from an archive keeps its record's storage, however short for its shape
  // (fuzz_checkpoint found a weight read past its record): the storage is checked first.
  void a_tensor_shorter_than_its_shape_is_named() {
    QCOMPARE(short_storage_problem(torch::zeros({4, 3})), std::string());
    QCOMPARE(short_storage_problem(torch::zeros({0})), std::string());
    // As LibTorch's unpickler makes a tensor: its record's storage, then the shape the file gives.
    torch::Tensor short_one = torch::zeros({4});
    short_one.unsafeGetTensorImpl()->set_sizes_contiguous({8});
    QCOMPARE(short_storage_problem(short_one), std::string("16 bytes where its shape needs 32"));
  }

  void metadata_numbers_must_fit_their_fields() {
    const std::string head = R"({"format": "captioner-checkpoint", "vocabulary": ["#PAD#", "#UNK#", "#START#", "#END#"], )";
    test::expect_error([&] { read_checkpoint_meta(head + R"("step": 1, "config": {"steps": 5.4e38}})", "m.pt", 1 << 24); },
                       {"m.pt", "'steps' must be an integer"});
    test::expect_error([&] { read_checkpoint_meta(head + R"("step": 1e300, "config": {}})", "m.pt", 1 << 24); },
                       {"m.pt", "'step' is not an integer"});
    QCOMPARE(read_checkpoint_meta(head + R"("step": 3, "config": {"lr": 2}})", "m.pt", 1 << 24).config.lr, 2.0);
  }
  // A run's encoder id gives its layer; ids of the earlier mixed5 grid are refused, naming the run.
  void the_run_names_its_grid_layer() {
    torch::manual_seed(4);
    Fixture f;
    QDir(dir_.path()).mkpath("run");
    const std::string run = path("run");
    f.config.encoder_id = "keras:0123/mixed5-cells";
    save_checkpoint(RunFolder(run).checkpoint(), f.contents());
    QCOMPARE(run_grid_layer(run), GridLayer::Mixed5);
    f.config.encoder_id = "keras:0123";
    save_checkpoint(RunFolder(run).checkpoint(), f.contents());
    QCOMPARE(run_grid_layer(run), GridLayer::Mixed10);
    f.config.encoder_id = "keras:0123/mixed5";
    save_checkpoint(RunFolder(run).checkpoint(), f.contents());
    test::expect_error([&] { run_grid_layer(run); }, {RunFolder(run).checkpoint(), "earlier mixed5 grid", "extract"});
  }

  void model_only_export_has_no_optimizer() {
    torch::manual_seed(3);
    Fixture f;
    auto c = f.contents();
    c.optimizer = nullptr;
    save_checkpoint(path("export.pt"), c);
    auto loaded = load_checkpoint(path("export.pt"));
    QVERIFY(!loaded.has_optimizer);
    torch::optim::Adam optimizer(loaded.model->parameters(), torch::optim::AdamOptions(1e-2));
    QVERIFY_THROWS_EXCEPTION(CheckpointError, restore_optimizer(loaded, optimizer, path("export.pt")));
  }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
