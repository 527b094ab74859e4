// The run folder of a training run: config.yaml and metrics.jsonl, checkpoints (with the
// optimizer state and the training position), restoring from one, and trimming the metrics an
// interrupted run logged after its last checkpoint.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "scenecam/checkpoint.hpp"
#include "scenecam/safetensors.hpp"
#include "train/run.hpp"

namespace scenecam::detail {

void Run::prepare_folder() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  SC_CHECK(!ec, dir_.string(), ": cannot create the run folder (", ec.message(), ")");
  if (options_.resume_dir.empty() && !options_.overwrite)
    SC_CHECK(!fs::exists(dir_ / "last.safetensors"), dir_.string(),
             ": already holds a run; resume it with --resume ", dir_.string(),
             ", pass --overwrite, or choose another output.dir");
  const std::string& yaml = options_.config_yaml;
  write_file_atomic((dir_ / "config.yaml").string(), yaml);
  if (options_.resume_dir.empty()) write_file_atomic((dir_ / "metrics.jsonl").string(), "");
}

std::vector<std::pair<std::string, Tensor>> Run::checkpoint_tensors() const {
  const Parameters& p = model_.params();
  std::vector<std::pair<std::string, Tensor>> out;
  for (const ParamEntry& e : p.entries())
    out.emplace_back(e.name, e.value);
  // Optimizer state lies at the same offsets in its arena as each weight in the weight arena.
  const bool adamw = cfg_.train.optimizer.name == Optimizer::adamw;
  const char* kinds[2] = {adamw ? "exp_avg" : "momentum_buffer", "exp_avg_sq"};
  const char* base = static_cast<const char*>(p.values().raw());
  for (int slot = 0; slot < (adamw ? 2 : 1); ++slot) {
    for (const ParamEntry& e : p.entries()) {
      if (e.kind == ParamKind::buffer) continue;
      const size_t offset = static_cast<const char*>(e.value.raw()) - base;
      out.emplace_back(std::string("optimizer.") + kinds[slot] + "." + e.name,
                       Tensor(static_cast<char*>(state_[slot].raw()) + offset, e.shape, DType::f32,
                              state_[slot].device()));
    }
  }
  return out;
}

void Run::save(const std::string& path) {
  // Weights can overflow while the loss stays finite (a batch-norm variance first): such a
  // checkpoint would not load, so the run stops instead of writing it.
  std::vector<float> host;
  for (const ParamEntry& e : model_.params().entries()) {
    host.resize(e.value.numel());
    backend_.copy(e.value, Tensor(host.data(), e.shape, DType::f32, Device::cpu()));
    const auto bad =
        std::find_if(host.begin(), host.end(), [](float v) { return !std::isfinite(v); });
    if (bad != host.end())
      diverged("'", e.name, "' became ", *bad, " in epoch ", epoch_ + (step_in_epoch_ > 0));
  }
  CheckpointInfo info;
  info.arch = cfg_.model.arch;
  info.config_yaml = options_.config_yaml;
  info.classes = data_.class_names;
  info.state = {epoch_,       step_in_epoch_, global_step_, best_val_accuracy_, cfg_.runtime.seed,
                epoch_stats_, window_};
  save_checkpoint(path, checkpoint_tensors(), info, backend_);
}

void Run::restore(const std::string& path) {
  const SafetensorsFile file(path);
  const CheckpointInfo info = read_checkpoint_info(file);
  const auto tensors = checkpoint_tensors();
  for (const auto& [name, t] : tensors)
    file.read_into(name, t, backend_);  // names the mismatch
  for (const std::string& name : file.names()) {
    const bool known = std::any_of(tensors.begin(), tensors.end(),
                                   [&](const auto& kv) { return kv.first == name; });
    SC_CHECK(known, path, ": tensor '", name, "' in the checkpoint has no place in this model (",
             cfg_.model.arch, ")");
  }
  SC_CHECK(info.classes == data_.class_names, path, ": the checkpoint's classes ",
           json(info.classes).dump(), " differ from the data's ", json(data_.class_names).dump());
  epoch_ = info.state.epoch;
  step_in_epoch_ = info.state.step_in_epoch;
  global_step_ = info.state.global_step;
  best_val_accuracy_ = info.state.best_val_accuracy;
  static_cast<RunningTotals&>(epoch_stats_) = info.state.epoch_totals;
  static_cast<RunningTotals&>(window_) = info.state.window_totals;
  SC_CHECK(info.state.seed == cfg_.runtime.seed, path, ": the run used seed ", info.state.seed,
           " but the config says ", cfg_.runtime.seed);
  // The schedule (and when unfreeze_at_epoch released the backbone) counts steps per epoch.
  SC_CHECK(global_step_ == epoch_ * steps_per_epoch_ + step_in_epoch_, path,
           ": the run was at step ", global_step_, " after ", epoch_, " epochs and ",
           step_in_epoch_, " steps; with ", steps_per_epoch_,
           " steps per epoch now, the training data or the batch size changed since");
}

// Keeps the metrics up to the restored checkpoint; what an interrupted run logged after it is
// replayed.
void Run::trim_metrics() {
  const fs::path metrics = dir_ / "metrics.jsonl";
  std::ifstream in(metrics);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json record = json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("global_step", int64_t(0)) <= global_step_)
      kept += line + "\n";
  }
  in.close();
  write_file_atomic(metrics.string(), kept);
  std::printf("train: resuming %s at epoch %ld, step %ld\n",
              (fs::path(options_.resume_dir) / "last.safetensors").c_str(), long(epoch_ + 1),
              long(step_in_epoch_));
}

void Run::write_metric(const json& record) {
  metrics_->append(record.dump());  // a record is in the file as soon as it is logged
}

}  // namespace scenecam::detail
