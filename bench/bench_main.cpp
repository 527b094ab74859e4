// scenecam-bench: the benchmark suite's entry point. Each subcommand prints its table last and
// can write JSON (--json FILE).
#include <cstdio>
#include <cstring>

#include "scenecam/error.hpp"

namespace scenecam::bench {
int run_conv(int argc, char** argv, int first);
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
      "         flags: --batch 32 --input 224 --threads 0 (all) --repeats 5 --json FILE\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    if (!std::strcmp(argv[1], "conv")) return scenecam::bench::run_conv(argc, argv, 2);
    std::fprintf(stderr, "scenecam-bench: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "scenecam-bench: %s\n", e.what());
    return 1;
  }
}
