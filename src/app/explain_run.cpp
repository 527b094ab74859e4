// scenecam explain: maps -> overlays (JET over the image, as pytorch-grad-cam's show_cam_on_image),
// raw .npy maps, a grid figure, manifest.json and, with --metrics, faithfulness numbers.
#include "scenecam/explain_run.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "app/explain_outputs.hpp"
#include "internal/files.hpp"
#include "scenecam/canvas.hpp"
#include "scenecam/config.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/trainer.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The targets --target names, checked against the model's classes before any work: "pred",
// "true", a class by name, "topK" (the K best classes of each image, suffixes _top1.._topK) or a
// class index. A class name comes before topK and an index (a folder may be named "3").
std::vector<std::pair<std::string, CamTarget>> explain_targets(
    const std::string& target, const std::vector<std::string>& classes) {
  const int64_t K = static_cast<int64_t>(classes.size());
  if (target == "pred" || target == "true") return {{"", parse_cam_target(target)}};
  const auto named = std::find(classes.begin(), classes.end(), target);
  if (named != classes.end())
    return {{"", CamTarget{CamTarget::fixed, static_cast<int32_t>(named - classes.begin())}}};
  char* end = nullptr;
  const bool top = target.rfind("top", 0) == 0;
  const long v = std::strtol(target.c_str() + (top ? 3 : 0), &end, 10);
  const bool number = target.size() > (top ? 3u : 0u) && *end == '\0' && std::isdigit(target.back());
  SC_CHECK(number, "--target '", target, "' is not pred, true, topK, a class index or a class of ",
           "this model (", json(classes).dump(), ")");
  if (!top) {
    SC_CHECK(v >= 0 && v < K, "--target ", target, " is not a class index of this model (0..",
             K - 1, ")");
    return {{"", CamTarget{CamTarget::fixed, static_cast<int32_t>(v)}}};
  }
  SC_CHECK(v >= 1 && v <= K, "--target ", target, " asks for ", v,
           " classes per image; the model has ", K);
  std::vector<std::pair<std::string, CamTarget>> targets;
  for (int r = 0; r < v; ++r)
    targets.push_back({"_top" + std::to_string(r + 1), CamTarget{CamTarget::ranked, r}});
  return targets;
}

ExplainInputs collect_inputs(const ExplainOptions& o, const RunConfig& config,
                             const std::vector<std::string>& classes) {
  ExplainInputs in;
  if (!o.images.empty()) {
    const std::vector<std::string> paths = expand_image_inputs(o.images);
    std::vector<std::string> errors;
    in.data = read_image_files(paths, config.data.image_size, classes, &errors, o.limit);
    for (size_t i = 0; i < paths.size(); ++i)
      if (!errors[i].empty()) in.skipped.push_back({{"file", paths[i]}, {"error", errors[i]}});
    in.indices.resize(in.data.images.size());
    std::iota(in.indices.begin(), in.indices.end(), 0);
  } else {
    Split split;
    in.data = load_training_data(config, &split);
    in.indices = split_indices(split, int64_t(in.data.images.size()), o.split, false);
    if (o.limit > 0 && int64_t(in.indices.size()) > o.limit) in.indices.resize(o.limit);
  }
  SC_CHECK(!in.indices.empty(), "explain: no readable images",
           in.skipped.empty() ? std::string()
                              : " (" + std::to_string(in.skipped.size()) + " skipped; first: " +
                                    in.skipped[0]["file"].get<std::string>() + ": " +
                                    in.skipped[0]["error"].get<std::string>() + ")");
  return in;
}

// show_cam_on_image for every map, on the backend (GPU kernels on a GPU): RGB bytes [n, S, S, 3].
std::vector<uint8_t> render_overlays(Backend& backend, const ExplainInputs& in,
                                     const Explanation& e, const std::vector<uint8_t>& lut,
                                     float image_weight) {
  const int64_t n = int64_t(in.indices.size()), S = in.data.image_size;
  const TensorSize rgb{{n, S, S, 3}, DType::u8};
  auto pool = backend.make_pool(
      "overlays",
      pool_capacity({{{n, S, S}, DType::f32}, rgb, rgb, {{256, 3}, DType::u8}, {{n}, DType::f32}}),
      false);
  const Tensor maps = pool->take(Shape{n, S, S}, DType::f32, "maps");
  const Tensor images = pool->take(Shape{n, S, S, 3}, DType::u8, "images");
  const Tensor table = pool->take(Shape{256, 3}, DType::u8, "colour table");
  const Tensor maxima = pool->take(Shape{n}, DType::f32, "maxima");
  const Tensor out = pool->take(Shape{n, S, S, 3}, DType::u8, "overlays");
  std::vector<uint8_t> pixels(n * S * S * 3), overlays(n * S * S * 3);
  for (int64_t k = 0; k < n; ++k)
    std::copy(in.data.images[in.indices[k]].rgb.begin(), in.data.images[in.indices[k]].rgb.end(),
              pixels.begin() + k * S * S * 3);
  auto host = [](const void* p, const Tensor& like) {
    return Tensor(const_cast<void*>(p), like.shape(), like.dtype(), Device::cpu());
  };
  backend.copy(host(e.maps.data(), maps), maps);
  backend.copy(host(pixels.data(), images), images);
  backend.copy(host(lut.data(), table), table);
  backend.cam_overlay(maps, images, table, image_weight, maxima, out);
  backend.copy(out, host(overlays.data(), out));
  return overlays;
}

// One row of the grid figure: image | heatmap | overlay, 128 px each, with a caption strip.
Canvas grid_row(const ImageU8& img, const uint8_t* heat, const uint8_t* over,
                const std::string& caption, bool wrong) {
  const int S = img.height;
  Canvas row(3 * 128, 128 + 24);
  row.image(img.rgb.data(), S, S, {0, 0}, 128);
  row.image(heat, S, S, {128, 0}, 128);
  row.image(over, S, S, {256, 0}, 128);
  row.text(caption, {6, 128 + 12}, 0.45, wrong ? Rgb{220, 30, 30} : Rgb{40, 40, 40}, -1);
  return row;
}

// Per image: the overlay PNG, the raw map .npy and its manifest entry; then the grid figure.
void write_method_outputs(const ExplainOptions& o, const ExplainInputs& in, const Explanation& e,
                          const std::vector<uint8_t>& overlays, const std::vector<uint8_t>& lut,
                          const std::vector<std::string>& classes, const std::string& name,
                          const std::string& out_dir, json& items) {
  const int64_t S = in.data.image_size;
  std::vector<Canvas> rows;
  for (size_t k = 0; k < in.indices.size(); ++k) {
    const int64_t i = in.indices[k];
    const int32_t label = in.data.labels[i];
    const std::string base = stem_of(in.data.files[i], i) + "_" + name;
    const uint8_t* over = overlays.data() + k * S * S * 3;
    std::vector<uint8_t> heat(S * S * 3);
    for (int64_t p = 0; p < S * S; ++p) {
      const int index = std::clamp(int(255.0f * e.maps[k * S * S + p]), 0, 255);
      std::copy_n(lut.data() + index * 3, 3, heat.data() + p * 3);
    }
    write_png((fs::path(out_dir) / (base + ".png")).string(), rgb_image(over, int(S)));
    write_file_atomic((fs::path(out_dir) / (base + ".npy")).string(),
                      npy(e.maps.data() + k * S * S, {S, S}));
    json& item = items[k];
    item["predicted"] = classes[e.predicted[k]];
    item["probability"] = e.probability[k];
    if (label >= 0) item["true"] = classes[label];
    item["outputs"][name] = {
        {"target", classes[e.targets[k]]}, {"overlay", base + ".png"}, {"map", base + ".npy"}};
    if (!e.fixations.empty()) {  // CNN Fixations: the points, [[x, y], ...]
      write_file_atomic((fs::path(out_dir) / (base + ".json")).string(),
                        json(e.fixations[k]).dump() + "\n");
      item["outputs"][name]["fixations"] = base + ".json";
      item["outputs"][name]["fixation_count"] = e.fixations[k].size();
    }
    if (!e.rgb.empty()) {  // the guided methods' gradients as an image
      write_png((fs::path(out_dir) / (base + "_rgb.png")).string(),
                rgb_image(e.rgb.data() + k * S * S * 3, int(S)));
      item["outputs"][name]["image"] = base + "_rgb.png";
    }
    if (int64_t(rows.size()) >= o.grid) continue;
    std::string caption = "pred " + classes[e.predicted[k]];
    if (label >= 0) caption = "true " + classes[label] + ", " + caption;
    rows.push_back(grid_row(in.data.images[i], heat.data(), over, caption,
                            label >= 0 && label != e.predicted[k]));
  }
  if (!rows.empty())
    Canvas::stack(rows).save_png((fs::path(out_dir) / ("grid_" + name + ".png")).string());
}

}  // namespace

int64_t run_explain(const ExplainOptions& o, Backend& backend) {
  const SafetensorsFile file(o.checkpoint);
  RunConfig config = checkpoint_config(file);
  if (o.batch_size > 0) config.train.batch_size = o.batch_size;
  SC_CHECK(image_files_supported(), o.checkpoint,
           ": this build of scenecam cannot write explanation overlays (built with "
           "SCENECAM_WITH_OPENCV=OFF)");
  const std::vector<uint8_t> lut = colormap_table(o.colormap);
  std::vector<CamMethod> methods;
  bool activations = false;
  for (const std::string& m : o.methods) {
    if (m == "activations")
      activations = true;
    else
      methods.push_back(parse_cam_method(m));
  }
  SC_CHECK(!o.methods.empty(), "explain needs at least one --method");
  Explainer explainer(config, file, backend, o.layer);
  explainer.set_settings(o.settings);
  // What this model cannot do is said before the output folder exists.
  if (activations)
    for (const std::string& layer : o.activation_layers) {
      explainer.classifier().model().layer_index(layer);  // throws, listing the layers
      SC_CHECK(layer != "fc", "--activation-layers: fc has no feature maps; pick convolutional layers");
    }
  SC_CHECK(std::find(methods.begin(), methods.end(), CamMethod::cnn_fixations) == methods.end() ||
               explainer.classifier().model().spec().block != BlockKind::pooling,
           "cnn-fixations: this model's pooling blocks (the notebook's architecture) are not "
           "covered by the unravelling rules; ResNets of basic or bottleneck blocks are");
  const std::vector<std::string>& classes = explainer.classes();
  const auto targets = explain_targets(o.target, classes);
  const ExplainInputs in = collect_inputs(o, config, classes);
  if (targets.front().second.kind == CamTarget::true_class)
    for (int64_t i : in.indices)
      SC_CHECK(in.data.labels[i] >= 0, "--target true: ", in.data.files[i],
               " is not in a folder named after a class");
  const std::string out_dir = prepare_output_dir(o.out_dir, o.checkpoint, "explain");
  const int64_t n = static_cast<int64_t>(in.indices.size());

  json manifest = {{"checkpoint", o.checkpoint}, {"layer", explainer.layer()},
                   {"target", o.target},         {"image_weight", o.image_weight},
                   {"classes", classes},         {"skipped", in.skipped}};
  json& items = manifest["images"] = json::array();
  for (int64_t i : in.indices) {
    const std::string input = stem_of(in.data.files[i], i) + "_input.png";
    write_png((fs::path(out_dir) / input).string(), in.data.images[i]);
    items.push_back({{"file", in.data.files[i].empty() ? "synthetic #" + std::to_string(i)
                                                       : in.data.files[i]},
                     {"input", input}});
  }
  if (activations) {
    write_activation_outputs(explainer, o, in, lut, out_dir, items);
    manifest["filters"] = write_filter_outputs(explainer, out_dir);
  }
  for (CamMethod method : methods)
    for (const auto& [suffix, target] : targets) {
      const std::string name = std::string(cam_method_name(method)) + suffix;
      const auto start = std::chrono::steady_clock::now();
      const Explanation e = explainer.explain(in.data, in.indices, method, target, true);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      manifest["images_per_second"][name] = n / seconds;
      manifest["methods"].push_back(name);
      std::printf("explain: %s on %ld images in %.2f s (%.1f images/s)\n", name.c_str(), long(n),
                  seconds, n / seconds);
      const std::vector<uint8_t> overlays = render_overlays(backend, in, e, lut, o.image_weight);
      write_method_outputs(o, in, e, overlays, lut, classes, name, out_dir, items);
      if (o.metrics)
        manifest["metrics"][name] = method_metrics(explainer, in, e, name);
    }
  if (o.metrics && !methods.empty())
    sanity_check(config, file, backend, o, in, methods, targets.front(), manifest);
  write_file_atomic((fs::path(out_dir) / "manifest.json").string(), manifest.dump(2) + "\n");
  write_gallery(manifest, out_dir);
  const std::string unreadable = in.skipped.empty() ? ""
                                                    : " (" + std::to_string(in.skipped.size()) +
                                                          " unreadable, listed in the manifest)";
  std::printf("explain: wrote %ld overlays and maps per method, grids and manifest.json to %s%s\n",
              long(n), out_dir.c_str(), unreadable.c_str());
  return n;
}

}  // namespace scenecam
