#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/coco_results.h"
#include "core/eval/metrics.h"
#include "core/util/errors.h"

namespace captioner::cli {

namespace {
struct ScoreArgs {
  std::string references;
  std::string results;
  bool json = false;
};
}  // namespace

Command add_score_command(CLI::App& app) {
  auto a = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "Score COCO-format results against reference captions (BLEU, ROUGE-L, CIDEr-D)");
  cmd->add_option("--references", a->references, "COCO captions JSON or Karpathy JSON")->required();
  cmd->add_option("--results", a->results, "Results JSON: [{\"image_id\", \"caption\"}]")->required();
  cmd->add_flag("--json", a->json, "Print the scores as JSON with the toolkit's key names");
  return [a]() -> int {
    const auto refs = read_references(a->references);
    const auto results = read_results(a->results);
    if (results.empty()) throw DataError(a->results, "holds no results");
    std::vector<std::vector<std::string>> references;
    std::vector<std::string> candidates;
    std::set<std::string> seen;
    for (const auto& [id, caption] : results) {
      auto it = refs.find(id);
      if (it == refs.end()) throw DataError(a->results, "image " + id + " has no reference captions in " + a->references);
      if (!seen.insert(id).second) throw DataError(a->results, "image " + id + " has more than one result");
      references.push_back(it->second);
      candidates.push_back(caption);
    }
    const CaptionScores s = score_captions(references, candidates);
    if (a->json) {
      std::cout << scores_to_json(s).dump() << '\n';
    } else {
      for (const auto& [name, value] : scores_to_json(s).items()) std::printf("%-8s %.4f\n", name.c_str(), value.get<double>());
      std::cerr << results.size() << " images scored\n";
    }
    return 0;
  };
}

}  // namespace captioner::cli
