// Grad-CAM and its relatives, with pytorch-grad-cam 1.5's semantics:
//   - the target score is the raw logit of the target class (no softmax);
//   - weights per method from the target layer's activations A [C, h, w] and the gradients G of
//     the score with respect to them:
//       gradcam     w_k = mean(G_k)                               map = relu(sum_k w_k A_k)
//       gradcam++   w_k = sum(relu(G_k) * a_k), a = G^2 / (2 G^2 + sum(A_k) G^3 + 1e-6) where
//                   G != 0, else 0                                map = relu(sum_k w_k A_k)
//       xgradcam    w_k = sum(G_k * A_k) / (sum(A_k) + 1e-7)     map = relu(sum_k w_k A_k)
//       hirescam    map = relu(sum_k G_k * A_k)
//       layercam    map = relu(sum_k relu(G_k) * A_k)
//   - cam, saliency, smoothgrad and occlusion produce maps at their own resolution (the last
//     stage, the input, the input, the input) that go through the same scaling;
//   - scaling: per image, x -> (x - min) / (max(x - min) + 1e-7) at feature resolution, bilinear
//     resize to the input size (half-pixel centres, borders clamped, as cv2.resize), ReLU, and the
//     same min-max once more.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/cam_math.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/run_config.hpp"
#include "scenecam/safetensors.hpp"

namespace scenecam {

CamMethod parse_cam_method(const std::string& name);  // throws, listing the methods
const char* cam_method_name(CamMethod method);

// Which class a map explains.
struct CamTarget {
  enum Kind { predicted, true_class, fixed, ranked, listed } kind = predicted;
  int32_t cls = 0;  // fixed: the class; ranked: the rank (0 = the top class)
  const std::vector<int32_t>* classes = nullptr;  // listed: one class per explained image
};
// "pred", "true" or a class index; "topK" is expanded by the caller into ranks 0..K-1.
CamTarget parse_cam_target(const std::string& text);

struct Explanation {
  std::vector<float> maps;       // [count, S, S], scaled to [0, 1]
  std::vector<int32_t> targets;  // the class each map explains
  std::vector<int32_t> predicted;
  std::vector<float> probability;  // of the predicted class
  // Guided Backprop and Guided Grad-CAM: the guided gradients (times the Grad-CAM map) as an
  // image, [count, S, S, 3] RGB bytes, deprocessed as pytorch-grad-cam's deprocess_image does:
  // (x - mean) / (std + 1e-5) * 0.1 + 0.5, clipped to [0, 1], over each image's three channels.
  std::vector<uint8_t> rgb;
  // CNN Fixations: each image's fixation points (x, y) on the input.
  std::vector<std::vector<std::array<int32_t, 2>>> fixations;
};

// The knobs of the many-forward methods.
struct ExplainSettings {
  int smoothgrad_samples = 16;  // noisy copies per image
  float smoothgrad_noise = 0.15f;  // noise sigma, as a share of each image's value range
  int ig_steps = 50;            // Integrated Gradients' points on the path (Captum's default)
};

// Activations visualisation of one layer: per image, the `top` channels with the highest mean
// activation, each scaled as the maps are (min-max, resized to the input, min-max).
struct ActivationMaps {
  int64_t top = 0;
  std::vector<int32_t> channels;  // [n, top], best first
  std::vector<float> means;       // [n, top]
  std::vector<float> maps;        // [n, top, S, S] in [0, 1]
};

// ROAD (Rong et al., ICML 2022): the target's softmax probability, averaged over images and
// over removal fractions 10, 30, 50, 70 and 90%, after the pixels the map ranks first (MoRF:
// lower is better) or last (LeRF: higher is better) are replaced by noisy linear imputation
// (imputation.hpp, noise 0.01 after normalisation, as pytorch-grad-cam's). Ties in a map are
// broken at random.
struct RoadScores {
  double morf = 0, lerf = 0;
};

// Explains samples of `data` with a checkpoint's model (in inference mode), in batches.
class Classifier;

class Explainer {
 public:
  Explainer(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend,
            const std::string& layer);
  // checkpoint == nullptr: the weights as initialised from config.runtime.seed, classes named
  // class0..classK-1 (the explanation benchmark, which times the work, not the maps).
  Explainer(const RunConfig& config, const SafetensorsFile* checkpoint, Backend& backend,
            const std::string& layer);
  const std::vector<std::string>& classes() const;
  const std::string& layer() const { return layer_name_; }
  void set_settings(const ExplainSettings& settings);
  // The network it explains (its weights and batches), for measurements on the same model.
  Classifier& classifier();
  Explanation explain(const Dataset& data, const std::vector<int64_t>& indices, CamMethod method,
                      const CamTarget& target, bool show_progress);
  // The feature maps of `layer` (any name ResNet::layer_names() lists) with the highest means.
  ActivationMaps activations(const Dataset& data, const std::vector<int64_t>& indices,
                             const std::string& layer, int top);
  // The first convolution's filters [O, 3, k, k], on the host; their shape in *shape.
  std::vector<float> first_conv_filters(Shape* shape);
  // ROAD of maps [n, S, S] explaining `targets` of samples `indices`.
  RoadScores road(const Dataset& data, const std::vector<int64_t>& indices,
                  const std::vector<float>& maps, const std::vector<int32_t>& targets);
  // The model-randomisation sanity check's step: the tensors whose names start with one of
  // `prefixes` (batch-norm statistics included) re-initialised as a fresh model from `seed`
  // would have them.
  void reinitialise(const std::vector<std::string>& prefixes, uint64_t seed);
  ~Explainer();
  struct State;  // defined in src/explain, for the explainer's own source files

 private:
  std::unique_ptr<State> s_;
  std::string layer_name_;
};

// Faithfulness of maps [n, S, S] over samples `indices` of `data`: deletion and insertion AUC of
// the target class's probability as the most important pixels are blacked out (deletion) or
// revealed on black (insertion) in 10% steps, and, with each image multiplied by its map, the
// average drop in that probability and the share of images where it rises.
struct Faithfulness {
  double deletion_auc = 0, insertion_auc = 0, average_drop = 0, increase_rate = 0;
};
class Classifier;
Faithfulness measure_faithfulness(Classifier& model, const Dataset& data,
                                  const std::vector<int64_t>& indices,
                                  const std::vector<float>& maps,
                                  const std::vector<int32_t>& targets);

// The pointing game: a map hits when its maximum lies inside the object's box. Returns the hit
// rate, and in *baseline the rate a uniformly random point would reach (the mean box area share).
double pointing_game(const Explanation& e, const Dataset& data, const std::vector<int64_t>& indices,
                     double* baseline);

}  // namespace scenecam
