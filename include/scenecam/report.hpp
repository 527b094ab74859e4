// `scenecam report RUN_DIR`: the run's figures (PNG, drawn with OpenCV) and one self-contained
// report.html that shows them beside the classification report.
#pragma once

#include <string>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/dataset.hpp"

namespace scenecam {

struct ReportResult {
  std::string html;                 // path of report.html
  std::vector<std::string> images;  // paths of the PNG figures
};

// Reads RUN_DIR's metrics.jsonl and config, evaluates best.safetensors (last.safetensors when
// there is no best) on the run's validation split, and writes into RUN_DIR/report/:
// curves.png (loss and accuracy per epoch, train and validation), lr.png (training loss and
// learning rate per logged step), classes.png (images per class in each split), confusion.png (heatmap with
// counts), predictions.png (a grid of validation images, true / predicted / probability, mistakes
// in red) and report.html. A run with no checkpoint yet (it diverged or stopped in its first
// epoch) gets its two curve figures and a page that says so. Non-finite values are left out.
//
// `data`: the run's data and split, when the caller holds them (training just ended); else the
// report reads them as the run's config says.
struct RunData {
  const Dataset& data;
  const Split& split;
};
ReportResult write_report(const std::string& run_dir, Backend& backend,
                          const RunData* data = nullptr);

}  // namespace scenecam
