// Checkpoints: safetensors files holding a model's weights and buffers under torchvision's
// names (so PyTorch reads them), the optimizer's state when a training run wrote them, and
// metadata: the format, the architecture, the run's config as YAML, its classes and, from
// training, where the run stood. The one place that writes and reads that metadata.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/safetensors.hpp"

namespace scenecam {

// Sums over a run of training steps: the loss times the batch size, the right answers, the images.
struct RunningTotals {
  double loss = 0;
  int64_t correct = 0, seen = 0;
};

// Where a training run stood when it wrote the checkpoint.
struct TrainingState {
  int64_t epoch = 0;          // completed epochs
  int64_t step_in_epoch = 0;  // steps done in the current epoch
  int64_t global_step = 0;
  double best_val_accuracy = -1;
  uint64_t seed = 0;
  // The current epoch's totals so far, and those of the steps since the last step record: a
  // resumed epoch reports what an uninterrupted one would.
  RunningTotals epoch_totals, window_totals;
};

struct CheckpointInfo {
  std::string arch;
  std::string config_yaml;  // the run's config, as config_to_yaml wrote it
  std::vector<std::string> classes;
  TrainingState state;
};

// Writes the tensors (name, tensor on `backend`) and the metadata atomically.
void save_checkpoint(const std::string& path,
                     const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const CheckpointInfo& info, Backend& backend);

// The metadata of a training checkpoint; throws naming the file for one scenecam did not write.
CheckpointInfo read_checkpoint_info(const SafetensorsFile& file);

// The run's config YAML a checkpoint carries (parse it with config.hpp's parse_config).
std::string checkpoint_config_yaml(const SafetensorsFile& file);

// The class names a checkpoint was trained with.
std::vector<std::string> checkpoint_classes(const SafetensorsFile& file);

// Loads every weight and buffer of `params` from `file`; the first tensor that is missing or
// has another shape is named in the error.
void load_weights(const SafetensorsFile& file, const Parameters& params, Backend& backend);

}  // namespace scenecam
