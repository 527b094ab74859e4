// A trained classifier loaded from a checkpoint: the network of the run's config with the
// checkpoint's weights and batch-norm statistics, run in inference mode in batches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scenecam/batch.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/run_config.hpp"
#include "scenecam/safetensors.hpp"

namespace scenecam {

// Loads every weight and buffer of `params` from `file`; the first tensor that is missing or
// has another shape is named in the error.
void load_weights(const SafetensorsFile& file, const Parameters& params, Backend& backend);

// The class names a checkpoint was trained with (its "classes" metadata).
std::vector<std::string> checkpoint_classes(const SafetensorsFile& file);

class Classifier {
 public:
  // config: the run's config, as stored in the checkpoint's "config" metadata.
  Classifier(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend);

  const std::vector<std::string>& classes() const { return classes_; }
  int image_size() const { return config_.data.image_size; }
  // Logits [indices.size(), K] of those samples of `data`, in order (no augmentation).
  std::vector<float> logits(const Dataset& data, const std::vector<int64_t>& indices,
                            bool show_progress);

 private:
  RunConfig config_;
  Backend& backend_;
  std::vector<std::string> classes_;
  ResNet model_;
  std::unique_ptr<Pool> arena_;
  BatchInput batch_;
};

}  // namespace scenecam
