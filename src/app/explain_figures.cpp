// The figures `scenecam explain` writes beside the maps: activation grids and the first
// convolution's filters.
#include <algorithm>
#include <filesystem>

#include "app/explain_outputs.hpp"
#include "internal/files.hpp"
#include "scenecam/canvas.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kTile = 112, kCaption = 18, kTitle = 24, kColumns = 8;

// One image's grid: its `top` maps [top, S, S] coloured by lut, captioned with channel and mean.
Canvas activation_grid(const ActivationMaps& a, int64_t k, int64_t S, const std::string& layer,
                       const std::vector<uint8_t>& lut) {
  const int top = int(a.top), cols = std::min(top, kColumns), rows = (top + cols - 1) / cols;
  Canvas grid(std::max(cols * kTile, 320), kTitle + rows * (kTile + kCaption));
  grid.text(layer + ": the " + std::to_string(top) +
                " feature maps with the highest mean (channel, mean)",
            {6, kTitle / 2}, 0.45, {40, 40, 40}, -1);
  std::vector<uint8_t> heat(S * S * 3);
  for (int r = 0; r < top; ++r) {
    const float* m = a.maps.data() + (k * top + r) * S * S;
    for (int64_t p = 0; p < S * S; ++p)
      std::copy_n(lut.data() + std::clamp(int(255.0f * m[p]), 0, 255) * 3, 3, heat.data() + p * 3);
    const Point at{(r % cols) * kTile, kTitle + (r / cols) * (kTile + kCaption)};
    grid.image(heat.data(), int(S), int(S), at, kTile);
    char caption[64];
    std::snprintf(caption, sizeof caption, "ch %d  %.3g", a.channels[k * top + r],
                  a.means[k * top + r]);
    grid.text(caption, at + Point{4, kTile + kCaption / 2}, 0.35, {40, 40, 40}, -1);
  }
  return grid;
}

}  // namespace

void write_activation_outputs(Explainer& explainer, const ExplainOptions& o,
                              const ExplainInputs& in, const std::vector<uint8_t>& lut,
                              const std::string& out_dir, json& items) {
  const int64_t S = in.data.image_size;
  for (const std::string& layer : o.activation_layers) {
    const ActivationMaps a = explainer.activations(in.data, in.indices, layer, o.activation_count);
    for (size_t k = 0; k < in.indices.size(); ++k) {
      const int64_t i = in.indices[k];
      const std::string base = stem_of(in.data.files[i], i) + "_activations_" + layer;
      activation_grid(a, int64_t(k), S, layer, lut)
          .save_png((fs::path(out_dir) / (base + ".png")).string());
      write_file_atomic((fs::path(out_dir) / (base + ".npy")).string(),
                        npy(a.maps.data() + k * a.top * S * S, {a.top, S, S}));
      const auto first = a.channels.begin() + int64_t(k) * a.top;
      const auto mean = a.means.begin() + int64_t(k) * a.top;
      items[k]["activations"][layer] = {{"grid", base + ".png"},
                                        {"maps", base + ".npy"},
                                        {"channels", std::vector<int32_t>(first, first + a.top)},
                                        {"means", std::vector<float>(mean, mean + a.top)}};
    }
    std::printf("explain: activations of %s: %ld feature maps per image\n", layer.c_str(),
                long(a.top));
  }
}

// Each filter [3, k, k] scaled by its own minimum and maximum to RGB bytes, 32 px a patch.
json write_filter_outputs(Explainer& explainer, const std::string& out_dir) {
  Shape shape;
  const std::vector<float> w = explainer.first_conv_filters(&shape);
  const int O = int(shape[0]), C = int(shape[1]), k = int(shape[2]);
  constexpr int kPatch = 32, kGap = 4;
  const int cols = std::min(O, 16), rows = (O + cols - 1) / cols;
  Canvas sheet(std::max(cols * (kPatch + kGap) + kGap, 240),
               kTitle + rows * (kPatch + kGap) + kGap);
  sheet.text(
      "conv1: " + std::to_string(O) + " filters, " + std::to_string(k) + "x" + std::to_string(k),
      {6, kTitle / 2}, 0.45, {40, 40, 40}, -1);
  std::vector<uint8_t> rgb(k * k * 3);
  for (int f = 0; f < O; ++f) {
    const float* p = w.data() + int64_t(f) * C * k * k;
    const auto [lo, hi] = std::minmax_element(p, p + C * k * k);
    for (int y = 0; y < k * k; ++y)
      for (int c = 0; c < 3; ++c) {
        const float v = p[std::min(c, C - 1) * k * k + y];
        rgb[y * 3 + c] = uint8_t(std::lround(255.0f * (v - *lo) / std::max(*hi - *lo, 1e-12f)));
      }
    sheet.image(rgb.data(), k, k,
                {kGap + (f % cols) * (kPatch + kGap), kTitle + kGap + (f / cols) * (kPatch + kGap)},
                kPatch);
  }
  sheet.save_png((fs::path(out_dir) / "conv1_filters.png").string());
  std::vector<int64_t> dims;
  for (int d = 0; d < shape.rank(); ++d)
    dims.push_back(shape[d]);
  write_file_atomic((fs::path(out_dir) / "conv1_filters.npy").string(), npy(w.data(), dims));
  return {{"image", "conv1_filters.png"}, {"weights", "conv1_filters.npy"}, {"shape", dims}};
}

}  // namespace scenecam
