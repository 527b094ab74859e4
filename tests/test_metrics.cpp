// Classification metrics against confusion matrices worked by hand.
#include "scenecam/metrics.hpp"

#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace scenecam {
namespace {

// One-hot scores for the given predictions.
std::vector<float> one_hot(const std::vector<int>& predicted, int classes) {
  std::vector<float> s(predicted.size() * classes, 0.0f);
  for (size_t n = 0; n < predicted.size(); ++n)
    s[n * classes + predicted[n]] = 1.0f;
  return s;
}

TEST(Metrics, HandComputedReport) {
  // true:      a a a b b c
  // predicted: a a b b a a     -> confusion [[2,1,0],[1,1,0],[1,0,0]]; c is never predicted.
  const ClassificationReport r = classification_report(
      {0, 0, 0, 1, 1, 2}, one_hot({0, 0, 1, 1, 0, 0}, 3), {"a", "b", "c"}, {1});
  EXPECT_EQ(r.confusion, (std::vector<std::vector<int64_t>>{{2, 1, 0}, {1, 1, 0}, {1, 0, 0}}));
  EXPECT_DOUBLE_EQ(r.accuracy, 3.0 / 6);
  EXPECT_DOUBLE_EQ(r.per_class[0].precision, 2.0 / 4);
  EXPECT_DOUBLE_EQ(r.per_class[0].recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.per_class[0].f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3));
  EXPECT_DOUBLE_EQ(r.per_class[1].precision, 1.0 / 2);
  EXPECT_DOUBLE_EQ(r.per_class[1].recall, 1.0 / 2);
  EXPECT_DOUBLE_EQ(r.per_class[2].precision, 0.0);  // never predicted: 0 by convention, no NaN
  EXPECT_DOUBLE_EQ(r.per_class[2].f1, 0.0);
  EXPECT_EQ(r.per_class[2].support, 1);
  EXPECT_EQ(r.never_predicted, (std::vector<std::string>{"c"}));
  EXPECT_DOUBLE_EQ(r.macro.precision, (0.5 + 0.5 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(r.weighted.recall, (2.0 / 3 * 3 + 0.5 * 2 + 0 * 1) / 6);
  const std::string text = format_report(r);
  EXPECT_NE(text.find("never predicted (precision set to 0): c"), std::string::npos) << text;
  EXPECT_NE(text.find("macro avg"), std::string::npos);
  const auto j = nlohmann::json::parse(report_json(r));
  EXPECT_EQ(j["per_class"]["a"]["support"], 3);
  EXPECT_EQ(j["confusion_matrix"][2][0], 1);
  EXPECT_NE(confusion_csv(r, true).find("b,0.5,0.5,0"), std::string::npos)
      << confusion_csv(r, true);
  EXPECT_NE(report_csv(r).find("c,0,0,0,1"), std::string::npos) << report_csv(r);
}

TEST(Metrics, TopKAndTies) {
  // Scores for 2 samples of 4 classes; sample 0's label is second best, sample 1's is fourth.
  const std::vector<float> s = {0.1f, 0.9f, 0.5f, 0.0f, 0.4f, 0.3f, 0.2f, 0.1f};
  const ClassificationReport r =
      classification_report({2, 3}, s, {"a", "b", "c", "d"}, {1, 2, 3, 9});
  ASSERT_EQ(r.top_k.size(), 3u);  // k = 9 exceeds the class count and is left out
  EXPECT_DOUBLE_EQ(r.top_k[0].second, 0.0);
  EXPECT_DOUBLE_EQ(r.top_k[1].second, 0.5);
  EXPECT_DOUBLE_EQ(r.top_k[2].second, 0.5);
  // Equal scores: the lower class index wins, as argmax.
  const ClassificationReport t = classification_report({1}, {0.5f, 0.5f}, {"a", "b"}, {1});
  EXPECT_EQ(t.confusion[1][0], 1);
}

TEST(Metrics, SoftmaxRowsSumToOne) {
  std::vector<float> z = {1000, 0, -1000, 1, 2, 3};
  softmax_rows(z, 3);
  EXPECT_NEAR(z[0], 1.0f, 1e-6);
  EXPECT_NEAR(z[3] + z[4] + z[5], 1.0f, 1e-6);
  EXPECT_GT(z[5], z[4]);
}

TEST(Metrics, BadInputIsRefused) {
  test::expect_error(
      [] {
        classification_report({0, 5}, std::vector<float>(4, 0), {"a", "b"});
      },
      {"label 5 of sample 1"});
  test::expect_error(
      [] {
        classification_report({0}, std::vector<float>(3, 0), {"a", "b"});
      },
      {"3 scores for 1 samples of 2 classes"});
}

}  // namespace
}  // namespace scenecam
