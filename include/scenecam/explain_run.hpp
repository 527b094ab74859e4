// `scenecam explain`: explanations of a batch of images written to a folder: one overlay PNG and
// one raw map (.npy, float32) per image and method, a grid PNG, manifest.json, index.html (the
// gallery), and with --metrics, faithfulness numbers beside a random-map baseline. The method
// "activations" writes feature-map grids per image and layer and the first convolution's filters.
#pragma once

#include <string>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/explain.hpp"

namespace scenecam {

struct ExplainOptions {
  std::string checkpoint;
  std::vector<std::string> images;  // files or folders; empty = the run's own split
  std::string split = "val";
  std::string out_dir;
  std::vector<std::string> methods{"gradcam"};
  std::string layer;             // "" = the last residual stage
  std::string target = "pred";   // pred | true | class index
  float image_weight = 0.5f;     // pytorch-grad-cam's show_cam_on_image default
  std::string colormap = "jet";  // jet | turbo | viridis | inferno | magma | hot
  int batch_size = 0;            // 0 = the run's training batch size
  int limit = 0;                 // > 0: explain only the first `limit` images
  int grid = 8;                  // images in grid.png
  bool metrics = false;
  ExplainSettings settings;  // the many-forward methods' steps and samples
  std::vector<std::string> activation_layers{"conv1", "layer1", "layer2", "layer3", "layer4"};
  int activation_count = 8;  // feature maps per image and layer
  int sanity_images = 16;    // images the --metrics sanity check re-explains per step
};

// Returns the number of images explained.
int64_t run_explain(const ExplainOptions& options, Backend& backend);

}  // namespace scenecam
