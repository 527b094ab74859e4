// Checkpoint metadata, written and read in one place (checkpoint.hpp).
#include "scenecam/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "internal/json_numbers.hpp"

namespace scenecam {
namespace {

using json = nlohmann::json;
constexpr const char* kFormat = "scenecam-checkpoint-1";

const std::string& metadata(const SafetensorsFile& file, const char* key, const char* what) {
  const auto it = file.metadata().find(key);
  SC_CHECK(it != file.metadata().end(), file.path(), ": not a scenecam checkpoint (no ", what,
           " in its metadata)");
  return it->second;
}

// state[key] as an integer; a json::exception (as the library's own accessors throw) otherwise.
template <typename I>
I integer_at(const json& state, const char* key) {
  I v = 0;
  if (!json_to_integer(state.at(key), &v))
    throw std::invalid_argument(std::string("'") + key + "' is not an integer in range");
  return v;
}

double number_at(const json& j) {
  if (!j.is_number()) throw std::invalid_argument("a value that should be a number is not");
  return j.get<double>();
}

// [loss, correct, seen]; the loss as JSON writes a double, to the last bit.
json totals_json(const RunningTotals& t) {
  return json::array({t.loss, t.correct, t.seen});
}

RunningTotals totals_from(const json& j) {
  RunningTotals t;
  if (!j.is_array() || j.size() != 3 || !json_to_integer(j[1], &t.correct) ||
      !json_to_integer(j[2], &t.seen))
    throw std::invalid_argument("running totals are not [loss, correct, seen]");
  t.loss = number_at(j[0]);
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path,
                     const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const CheckpointInfo& info, Backend& backend) {
  const json state = {{"epoch", info.state.epoch},
                      {"step_in_epoch", info.state.step_in_epoch},
                      {"global_step", info.state.global_step},
                      {"best_val_accuracy", info.state.best_val_accuracy},
                      {"seed", info.state.seed},
                      {"epoch_totals", totals_json(info.state.epoch_totals)},
                      {"window_totals", totals_json(info.state.window_totals)}};
  const std::map<std::string, std::string> meta = {{"format", kFormat},
                                                   {"arch", info.arch},
                                                   {"config", info.config_yaml},
                                                   {"classes", json(info.classes).dump()},
                                                   {"state", state.dump()}};
  save_safetensors(path, tensors, meta, backend);
}

CheckpointInfo read_checkpoint_info(const SafetensorsFile& file) {
  SC_CHECK(file.metadata().count("format") && file.metadata().at("format") == kFormat, file.path(),
           ": not a scenecam training checkpoint (no format metadata)");
  CheckpointInfo info;
  info.arch = metadata(file, "arch", "architecture");
  info.config_yaml = checkpoint_config_yaml(file);
  info.classes = checkpoint_classes(file);
  const json state = json::parse(metadata(file, "state", "training state"), nullptr, false);
  SC_CHECK(state.is_object(), file.path(), ": the checkpoint's training state is malformed");
  try {
    info.state.epoch = integer_at<int64_t>(state, "epoch");
    info.state.step_in_epoch = integer_at<int64_t>(state, "step_in_epoch");
    info.state.global_step = integer_at<int64_t>(state, "global_step");
    info.state.best_val_accuracy = number_at(state.at("best_val_accuracy"));
    info.state.seed = integer_at<uint64_t>(state, "seed");
    if (state.contains("epoch_totals")) {  // older checkpoints have none: the totals start at 0
      info.state.epoch_totals = totals_from(state.at("epoch_totals"));
      info.state.window_totals = totals_from(state.at("window_totals"));
    }
  } catch (const std::exception& e) {  // json::exception or the checks above
    fail(file.path(), ": the checkpoint's training state is malformed (", e.what(), ")");
  }
  return info;
}

std::string checkpoint_config_yaml(const SafetensorsFile& file) {
  return metadata(file, "config", "embedded config");
}

std::vector<std::string> checkpoint_classes(const SafetensorsFile& file) {
  const json j = json::parse(metadata(file, "classes", "class names"), nullptr, false);
  SC_CHECK(j.is_array() && !j.empty() &&
               std::all_of(j.begin(), j.end(), [](const json& c) { return c.is_string(); }),
           file.path(), ": the checkpoint's class list is malformed");
  return j.get<std::vector<std::string>>();
}

void load_weights(const SafetensorsFile& file, const Parameters& params, Backend& backend) {
  for (const ParamEntry& e : params.entries())
    file.read_into(e.name, e.value, backend);
}

}  // namespace scenecam
