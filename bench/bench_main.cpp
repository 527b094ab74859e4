// scenecam-bench: the benchmark suite's entry point. Each subcommand prints its table last and
// can write JSON (--json FILE). Exit codes as scenecam's: 0 done, 1 a check or the work failed,
// 2 the command line was wrong (one line on stderr either way).
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_util.hpp"
#include "scenecam/backends.hpp"
#include "scenecam/error.hpp"

namespace scenecam::bench {

std::unique_ptr<Backend> bench_backend(const std::string& device, int threads) {
  RuntimeConfig runtime;
  if (!DeviceChoice::parse(device, &runtime.device) ||
      runtime.device.kind == DeviceChoice::Kind::automatic)
    fail_usage("flag --device expects cpu, cuda or cuda:N, got '", device, "'");
  runtime.threads = threads;
  return make_backend(runtime, "--device");
}

RunConfig bench_config(const Flags& flags) {
  RunConfig config;
  if (!flags.str("config").empty()) {
    config = load_config(flags.str("config"));
    SC_USAGE_CHECK(!flags.given("arch") && !flags.given("classes"),
                   "--arch and --classes come from --config; set them in the config instead");
  } else {
    config.model.arch = flags.str("arch");
    config.model.classes = flags.integer("classes");
    config.train.optimizer.weight_decay = 0;
  }
  // The benchmark's own learning rate: a config's is meant for real data after a warm-up, and on
  // one fixed random batch from the first step it can diverge. A step's speed does not depend on
  // it; the check that the loss falls does. (ResNet-50 diverges there at SGD 0.02, in PyTorch
  // as here; 0.002 lets ResNet-18 and ResNet-50 both memorise the batch.)
  config.train.optimizer.lr = config.train.optimizer.name == Optimizer::adamw ? 1e-3 : 0.002;
  return config;
}

int run_conv(int argc, char** argv, int first);
int run_train(int argc, char** argv, int first);
int run_kernels(int argc, char** argv, int first);
int run_explain(int argc, char** argv, int first);
int run_input(int argc, char** argv, int first);
}  // namespace scenecam::bench

namespace {

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: scenecam-bench SUBCOMMAND [flags]\n"
      "\n"
      "Every subcommand checks its results before it times them, runs on the CPU backend (with\n"
      "CPU-sized defaults) or the CUDA one, prints its table last and writes it as JSON with\n"
      "--json FILE. Lists take commas: --batch 32,64,128.\n"
      "\n"
      "subcommands:\n"
      "  kernels  the custom kernels at ResNet-18's shapes: ms, GB/s, %% of the copy bandwidth;\n"
      "           on CUDA the cuDNN/cuBLAS routine doing the same job beside each\n"
      "           flags: --device cpu|cuda[:N] --input 150,224 --batch 32 (cuda: 32,64,128,256)\n"
      "                  --repeats 10 (cuda: 50) --flush-mib 64 (cuda: 256) --threads 0\n"
      "  conv     ResNet-18's convolutions, forward / backward-data / backward-filter: ms,\n"
      "           TFLOP/s, share of the 1x1 matrix-product rate, the algorithm chosen\n"
      "           flags: --device --batch 32 (cuda: 128) --input 224 --repeats 5 (cuda: 50)\n"
      "  train    full training steps on a fixed random batch (the loss must fall): ms/step,\n"
      "           images/s, peak pool MiB, share of time per layer type\n"
      "           flags: --device --config FILE | --arch resnet18 --classes 6\n"
      "                  --batch 16 (cuda: 32,64,128,256) --input 64 (cuda: 224; or the\n"
      "                  config's) --steps 8 (cuda: 30) --threads 0\n"
      "  input    the training input pipeline alone: images/s of batches staged on the host\n"
      "           and of batches made on the device from a resident dataset\n"
      "           flags: --device --batch 64 (cuda: 64,256,512) --input 64 (cuda: 150)\n"
      "                  --images 512 (cuda: 4096) --repeats 3 --threads 0\n"
      "  explain  images/s of each explanation method at each batch size\n"
      "           flags: --device --config FILE | --arch resnet18 --classes 6\n"
      "                  --input 64 (cuda: 224)\n"
      "                  --batch 1,8 (cuda: 1,8,32,64,128,256) --images 8 (cuda: 256)\n"
      "                  --methods gradcam,...,occlusion --layer layer4 --repeats 3\n"
      "\n"
      "Flags take their value as --flag VALUE or --flag=VALUE. Exit codes: 0 done, 1 a check or\n"
      "the work failed, 2 the command line was wrong.\n");
}

// The subcommand named by argv[1]; a name that is none of them is a UsageError.
int run_subcommand(int argc, char** argv) {
  const std::string name = argv[1];
  if (name == "conv") return scenecam::bench::run_conv(argc, argv, 2);
  if (name == "train") return scenecam::bench::run_train(argc, argv, 2);
  if (name == "kernels") return scenecam::bench::run_kernels(argc, argv, 2);
  if (name == "explain") return scenecam::bench::run_explain(argc, argv, 2);
  if (name == "input") return scenecam::bench::run_input(argc, argv, 2);
  const std::string near =
      scenecam::closest_match(name, {"kernels", "conv", "train", "explain", "input"});
  scenecam::fail_usage("unknown subcommand '", name, "' (",
                       near.empty() ? std::string() : "did you mean " + near + "? ",
                       "see scenecam-bench --help)");
}

bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  // The flags of every subcommand are in the one usage text, so any --help prints it.
  if (asks_for_help(argc, argv)) {
    usage(stdout);
    return 0;
  }
  try {
    return run_subcommand(argc, argv);
  } catch (const scenecam::UsageError& e) {
    std::fprintf(stderr, "scenecam-bench: %s\n", e.what());
    return 2;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam-bench: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scenecam-bench: unexpected failure: %s\n", e.what());
    return 1;
  }
}
