// scenecam-bench: the benchmark suite's entry point. Each subcommand prints its table last and
// can write JSON (--json FILE).
#include <cstdio>
#include <cstring>

#include "scenecam/error.hpp"

namespace scenecam::bench {
int run_conv(int argc, char** argv, int first);
int run_train(int argc, char** argv, int first);
int run_kernels(int argc, char** argv, int first);
}

namespace {

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: scenecam-bench SUBCOMMAND [flags]\n"
      "\n"
      "subcommands:\n"
      "  conv   ResNet-18 convolutions, forward / backward-data / backward-filter, on the\n"
      "         CPU backend, with GFLOP/s and the share of the matrix-product rate\n"
      "         flags: --batch 32 --input 224 --threads 0 (all) --repeats 5 --json FILE\n"
      "  train  full training steps of a ResNet on random data (the loss must fall)\n"
      "         flags: --device cpu|cuda --arch resnet18 --batch 16 --input 64 --steps 10\n"
      "                --classes 6 --threads 0 --json FILE\n"
      "  kernels  the custom memory-bound kernels, GB/s beside the copy bandwidth\n"
      "         flags: --device cpu|cuda --batch 32 --repeats 20 --threads 0 --json FILE\n");
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
    std::fprintf(stderr, "scenecam-bench: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam-bench: %s\n", e.what());
    return 1;
  }
}
