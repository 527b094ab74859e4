// scenecam: the command-line tool. Thin: parses flags, calls the library, and turns every error
// into one line on stderr and a non-zero exit code (1: the work failed, 2: the command was wrong).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "scenecam/demo.hpp"
#include "scenecam/error.hpp"

namespace {

constexpr int kUsageError = 2;

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: scenecam COMMAND [flags]\n"
               "\n"
               "commands:\n"
               "  demo    train a small ResNet on synthetic scenes on the CPU backend and report\n"
               "          validation accuracy (a demonstration of the engine; config-driven\n"
               "          training arrives with `scenecam train`)\n"
               "          flags: --steps 300 --batch 32 --size 32 --lr 0.05 --threads 0 --seed 1\n"
               "\n"
               "  --help  this text\n");
}

long parse_int(const char* flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  SC_CHECK(*text && *end == '\0' && v >= lo && v <= hi, "flag ", flag, " expects an integer in [",
           lo, ", ", hi, "], got '", text, "'");
  return v;
}

int demo(int argc, char** argv) {
  scenecam::DemoOptions o;
  for (int i = 2; i < argc; i += 2) {
    const std::string flag = argv[i];
    SC_CHECK(i + 1 < argc, "flag ", flag, " needs a value");
    const char* v = argv[i + 1];
    if (flag == "--steps")
      o.steps = parse_int("--steps", v, 1, 10000000);
    else if (flag == "--batch")
      o.batch = parse_int("--batch", v, 2, 4096);
    else if (flag == "--size")
      o.image_size = parse_int("--size", v, 16, 512);
    else if (flag == "--threads")
      o.threads = parse_int("--threads", v, 0, 1024);
    else if (flag == "--seed")
      o.seed = parse_int("--seed", v, 0, 1L << 62);
    else if (flag == "--lr") {
      char* end = nullptr;
      o.lr = std::strtof(v, &end);
      SC_CHECK(*v && *end == '\0' && o.lr > 0 && o.lr < 10,
               "flag --lr expects a number in (0, 10), got '", v, "'");
    } else {
      scenecam::fail("unknown flag '", flag, "' for demo (see scenecam --help)");
    }
  }
  o.train_images = std::max(o.train_images, o.batch);
  scenecam::run_demo(o);
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
    if (command == "demo") return demo(argc, argv);
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
