// The Explainer's private state, shared by its two source files: cam.cpp (the one-pass methods)
// and perturbed.cpp (the methods that run the network over many perturbed copies).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "explain/fixations.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/nn.hpp"
#include "train/batch.hpp"

namespace scenecam {

// One batch being explained: its normalised images and the target layer's activation on the
// backend, the one-hot gradient of each image's target score (the raw logit), and the clean
// logits and their softmax on the host.
struct ExplainBatch {
  int64_t first = 0, count = 0;
  Tensor images, act, dlogits;
  std::vector<float> logits, probabilities;  // [count, K]
  std::vector<int32_t> targets;
};

// The maximum over colour channels of |g|, for gradients [count, 3, plane] on the host.
std::vector<float> channel_max_abs(const std::vector<float>& grads, int64_t count, int64_t plane);

// The explainer runs its classifier's network (its weights, batches and activation arena) with
// passes of its own: to a layer and back, on noisy, masked or occluded copies.
struct Explainer::State {
  std::unique_ptr<Classifier> classifier;
  const RunConfig& config;
  Backend& backend;
  ResNet& model;
  Pool* arena;
  BatchInput& batch;
  int layer = 0;
  std::unique_ptr<Pool> scratch;  // dlogits, for the largest batch
  std::unique_ptr<Pool> held;     // what outlives the arena's resets within one batch
  Tensor dlogits;
  std::vector<float> fc_weights;  // [K, C], for classic CAM
  ExplainSettings settings;
  explicit State(std::unique_ptr<Classifier> c);

  // The steps of explain(), one per method family.
  ExplainBatch forward(const Dataset& data, const std::vector<int64_t>& indices, int64_t first,
                       int64_t count, const CamTarget& target, StepContext& ctx, Explanation& e);
  void gradient_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out);
  void classic_cam(const ExplainBatch& b, const std::string& layer_name, float* out);
  void eigen_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out);
  void saliency(const ExplainBatch& b, StepContext& ctx, float* out);
  void guided(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out, uint8_t* rgb);
  void full_grad(const ExplainBatch& b, StepContext& ctx, float* out);  // fullgrad.cpp
  // fixations.cpp's rules on each image of the batch; its points appended to *points.
  void cnn_fixations(const ExplainBatch& b, float* out,
                     std::vector<std::vector<std::array<int32_t, 2>>>* points);
  std::unique_ptr<FixationNet> fixation_net;  // the host copy of the weights, made on first use
  std::map<const BatchNorm2d*, std::vector<double>> folded_biases;  // FullGrad's, on first use
  // perturbed.cpp
  void smoothgrad(const ExplainBatch& b, float* out);
  void integrated_gradients(const ExplainBatch& b, float* out);
  void occlusion(const ExplainBatch& b, float* out);
  void score_cam(const ExplainBatch& b, float* out);
  void ablation_cam(const ExplainBatch& b, float* out);

  // Helpers: a device tensor to the host; raw maps [count, h, w] on the backend (or the host) to
  // [count, S, S] in [0, 1] in host memory `out`.
  void download(const Tensor& t, std::vector<float>* out);
  void scale_maps(const Tensor& small, float* out);
  // relu(sum_c w_c A_c) of channel weights w [count, C] over act [count, C, h, w], scaled.
  void weighted_map(const Tensor& act, const std::vector<float>& w, float* out);
  void scale_host_maps(const std::vector<float>& raw, int64_t count, int64_t h, int64_t w,
                       float* out);
};

}  // namespace scenecam
