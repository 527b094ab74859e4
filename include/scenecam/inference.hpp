// A trained classifier loaded from a checkpoint: the network of the run's config with the
// checkpoint's weights and batch-norm statistics, run in inference mode in batches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scenecam/checkpoint.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/run_config.hpp"
#include "scenecam/safetensors.hpp"

namespace scenecam {

class BatchInput;  // the batch staging, private to the engine (src/train/batch.hpp)

class Classifier {
 public:
  // config: the run's config, as stored in the checkpoint's "config" metadata.
  Classifier(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend);
  // Without a checkpoint: the weights as initialised from config.runtime.seed, the classes
  // named class0..classK-1 (the explanation benchmark times the work, not the answers).
  Classifier(const RunConfig& config, Backend& backend);
  ~Classifier();

  const std::vector<std::string>& classes() const { return classes_; }
  int image_size() const { return config_.data.image_size; }
  // Logits [indices.size(), K] of those samples of `data`, in order (no augmentation).
  std::vector<float> logits(const Dataset& data, const std::vector<int64_t>& indices,
                            bool show_progress);

  // The network and its resources, for the explainer's own passes over it.
  const RunConfig& config() const { return config_; }
  Backend& backend() { return backend_; }
  ResNet& model() { return model_; }
  BatchInput& batch() { return *batch_; }
  Pool& arena() { return *arena_; }

 private:
  RunConfig config_;
  Backend& backend_;
  std::vector<std::string> classes_;
  ResNet model_;
  std::unique_ptr<Pool> arena_;
  std::unique_ptr<BatchInput> batch_;
};

}  // namespace scenecam
