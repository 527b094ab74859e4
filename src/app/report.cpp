// Run reports: figures drawn on a Canvas (canvas.hpp), and an HTML page that shows them.
#include "scenecam/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "internal/files.hpp"
#include "internal/html.hpp"
#include "scenecam/canvas.hpp"
#include "scenecam/config.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/metrics.hpp"
#include "scenecam/trainer.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const Rgb kInk{40, 40, 40}, kGrid{225, 225, 225}, kWhite{255, 255, 255};
// Colours for series: blue, orange, green, red.
const Rgb kSeries[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}};

std::string number(double v) {
  if (std::abs(v) < 1e-12) v = 0;  // no "-0" from a tick computed as -1e-17
  char buf[32];
  std::snprintf(buf, sizeof buf,
                std::abs(v) >= 1e6                       ? "%.3g"  // a diverging loss: 3.55e+28
                : std::abs(v) >= 100 || v == std::floor(v) ? "%.0f"
                : std::abs(v) >= 1                       ? "%.2g"
                                                         : "%.3g",
                v);
  return buf;
}

std::string percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * share);
  return buf;
}

// "Nice" tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
  if (hi <= lo) hi = lo + 1;
  const double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = mag * (raw / mag < 1.5 ? 1 : raw / mag < 3 ? 2 : raw / mag < 7 ? 5 : 10);
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step)
    t.push_back(v);
  return t;
}

struct Series {
  std::string name;
  std::vector<double> x, y;
};

// A line chart with axes, ticks, grid, labels and a legend, drawn into `panel` of `img`.
void line_chart(Canvas& img, Rect panel, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series) {
  const Rect plot{panel.x + 70, panel.y + 45, panel.width - 95, panel.height - 100};
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return plot.x + int(std::lround((x - x0) / (x1 - x0) * plot.width)); };
  auto py = [&](double y) {
    return plot.y + plot.height - int(std::lround((y - y0) / (y1 - y0) * plot.height));
  };
  img.text(title, {panel.x + panel.width / 2, panel.y + 18}, 0.6, kInk, 0, 2);
  for (double t : ticks(y0, y1)) {
    img.line({plot.x, py(t)}, {plot.x + plot.width, py(t)}, kGrid, 1);
    img.text(number(t), {plot.x - 8, py(t)}, 0.42, kInk, 1);
  }
  for (double t : ticks(x0, x1, 6)) {
    img.line({px(t), plot.y}, {px(t), plot.y + plot.height}, kGrid, 1);
    img.text(number(t), {px(t), plot.y + plot.height + 14}, 0.42, kInk);
  }
  img.rectangle(plot, kInk, 1);
  img.text(xlabel, {plot.x + plot.width / 2, plot.y + plot.height + 36}, 0.5, kInk);
  // The y label, written horizontally above the axis (Hershey text does not rotate).
  img.text(ylabel, {panel.x + 8, plot.y - 14}, 0.45, kInk, -1);
  // The legend goes top right unless the curves pass there; then bottom right.
  bool top_right_busy = false;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      top_right_busy |= px(s.x[i]) > plot.x + plot.width - 170 &&
                        py(s.y[i]) < plot.y + 20 + 18 * int(series.size());
  const int legend_y =
      top_right_busy ? plot.y + plot.height - 14 - 18 * int(series.size() - 1) : plot.y + 14;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const Rgb color = kSeries[k % 4];
    for (size_t i = 1; i < s.x.size(); ++i)
      img.line({px(s.x[i - 1]), py(s.y[i - 1])}, {px(s.x[i]), py(s.y[i])}, color, 2, true);
    for (size_t i = 0; i < s.x.size() && s.x.size() <= 60; ++i)
      img.disc({px(s.x[i]), py(s.y[i])}, 3, color);
    const Point at{plot.x + plot.width - 130, legend_y + 18 * int(k)};
    img.line(at, at + Point{22, 0}, color, 2, true);
    img.text(s.name, at + Point{28, 0}, 0.45, kInk, -1);
  }
}

void save(const Canvas& figure, const fs::path& path, ReportResult* result) {
  figure.save_png(path.string());
  result->images.push_back(path.string());
}

// The curves of metrics.jsonl: loss and accuracy per epoch, the learning rate per step.
struct Curves {
  Series train_loss{"train", {}, {}}, val_loss{"validation", {}, {}}, train_acc{"train", {}, {}},
      val_acc{"validation", {}, {}}, lr{"learning rate", {}, {}},
      step_loss{"train (logged steps)", {}, {}};
};

// Adds the point (record[x], scale * record[y]) when both are finite numbers: a diverged run's
// records hold null (JSON's NaN), and a line from another version may lack a field.
void add_point(Series& s, const json& record, const char* x, const char* y, double scale = 1) {
  const json& xv = record.contains(x) ? record[x] : json();
  const json& yv = record.contains(y) ? record[y] : json();
  if (!xv.is_number() || !yv.is_number()) return;
  const double px = xv.get<double>(), py = scale * yv.get<double>();
  if (!std::isfinite(px) || !std::isfinite(py)) return;
  s.x.push_back(px);
  s.y.push_back(py);
}

Curves read_curves(const fs::path& run) {
  Curves c;
  std::ifstream metrics(run / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const json r = json::parse(line, nullptr, false);
    if (r.is_discarded() || !r.is_object() || !r.contains("type")) continue;
    if (r["type"] == "epoch") {
      add_point(c.train_loss, r, "epoch", "train_loss");
      add_point(c.val_loss, r, "epoch", "val_loss");
      add_point(c.train_acc, r, "epoch", "train_accuracy", 100);
      add_point(c.val_acc, r, "epoch", "val_accuracy", 100);
    } else if (r["type"] == "step") {
      add_point(c.lr, r, "global_step", "lr");
      add_point(c.step_loss, r, "global_step", "loss");
    }
  }
  return c;
}

void curve_figures(const Curves& c, const fs::path& out, ReportResult* result) {
  Canvas curves(1200, 460);
  line_chart(curves, {0, 0, 600, 460}, "Loss", "epoch", "loss", {c.train_loss, c.val_loss});
  line_chart(curves, {600, 0, 600, 460}, "Accuracy", "epoch", "accuracy (%)",
             {c.train_acc, c.val_acc});
  save(curves, out / "curves.png", result);
  Canvas steps(1200, 400);
  line_chart(steps, {0, 0, 600, 400}, "Training loss (logged steps)", "step", "loss",
             {c.step_loss});
  line_chart(steps, {600, 0, 600, 400}, "Learning rate", "step", "lr", {c.lr});
  save(steps, out / "lr.png", result);
}

// The validation split through the model: what the figures and the page report.
struct Evaluation {
  Dataset decoded;                // when the report read the data itself
  const Dataset* data = nullptr;  // decoded, or the caller's
  Split split;
  std::vector<std::string> classes;
  std::vector<int32_t> labels;  // of split.val
  std::vector<float> probs;     // [split.val, K]
  ClassificationReport report;
};

// Fills *v (which stays put: v->data may point into it). `given`: the run's data, already in
// memory (after training), instead of reading it again.
void evaluate_validation(const RunConfig& config, const SafetensorsFile& file, Backend& backend,
                         const RunData* given, Evaluation* v) {
  Classifier classifier(config, file, backend);
  if (given) {
    v->data = &given->data;
    v->split = given->split;
  } else {
    v->decoded = load_training_data(config, &v->split);
    v->data = &v->decoded;
  }
  v->classes = classifier.classes();
  const int K = static_cast<int>(v->classes.size());
  const std::vector<float> logits = classifier.logits(*v->data, v->split.val, true);
  for (int64_t i : v->split.val)
    v->labels.push_back(v->data->labels[i]);
  v->report = classification_report(v->labels, logits, v->classes, {1, std::min(3, K)});
  v->probs = logits;
  softmax_rows(v->probs, K);
}

void class_distribution_figure(const Evaluation& v, const fs::path& out, ReportResult* result) {
  const Dataset& data = *v.data;
  const Split& split = v.split;
  const std::vector<std::string>& classes = v.classes;
  const int K = static_cast<int>(classes.size());
  std::vector<double> train_count(K, 0), val_count(K, 0);
  for (int64_t i : split.train)
    ++train_count[data.labels[i]];
  for (int64_t i : split.val)
    ++val_count[data.labels[i]];
  Canvas dist(120 + 110 * K, 420);
  {
    const Rect plot{70, 50, dist.width() - 100, dist.height() - 120};
    const double top = *std::max_element(train_count.begin(), train_count.end()) * 1.1 + 1;
    dist.text("Images per class", {dist.width() / 2, 20}, 0.6, kInk, 0, 2);
    for (double t : ticks(0, top)) {
      const int y = plot.y + plot.height - int(t / top * plot.height);
      dist.line({plot.x, y}, {plot.x + plot.width, y}, kGrid, 1);
      dist.text(number(t), {plot.x - 8, y}, 0.42, kInk, 1);
    }
    const int slot = plot.width / K;
    for (int c = 0; c < K; ++c) {
      for (int s = 0; s < 2; ++s) {
        const double v = s == 0 ? train_count[c] : val_count[c];
        const int h = int(v / top * plot.height), x = plot.x + c * slot + slot / 6 + s * slot / 3;
        dist.rectangle({x, plot.y + plot.height - h, slot / 3 - 2, h}, kSeries[s], Canvas::kFilled);
      }
      dist.text(classes[c], {plot.x + c * slot + slot / 2, plot.y + plot.height + 16}, 0.45, kInk);
    }
    dist.rectangle(plot, kInk, 1);
    for (int s = 0; s < 2; ++s) {  // the legend sits above the plot, clear of the bars
      const Point at{plot.x + plot.width - 260 + 130 * s, plot.y - 14};
      dist.rectangle({at.x, at.y - 6, 18, 12}, kSeries[s], Canvas::kFilled);
      dist.text(s == 0 ? "train" : "validation", at + Point{26, 0}, 0.45, kInk, -1);
    }
    dist.text("class", {plot.x + plot.width / 2, plot.y + plot.height + 42}, 0.5, kInk);
  }
  save(dist, out / "classes.png", result);
}

// The confusion matrix as a heatmap: colour by the row-normalised share, text the count.
void confusion_figure(const Evaluation& v, const fs::path& out, ReportResult* result) {
  const ClassificationReport& report = v.report;
  const std::vector<std::string>& classes = v.classes;
  const int K = static_cast<int>(classes.size());
  const int cell = 80, left = 130, top = 80;
  Canvas conf(left + cell * K + 30, top + cell * K + 60);
  conf.text("Confusion matrix (validation)", {conf.width() / 2, 22}, 0.6, kInk, 0, 2);
  conf.text("predicted", {left + cell * K / 2, top - 40}, 0.5, kInk);
  for (int t = 0; t < K; ++t) {
    int64_t row = 0;
    for (int64_t v : report.confusion[t])
      row += v;
    conf.text(classes[t], {left - 8, top + t * cell + cell / 2}, 0.45, kInk, 1);
    conf.text(classes[t], {left + t * cell + cell / 2, top - 14}, 0.42, kInk);
    for (int p = 0; p < K; ++p) {
      const double share = row ? double(report.confusion[t][p]) / row : 0;
      const Rgb colour{uint8_t(255 - 40 * share), uint8_t(255 - 150 * share),
                       uint8_t(255 - 200 * share)};
      conf.rectangle({left + p * cell, top + t * cell, cell, cell}, colour, Canvas::kFilled);
      conf.rectangle({left + p * cell, top + t * cell, cell, cell}, kGrid, 1);
      conf.text(std::to_string(report.confusion[t][p]),
                {left + p * cell + cell / 2, top + t * cell + cell / 2}, 0.55,
                share > 0.55 ? kWhite : kInk, 0, 1);
    }
  }
  conf.text("true class (rows)", {left + cell * K / 2, top + cell * K + 30}, 0.5, kInk);
  save(conf, out / "confusion.png", result);
}

// Validation images spread evenly over the split (which is ordered by class), mistakes framed
// in red.
void predictions_figure(const Evaluation& v, const fs::path& out, ReportResult* result) {
  const Dataset& data = *v.data;
  const Split& split = v.split;
  const std::vector<std::string>& classes = v.classes;
  const std::vector<int32_t>& labels = v.labels;
  const std::vector<float>& probs = v.probs;
  const int K = static_cast<int>(classes.size());
  const int tiles = std::min<int>(16, static_cast<int>(split.val.size())), cols = 4, tile = 160;
  const int rows = (tiles + cols - 1) / cols;
  Canvas grid(cols * tile + (cols + 1) * 10, rows * (tile + 46) + 40);
  grid.text("Validation predictions (true / predicted, probability)", {grid.width() / 2, 18}, 0.5,
            kInk, 0, 1);
  for (int t = 0; t < tiles; ++t) {
    const int64_t k = int64_t(t) * int64_t(split.val.size()) / tiles;
    const ImageU8& img = data.images[split.val[k]];
    const int x = 10 + (t % cols) * (tile + 10), y = 36 + (t / cols) * (tile + 46);
    grid.image(img.rgb.data(), img.width, img.height, {x, y}, tile);
    const float* row = probs.data() + k * K;
    const int pred = int(std::max_element(row, row + K) - row);
    const bool wrong = pred != labels[k];
    const Rgb colour = wrong ? Rgb{220, 30, 30} : Rgb{40, 140, 40};
    if (wrong) grid.rectangle({x - 3, y - 3, tile + 6, tile + 6}, colour, 3);
    grid.text(classes[labels[k]] + " / " + classes[pred], {x + tile / 2, y + tile + 12}, 0.42,
              colour);
    char p[32];
    std::snprintf(p, sizeof p, "%.2f%s", row[pred], wrong ? "  (wrong)" : "");
    grid.text(p, {x + tile / 2, y + tile + 30}, 0.42, colour);
  }
  save(grid, out / "predictions.png", result);
}

// report.html: the figures beside it, the tables inline.
std::string report_html(const fs::path& run, const fs::path& checkpoint, const RunConfig& config,
                        const Curves& curves, const Evaluation& v) {
  const ClassificationReport& report = v.report;
  const std::vector<std::string>& classes = v.classes;
  const int K = static_cast<int>(classes.size());
  const Series& train_loss = curves.train_loss;
  std::ostringstream h;
  h << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>scenecam report: "
    << html_escape(run.filename().string())
    << "</title>\n<style>body{font-family:sans-serif;margin:2em;"
    << "max-width:1250px;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px "
       "solid "
    << "#ccc;padding:4px "
       "10px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:"
    << "left}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}</style></head><body>\n";
  h << "<h1>Run " << html_escape(run.filename().string()) << "</h1>\n<p>"
    << html_escape(config.model.arch) << ", " << K << " classes, " << config.data.image_size << "x"
    << config.data.image_size << " images, " << train_loss.x.size()
    << " epoch(s) logged; checkpoint <code>" << html_escape(checkpoint.filename().string())
    << "</code>; validation accuracy <b>" << percent(report.accuracy) << "</b> on "
    << report.samples << " images.</p>\n";
  h << "<h2>Training curves</h2>\n<img src=\"curves.png\" alt=\"loss and accuracy per epoch\">\n"
    << "<img src=\"lr.png\" alt=\"loss and learning rate per logged step\">\n";
  h << "<h2>Classification report "
       "(validation)</h2>\n<table><tr><th>class</th><th>precision</th><th>recall"
    << "</th><th>f1-score</th><th>support</th></tr>\n";
  char cellbuf[128];
  auto row = [&](const std::string& name, const ClassMetrics& m) {
    std::snprintf(cellbuf, sizeof cellbuf, "<td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%ld</td>",
                  m.precision, m.recall, m.f1, long(m.support));
    h << "<tr><td>" << html_escape(name) << "</td>" << cellbuf << "</tr>\n";
  };
  for (int c = 0; c < K; ++c)
    row(classes[c], report.per_class[c]);
  row("macro avg", report.macro);
  row("weighted avg", report.weighted);
  h << "</table>\n<p>accuracy " << percent(report.accuracy);
  for (const auto& [k, acc] : report.top_k)
    h << "; top-" << k << " " << percent(acc);
  h << "</p>\n";
  if (!report.never_predicted.empty())
    h << "<p>Never predicted (precision set to 0): "
      << html_escape(json(report.never_predicted).dump()) << "</p>\n";
  h << "<h2>Confusion matrix</h2>\n<img src=\"confusion.png\" alt=\"confusion matrix\">\n";
  h << "<h2>Class distribution</h2>\n<img src=\"classes.png\" alt=\"images per class\">\n";
  h << "<h2>Sample predictions</h2>\n<img src=\"predictions.png\" alt=\"validation "
       "predictions\">\n";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

// The page of a run that stopped before its first checkpoint (it diverged, or was stopped):
// its curves, and why there is nothing to evaluate.
std::string curves_only_html(const fs::path& run, const Curves& curves) {
  std::ostringstream h;
  h << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>scenecam report: "
    << html_escape(run.filename().string()) << "</title></head><body>\n<h1>Run "
    << html_escape(run.filename().string()) << "</h1>\n<p>" << curves.train_loss.x.size()
    << " epoch(s) and " << curves.lr.x.size()
    << " step record(s) logged. The run wrote no checkpoint (it stopped, or its loss diverged, "
       "before the end of its first epoch), so there is no model to evaluate.</p>\n"
    << "<h2>Training curves</h2>\n<img src=\"curves.png\" alt=\"loss and accuracy per epoch\">\n"
    << "<img src=\"lr.png\" alt=\"loss and learning rate per logged step\">\n</body></html>\n";
  return h.str();
}

ReportResult write_report(const std::string& run_dir, Backend& backend, const RunData* data) {
  SC_CHECK(image_files_supported(), run_dir,
           ": this build of scenecam cannot draw reports (built with SCENECAM_WITH_OPENCV=OFF)");
  const fs::path run(run_dir);
  const fs::path checkpoint =
      fs::exists(run / "best.safetensors") ? run / "best.safetensors" : run / "last.safetensors";
  const bool has_checkpoint = fs::exists(checkpoint);
  SC_CHECK(has_checkpoint || fs::exists(run / "metrics.jsonl"), run_dir,
           ": no best.safetensors, last.safetensors or metrics.jsonl (is it a run folder?)");
  const fs::path out = prepare_output_dir((run / "report").string(), "", "");
  ReportResult result;
  const Curves curves = read_curves(run);
  curve_figures(curves, out, &result);
  result.html = (out / "report.html").string();
  if (!has_checkpoint) {
    write_file_atomic(result.html, curves_only_html(run, curves));
    std::printf("report: wrote %s (curves only: the run has no checkpoint)\n",
                result.html.c_str());
    return result;
  }
  const SafetensorsFile file(checkpoint.string());
  const RunConfig config = checkpoint_config(file);
  Evaluation v;
  evaluate_validation(config, file, backend, data, &v);
  class_distribution_figure(v, out, &result);
  confusion_figure(v, out, &result);
  predictions_figure(v, out, &result);
  write_file_atomic(result.html, report_html(run, checkpoint, config, curves, v));
  std::printf("report: wrote %s and %zu figures\n", result.html.c_str(), result.images.size());
  return result;
}

}  // namespace scenecam
