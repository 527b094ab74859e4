// Classifier: checkpoint -> model -> batched inference.
#include "scenecam/inference.hpp"

#include "internal/progress.hpp"
#include "scenecam/checkpoint.hpp"
#include "scenecam/interrupt.hpp"
#include "train/batch.hpp"

namespace scenecam {

namespace {

std::vector<std::string> numbered_classes(int64_t count) {
  std::vector<std::string> names;
  for (int64_t k = 0; k < count; ++k)
    names.push_back("class" + std::to_string(k));
  return names;
}

}  // namespace

Classifier::Classifier(const RunConfig& config, Backend& backend)
    : config_(config),
      backend_(backend),
      classes_(numbered_classes(config.model.classes)),
      model_(resnet_spec(config.model)),
      arena_(backend.make_pool("activations", 0, /*growable=*/true)),
      batch_(std::make_unique<BatchInput>(backend, config.train.batch_size, config.data.image_size,
                                          config.model.classes, config_.data)) {
  model_.materialize(backend, config.runtime.seed);
}

Classifier::~Classifier() = default;

Classifier::Classifier(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend)
    : Classifier(config, backend) {
  classes_ = checkpoint_classes(checkpoint);
  SC_CHECK(int64_t(classes_.size()) == config.model.classes, checkpoint.path(), ": ",
           classes_.size(), " class names for a model of ", config.model.classes, " classes");
  load_weights(checkpoint, model_.params(), backend);
}

std::vector<float> Classifier::logits(const Dataset& data, const std::vector<int64_t>& indices,
                                      bool show_progress) {
  SC_CHECK(data.image_size == config_.data.image_size, "inference: the images are ",
           data.image_size, " pixels but the model was trained on ", config_.data.image_size);
  const int64_t B = config_.train.batch_size, K = config_.model.classes;
  const int64_t n = static_cast<int64_t>(indices.size());
  std::vector<float> out(n * K);
  Progress progress("predict", n);
  for (int64_t first = 0; first < n; first += B) {
    if (interrupt_requested())
      throw_interrupted("inference (" + std::to_string(first) + " of " + std::to_string(n) +
                        " images done)");
    const int64_t count = std::min(B, n - first);
    Tensor images, labels;
    batch_->load(data, indices.data() + first, count, false, 0, 0, &images, &labels);
    StepContext ctx{backend_, *arena_, false};
    const Tensor logits = model_.forward(ctx, images);
    const float* host = batch_->download_logits(logits);
    std::copy(host, host + count * K, out.begin() + first * K);
    arena_->reset();
    if (show_progress) progress.update(first + count, "");
  }
  if (show_progress) progress.finish("");
  return out;
}

}  // namespace scenecam
