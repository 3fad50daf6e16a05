#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/cli_data.h"
#include "app/cli_options.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "app/progress_line.h"
#include "core/data/coco_results.h"
#include "core/eval/evaluation.h"
#include "core/eval/run_evaluation.h"
#include "core/util/runtime.h"

namespace captioner::cli {

namespace {

struct EvalArgs {
  RunEvalRequest request;  // the options bind to its fields
  std::string results;
  int beam = 1;
  bool json = false;
  int64_t threads = 0;
};

void add_eval_options(CLI::App* cmd, EvalArgs* a) {
  RunEvalRequest& r = a->request;
  DecodeOptions& d = r.decoding;
  cmd->add_option("--model", r.model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--data", r.data, "Shapes folder, COCO captions JSON, Karpathy JSON or handout folder")->required();
  cmd->add_option("--split", r.split, "Split to evaluate: train, val, test, or all")
      ->check(CLI::IsMember({"train", "val", "test", "all"}))
      ->capture_default_str();
  cmd->add_option("--beam", a->beam, "Beam width (1 = greedy)")->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("--length-penalty", d.length_penalty, "Beam: rank by log p / length^alpha")->capture_default_str();
  cmd->add_option("--max-len", d.max_len, "Max generated tokens")->check(CLI::Range(1, 1000))->capture_default_str();
  add_repeat_options(cmd, d);
  cmd->add_option("--images", r.images, "Image folder of a COCO/Karpathy dataset (a Shapes folder needs none)");
  cmd->add_option("--cache", r.cache,
                  "Feature cache folder (default: DATASET/features, or DATASET/features-mixed5 for models of that layer)");
  cmd->add_option("--encoder", r.encoder, "Encoder weight file (default: the installed one)");
  cmd->add_option("--features", r.features, "Pooled feature .npy for data without image files (one row per image)");
  cmd->add_option("--results", a->results, "Also write the captions as COCO results [{image_id, caption}]");
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  cmd->add_option("--device", r.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_encoder_precision_option(cmd, r.precision);
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
}

void print_text(const RunEvaluation& e) {
  const EvalReport& r = e.report;
  std::printf("%lld images (%s split), %s decoding, model %s\n", static_cast<long long>(r.images), e.split.c_str(),
              e.decoding.c_str(), e.model_kind.c_str());
  std::printf("BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f  ROUGE-L %.4f  CIDEr-D %.4f\n", r.scores.bleu[0],
              r.scores.bleu[1], r.scores.bleu[2], r.scores.bleu[3], r.scores.rouge_l, r.scores.cider_d);
  std::printf("mean log-probability per word %.4f\n", r.mean_log_prob);
  if (!r.has_objects) return;
  std::printf("content accuracy %.4f\n", r.content_accuracy);
  const ObjectMentions& m = r.mentions;
  std::printf("hallucination: CHAIR-i %.4f (%lld of %lld objects mentioned are not in the image), CHAIR-s %.4f\n", m.chair_i(),
              static_cast<long long>(m.hallucinated), static_cast<long long>(m.mentioned), m.chair_s());
  std::printf("object recall %.4f, repetition %.4f, ", m.recall(), m.repetition());
  if (m.counting_captions)
    std::printf("count accuracy %.4f (%lld captions give a number)\n", m.count_accuracy(),
                static_cast<long long>(m.counting_captions));
  else
    std::printf("count accuracy: no caption gives a number\n");
  if (r.pointing.words)
    std::printf("pointing game %.4f (centre-cell baseline %.4f) over %lld shape words\n", r.pointing.rate(),
                r.pointing.centre_rate(), static_cast<long long>(r.pointing.words));
  else
    std::printf("pointing game: no attention maps (an LSTM model) or no shape words to check\n");
  std::printf("content accuracy by score decile (mean log-probability per word, least confident first):");
  for (const ScoreBand& b : r.calibration) std::printf(" %.2f", b.content_accuracy);
  std::printf("\n");
  const UnsureSplit& u = r.unsure;
  std::printf("flagged unsure (score below %.2f): %lld captions, content accuracy %.4f; the other %lld: %.4f\n", u.threshold,
              static_cast<long long>(u.unsure), u.unsure_accuracy, static_cast<long long>(u.sure), u.sure_accuracy);
}

int run_eval(const EvalArgs& a) {
  configure_threads(a.threads);
  RunEvalRequest request = a.request;
  request.decoding.mode = a.beam > 1 ? DecodeMode::Beam : DecodeMode::Greedy;
  request.decoding.beam_width = a.beam;
  class Progress : public RunEvalObserver {
    void on_message(const std::string& text) override { ProgressLine::on_stderr().message(text); }
    void on_extraction(const ExtractProgress& p) override { print_extraction_progress(p); }
    void on_caption(int64_t done, int64_t total) override {
      ProgressLine::on_stderr().show("eval: " + std::to_string(done) + "/" + std::to_string(total) + " images", done % 100 == 0,
                                     done == total);
    }
  } progress;
  const RunEvaluation e = evaluate_run(request, &progress);
  if (!a.results.empty()) {
    std::vector<std::pair<std::string, std::string>> results;
    for (const auto& r : e.report.per_image) results.emplace_back(e.dataset.images[static_cast<size_t>(r.image)].id, r.caption);
    write_results(a.results, results);
  }
  if (a.json)
    std::cout << eval_report_json(e).dump(2) << '\n';
  else
    print_text(e);
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval",
                                 "Caption a dataset split and score it (BLEU, ROUGE-L, CIDEr-D; on Shapes also "
                                 "content accuracy and the attention pointing game)");
  add_eval_options(cmd, a.get());
  return [a]() -> int { return run_eval(*a); };
}

}  // namespace captioner::cli
