// scenecam explain: maps -> overlays (JET over the image, as pytorch-grad-cam's show_cam_on_image),
// raw .npy maps, a grid figure, manifest.json and, with --metrics, faithfulness numbers.
#include "scenecam/explain_run.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "scenecam/config.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/files.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/trainer.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A float32 [rows, cols] array in NumPy's .npy format (version 1.0, little-endian, C order).
std::string npy(const float* data, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += char(len & 0xff);
  out += char(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(data), size_t(rows * cols) * sizeof(float));
  return out;
}

// show_cam_on_image: JET heatmap (RGB) blended with the image, then rescaled by its maximum.
int colormap_code(const std::string& name) {
  if (name == "jet") return cv::COLORMAP_JET;
  if (name == "turbo") return cv::COLORMAP_TURBO;
  if (name == "viridis") return cv::COLORMAP_VIRIDIS;
  if (name == "inferno") return cv::COLORMAP_INFERNO;
  if (name == "magma") return cv::COLORMAP_MAGMA;
  if (name == "hot") return cv::COLORMAP_HOT;
  fail("unknown colormap '", name, "' (jet, turbo, viridis, inferno, magma, hot)");
}

// The colour map as a 256-entry table in RGB order, read off OpenCV's applyColorMap.
std::vector<uint8_t> colormap_table(int colormap) {
  cv::Mat ramp(1, 256, CV_8U), bgr;
  for (int i = 0; i < 256; ++i)
    ramp.at<uint8_t>(0, i) = uint8_t(i);
  cv::applyColorMap(ramp, bgr, colormap);
  std::vector<uint8_t> lut(256 * 3);
  for (int i = 0; i < 256; ++i)
    for (int c = 0; c < 3; ++c)
      lut[i * 3 + c] = bgr.at<cv::Vec3b>(0, i)[2 - c];
  return lut;
}

// An RGB buffer as a BGR Mat for OpenCV's writer.
cv::Mat to_bgr(const uint8_t* rgb, int S) {
  cv::Mat m(S, S, CV_8UC3, const_cast<uint8_t*>(rgb)), bgr;
  cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

void write_png_bgr(const fs::path& path, const cv::Mat& bgr) {
  const std::string tmp = path.string() + ".tmp.png";
  SC_CHECK(cv::imwrite(tmp, bgr) && std::rename(tmp.c_str(), path.c_str()) == 0, path.string(),
           ": could not write (disk full?)");
}

std::string stem_of(const std::string& file, int64_t index) {
  return file.empty() ? "synthetic_" + std::to_string(index) : fs::path(file).stem().string();
}

}  // namespace

int64_t run_explain(const ExplainOptions& o, Backend& backend) {
  const SafetensorsFile file(o.checkpoint);
  RunConfig config = checkpoint_config(file);
  if (o.batch_size > 0) config.train.batch_size = o.batch_size;
  std::vector<uint8_t> lut = colormap_table(colormap_code(o.colormap));
  // "topK" explains the K best classes of each image; anything else names one target.
  std::vector<std::pair<std::string, CamTarget>> targets;
  if (o.target.rfind("top", 0) == 0) {
    char* end = nullptr;
    const long k = std::strtol(o.target.c_str() + 3, &end, 10);
    SC_CHECK(o.target.size() > 3 && *end == '\0' && k >= 1 && k <= 1000,
             "--target topK needs K >= 1, not '", o.target, "'");
    for (int r = 0; r < k; ++r)
      targets.push_back({"_top" + std::to_string(r + 1), CamTarget{CamTarget::ranked, r}});
  } else {
    targets.push_back({"", parse_cam_target(o.target)});
  }
  const CamTarget& target = targets.front().second;
  std::vector<CamMethod> methods;
  for (const std::string& m : o.methods)
    methods.push_back(parse_cam_method(m));
  SC_CHECK(!methods.empty(), "explain needs at least one --method");
  Explainer explainer(config, file, backend, o.layer);
  const std::vector<std::string>& classes = explainer.classes();

  // The images: files and folders given, or the run's own split.
  Dataset data;
  std::vector<int64_t> indices;
  json skipped = json::array();
  if (!o.images.empty()) {
    data.image_size = config.data.image_size;
    data.class_names = classes;
    for (const std::string& in : o.images) {
      std::vector<std::string> paths;
      std::error_code ec;
      if (fs::is_directory(in, ec)) {
        for (const auto& e : fs::recursive_directory_iterator(in, ec))
          if (e.is_regular_file() && is_image_file_name(e.path().string()))
            paths.push_back(e.path().string());
        std::sort(paths.begin(), paths.end());
      } else {
        paths.push_back(in);
      }
      for (const std::string& p : paths) {
        if (o.limit > 0 && int64_t(data.images.size()) >= o.limit) break;
        ImageU8 img;
        std::string why;
        if (!read_image_file(p, data.image_size, &img, &why)) {
          skipped.push_back({{"file", p}, {"error", why}});
          continue;
        }
        // A folder named after a class gives the true label (for --target true); else -1.
        const std::string parent = fs::path(p).parent_path().filename().string();
        const auto it = std::find(classes.begin(), classes.end(), parent);
        data.labels.push_back(it == classes.end() ? -1 : int32_t(it - classes.begin()));
        data.images.push_back(std::move(img));
        data.files.push_back(p);
      }
    }
    indices.resize(data.images.size());
    std::iota(indices.begin(), indices.end(), 0);
  } else {
    Split split;
    data = load_training_data(config, &split);
    indices = o.split == "train" ? split.train : split.val;
    SC_CHECK(o.split == "val" || o.split == "train", "--split must be val or train, not '", o.split,
             "'");
    if (o.limit > 0 && int64_t(indices.size()) > o.limit) indices.resize(o.limit);
  }
  SC_CHECK(!indices.empty(), "explain: no readable images (", skipped.size(), " skipped)");
  if (target.kind == CamTarget::true_class)
    for (int64_t i : indices)
      SC_CHECK(data.labels[i] >= 0, "--target true: ", data.files[i],
               " is not in a folder named after a class");

  const std::string out_dir =
      o.out_dir.empty() ? (fs::path(o.checkpoint).parent_path() / "explain").string() : o.out_dir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  SC_CHECK(!ec, out_dir, ": cannot create the output folder (", ec.message(), ")");
  const int64_t S = data.image_size, n = static_cast<int64_t>(indices.size());

  json manifest = {{"checkpoint", o.checkpoint}, {"layer", explainer.layer()},
                   {"target", o.target},         {"image_weight", o.image_weight},
                   {"classes", classes},         {"skipped", skipped}};
  json& items = manifest["images"] = json::array();
  for (int64_t k = 0; k < n; ++k)
    items.push_back(
        {{"file", data.files[indices[k]].empty() ? "synthetic #" + std::to_string(indices[k])
                                                 : data.files[indices[k]]}});
  json& speed = manifest["images_per_second"] = json::object();

  std::unique_ptr<Classifier> scorer;
  if (o.metrics) scorer = std::make_unique<Classifier>(config, file, backend);
  for (CamMethod method : methods)
    for (const auto& [suffix, this_target] : targets) {
      const std::string label = std::string(cam_method_name(method)) + suffix;
      const char* name = label.c_str();
      const auto start = std::chrono::steady_clock::now();
      const Explanation e = explainer.explain(data, indices, method, this_target, true);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      speed[name] = n / seconds;
      std::printf("explain: %s on %ld images in %.2f s (%.1f images/s)\n", name, long(n), seconds,
                  n / seconds);
      // The overlays are rendered on the backend (GPU kernels on a GPU); only PNG encoding is left.
      std::vector<uint8_t> overlays(n * S * S * 3);
      {
        const TensorSize rgb{{n, S, S, 3}, DType::u8};
        auto pool = backend.make_pool(
            "overlays",
            pool_capacity(
                {{{n, S, S}, DType::f32}, rgb, rgb, {{256, 3}, DType::u8}, {{n}, DType::f32}}),
            false);
        const Tensor dmaps = pool->take(Shape{n, S, S}, DType::f32, "maps");
        const Tensor dimages = pool->take(Shape{n, S, S, 3}, DType::u8, "images");
        const Tensor dlut = pool->take(Shape{256, 3}, DType::u8, "colour table");
        const Tensor dscratch = pool->take(Shape{n}, DType::f32, "maxima");
        const Tensor dout = pool->take(Shape{n, S, S, 3}, DType::u8, "overlays");
        std::vector<uint8_t> pixels(n * S * S * 3);
        for (int64_t k = 0; k < n; ++k)
          std::copy(data.images[indices[k]].rgb.begin(), data.images[indices[k]].rgb.end(),
                    pixels.begin() + k * S * S * 3);
        backend.copy(
            Tensor(const_cast<float*>(e.maps.data()), dmaps.shape(), DType::f32, Device::cpu()),
            dmaps);
        backend.copy(Tensor(pixels.data(), dimages.shape(), DType::u8, Device::cpu()), dimages);
        backend.copy(Tensor(lut.data(), dlut.shape(), DType::u8, Device::cpu()), dlut);
        backend.cam_overlay(dmaps, dimages, dlut, o.image_weight, dscratch, dout);
        backend.copy(dout, Tensor(overlays.data(), dout.shape(), DType::u8, Device::cpu()));
      }
      std::vector<cv::Mat> grid_rows;
      for (int64_t k = 0; k < n; ++k) {
        const ImageU8& img = data.images[indices[k]];
        const std::string base = stem_of(data.files[indices[k]], indices[k]) + "_" + name;
        const cv::Mat over = to_bgr(overlays.data() + k * S * S * 3, int(S));
        std::vector<uint8_t> heat_rgb(S * S * 3);
        for (int64_t p = 0; p < S * S; ++p) {
          const int index = std::clamp(int(255.0f * e.maps[k * S * S + p]), 0, 255);
          std::copy_n(lut.data() + index * 3, 3, heat_rgb.data() + p * 3);
        }
        const cv::Mat heat = to_bgr(heat_rgb.data(), int(S));
        write_png_bgr(fs::path(out_dir) / (base + ".png"), over);
        write_file_atomic((fs::path(out_dir) / (base + ".npy")).string(),
                          npy(e.maps.data() + k * S * S, S, S));
        json& item = items[k];
        item["predicted"] = classes[e.predicted[k]];
        item["probability"] = e.probability[k];
        if (data.labels[indices[k]] >= 0) item["true"] = classes[data.labels[indices[k]]];
        item["outputs"][name] = {
            {"target", classes[e.targets[k]]}, {"overlay", base + ".png"}, {"map", base + ".npy"}};
        if (int64_t(grid_rows.size()) < o.grid) {
          // image | heatmap | overlay, 128 px each, with a caption strip.
          cv::Mat rgb(S, S, CV_8UC3, const_cast<uint8_t*>(img.rgb.data())), bgr;
          cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
          cv::Mat row(128 + 24, 3 * 128, CV_8UC3, cv::Scalar(255, 255, 255)), tile;
          const cv::Mat parts[3] = {bgr, heat, over};
          for (int t = 0; t < 3; ++t) {
            cv::resize(parts[t], tile, {128, 128}, 0, 0, cv::INTER_NEAREST);
            tile.copyTo(row(cv::Rect(t * 128, 0, 128, 128)));
          }
          std::string caption = "pred " + classes[e.predicted[k]];
          if (data.labels[indices[k]] >= 0)
            caption = "true " + classes[data.labels[indices[k]]] + ", " + caption;
          const bool wrong =
              data.labels[indices[k]] >= 0 && data.labels[indices[k]] != e.predicted[k];
          cv::putText(row, caption, {6, 128 + 17}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                      wrong ? cv::Scalar(30, 30, 220) : cv::Scalar(40, 40, 40), 1, cv::LINE_AA);
          grid_rows.push_back(row);
        }
      }
      cv::Mat grid;
      cv::vconcat(grid_rows, grid);
      write_png_bgr(fs::path(out_dir) / (std::string("grid_") + name + ".png"), grid);

      if (o.metrics) {
        // The same measurements for uniformly random maps: the baseline that gives them meaning.
        std::vector<float> random_maps(e.maps.size());
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
        for (float& v : random_maps)
          v = unit(rng);
        const Faithfulness f = measure_faithfulness(*scorer, data, indices, e.maps, e.targets);
        const Faithfulness r = measure_faithfulness(*scorer, data, indices, random_maps, e.targets);
        json m = {
            {"deletion_auc", f.deletion_auc},        {"insertion_auc", f.insertion_auc},
            {"average_drop", f.average_drop},        {"increase_rate", f.increase_rate},
            {"random_deletion_auc", r.deletion_auc}, {"random_insertion_auc", r.insertion_auc},
            {"random_average_drop", r.average_drop}, {"random_increase_rate", r.increase_rate}};
        std::printf(
            "  %s: deletion AUC %.4f (random %.4f, lower is better), insertion AUC %.4f (random "
            "%.4f), "
            "average drop %.3f (random %.3f), increase %.3f (random %.3f)\n",
            name, f.deletion_auc, r.deletion_auc, f.insertion_auc, r.insertion_auc, f.average_drop,
            r.average_drop, f.increase_rate, r.increase_rate);
        if (!data.boxes.empty()) {
          double baseline = 0;
          const double hits = pointing_game(e, data, indices, &baseline);
          m["pointing_game"] = hits;
          m["random_pointing_game"] = baseline;
          std::printf("  %s: pointing game %.3f (random %.3f)\n", name, hits, baseline);
        }
        manifest["metrics"][name] = m;
      }
    }
  write_file_atomic((fs::path(out_dir) / "manifest.json").string(), manifest.dump(2) + "\n");
  std::printf("explain: wrote %ld overlays and maps per method, grids and manifest.json to %s%s\n",
              long(n), out_dir.c_str(),
              skipped.empty()
                  ? ""
                  : (" (" + std::to_string(skipped.size()) + " unreadable, listed in the manifest)")
                        .c_str());
  return n;
}

}  // namespace scenecam
