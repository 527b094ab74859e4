// eval and predict: checkpoint + images -> metrics files, or per-image predictions.
#include "scenecam/evaluate.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "internal/files.hpp"
#include "scenecam/config.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/trainer.hpp"

namespace scenecam {
namespace fs = std::filesystem;

RunConfig checkpoint_config(const SafetensorsFile& file) {
  return parse_config(checkpoint_config_yaml(file), file.path() + " (embedded config)");
}

namespace {

// The images eval reads: an image folder, or the run's own data and one of its splits.
void eval_inputs(const EvalOptions& o, const RunConfig& config, const Classifier& classifier,
                 Dataset* data, std::vector<int64_t>* indices) {
  if (!o.data_dir.empty()) {
    *data = load_image_folder(o.data_dir, config.data.image_size, config.runtime.threads, "");
    warn_about_folder(*data, o.data_dir);
    // The folders name the classes; their order is the checkpoint's, whatever the folders' is.
    const std::vector<std::string>& classes = classifier.classes();
    std::vector<int32_t> to_model(data->class_names.size(), -1);
    for (size_t c = 0; c < data->class_names.size(); ++c) {
      const auto it = std::find(classes.begin(), classes.end(), data->class_names[c]);
      if (it != classes.end()) to_model[c] = int32_t(it - classes.begin());
    }
    const bool same = data->class_names.size() == classes.size() &&
                      std::find(to_model.begin(), to_model.end(), -1) == to_model.end();
    SC_CHECK(same, o.data_dir, ": its classes (", nlohmann::json(data->class_names).dump(),
             ") differ from the checkpoint's (", nlohmann::json(classes).dump(), ")");
    for (int32_t& label : data->labels)
      label = to_model[label];
    data->class_names = classes;
    indices->resize(data->images.size());
    std::iota(indices->begin(), indices->end(), 0);
  } else {
    Split split;
    *data = load_training_data(config, &split);
    *indices = split_indices(split, int64_t(data->images.size()), o.split, true);
  }
  SC_CHECK(!indices->empty(), "eval: no images to evaluate");
}

// The most confident mistakes, printed (the first `show`) and as mistakes.csv's text.
std::string mistakes_csv(const Dataset& data, const std::vector<int64_t>& indices,
                         std::vector<float> probs, const std::vector<std::string>& classes,
                         int show) {
  const int64_t K = static_cast<int64_t>(classes.size());
  softmax_rows(probs, K);
  struct Mistake {
    int64_t index;
    int32_t predicted;
    float probability;
  };
  std::vector<Mistake> mistakes;
  for (size_t n = 0; n < indices.size(); ++n) {
    const float* row = probs.data() + n * K;
    const int32_t predicted = int32_t(std::max_element(row, row + K) - row);
    if (predicted != data.labels[indices[n]])
      mistakes.push_back({indices[n], predicted, row[predicted]});
  }
  std::stable_sort(mistakes.begin(), mistakes.end(), [](const Mistake& a, const Mistake& b) {
    return a.probability > b.probability;
  });
  std::string csv = "image,true,predicted,probability\n";
  std::printf("\nmost confident mistakes:\n");
  for (size_t m = 0; m < mistakes.size() && int(m) < show; ++m) {
    const Mistake& x = mistakes[m];
    const std::string name =
        data.files[x.index].empty() ? "synthetic #" + std::to_string(x.index) : data.files[x.index];
    const std::string& truth = classes[data.labels[x.index]];
    const std::string& pred = classes[x.predicted];
    std::printf("  %s: %s predicted as %s (%.3f)\n", name.c_str(), truth.c_str(), pred.c_str(),
                x.probability);
    csv += name + "," + truth + "," + pred + "," + std::to_string(x.probability) + "\n";
  }
  return csv;
}

}  // namespace

EvalResult evaluate_checkpoint(const EvalOptions& o, Backend& backend) {
  const SafetensorsFile file(o.checkpoint);
  const RunConfig config = checkpoint_config(file);
  Classifier classifier(config, file, backend);
  Dataset data;
  std::vector<int64_t> indices;
  eval_inputs(o, config, classifier, &data, &indices);
  std::printf(
      "eval: %s on %zu images (%s)\n", o.checkpoint.c_str(), indices.size(),
      o.data_dir.empty() ? ("the run's " + o.split + " split").c_str() : o.data_dir.c_str());

  const std::vector<float> logits = classifier.logits(data, indices, true);
  std::vector<int32_t> labels;
  for (int64_t i : indices)
    labels.push_back(data.labels[i]);
  // Metrics from the logits themselves, so accuracy matches training's validation exactly.
  EvalResult result;
  result.report = classification_report(labels, logits, classifier.classes(), {1, o.top_k});
  std::printf("\n%s", format_report(result.report).c_str());
  const std::string mistakes =
      mistakes_csv(data, indices, logits, classifier.classes(), o.mistakes);

  result.out_dir = prepare_output_dir(o.out_dir, o.checkpoint, "eval");
  const fs::path out(result.out_dir);
  write_file_atomic((out / "report.json").string(), report_json(result.report));
  write_file_atomic((out / "report.csv").string(), report_csv(result.report));
  write_file_atomic((out / "confusion.csv").string(), confusion_csv(result.report, false));
  write_file_atomic((out / "confusion_normalized.csv").string(),
                    confusion_csv(result.report, true));
  write_file_atomic((out / "mistakes.csv").string(), mistakes);
  std::printf(
      "\neval: wrote report.json, report.csv, confusion.csv, confusion_normalized.csv and "
      "mistakes.csv to %s\n",
      result.out_dir.c_str());
  return result;
}

int64_t predict_images(const PredictOptions& o, Backend& backend) {
  SC_CHECK(o.format == "json" || o.format == "csv", "--format must be json or csv, not '", o.format,
           "'");
  SC_CHECK(o.top_k >= 1, "--top-k must be at least 1");
  const SafetensorsFile file(o.checkpoint);
  const RunConfig config = checkpoint_config(file);
  Classifier classifier(config, file, backend);

  // Inputs: files as given, folders expanded to the image files below them.
  const std::vector<std::string> paths = expand_image_inputs(o.inputs);
  std::vector<std::string> errors;
  const Dataset data =
      read_image_files(paths, classifier.image_size(), classifier.classes(), &errors);
  std::vector<int64_t> readable(data.images.size());
  std::iota(readable.begin(), readable.end(), 0);
  std::vector<float> probs;
  if (!readable.empty()) probs = classifier.logits(data, readable, false);
  const int64_t K = static_cast<int64_t>(classifier.classes().size());
  softmax_rows(probs, K);

  nlohmann::json records = nlohmann::json::array();
  std::string csv = "file,rank,class,probability,error\n";
  size_t next = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    nlohmann::json r = {{"file", paths[i]}};
    if (!errors[i].empty()) {
      r["error"] = errors[i];
      csv += paths[i] + ",,,," + errors[i] + "\n";
    } else {
      const float* row = probs.data() + next++ * K;
      std::vector<int64_t> rank(K);
      std::iota(rank.begin(), rank.end(), 0);
      std::stable_sort(rank.begin(), rank.end(),
                       [&](int64_t a, int64_t b) { return row[a] > row[b]; });
      for (int k = 0; k < std::min<int64_t>(o.top_k, K); ++k) {
        r["predictions"].push_back(
            {{"class", classifier.classes()[rank[k]]}, {"probability", row[rank[k]]}});
        csv += paths[i] + "," + std::to_string(k + 1) + "," + classifier.classes()[rank[k]] + "," +
               std::to_string(row[rank[k]]) + ",\n";
      }
    }
    records.push_back(r);
  }
  std::fputs(o.format == "json" ? (records.dump(2) + "\n").c_str() : csv.c_str(), stdout);
  return static_cast<int64_t>(readable.size());
}

}  // namespace scenecam
