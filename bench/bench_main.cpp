// scenecam-bench: the benchmark suite's entry point. Each subcommand prints its table last and
// can write JSON (--json FILE).
#include <cstdio>
#include <cstring>

#include "scenecam/error.hpp"

namespace scenecam::bench {
int run_conv(int argc, char** argv, int first);
int run_train(int argc, char** argv, int first);
int run_kernels(int argc, char** argv, int first);
int run_explain(int argc, char** argv, int first);
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
      "  explain  images/s of each explanation method at each batch size\n"
      "           flags: --device --config FILE | --arch resnet18 --classes 6\n"
      "                  --input 64 (cuda: 224)\n"
      "                  --batch 1,8 (cuda: 1,8,32,64,128,256) --images 8 (cuda: 256)\n"
      "                  --methods gradcam,...,occlusion --layer layer4 --repeats 3\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    if (!std::strcmp(argv[1], "conv")) return scenecam::bench::run_conv(argc, argv, 2);
    if (!std::strcmp(argv[1], "train")) return scenecam::bench::run_train(argc, argv, 2);
    if (!std::strcmp(argv[1], "kernels")) return scenecam::bench::run_kernels(argc, argv, 2);
    if (!std::strcmp(argv[1], "explain")) return scenecam::bench::run_explain(argc, argv, 2);
    std::fprintf(stderr, "scenecam-bench: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam-bench: %s\n", e.what());
    return 1;
  }
}
