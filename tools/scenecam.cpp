// scenecam: the command-line tool. Thin: parses flags against each command's table, calls the
// library, and turns every error into one line on stderr and an exit code: 2 when the command line
// was wrong (a UsageError), 1 when the work failed or its input was bad, 130 when interrupted.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>
#include <sstream>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/backends.hpp"
#include "scenecam/cli.hpp"
#include "scenecam/config.hpp"
#include "scenecam/error.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/explain_run.hpp"
#include "scenecam/export.hpp"
#include "scenecam/finetune.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/interrupt.hpp"
#include "scenecam/report.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"

namespace {

using scenecam::CommandLine;
using scenecam::FlagSpec;
using scenecam::list_flag;
using scenecam::switch_flag;
using scenecam::value_flag;

constexpr int kFailed = 1;
constexpr int kUsageError = 2;
constexpr int kInterrupted = 130;

// First Ctrl-C: every long loop stops at its next item (training after the step, with a
// checkpoint), and the command exits with 130. A second one ends the process.
void on_interrupt(int) {
  scenecam::interrupt_flag().store(true);
  std::signal(SIGINT, SIG_DFL);
}

// `scenecam COMMAND --help`: the command's synopsis and its flag table.
int command_help(const char* synopsis, const CommandLine& cl) {
  std::printf("usage: scenecam %s\n\nflags:\n%s", synopsis, cl.describe().c_str());
  return 0;
}

std::string to_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
    out.push_back(text.substr(start, comma - start));
  out.push_back(text.substr(start));
  return out;
}

FlagSpec device_spec() {
  return value_flag("device", "D", "", "auto, cpu, cuda or cuda:N (default: the run's device)");
}

// --device spelled as runtime.device spells it; none leaves the choice to the checkpoint's run.
std::optional<scenecam::DeviceChoice> device_flag(const CommandLine& cl) {
  const std::string& d = cl.str("device");
  if (d.empty()) return std::nullopt;
  scenecam::DeviceChoice choice;
  if (!scenecam::DeviceChoice::parse(d, &choice))
    scenecam::fail_usage("flag --device expects ", scenecam::kDeviceChoiceWords, ", got '", d, "'");
  return choice;
}

// --set's own syntax, KEY=VALUE with a dotted key, belongs to the command line; whether the
// config takes the value is the config reader's to say (exit 1, as for the same value in the file).
void check_set(const std::string& text) {
  const size_t eq = text.find('=');
  const std::string key = text.substr(0, eq);
  SC_USAGE_CHECK(eq != std::string::npos && !key.empty() && key.front() != '.' &&
                     key.back() != '.' && key.find("..") == std::string::npos,
                 "flag --set expects key=value with a dotted key, got '", text, "'");
}

int train(int argc, char** argv) {
  const CommandLine cl(
      argc, argv, 2,
      {value_flag("set", "KEY=VALUE", "",
                  "override a config value (dotted key, YAML value); repeatable"),
       value_flag("resume", "RUN_DIR", "", "continue the run in RUN_DIR from its last checkpoint"),
       switch_flag("overwrite", "let a fresh run write into a folder that holds one"),
       value_flag("stop-after-epoch", "N", "", "stop after N epochs, leaving a checkpoint")},
      "train", 1);
  if (cl.help_requested()) return command_help("train CONFIG.yaml [flags]", cl);
  std::vector<std::string> sets = cl.all("set");
  for (const std::string& s : sets)
    check_set(s);
  std::string config_path = cl.positional().empty() ? "" : cl.positional().front();
  const std::string resume_dir = cl.str("resume");
  scenecam::TrainOptions options;
  options.overwrite = cl.enabled("overwrite");
  if (cl.given("stop-after-epoch"))
    options.stop_after_epochs = static_cast<int>(cl.integer("stop-after-epoch", 1, 100000));
  if (!resume_dir.empty()) {
    // The run folder's effective config, unless another is given; either way the run stays put.
    if (config_path.empty())
      config_path = (std::filesystem::path(resume_dir) / "config.yaml").string();
    sets.push_back("output.dir=" + resume_dir);
    options.resume_dir = resume_dir;
  }
  SC_USAGE_CHECK(!config_path.empty(), "train needs a config file: scenecam train CONFIG.yaml");
  scenecam::RunConfig config = scenecam::load_config(config_path, sets);
  // The effective config names the exact file a fresh run starts from (resume does not read it).
  if (resume_dir.empty()) scenecam::record_init_checksum(config.model);
  options.config_yaml = scenecam::config_to_yaml(config);
  auto backend = scenecam::make_backend(config.runtime);
  scenecam::Split split;
  const scenecam::Dataset data = scenecam::load_training_data(config, &split);
  options.interrupt = &scenecam::interrupt_flag();
  scenecam::TrainResult r;
  try {
    r = scenecam::train(config, data, split, *backend, options);
  } catch (const scenecam::TrainingDiverged& e) {
    // The curves up to the divergence are what the user needs to see next.
    std::fprintf(stderr, "scenecam: %s\n", e.what());
    if (scenecam::image_files_supported()) {
      try {
        const scenecam::RunData decoded{data, split};
        scenecam::write_report(config.output.dir, *backend, &decoded);
      } catch (const scenecam::Error& report_error) {
        std::fprintf(stderr, "scenecam: the report failed too: %s\n", report_error.what());
      }
    }
    return kFailed;
  }
  if (r.best_val_accuracy >= 0)
    std::printf("train: best validation accuracy %.2f%%; %.0f training images/s; run folder %s\n",
                100 * r.best_val_accuracy, r.images_per_second, config.output.dir.c_str());
  // The report follows a finished run; a report that cannot be drawn does not undo the training.
  if (!r.stopped_early && scenecam::image_files_supported()) {
    try {
      const scenecam::RunData decoded{data, split};  // the images are in memory already
      scenecam::write_report(config.output.dir, *backend, &decoded);
    } catch (const scenecam::Error& e) {
      std::fprintf(stderr, "scenecam: the run finished, but its report failed: %s\n", e.what());
    }
  }

  return scenecam::interrupt_flag() ? kInterrupted : 0;
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
      "          [--method gradcam,gradcam++,xgradcam,hirescam,layercam,gradcam-elementwise,\n"
      "                    eigencam,eigengradcam,scorecam,ablationcam,cam,saliency,\n"
      "                    smoothgrad,integrated-gradients,occlusion,activations]\n"
      "          [--layer NAME] [--ig-steps 50] [--smoothgrad-samples 16]\n"
      "          [--activation-layers conv1,layer1,layer2,layer3,layer4] [--activation-count 8]\n"
      "          [--target pred|true|topK|CLASS] [--alpha 0.5] [--colormap jet]\n"
      "          [--batch-size N] [--limit N] [--grid N] [--metrics] [--sanity-images 16]\n"
      "          [--device D]\n"
      "          Grad-CAM and relatives: an overlay PNG and a .npy map per image and method,\n"
      "          grid PNGs, manifest.json and index.html (the gallery); --metrics adds\n"
      "          deletion/insertion AUC, ROAD, average drop/increase and (synthetic scenes) the\n"
      "          pointing game, each beside random maps, and the randomisation sanity check\n"
      "\n"
      "  export --checkpoint CKPT --format onnx --out FILE\n"
      "          the network as an ONNX model (input RGB/255 NCHW, normalised inside; outputs\n"
      "          logits and probabilities; the batch dimension dynamic), for onnxruntime & co.\n"
      "\n"
      "  report RUN_DIR [--device D]\n"
      "          figures (curves, learning rate, class distribution, confusion matrix, sample\n"
      "          predictions) and RUN_DIR/report/report.html; also written after train\n"
      "\n"
      "  --help  this text; COMMAND --help lists that command's flags\n"
      "\n"
      "Flags take their value as --flag VALUE or --flag=VALUE. Exit codes: 0 done, 1 the work\n"
      "failed or its input (a config, a checkpoint, an image folder) was bad, 2 the command line\n"
      "was wrong, 130 train was interrupted and left a checkpoint.\n");
}

// The backend for a checkpoint: its run's device unless --device says otherwise.
std::unique_ptr<scenecam::Backend> checkpoint_backend(
    const std::string& checkpoint, std::optional<scenecam::DeviceChoice> device) {
  // The run's own runtime settings (threads, workspace limit), its device unless --device says.
  scenecam::RuntimeConfig r =
      scenecam::checkpoint_config(scenecam::SafetensorsFile(checkpoint)).runtime;
  if (device) r.device = *device;
  return scenecam::make_backend(r, device ? "--device" : "the checkpoint's runtime.device");
}

int eval(int argc, char** argv) {
  scenecam::EvalOptions o;
  const CommandLine cl(
      argc, argv, 2,
      {value_flag("checkpoint", "CKPT", "", "the checkpoint to evaluate (required)"),
       value_flag("data", "DIR", "",
                  "an image folder, root/<class>/images (default: the run's data)"),
       value_flag("split", "val|train|all", o.split, "the run's split to evaluate, without --data"),
       value_flag("out", "DIR", "", "where the report files go (default: RUN/eval)"),
       value_flag("top-k", "K", std::to_string(o.top_k), "k of the top-k accuracy, 1 to 1000"),
       device_spec()},
      "eval");
  if (cl.help_requested()) return command_help("eval --checkpoint CKPT [flags]", cl);
  o.checkpoint = cl.str("checkpoint");
  o.data_dir = cl.str("data");
  o.split = cl.choice("split", {"val", "train", "all"});
  o.out_dir = cl.str("out");
  o.top_k = static_cast<int>(cl.integer("top-k", 1, 1000));
  const auto device = device_flag(cl);
  SC_USAGE_CHECK(!o.checkpoint.empty(), "eval needs --checkpoint RUN/best.safetensors");
  auto backend = checkpoint_backend(o.checkpoint, device);
  scenecam::evaluate_checkpoint(o, *backend);
  return 0;
}

int predict(int argc, char** argv) {
  scenecam::PredictOptions o;
  const CommandLine cl(
      argc, argv, 2,
      {value_flag("checkpoint", "CKPT", "", "the checkpoint to apply (required)"),
       list_flag("images", "FILE|DIR", "image files or folders of images (required)"),
       value_flag("top-k", "K", std::to_string(o.top_k), "classes listed per image, 1 to 1000"),
       value_flag("format", "json|csv", o.format, "the records' format"), device_spec()},
      "predict");
  if (cl.help_requested())
    return command_help("predict --checkpoint CKPT --images FILE|DIR ...", cl);
  o.checkpoint = cl.str("checkpoint");
  o.inputs = cl.all("images");
  o.top_k = static_cast<int>(cl.integer("top-k", 1, 1000));
  o.format = cl.choice("format", {"json", "csv"});
  const auto device = device_flag(cl);
  SC_USAGE_CHECK(!o.checkpoint.empty() && !o.inputs.empty(),
                 "predict needs --checkpoint CKPT and --images FILE|DIR ...");
  auto backend = checkpoint_backend(o.checkpoint, device);
  const int64_t predicted = scenecam::predict_images(o, *backend);
  SC_CHECK(predicted > 0, "predict: none of the inputs could be read as an image");
  return 0;
}

// --method's names, checked before any work starts (the message is the library's own).
std::vector<std::string> method_flag(const CommandLine& cl) {
  std::vector<std::string> methods = split_commas(cl.str("method"));
  for (const std::string& m : methods) {
    if (m == "activations") continue;  // not a map: feature-map grids (explain_run.hpp)
    try {
      scenecam::parse_cam_method(m);
    } catch (const scenecam::Error& e) {
      throw scenecam::UsageError(e.what());
    }
  }
  return methods;
}

// --target's form: pred, true, topK or a class index. Whether the class exists is the
// checkpoint's to say, later. "topK" is expanded by run_explain, which reads K the same way.
// --target's words are checked against the checkpoint's classes (which name targets too) once
// it is read; here only that one was given.
std::string target_flag(const CommandLine& cl) {
  const std::string& t = cl.str("target");
  SC_USAGE_CHECK(!t.empty(),
                 "flag --target expects pred, true, topK, a class index or a class name");
  return t;
}

std::vector<FlagSpec> explain_flags(const scenecam::ExplainOptions& o) {
  return {
      value_flag("checkpoint", "CKPT", "", "the checkpoint to explain (required)"),
      list_flag("images", "FILE|DIR", "image files or folders (default: the run's own split)"),
      value_flag("split", "val|train", o.split, "the run's split to explain, without --images"),
      value_flag("out", "DIR", "", "where the files go (default: RUN/explain)"),
      value_flag("method", "M,M,...", o.methods.front(),
                 "methods, comma-separated (scenecam --help lists them)"),
      value_flag("layer", "NAME", o.layer, "the target layer (default: the last residual stage)"),
      value_flag("target", "pred|true|topK|CLASS", o.target, "the class each map explains"),
      value_flag("alpha", "A", to_text(o.image_weight),
                 "the image's weight in the overlay, 0 to 1"),
      value_flag("colormap", "NAME", o.colormap, "jet, turbo, viridis, inferno, magma or hot"),
      value_flag("batch-size", "N", "", "images per batch (default: the run's batch size)"),
      value_flag("limit", "N", "", "explain only the first N images"),
      value_flag("grid", "N", std::to_string(o.grid), "images in each grid PNG, 1 to 64"),
      value_flag("ig-steps", "N", std::to_string(o.settings.ig_steps),
                 "Integrated Gradients' points on the path from black, 2 to 1024"),
      value_flag("smoothgrad-samples", "N", std::to_string(o.settings.smoothgrad_samples),
                 "SmoothGrad's noisy copies per image, 1 to 1024"),
      value_flag("activation-layers", "L,L,...", "conv1,layer1,layer2,layer3,layer4",
                 "the layers --method activations shows"),
      value_flag("activation-count", "N", std::to_string(o.activation_count),
                 "feature maps per image and layer for --method activations, 1 to 64"),
      switch_flag("metrics", "faithfulness metrics beside random maps, and the sanity check"),
      value_flag("sanity-images", "N", std::to_string(o.sanity_images),
                 "images the sanity check re-explains after each re-initialisation, 1 to 1000"),
      device_spec()};
}

int explain(int argc, char** argv) {
  scenecam::ExplainOptions o;
  const CommandLine cl(argc, argv, 2, explain_flags(o), "explain");
  if (cl.help_requested()) return command_help("explain --checkpoint CKPT [flags]", cl);
  o.checkpoint = cl.str("checkpoint");
  o.images = cl.all("images");
  o.split = cl.choice("split", {"val", "train"});
  SC_USAGE_CHECK(o.images.empty() || !cl.given("split"),
                 "--images and --split both say which images to explain; give one");
  o.out_dir = cl.str("out");
  o.methods = method_flag(cl);
  o.layer = cl.str("layer");
  o.target = target_flag(cl);
  o.image_weight = static_cast<float>(cl.number("alpha", 0, 1));
  o.colormap = cl.str("colormap");
  if (cl.given("batch-size")) o.batch_size = static_cast<int>(cl.integer("batch-size", 1, 65536));
  if (cl.given("limit")) o.limit = static_cast<int>(cl.integer("limit", 1, 100000000));
  o.grid = static_cast<int>(cl.integer("grid", 1, 64));
  o.settings.ig_steps = static_cast<int>(cl.integer("ig-steps", 2, 1024));
  o.activation_layers = split_commas(cl.str("activation-layers"));
  o.activation_count = static_cast<int>(cl.integer("activation-count", 1, 64));
  o.settings.smoothgrad_samples = static_cast<int>(cl.integer("smoothgrad-samples", 1, 1024));
  o.metrics = cl.enabled("metrics");
  o.sanity_images = static_cast<int>(cl.integer("sanity-images", 1, 1000));
  const auto device = device_flag(cl);
  SC_USAGE_CHECK(!o.checkpoint.empty(), "explain needs --checkpoint CKPT");
  auto backend = checkpoint_backend(o.checkpoint, device);
  scenecam::run_explain(o, *backend);
  return 0;
}

int report(int argc, char** argv) {
  const CommandLine cl(argc, argv, 2, {device_spec()}, "report", 1);
  if (cl.help_requested()) return command_help("report RUN_DIR [flags]", cl);
  SC_USAGE_CHECK(!cl.positional().empty(),
                 "report needs a run folder: scenecam report RUN_DIR [--device D]");
  const std::filesystem::path run_dir = cl.positional().front();
  const auto device = device_flag(cl);
  std::unique_ptr<scenecam::Backend> backend;
  for (const char* name : {"best.safetensors", "last.safetensors"})
    if (!backend && std::filesystem::exists(run_dir / name))
      backend = checkpoint_backend((run_dir / name).string(), device);
  if (!backend) {  // no checkpoint yet: the curves need no model, the run's own config a device
    scenecam::RuntimeConfig r;
    if (std::filesystem::exists(run_dir / "config.yaml"))
      r = scenecam::load_config((run_dir / "config.yaml").string()).runtime;
    if (device) r.device = *device;
    backend = scenecam::make_backend(r, device ? "--device" : "the run's runtime.device");
  }
  scenecam::write_report(run_dir.string(), *backend);
  return 0;
}

int export_model(int argc, char** argv) {
  const CommandLine cl(argc, argv, 2,
                       {value_flag("checkpoint", "CKPT", "", "the checkpoint to export (required)"),
                        value_flag("format", "onnx", "onnx", "the file format"),
                        value_flag("out", "FILE", "", "where to write the model (required)"),
                        value_flag("opset", "N", std::to_string(scenecam::kOnnxOpset),
                                   "ONNX operator set; this version writes only its own")},
                       "export");
  if (cl.help_requested())
    return command_help("export --checkpoint CKPT --format onnx --out model.onnx", cl);
  const std::string checkpoint = cl.str("checkpoint"), out = cl.str("out");
  SC_USAGE_CHECK(!checkpoint.empty() && !out.empty(),
                 "export needs --checkpoint CKPT and --out FILE");
  cl.choice("format", {"onnx"});
  SC_USAGE_CHECK(cl.integer("opset", 1, 100) == scenecam::kOnnxOpset, "flag --opset: only ",
                 scenecam::kOnnxOpset, " is written (got '", cl.str("opset"), "')");
  scenecam::export_onnx(checkpoint, out);
  std::printf("export: %s -> %s (ONNX, opset %d, batch dimension dynamic)\n", checkpoint.c_str(),
              out.c_str(), scenecam::kOnnxOpset);
  return 0;
}

int run_command(const std::string& command, int argc, char** argv) {
  if (command == "train") return train(argc, argv);
  if (command == "eval") return eval(argc, argv);
  if (command == "predict") return predict(argc, argv);
  if (command == "report") return report(argc, argv);
  if (command == "explain") return explain(argc, argv);
  if (command == "export") return export_model(argc, argv);
  const std::string near =
      scenecam::closest_match(command, {"train", "eval", "predict", "explain", "report", "export"});
  scenecam::fail_usage("unknown command '", command, "' (",
                       near.empty() ? std::string() : "did you mean " + near + "? ",
                       "see scenecam --help)");
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
  std::signal(SIGINT, on_interrupt);
  try {
    return run_command(command, argc, argv);
  } catch (const scenecam::Interrupted& e) {
    std::fprintf(stderr, "scenecam: %s\n", e.what());
    return kInterrupted;
  } catch (const scenecam::UsageError& e) {
    std::fprintf(stderr, "scenecam: %s\n", e.what());
    return kUsageError;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam: %s\n", e.what());
    return kFailed;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "scenecam: out of memory (a buffer could not be allocated)\n");
    return kFailed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scenecam: unexpected failure: %s\n", e.what());
    return kFailed;
  }
}
