// Fine-tuning: starting from other weights (model.init), and which tensors train and how fast
// (train.freeze, train.unfreeze_at_epoch, train.optimizer.lr_scale).
//
// Name patterns (model.init_exclude, train.freeze, lr_scale's keys) match tensor names as
// torchvision spells them: a whole name ("layer1.0.conv1.weight"), a prefix that ends at a dot
// ("layer1", "layer2.0.bn1"), a glob with * and ? ("*.bn1.*"), or a word: "stem" (conv1, bn1),
// "head" (fc), "backbone" (everything but fc), "up_to:layerN" (the stem and layer1 .. layerN).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "scenecam/nn.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

bool tensor_name_matches(const std::string& pattern, const std::string& name);

// model.init's SHA-256 into model.init_sha256 (so the effective config records it); when the
// config already gives one, the file must have it. Throws Error naming the file otherwise.
void record_init_checksum(ModelConfig& model);

// What load_initial_weights did, for the run's log.
struct InitSummary {
  int loaded = 0;                     // tensors copied from the file
  std::vector<std::string> excluded;  // left as initialised by model.init_exclude
  std::string head_reset;             // why the head was re-initialised, "" when it was not
  int ignored = 0;                    // tensors of the file this model has no place for
};

// Copies every tensor of `model.init` whose name and shape fit into `params` (weights and
// batch-norm statistics). The head (fc) is left as initialised when its shape differs or it is
// absent; model.init_exclude leaves more. Throws Error naming the file and the tensor when any
// other tensor is missing or has another shape, and when no tensor of the model is in the file.
// Optimizer state (a scenecam checkpoint's "optimizer.*") and num_batches_tracked are ignored.
InitSummary load_initial_weights(const ModelConfig& model, const Parameters& params,
                                 Backend& backend);

// One flag per params entry: whether a pattern freezes it. Throws naming a pattern that matches
// no tensor (a misspelt name would otherwise train everything).
std::vector<bool> frozen_by(const std::vector<std::string>& patterns, const Parameters& params,
                            const std::string& key);

// One learning-rate factor per params entry (1 for tensors no pattern names). Throws naming a
// pattern that matches nothing, or a tensor two patterns give different factors.
std::vector<double> lr_scales(const std::map<std::string, double>& scales,
                              const Parameters& params);

}  // namespace scenecam
