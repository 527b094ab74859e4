// Activations visualisation: the most active feature maps of a layer, and the first
// convolution's filters.
#include <algorithm>
#include <numeric>

#include "explain/explainer_state.hpp"

namespace scenecam {

ActivationMaps Explainer::activations(const Dataset& data, const std::vector<int64_t>& indices,
                                      const std::string& layer, int top) {
  State& s = *s_;
  const int layer_index = s.model.layer_index(layer);
  SC_CHECK(layer != "fc", "activations: fc has no feature maps; pick a convolutional layer");
  SC_CHECK(top >= 1, "activations: the number of feature maps must be at least 1, not ", top);
  const int64_t B = s.config.train.batch_size, S = s.config.data.image_size;
  const int64_t n = static_cast<int64_t>(indices.size());
  ActivationMaps out;
  std::vector<float> act;
  for (int64_t first = 0; first < n; first += B) {
    const int64_t count = std::min(B, n - first);
    StepContext ctx{s.backend, *s.arena, false};
    Tensor images, labels, a;
    s.batch.load(data, indices.data() + first, count, false, 0, 0, &images, &labels);
    s.model.forward(ctx, images, layer_index, &a);
    const int64_t C = a.dim(1), hw = a.dim(2) * a.dim(3);
    if (out.top == 0) {
      out.top = std::min<int64_t>(top, C);
      out.maps.resize(n * out.top * S * S);
    }
    s.download(a, &act);
    std::vector<float> planes(count * out.top * hw), means(C);
    std::vector<int32_t> order(C);
    for (int64_t k = 0; k < count; ++k) {
      for (int64_t c = 0; c < C; ++c) {
        const float* p = act.data() + (k * C + c) * hw;
        means[c] = static_cast<float>(std::accumulate(p, p + hw, 0.0) / double(hw));
      }
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t x, int32_t y) { return means[x] > means[y]; });
      for (int64_t r = 0; r < out.top; ++r) {
        out.channels.push_back(order[r]);
        out.means.push_back(means[order[r]]);
        std::copy_n(act.data() + (k * C + order[r]) * hw, hw,
                    planes.data() + (k * out.top + r) * hw);
      }
    }
    s.scale_host_maps(planes, count * out.top, a.dim(2), a.dim(3),
                      out.maps.data() + first * out.top * S * S);
    s.arena->reset();
  }
  return out;
}

std::vector<float> Explainer::first_conv_filters(Shape* shape) {
  for (const ParamEntry& e : s_->model.params().entries())
    if (e.name == "conv1.weight") {
      std::vector<float> w;
      s_->download(e.value, &w);
      *shape = e.shape;
      return w;
    }
  fail("activations: the model has no conv1.weight");
}

}  // namespace scenecam
