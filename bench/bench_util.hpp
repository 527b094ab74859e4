// Small pieces the benchmark programs share: timing with medians, flag parsing, tables and JSON.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "internal/measurement.hpp"
#include "scenecam/backend.hpp"
#include "scenecam/cli.hpp"
#include "scenecam/config.hpp"
#include "scenecam/error.hpp"

namespace scenecam::bench {

// Runs fn `warmup` times untimed, then `repeats` times; returns the median seconds.
inline double median_seconds(const std::function<void()>& fn, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i)
    fn();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Times a and b alternately (a, b, a, b, ...) and returns both medians. On a shared machine
// whose speed drifts, a ratio of two medians taken this way compares like with like.
inline std::pair<double, double> paired_median_seconds(const std::function<void()>& a,
                                                       const std::function<void()>& b,
                                                       int repeats) {
  a();
  b();
  std::vector<double> ta, tb;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    a();
    ta.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    start = std::chrono::steady_clock::now();
    b();
    tb.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

// The median over `repeats` runs of fn's device time (BackendMeasurement::time_seconds), after `warmup`
// untimed runs. `before` runs ahead of each timed run, outside the timing: the kernel benchmark
// passes a write over a buffer larger than the last-level cache, so every run starts cold.
inline double device_median_seconds(Backend& backend, const std::function<void()>& fn, int warmup,
                                    int repeats, const std::function<void()>& before = {}) {
  for (int i = 0; i < warmup; ++i)
    fn();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    if (before) before();
    t.push_back(measurement_of(backend).time_seconds(fn));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The device's copy bandwidth in GB/s: the median device-to-device copy of `mib` MiB (8 bytes
// move per float: one read, one write), checked before it is timed. `before` as above.
inline double copy_bandwidth_gbs(Backend& be, int64_t mib, int repeats,
                                 const std::function<void()>& before = {}) {
  const int64_t floats = mib * 1048576 / 4;
  auto pool = be.make_pool("copy reference", 2 * (floats * 4 + kPoolAlignment), false);
  const Tensor src = pool->take(Shape{floats}, DType::f32, "copy source");
  const Tensor dst = pool->take(Shape{floats}, DType::f32, "copy destination");
  be.fill(src, 0.25);
  be.fill(dst, 0.0);
  be.copy(src, dst);
  float probe = 0;
  be.copy(dst.slice_flat(floats - 1, floats), Tensor(&probe, Shape{1}, DType::f32, Device::cpu()));
  SC_CHECK(probe == 0.25f, "copy reference: the copy is wrong (", probe, ")");
  const double seconds = device_median_seconds(
      be, [&] { be.copy(src, dst); }, 3, repeats, before);
  return 8.0 * floats / seconds / 1e9;
}

// --key value (or --key=value) flags after the subcommand, every one taking a value: the shared
// command line (scenecam/cli.hpp) under the interface the subcommands use. An unknown flag, a
// missing value, a value that does not parse or a positional argument is a UsageError (exit 2).
class Flags {
 public:
  // defaults: the value flags and their defaults; switches: flags without a value (given()).
  Flags(int argc, char** argv, int first, const std::map<std::string, std::string>& defaults,
        const std::vector<std::string>& switches = {})
      : line_(argc, argv, first, specs(defaults, switches),
              first > 0 ? argv[first - 1] : "scenecam-bench") {}
  std::string str(const std::string& key) const { return line_.str(key); }
  bool given(const std::string& key) const { return line_.given(key); }
  // A comma-separated list of positive integers: "32,64,128".
  std::vector<long> integers(const std::string& key) const { return line_.integers(key); }
  long integer(const std::string& key) const { return line_.integer(key); }
  long integer(const std::string& key, long lo, long hi) const {
    return line_.integer(key, lo, hi);
  }

 private:
  static std::vector<FlagSpec> specs(const std::map<std::string, std::string>& defaults,
                                     const std::vector<std::string>& switches) {
    std::vector<FlagSpec> out;
    for (const auto& [name, value] : defaults)
      out.push_back(value_flag(name, "VALUE", value, ""));
    for (const std::string& name : switches)
      out.push_back(switch_flag(name, ""));
    return out;
  }
  CommandLine line_;
};

// Rows of named columns, printed as an aligned table and written as a JSON array of objects.
class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print() const {
    std::vector<size_t> width(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      width[c] = columns_[c].size();
      for (const auto& r : rows_)
        width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& r) {
      for (size_t c = 0; c < r.size(); ++c)
        std::printf("%s%-*s", c ? "  " : "", static_cast<int>(width[c]), r[c].c_str());
      std::printf("\n");
    };
    line(columns_);
    for (const auto& r : rows_)
      line(r);
  }

  // Writes to path.tmp then renames, so a reader never sees half a file.
  void write_json(const std::string& path, const std::string& header_json) const {
    std::ostringstream s;
    s << "{" << header_json << ", \"rows\": [";
    for (size_t i = 0; i < rows_.size(); ++i) {
      s << (i ? ",\n  " : "\n  ") << "{";
      for (size_t c = 0; c < columns_.size(); ++c) {
        const std::string& v = rows_[i][c];
        char* end = nullptr;
        std::strtod(v.c_str(), &end);
        const bool number = !v.empty() && *end == '\0';
        s << (c ? ", " : "") << "\"" << columns_[c] << "\": " << (number ? v : "\"" + v + "\"");
      }
      s << "}";
    }
    s << "\n]}\n";
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp);
    out << s.str();
    out.close();
    SC_CHECK(out.good(), path, ": could not write the JSON results");
    SC_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": could not rename ", tmp);
  }

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// v with `digits` significant digits (for times that span microseconds to seconds).
inline std::string significant(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// The run config a benchmark's model comes from: --config FILE, or else --arch and --classes
// with SGD (momentum 0.9, no weight decay) and the config's other defaults. Either way the
// learning rate is the benchmark's own: 0.002 for SGD, 1e-3 for AdamW.
RunConfig bench_config(const Flags& flags);
// The backend --device names (cpu, cuda, cuda:N), with --threads for the CPU.
std::unique_ptr<Backend> bench_backend(const std::string& device, int threads);

inline std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace scenecam::bench
