// scenecam: the command-line tool. Thin: parses flags, calls the library, and turns every error
// into one line on stderr and a non-zero exit code (1: the work failed, 2: the command was wrong).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/config.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/error.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/explain_run.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/report.hpp"
#include "scenecam/trainer.hpp"

namespace {

constexpr int kUsageError = 2;
constexpr int kInterrupted = 130;

long parse_int(const char* flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  SC_CHECK(*text && *end == '\0' && v >= lo && v <= hi, "flag ", flag, " expects an integer in [",
           lo, ", ", hi, "], got '", text, "'");
  return v;
}

std::atomic<bool> g_interrupt{false};

// First Ctrl-C: finish the step, write a checkpoint, exit. A second one ends the process.
void on_interrupt(int) {
  g_interrupt = true;
  std::signal(SIGINT, SIG_DFL);
}

// The backend a config asks for: "cpu"; "cuda[:N]" (refused in one line when this build or this
// machine has none); "auto", the GPU when there is one, else the CPU, saying which and why.
std::unique_ptr<scenecam::Backend> make_backend(const scenecam::RuntimeConfig& r) {
  std::string why;
  if (r.device.rfind("cuda", 0) == 0) {
    SC_CHECK(scenecam::cuda_available(&why), "runtime.device is '", r.device, "' but ", why);
    scenecam::CudaOptions o;
    o.device = scenecam::Device::parse(r.device).index;
    o.workspace_limit_bytes = static_cast<size_t>(r.workspace_limit_mb) << 20;
    return scenecam::make_cuda_backend(o);
  }
  if (r.device == "auto") {
    if (scenecam::cuda_available(&why)) {
      scenecam::CudaOptions o;
      o.workspace_limit_bytes = static_cast<size_t>(r.workspace_limit_mb) << 20;
      std::printf("device: auto -> cuda:0\n");
      return scenecam::make_cuda_backend(o);
    }
    std::printf("device: auto -> cpu (%s)\n", why.c_str());
  }
  return scenecam::make_cpu_backend(r.threads);
}

int train(int argc, char** argv) {
  std::string config_path, resume_dir;
  std::vector<std::string> sets;
  scenecam::TrainOptions options;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      SC_CHECK(i + 1 < argc, "flag ", arg, " needs a value");
      return argv[++i];
    };
    if (arg == "--set")
      sets.push_back(value());
    else if (arg == "--resume")
      resume_dir = value();
    else if (arg == "--overwrite")
      options.overwrite = true;
    else if (arg == "--stop-after-epoch")
      options.stop_after_epochs =
          static_cast<int>(parse_int("--stop-after-epoch", value().c_str(), 1, 100000));
    else if (arg.rfind("--", 0) == 0)
      scenecam::fail("unknown flag '", arg, "' for train (see scenecam --help)");
    else if (config_path.empty())
      config_path = arg;
    else
      scenecam::fail("train takes one config file; got '", config_path, "' and '", arg, "'");
  }
  if (!resume_dir.empty()) {
    // The run folder's effective config, unless another is given; either way the run stays put.
    if (config_path.empty())
      config_path = (std::filesystem::path(resume_dir) / "config.yaml").string();
    sets.push_back("output.dir=" + resume_dir);
    options.resume_dir = resume_dir;
  }
  SC_CHECK(!config_path.empty(), "train needs a config file: scenecam train CONFIG.yaml");
  const scenecam::RunConfig config = scenecam::load_config(config_path, sets);
  auto backend = make_backend(config.runtime);
  scenecam::Split split;
  const scenecam::Dataset data = scenecam::load_training_data(config, &split);
  options.interrupt = &g_interrupt;
  std::signal(SIGINT, on_interrupt);
  const scenecam::TrainResult r = scenecam::train(config, data, split, *backend, options);
  if (r.best_val_accuracy >= 0)
    std::printf("train: best validation accuracy %.2f%%; %.0f training images/s; run folder %s\n",
                100 * r.best_val_accuracy, r.images_per_second,
                config.output.dir.c_str());  // The report follows a finished run; a report that
                                             // cannot be drawn does not undo the training.
  if (!r.stopped_early && scenecam::image_files_supported()) {
    try {
      scenecam::write_report(config.output.dir, *backend);
    } catch (const scenecam::Error& e) {
      std::fprintf(stderr, "scenecam: the run finished, but its report failed: %s\n", e.what());
    }
  }

  return g_interrupt ? kInterrupted : 0;
}

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: scenecam COMMAND [flags]\n"
      "\n"
      "commands:\n"
      "  train CONFIG.yaml [--set key=value ...] [--resume RUN_DIR] [--overwrite]\n"
      "                    [--stop-after-epoch N]\n"
      "          train from a YAML config (see configs/); --set overrides any value,\n"
      "          e.g. --set train.epochs=20; --resume continues the run in RUN_DIR from its\n"
      "          last checkpoint (CONFIG defaults to RUN_DIR/config.yaml); Ctrl-C writes a\n"
      "          checkpoint and exits with 130\n"
      "\n"
      "  eval --checkpoint RUN/best.safetensors [--data DIR] [--split val|train|all]\n"
      "       [--out DIR] [--top-k K] [--device D]\n"
      "          accuracy, top-k, per-class precision/recall/F1, confusion matrix and the most\n"
      "          confident mistakes; on DIR (root/<class>/images) or the run's own split\n"
      "          (default val); files go to --out (default RUN/eval)\n"
      "\n"
      "  predict --checkpoint CKPT --images FILE|DIR ... [--top-k K] [--format json|csv]\n"
      "          class probabilities per image; unreadable files are reported, not fatal\n"
      "\n"
      "  explain --checkpoint CKPT [--images FILE|DIR ... | --split val|train] [--out DIR]\n"
      "          [--method gradcam,gradcam++,xgradcam,hirescam,layercam,cam,saliency,\n"
      "                    smoothgrad,occlusion] [--layer NAME]\n"
      "          [--target pred|true|CLASS] [--alpha 0.5] [--colormap jet] [--batch-size N]\n"
      "          [--limit N] [--metrics] [--device D]\n"
      "          Grad-CAM and relatives: an overlay PNG and a .npy map per image and method,\n"
      "          grid PNGs and manifest.json; --metrics adds deletion/insertion AUC, average\n"
      "          drop/increase and (synthetic scenes) the pointing game, each beside random maps\n"
      "\n"
      "  report RUN_DIR [--device D]\n"
      "          figures (curves, learning rate, class distribution, confusion matrix, sample\n"
      "          predictions) and RUN_DIR/report/report.html; also written after train\n"
      "\n"
      "  --help  this text\n");
}

// The backend for a checkpoint: its run's device unless --device says otherwise.
std::unique_ptr<scenecam::Backend> checkpoint_backend(const std::string& checkpoint,
                                                      const std::string& device) {
  scenecam::RuntimeConfig r;
  r.device = device.empty() ? scenecam::checkpoint_device(checkpoint) : device;
  return make_backend(r);
}

int eval(int argc, char** argv) {
  scenecam::EvalOptions o;
  std::string device;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    SC_CHECK(i + 1 < argc, "flag ", arg, " needs a value");
    const char* v = argv[++i];
    if (arg == "--checkpoint")
      o.checkpoint = v;
    else if (arg == "--data")
      o.data_dir = v;
    else if (arg == "--split")
      o.split = v;
    else if (arg == "--out")
      o.out_dir = v;
    else if (arg == "--top-k")
      o.top_k = static_cast<int>(parse_int("--top-k", v, 1, 1000));
    else if (arg == "--device")
      device = v;
    else
      scenecam::fail("unknown flag '", arg, "' for eval (see scenecam --help)");
  }
  SC_CHECK(!o.checkpoint.empty(), "eval needs --checkpoint RUN/best.safetensors");
  auto backend = checkpoint_backend(o.checkpoint, device);
  scenecam::evaluate_checkpoint(o, *backend);
  return 0;
}

int predict(int argc, char** argv) {
  scenecam::PredictOptions o;
  std::string device;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      SC_CHECK(i + 1 < argc, "flag ", arg, " needs a value");
      return argv[++i];
    };
    if (arg == "--checkpoint")
      o.checkpoint = value();
    else if (arg == "--top-k")
      o.top_k = static_cast<int>(parse_int("--top-k", value(), 1, 1000));
    else if (arg == "--format")
      o.format = value();
    else if (arg == "--device")
      device = value();
    else if (arg == "--images") {
      while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
        o.inputs.push_back(argv[++i]);
    } else
      scenecam::fail("unknown flag '", arg, "' for predict (see scenecam --help)");
  }
  SC_CHECK(!o.checkpoint.empty() && !o.inputs.empty(),
           "predict needs --checkpoint CKPT and --images FILE|DIR ...");
  auto backend = checkpoint_backend(o.checkpoint, device);
  const int64_t predicted = scenecam::predict_images(o, *backend);
  SC_CHECK(predicted > 0, "predict: none of the inputs could be read as an image");
  return 0;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
    out.push_back(text.substr(start, comma - start));
  out.push_back(text.substr(start));
  return out;
}

int explain(int argc, char** argv) {
  scenecam::ExplainOptions o;
  std::string device;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      SC_CHECK(i + 1 < argc, "flag ", arg, " needs a value");
      return argv[++i];
    };
    if (arg == "--checkpoint")
      o.checkpoint = value();
    else if (arg == "--images") {
      while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
        o.images.push_back(argv[++i]);
    } else if (arg == "--split")
      o.split = value();
    else if (arg == "--out")
      o.out_dir = value();
    else if (arg == "--method")
      o.methods = split_commas(value());
    else if (arg == "--layer")
      o.layer = value();
    else if (arg == "--target")
      o.target = value();
    else if (arg == "--alpha") {
      const std::string v = value();
      char* end = nullptr;
      o.image_weight = std::strtof(v.c_str(), &end);
      SC_CHECK(!v.empty() && *end == '\0' && o.image_weight >= 0 && o.image_weight <= 1,
               "flag --alpha expects a number in [0, 1], got '", v, "'");
    } else if (arg == "--limit")
      o.limit = static_cast<int>(parse_int("--limit", value().c_str(), 1, 100000000));
    else if (arg == "--grid")
      o.grid = static_cast<int>(parse_int("--grid", value().c_str(), 1, 64));
    else if (arg == "--batch-size")
      o.batch_size = static_cast<int>(parse_int("--batch-size", value().c_str(), 1, 65536));
    else if (arg == "--colormap")
      o.colormap = value();
    else if (arg == "--metrics")
      o.metrics = true;
    else if (arg == "--device")
      device = value();
    else
      scenecam::fail("unknown flag '", arg, "' for explain (see scenecam --help)");
  }
  SC_CHECK(!o.checkpoint.empty(), "explain needs --checkpoint CKPT");
  auto backend = checkpoint_backend(o.checkpoint, device);
  scenecam::run_explain(o, *backend);
  return 0;
}

int report(int argc, char** argv) {
  SC_CHECK(argc >= 3, "report needs a run folder: scenecam report RUN_DIR [--device D]");
  const std::string run_dir = argv[2];
  std::string device;
  for (int i = 3; i < argc; i += 2) {
    SC_CHECK(std::string(argv[i]) == "--device" && i + 1 < argc,
             "report takes RUN_DIR [--device D]");
    device = argv[i + 1];
  }
  const std::string checkpoint = (std::filesystem::path(run_dir) / "best.safetensors").string();
  auto backend =
      checkpoint_backend(std::filesystem::exists(checkpoint)
                             ? checkpoint
                             : (std::filesystem::path(run_dir) / "last.safetensors").string(),
                         device);
  scenecam::write_report(run_dir, *backend);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return kUsageError;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    usage(stdout);
    return 0;
  }
  try {
    if (command == "train") return train(argc, argv);
    if (command == "eval") return eval(argc, argv);
    if (command == "predict") return predict(argc, argv);
    if (command == "report") return report(argc, argv);
    if (command == "explain") return explain(argc, argv);
    std::fprintf(stderr, "scenecam: unknown command '%s' (see scenecam --help)\n", command.c_str());
    return kUsageError;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scenecam: unexpected failure: %s\n", e.what());
    return 1;
  }
}
