#include "core/vision/encoder.h"

#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/util/archive_check.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/hash.h"
#include "core/util/precision.h"
#include "core/util/printable.h"

namespace captioner {

const char* const kEncoderHowTo =
    "get the pretrained Inception-v3 weights with `packaging/quickstart.sh` (it fetches nsfwjs 4.4.0 from npm "
    "and runs `captioner import-weights`), or point CAPTIONER_ENCODER at an encoder file";

namespace {

constexpr const char* kFormat = "captioner-encoder";
constexpr const char* kFileName = "inception_v3_nsfwjs.pt";

void copy_checked(const torch::Tensor& dst, const torch::Tensor& src, const std::string& name, const std::string& source) {
  if (dst.sizes() != src.sizes()) {
    std::ostringstream msg;
    msg << name << " has shape " << src.sizes() << ", expected " << dst.sizes();
    throw DataError(source, msg.str());
  }
  torch::NoGradGuard no_grad;
  dst.copy_(src);
}

std::string weights_hash(torch::nn::Module& net) {
  uint64_t h = kFnvOffset;  // over every parameter and buffer, in order
  auto mix = [&h](const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    h = fnv1a(c.data_ptr(), static_cast<size_t>(c.nbytes()), h);
  };
  for (const auto& p : net.named_parameters()) mix(p.value());
  for (const auto& b : net.named_buffers()) mix(b.value());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace

InceptionV3 inception_from_tfjs(const std::vector<NamedTensor>& weights, const std::string& source) {
  InceptionOptions options;
  options.family = EncoderFamily::Keras;
  options.classifier_head = true;
  InceptionV3 net(options);
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& w : weights) by_name[w.name] = w.value;
  auto take = [&](const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw DataError(source, "weight " + name + " is missing");
    auto t = it->second;
    by_name.erase(it);
    return t;
  };
  const auto& units = net->units();
  for (size_t i = 0; i < units.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    auto& unit = *units[i];
    copy_checked(unit.conv->weight, take("conv2d_" + n + "/kernel").permute({3, 2, 0, 1}), "conv2d_" + n + "/kernel", source);
    const std::string bn = "batch_normalization_" + n;
    copy_checked(unit.bn->bias, take(bn + "/beta"), bn + "/beta", source);
    copy_checked(unit.bn->running_mean, take(bn + "/moving_mean"), bn + "/moving_mean", source);
    copy_checked(unit.bn->running_var, take(bn + "/moving_variance"), bn + "/moving_variance", source);
    auto gamma = by_name.count(bn + "/gamma") ? take(bn + "/gamma") : torch::ones_like(unit.bn->weight);  // scale=False
    copy_checked(unit.bn->weight, gamma, bn + "/gamma", source);
  }
  torch::nn::Linear dense[] = {net->dense1, net->dense2, net->dense3};
  for (int i = 0; i < 3; ++i) {
    const std::string n = "dense_" + std::to_string(i + 1);
    copy_checked(dense[i]->weight, take(n + "/kernel").t(), n + "/kernel", source);
    copy_checked(dense[i]->bias, take(n + "/bias"), n + "/bias", source);
  }
  if (!by_name.empty()) throw DataError(source, "unexpected weight " + by_name.begin()->first);
  net->eval();
  return net;
}

InceptionV3 inception_from_torchvision(const std::string& state_dict_path, bool transform_input) {
  const std::string bytes = read_file(state_dict_path);
  c10::IValue loaded;
  try {
    loaded = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    throw DataError(state_dict_path,
                    "not readable as torch.save(dict(model.state_dict()), FILE) (" + excerpt(e.what(), 120) + ")");
  }
  if (!loaded.isGenericDict()) throw DataError(state_dict_path, "holds no dictionary of tensors (save model.state_dict())");
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& item : loaded.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) continue;
    const std::string name = item.key().toStringRef();
    if (name.rfind("AuxLogits.", 0) == 0 || name.rfind("fc.", 0) == 0) continue;  // training-only and ImageNet head
    by_name[name] = item.value().toTensor();
  }
  InceptionOptions options;
  options.family = EncoderFamily::Torchvision;
  options.transform_input = transform_input;
  InceptionV3 net(options);
  auto assign = [&](const std::string& name, const torch::Tensor& dst) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw DataError(state_dict_path, "tensor " + name + " is missing");
    copy_checked(dst, it->second.to(dst.dtype()), name, state_dict_path);
    by_name.erase(it);
  };
  for (const auto& p : net->named_parameters()) assign(p.key(), p.value());
  for (const auto& b : net->named_buffers()) assign(b.key(), b.value());
  if (!by_name.empty()) throw DataError(state_dict_path, "unexpected tensor " + by_name.begin()->first);
  net->eval();
  return net;
}

std::string save_encoder(const std::string& path, InceptionV3& net, const std::string& source) {
  const auto& o = net->options();
  std::string id = std::string(family_name(o.family)) + ":" + weights_hash(*net);
  const nlohmann::json meta = {{"format", kFormat},
                               {"version", 1},
                               {"family", family_name(o.family)},
                               {"transform_input", o.transform_input},
                               {"classifier_head", o.classifier_head},
                               {"source", source},
                               {"id", id}};
  torch::serialize::OutputArchive archive;
  archive.write("meta", c10::IValue(meta.dump()));
  torch::serialize::OutputArchive model;
  net->save(model);
  archive.write("model", model);
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  write_file_atomically(path, bytes);
  return id;
}

namespace {

// Opens an encoder file and reads what it says about itself; throws DataError naming it when it is
// not one.
nlohmann::json open_encoder_file(const std::string& path, torch::serialize::InputArchive& archive, const torch::Device& device) {
  const std::string bytes = read_file(path);
  const std::string pickle_problem = archive_pickle_problem(bytes);
  if (!pickle_problem.empty()) throw DataError(path, pickle_problem);
  nlohmann::json meta;
  try {
    archive.load_from(bytes.data(), bytes.size(), device);
    c10::IValue value;
    archive.read("meta", value);
    meta = nlohmann::json::parse(value.toStringRef());
  } catch (const std::exception& e) {
    throw DataError(path, "not a readable Captioner encoder file");
  }
  if (meta.value("format", "") != kFormat) throw DataError(path, "not a Captioner encoder file");
  return meta;
}

EncoderFamily family_of(const nlohmann::json& meta) {
  return meta.value("family", "keras") == "torchvision" ? EncoderFamily::Torchvision : EncoderFamily::Keras;
}

}  // namespace

EncoderFamily read_encoder_family(const std::string& path) {
  torch::serialize::InputArchive archive;
  return family_of(open_encoder_file(path, archive, torch::kCPU));
}

GridLayer recommended_grid_layer(EncoderFamily family) {
  return family == EncoderFamily::Keras ? GridLayer::Mixed5 : GridLayer::Mixed10;
}

GridLayer resolve_grid_layer(const std::string& choice, const std::string& encoder_path) {
  if (choice != "auto") return parse_grid_layer(choice);
  return recommended_grid_layer(read_encoder_family(encoder_path.empty() ? find_default_encoder() : encoder_path));
}

Encoder load_encoder(const std::string& path, const torch::Device& device, const std::string& precision) {
  torch::serialize::InputArchive archive;
  const nlohmann::json meta = open_encoder_file(path, archive, device);
  InceptionOptions options;
  options.family = family_of(meta);
  options.transform_input = meta.value("transform_input", false);
  options.classifier_head = meta.value("classifier_head", false);
  Encoder encoder;
  encoder.net = InceptionV3(options);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& items : {encoder.net->named_parameters(), encoder.net->named_buffers()})
    for (const auto& item : items) shapes[item.key()] = item.value().sizes().vec();
  try {
    torch::serialize::InputArchive model;
    archive.read("model", model);
    encoder.net->load(model);
  } catch (const c10::Error& e) {
    throw DataError(path, "encoder weights are inconsistent (" + excerpt(e.what_without_backtrace(), 200) + ")");
  } catch (const std::exception& e) {
    throw DataError(path, "encoder weights are inconsistent (" + excerpt(e.what(), 200) + ")");
  }
  // A weight read from the file keeps its record's storage and shape: both are checked before
  // anything reads it.
  for (const auto& items : {encoder.net->named_parameters(), encoder.net->named_buffers()})
    for (const auto& item : items) {
      if (item.value().sizes().vec() != shapes[item.key()])
        throw DataError(path, "encoder weight " + item.key() + " has the wrong shape");
      const std::string short_storage = short_storage_problem(item.value());
      if (!short_storage.empty()) throw DataError(path, "encoder weight " + item.key() + " is cut short (" + short_storage + ")");
    }
  encoder.id = meta.value("id", "");
  encoder.source = meta.value("source", "");
  encoder.net->to(device);
  encoder.net->eval();
  encoder.net->fold_batchnorm();
  if (device.is_cpu()) encoder.net->set_channels_last(true);  // measured faster on CPU for 1 and 8 images
  if (choose_precision(precision, device.is_cpu(), cpu_has_native_bf16()) == MatmulPrecision::Bf16) encoder.net->set_bf16(true);
  return encoder;
}

std::vector<std::string> encoder_search_path() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("CAPTIONER_ENCODER"); env && *env) paths.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path().parent_path() / "share" / "captioner" / kFileName).string());
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    paths.push_back(std::string(xdg) + "/captioner/" + kFileName);
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    paths.push_back(std::string(home) + "/.local/share/captioner/" + kFileName);
  }
  return paths;
}

std::string find_default_encoder() {
  // A path the user named must be used or refused, never silently replaced by another encoder.
  if (const char* env = std::getenv("CAPTIONER_ENCODER"); env && *env && !std::filesystem::is_regular_file(env))
    throw DataError(env, "CAPTIONER_ENCODER names this encoder file, which does not exist or is not a file");
  const auto paths = encoder_search_path();
  for (const auto& p : paths)
    if (std::filesystem::is_regular_file(p)) return p;
  std::string where;
  for (const auto& p : paths) where += (where.empty() ? "" : ", ") + p;
  throw DataError("", std::string("no encoder weights found (looked in ") + where + "); " + kEncoderHowTo);
}

namespace {}  // namespace

Encoder load_encoder_at_layer(const std::string& path, GridLayer layer, const torch::Device& device,
                              const std::string& precision) {
  Encoder encoder = load_encoder(path.empty() ? find_default_encoder() : path, device, precision);
  use_grid_layer(encoder, layer);
  return encoder;
}

void use_grid_layer(Encoder& encoder, GridLayer layer) {
  encoder.net->set_grid_layer(layer);
  encoder.id = encoder.id.substr(0, encoder.id.find('/'));
  encoder.id += encoder_id_suffix(layer);
}

}  // namespace captioner
