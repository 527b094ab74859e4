// Classification metrics and their text, JSON and CSV forms.
#include "scenecam/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "scenecam/error.hpp"

namespace scenecam {

ClassificationReport classification_report(const std::vector<int32_t>& labels,
                                           const std::vector<float>& probs,
                                           const std::vector<std::string>& classes,
                                           const std::vector<int>& top_ks) {
  const int64_t N = static_cast<int64_t>(labels.size()), K = static_cast<int64_t>(classes.size());
  SC_CHECK(K >= 1 && int64_t(probs.size()) == N * K, "classification_report: ", probs.size(),
           " scores for ", N, " samples of ", K, " classes");
  ClassificationReport r;
  r.classes = classes;
  r.samples = N;
  r.confusion.assign(K, std::vector<int64_t>(K, 0));
  std::vector<int64_t> top_hits(top_ks.size(), 0);
  std::vector<int64_t> order(K);
  for (int64_t n = 0; n < N; ++n) {
    SC_CHECK(labels[n] >= 0 && labels[n] < K, "classification_report: label ", labels[n],
             " of sample ", n, " is outside [0, ", K, ")");
    const float* row = probs.data() + n * K;
    std::iota(order.begin(), order.end(), 0);
    // Ties go to the lower class index, as argmax does.
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    ++r.confusion[labels[n]][order[0]];
    for (size_t t = 0; t < top_ks.size(); ++t) {
      const int64_t k = std::min<int64_t>(top_ks[t], K);
      top_hits[t] += std::find(order.begin(), order.begin() + k, labels[n]) != order.begin() + k;
    }
  }
  int64_t correct = 0;
  for (int64_t c = 0; c < K; ++c)
    correct += r.confusion[c][c];
  r.accuracy = N ? double(correct) / N : 0;
  for (size_t t = 0; t < top_ks.size(); ++t)
    if (top_ks[t] >= 1 && top_ks[t] <= K)
      r.top_k.emplace_back(top_ks[t], N ? double(top_hits[t]) / N : 0);

  r.per_class.resize(K);
  for (int64_t c = 0; c < K; ++c) {
    int64_t predicted = 0, actual = 0;
    for (int64_t o = 0; o < K; ++o) {
      predicted += r.confusion[o][c];
      actual += r.confusion[c][o];
    }
    ClassMetrics& m = r.per_class[c];
    m.support = actual;
    const double tp = double(r.confusion[c][c]);
    m.precision = predicted ? tp / predicted : 0.0;
    m.recall = actual ? tp / actual : 0.0;
    m.f1 =
        (m.precision + m.recall) > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
    if (predicted == 0) r.never_predicted.push_back(classes[c]);
    r.macro.precision += m.precision / K;
    r.macro.recall += m.recall / K;
    r.macro.f1 += m.f1 / K;
    if (N) {
      r.weighted.precision += m.precision * actual / N;
      r.weighted.recall += m.recall * actual / N;
      r.weighted.f1 += m.f1 * actual / N;
    }
  }
  r.macro.support = r.weighted.support = N;
  return r;
}

std::string format_report(const ClassificationReport& r) {
  size_t width = 12;
  for (const std::string& c : r.classes)
    width = std::max(width, c.size());
  std::ostringstream s;
  char line[256];
  auto row = [&](const std::string& name, const ClassMetrics& m) {
    std::snprintf(line, sizeof line, "%*s %9.2f %9.2f %9.2f %9ld\n", int(width), name.c_str(),
                  m.precision, m.recall, m.f1, long(m.support));
    s << line;
  };
  std::snprintf(line, sizeof line, "%*s %9s %9s %9s %9s\n\n", int(width), "", "precision", "recall",
                "f1-score", "support");
  s << line;
  for (size_t c = 0; c < r.classes.size(); ++c)
    row(r.classes[c], r.per_class[c]);
  std::snprintf(line, sizeof line, "\n%*s %9s %9s %9.2f %9ld\n", int(width), "accuracy", "", "",
                r.accuracy, long(r.samples));
  s << line;
  row("macro avg", r.macro);
  row("weighted avg", r.weighted);
  for (const auto& [k, acc] : r.top_k) {
    std::snprintf(line, sizeof line, "%*s %9.4f\n", int(width),
                  ("top-" + std::to_string(k) + " accuracy").c_str(), acc);
    s << (k == r.top_k.front().first ? "\n" : "") << line;
  }
  if (!r.never_predicted.empty()) {
    s << "\nnote: never predicted (precision set to 0):";
    for (const std::string& c : r.never_predicted)
      s << " " << c;
    s << "\n";
  }
  s << "\nconfusion matrix (rows: true class, columns: predicted)\n";
  std::snprintf(line, sizeof line, "%*s", int(width), "");
  s << line;
  for (size_t c = 0; c < r.classes.size(); ++c) {
    std::snprintf(line, sizeof line, " %9.9s", r.classes[c].c_str());
    s << line;
  }
  s << "\n";
  for (size_t t = 0; t < r.classes.size(); ++t) {
    std::snprintf(line, sizeof line, "%*s", int(width), r.classes[t].c_str());
    s << line;
    for (int64_t v : r.confusion[t]) {
      std::snprintf(line, sizeof line, " %9ld", long(v));
      s << line;
    }
    s << "\n";
  }
  return s.str();
}

std::string report_json(const ClassificationReport& r) {
  nlohmann::json j;
  j["samples"] = r.samples;
  j["accuracy"] = r.accuracy;
  for (const auto& [k, acc] : r.top_k)
    j["top_k_accuracy"][std::to_string(k)] = acc;
  j["classes"] = r.classes;
  for (size_t c = 0; c < r.classes.size(); ++c) {
    const ClassMetrics& m = r.per_class[c];
    j["per_class"][r.classes[c]] = {
        {"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}, {"support", m.support}};
  }
  for (auto [name, m] : {std::pair{"macro_avg", &r.macro}, {"weighted_avg", &r.weighted}})
    j[name] = {
        {"precision", m->precision}, {"recall", m->recall}, {"f1", m->f1}, {"support", m->support}};
  j["confusion_matrix"] = r.confusion;
  j["never_predicted"] = r.never_predicted;
  return j.dump(2) + "\n";
}

std::string report_csv(const ClassificationReport& r) {
  std::ostringstream s;
  s << "class,precision,recall,f1,support\n";
  auto row = [&](const std::string& name, const ClassMetrics& m) {
    s << name << "," << m.precision << "," << m.recall << "," << m.f1 << "," << m.support << "\n";
  };
  for (size_t c = 0; c < r.classes.size(); ++c)
    row(r.classes[c], r.per_class[c]);
  row("macro avg", r.macro);
  row("weighted avg", r.weighted);
  return s.str();
}

std::string confusion_csv(const ClassificationReport& r, bool normalised) {
  std::ostringstream s;
  s << "true\\predicted";
  for (const std::string& c : r.classes)
    s << "," << c;
  s << "\n";
  for (size_t t = 0; t < r.classes.size(); ++t) {
    s << r.classes[t];
    int64_t total = 0;
    for (int64_t v : r.confusion[t])
      total += v;
    for (int64_t v : r.confusion[t]) {
      if (normalised) {
        s << "," << (total ? double(v) / total : 0.0);
      } else {
        s << "," << v;
      }
    }
    s << "\n";
  }
  return s.str();
}

void softmax_rows(std::vector<float>& logits, int64_t classes) {
  for (size_t first = 0; first < logits.size(); first += classes) {
    float* row = logits.data() + first;
    const float zmax = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k)
      sum += std::exp(double(row[k]) - zmax);
    for (int64_t k = 0; k < classes; ++k)
      row[k] = static_cast<float>(std::exp(double(row[k]) - zmax) / sum);
  }
}

}  // namespace scenecam
