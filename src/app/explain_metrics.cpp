// `scenecam explain --metrics`: faithfulness beside random maps, and the sanity check.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "app/explain_outputs.hpp"
#include "explain/similarity.hpp"
#include "scenecam/inference.hpp"

namespace scenecam {
using json = nlohmann::json;

json method_metrics(Explainer& explainer, const ExplainInputs& in, const Explanation& e,
                    const std::string& name) {
  std::vector<float> random_maps(e.maps.size());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (float& v : random_maps)
    v = unit(rng);
  Classifier& scorer = explainer.classifier();
  const Faithfulness f = measure_faithfulness(scorer, in.data, in.indices, e.maps, e.targets);
  const Faithfulness r = measure_faithfulness(scorer, in.data, in.indices, random_maps, e.targets);
  const RoadScores road = explainer.road(in.data, in.indices, e.maps, e.targets);
  const RoadScores road_r = explainer.road(in.data, in.indices, random_maps, e.targets);
  json m = {{"deletion_auc", f.deletion_auc},
            {"insertion_auc", f.insertion_auc},
            {"average_drop", f.average_drop},
            {"increase_rate", f.increase_rate},
            {"road_morf", road.morf},
            {"road_lerf", road.lerf},
            {"random_deletion_auc", r.deletion_auc},
            {"random_insertion_auc", r.insertion_auc},
            {"random_average_drop", r.average_drop},
            {"random_increase_rate", r.increase_rate},
            {"random_road_morf", road_r.morf},
            {"random_road_lerf", road_r.lerf}};
  std::printf(
      "  %s: deletion AUC %.4f (random %.4f, lower is better), insertion AUC %.4f (random %.4f), "
      "average drop %.3f (random %.3f), increase %.3f (random %.3f)\n",
      name.c_str(), f.deletion_auc, r.deletion_auc, f.insertion_auc, r.insertion_auc,
      f.average_drop, r.average_drop, f.increase_rate, r.increase_rate);
  std::printf("  %s: ROAD MoRF %.4f (random %.4f, lower is better), LeRF %.4f (random %.4f)\n",
              name.c_str(), road.morf, road_r.morf, road.lerf, road_r.lerf);
  if (!in.data.boxes.empty()) {
    double baseline = 0;
    const double hits = pointing_game(e, in.data, in.indices, &baseline);
    m["pointing_game"] = hits;
    m["random_pointing_game"] = baseline;
    std::printf("  %s: pointing game %.3f (random %.3f)\n", name.c_str(), hits, baseline);
  }
  return m;
}

namespace {

// The cascade's steps, top first: each re-initialises these tensors (by name prefix) on top of
// the steps before it.
std::vector<std::pair<std::string, std::vector<std::string>>> cascade(size_t stages) {
  std::vector<std::pair<std::string, std::vector<std::string>>> steps{{"fc", {"fc"}}};
  for (size_t s = stages; s >= 1; --s)
    steps.push_back({"layer" + std::to_string(s), {"layer" + std::to_string(s)}});
  steps.push_back({"stem", {"conv1", "bn1"}});
  return steps;
}

// Mean over images of Spearman's rho and SSIM between two sets of maps [n, S, S]; rho over the
// images where neither map is constant (0 when there are none).
std::pair<double, double> similarity(const std::vector<float>& a, const std::vector<float>& b,
                                     int64_t n, int S) {
  double rho = 0, index = 0;
  int64_t defined = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double r = spearman(a.data() + k * S * S, b.data() + k * S * S, int64_t(S) * S);
    if (!std::isnan(r)) {
      rho += r;
      ++defined;
    }
    index += ssim(a.data() + k * S * S, b.data() + k * S * S, S) / double(n);
  }
  return {defined ? rho / double(defined) : 0.0, index};
}

}  // namespace

void sanity_check(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend,
                  const ExplainOptions& o, const ExplainInputs& in,
                  const std::vector<CamMethod>& methods,
                  const std::pair<std::string, CamTarget>& target, json& manifest) {
  constexpr double kFlagAtOrAbove = 0.5;  // the rho fully randomised maps keep, flagged
  const std::vector<int64_t> subset(
      in.indices.begin(),
      in.indices.begin() + std::min<int64_t>(o.sanity_images, int64_t(in.indices.size())));
  const int64_t n = int64_t(subset.size());
  const int S = in.data.image_size;
  Explainer probe(config, checkpoint, backend, o.layer);
  probe.set_settings(o.settings);
  std::vector<Explanation> trained;
  for (CamMethod m : methods)
    trained.push_back(probe.explain(in.data, subset, m, target.second, false));
  const auto steps = cascade(probe.classifier().model().spec().widths.size());
  for (size_t step = 0; step < steps.size(); ++step) {
    probe.reinitialise(steps[step].second, config.runtime.seed + 1000 + step);
    for (size_t i = 0; i < methods.size(); ++i) {
      const CamTarget same{CamTarget::listed, 0, &trained[i].targets};
      const Explanation e = probe.explain(in.data, subset, methods[i], same, false);
      const auto [rho, index] = similarity(trained[i].maps, e.maps, n, S);
      const std::string name = cam_method_name(methods[i]) + target.first;
      json& m = manifest["metrics"][name];
      m["sanity_cascade"].push_back(
          {{"reinitialised_down_to", steps[step].first}, {"spearman", rho}, {"ssim", index}});
      if (step + 1 < steps.size()) continue;
      m["sanity_spearman"] = rho;
      m["sanity_ssim"] = index;
      m["sanity_flag"] = rho >= kFlagAtOrAbove;
      std::printf("  %s: sanity check, every layer re-initialised: Spearman %.3f, SSIM %.3f%s\n",
                  name.c_str(), rho, index,
                  rho >= kFlagAtOrAbove ? "  FLAGGED: the maps barely depend on the weights" : "");
    }
  }
}

}  // namespace scenecam
