// Classifier: checkpoint -> model -> batched inference.
#include "scenecam/inference.hpp"

#include <nlohmann/json.hpp>

#include "scenecam/progress.hpp"

namespace scenecam {

void load_weights(const SafetensorsFile& file, const Parameters& params, Backend& backend) {
  for (const ParamEntry& e : params.entries())
    file.read_into(e.name, e.value, backend);
}

std::vector<std::string> checkpoint_classes(const SafetensorsFile& file) {
  const auto it = file.metadata().find("classes");
  SC_CHECK(it != file.metadata().end(), file.path(), ": the checkpoint names no classes");
  const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  SC_CHECK(j.is_array() && !j.empty(), file.path(), ": the checkpoint's class list is malformed");
  return j.get<std::vector<std::string>>();
}

Classifier::Classifier(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend)
    : config_(config),
      backend_(backend),
      classes_(checkpoint_classes(checkpoint)),
      model_(resnet_spec(config.model)),
      arena_(backend.make_pool("activations", 0, /*growable=*/true)),
      batch_(backend, config.train.batch_size, config.data.image_size, config.model.classes,
             config_.data) {
  SC_CHECK(int64_t(classes_.size()) == config.model.classes, checkpoint.path(), ": ",
           classes_.size(), " class names for a model of ", config.model.classes, " classes");
  model_.materialize(backend, config.runtime.seed);
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
    const int64_t count = std::min(B, n - first);
    Tensor images, labels;
    batch_.load(data, indices.data() + first, count, false, 0, 0, &images, &labels);
    StepContext ctx{backend_, *arena_, false};
    const Tensor logits = model_.forward(ctx, images);
    const float* host = batch_.download_logits(logits);
    std::copy(host, host + count * K, out.begin() + first * K);
    arena_->reset();
    if (show_progress) progress.update(first + count, "");
  }
  if (show_progress) progress.finish("");
  return out;
}

}  // namespace scenecam
