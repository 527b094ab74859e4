// What `scenecam explain`'s files share: the images being explained, NumPy arrays, names of
// files, and the figures beside the maps (activation grids, filters, the gallery page).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/dataset.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/explain_run.hpp"

namespace scenecam {

// The images to explain: the files and folders given, or the run's own split.
struct ExplainInputs {
  Dataset data;
  std::vector<int64_t> indices;
  nlohmann::json skipped = nlohmann::json::array();
};

// A float32 array of the given shape in NumPy's .npy format (version 1.0, little-endian, C order).
std::string npy(const float* data, const std::vector<int64_t>& shape);
// An RGB buffer of one S x S image, for the PNG writer.
ImageU8 rgb_image(const uint8_t* rgb, int S);
// The file stem outputs of image `index` are named after ("synthetic_<index>" for no file).
std::string stem_of(const std::string& file, int64_t index);

// Activations visualisation: per image and layer a grid PNG of its most active feature maps
// (coloured by `lut`) and their .npy, recorded in items[k]["activations"][layer]; and once the
// first convolution's filters as RGB patches (conv1_filters.png and .npy), returned as the
// manifest's "filters" entry.
void write_activation_outputs(Explainer& explainer, const ExplainOptions& o,
                              const ExplainInputs& in, const std::vector<uint8_t>& lut,
                              const std::string& out_dir, nlohmann::json& items);
nlohmann::json write_filter_outputs(Explainer& explainer, const std::string& out_dir);

// --metrics for one method's maps: deletion and insertion AUC, average drop and increase, ROAD
// (MoRF and LeRF) and, for images with boxes, the pointing game, each beside the same measure of
// uniformly random maps; printed and returned for the manifest.
nlohmann::json method_metrics(Explainer& explainer, const ExplainInputs& in, const Explanation& e,
                              const std::string& name);

// The model-parameter randomisation sanity check (Adebayo et al., NeurIPS 2018) on the first
// o.sanity_images images: the network re-initialised cascading from the top (fc, then each stage
// down to the stem), each method's maps recomputed for the same targets and compared with the
// trained model's (Spearman's rho, SSIM); written into manifest["metrics"][method + suffix] for
// the target (suffix, target).
void sanity_check(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend,
                  const ExplainOptions& o, const ExplainInputs& in,
                  const std::vector<CamMethod>& methods,
                  const std::pair<std::string, CamTarget>& target, nlohmann::json& manifest);

// index.html: per image its input and every method's overlay side by side, then the metrics
// table; self-contained (relative links to the PNGs beside it, no network).
void write_gallery(const nlohmann::json& manifest, const std::string& out_dir);

}  // namespace scenecam
