// `scenecam eval` and `scenecam predict`: a checkpoint applied to labelled or unlabelled images.
#pragma once

#include <string>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/metrics.hpp"

namespace scenecam {

struct EvalOptions {
  std::string checkpoint;
  std::string data_dir;       // an image folder; "" = the run's own data (its config's source)
  std::string split = "val";  // with the run's own data: val | train | all
  std::string out_dir;        // "" = <checkpoint's folder>/eval
  int top_k = 3;
  int mistakes = 10;  // how many of the most confident mistakes to list
};

struct EvalResult {
  ClassificationReport report;
  std::string out_dir;
};

// Evaluates and writes report.json, report.csv, confusion.csv, confusion_normalized.csv and
// mistakes.csv into the output folder; prints the report table.
EvalResult evaluate_checkpoint(const EvalOptions& options, Backend& backend);

struct PredictOptions {
  std::string checkpoint;
  std::vector<std::string> inputs;  // image files or folders of images
  int top_k = 3;
  std::string format = "json";  // json | csv
};

// Prints one record per input image (its top-k classes and probabilities, or why it could not
// be read) to stdout. Returns how many images were predicted.
int64_t predict_images(const PredictOptions& options, Backend& backend);

class SafetensorsFile;
struct RunConfig;
// The run config a checkpoint carries in its metadata; throws for a file that has none.
RunConfig checkpoint_config(const SafetensorsFile& file);

}  // namespace scenecam
