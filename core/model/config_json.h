#pragma once
// JSON form of the configuration structs, as stored in checkpoints.
#include <nlohmann/json_fwd.hpp>

#include "core/model/config.h"

namespace captioner {

void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);
void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);

}  // namespace captioner
