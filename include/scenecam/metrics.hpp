// Classification metrics, as scikit-learn's classification_report and confusion_matrix define
// them: per-class precision, recall, F1 and support; accuracy; macro and support-weighted
// averages; top-k accuracy. A class that is never predicted has precision 0 (scikit-learn's
// zero_division=0), and the report says which classes that happened to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scenecam {

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

struct ClassificationReport {
  std::vector<std::string> classes;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<ClassMetrics> per_class;
  ClassMetrics macro, weighted;
  double accuracy = 0;
  int64_t samples = 0;
  std::vector<std::pair<int, double>> top_k;  // (k, accuracy)
  std::vector<std::string> never_predicted;   // classes whose precision is 0 by convention
};

// labels: N true classes; probs: N x K scores (row-major; any monotone score works for the
// accuracies). top_ks: the k values to report (k >= 1; those above K are left out).
ClassificationReport classification_report(const std::vector<int32_t>& labels,
                                           const std::vector<float>& probs,
                                           const std::vector<std::string>& classes,
                                           const std::vector<int>& top_ks = {1, 3});

// The familiar text table (precision / recall / f1-score / support per class, then accuracy,
// macro avg, weighted avg), followed by top-k accuracies and the confusion matrix.
std::string format_report(const ClassificationReport& report);
// JSON object with every number of the report.
std::string report_json(const ClassificationReport& report);
// CSV: one row per class and the two averages.
std::string report_csv(const ClassificationReport& report);
// CSV of the confusion matrix: counts, or rows normalised to sum to 1.
std::string confusion_csv(const ClassificationReport& report, bool normalised);

// Row-wise softmax of N x K logits, in place.
void softmax_rows(std::vector<float>& logits, int64_t classes);

}  // namespace scenecam
