// scenecam-bench explain: images per second of each explanation method at each batch size, on
// the CPU or the CUDA backend. What is timed is Explainer::explain over synthetic scenes: the
// upload of the uint8 images, the forward pass, the backward pass to the target layer (or the
// input), the maps, the scaling to the input size, and the download of the maps. Not timed:
// colouring and PNG encoding (`scenecam explain` adds those).
//
// The model has the weights a fresh run starts from (config.runtime.seed): speed does not depend
// on what the weights have learnt. Before timing, each method's maps are checked: finite, in
// [0, 1], and not all zero.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench_util.hpp"
#include "internal/progress.hpp"
#include "scenecam/config.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/explain.hpp"

namespace scenecam::bench {

namespace {

const char* const kAllMethods =
    "gradcam,gradcam++,xgradcam,hirescam,layercam,gradcam-elementwise,eigencam,eigengradcam,"
    "scorecam,ablationcam,cam,saliency,smoothgrad,integrated-gradients,occlusion,guided-backprop,"
    "guided-gradcam,fullgrad,cnn-fixations";

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void check_maps(const Explanation& e, const char* method, int64_t batch) {
  bool any = false;
  for (float v : e.maps) {
    SC_CHECK(std::isfinite(v) && v >= 0.0f && v <= 1.0f, "explain benchmark: ", method,
             " at batch ", batch, " produced a map value ", v, " outside [0, 1]");
    any = any || v > 0.0f;
  }
  SC_CHECK(any, "explain benchmark: every map of ", method, " at batch ", batch, " is zero");
}

}  // namespace

int run_explain(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"},
                     {"config", ""},
                     {"arch", "resnet18"},
                     {"classes", "6"},
                     {"input", ""},
                     {"batch", ""},
                     {"images", ""},
                     {"methods", kAllMethods},
                     {"layer", ""},
                     {"repeats", "3"},
                     {"threads", "0"},
                     {"json", ""}});
  // The methods first: a misspelt name is a wrong command line, told before any device starts.
  std::vector<CamMethod> methods;
  for (const std::string& name : split_names(flags.str("methods"))) {
    try {
      methods.push_back(parse_cam_method(name));
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
  SC_USAGE_CHECK(!methods.empty(), "--methods is empty");
  auto backend = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));
  const bool gpu = backend->device().is_cuda();
  RunConfig config = bench_config(flags);
  if (flags.given("input") || config.data.image_size == 0)
    config.data.image_size = flags.given("input") ? int(flags.integer("input")) : gpu ? 224 : 64;
  const int S = config.data.image_size;
  const std::vector<long> batches = flags.given("batch") ? flags.integers("batch")
                                    : gpu                ? std::vector<long>{1, 8, 32, 64, 128, 256}
                                                         : std::vector<long>{1, 8};
  const long images = flags.given("images") ? flags.integer("images") : gpu ? 256 : 8;
  const int repeats = static_cast<int>(flags.integer("repeats"));
  SC_USAGE_CHECK(S >= 32 && images >= 1 && repeats >= 1,
                 "need --input >= 32, --images >= 1, --repeats >= 1");

  // Synthetic scenes: drawn once, before any timing.
  const long count = std::max<long>(images, *std::max_element(batches.begin(), batches.end()));
  const Dataset data = make_synthetic_dataset(S, 7, 0, int(count));
  std::vector<int64_t> indices(count);
  for (long i = 0; i < count; ++i)
    indices[i] = i;

  std::printf(
      "scenecam-bench explain: %s on %s, %dx%d, %ld images per run (at least one batch), "
      "median of %d after one checked run\n",
      config.model.arch.c_str(), backend->name().c_str(), S, S, images, repeats);
  Table table({"method", "layer", "batch", "images", "ms_per_run", "images_per_s"});
  Progress progress("explain", int64_t(batches.size() * methods.size()), stderr);
  int64_t done = 0;
  for (long B : batches) {
    config.train.batch_size = int(B);
    Explainer explainer(config, nullptr, *backend, flags.str("layer"));
    const std::vector<int64_t> run(indices.begin(), indices.begin() + std::max(B, images));
    for (CamMethod method : methods) {
      progress.update(done++, std::string(cam_method_name(method)) + " batch " + std::to_string(B));
      check_maps(explainer.explain(data, run, method, CamTarget{}, false), cam_method_name(method),
                 B);
      const double seconds = median_seconds(
          [&] { explainer.explain(data, run, method, CamTarget{}, false); }, 0, repeats);
      table.add({cam_method_name(method), explainer.layer(), std::to_string(B),
                 std::to_string(run.size()), fixed(seconds * 1e3, 2),
                 fixed(double(run.size()) / seconds, 1)});
    }
  }
  progress.finish("done");
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"), "\"bench\": \"explain\", \"backend\": \"" +
                                            backend->name() +
                                            "\", \"input\": " + std::to_string(S) +
                                            ", \"arch\": \"" + config.model.arch + "\"");
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
