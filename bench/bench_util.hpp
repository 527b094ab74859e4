// Small pieces the benchmark programs share: timing with medians, flag parsing, tables and JSON.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "scenecam/backend.hpp"
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

// The median over `repeats` runs of fn's device time (Backend::time_seconds), after `warmup`
// untimed runs. `before` runs ahead of each timed run, outside the timing: the kernel benchmark
// passes a write over a buffer larger than the last-level cache, so every run starts cold.
inline double device_median_seconds(Backend& backend, const std::function<void()>& fn, int warmup,
                                    int repeats, const std::function<void()>& before = {}) {
  for (int i = 0; i < warmup; ++i)
    fn();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    if (before) before();
    t.push_back(backend.time_seconds(fn));
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

// --key value flags after the subcommand; unknown flags are errors.
class Flags {
 public:
  Flags(int argc, char** argv, int first, const std::map<std::string, std::string>& defaults)
      : values_(defaults) {
    for (int i = first; i < argc; ++i) {
      std::string key = argv[i];
      SC_CHECK(key.rfind("--", 0) == 0, "unexpected argument '", key, "'");
      key = key.substr(2);
      SC_CHECK(values_.count(key), "unknown flag --", key);
      SC_CHECK(i + 1 < argc, "flag --", key, " needs a value");
      values_[key] = argv[++i];
      given_.insert(key);
    }
  }
  std::string str(const std::string& key) const { return values_.at(key); }
  bool given(const std::string& key) const { return given_.count(key) != 0; }
  // A comma-separated list of positive integers: "32,64,128".
  std::vector<long> integers(const std::string& key) const {
    std::vector<long> out;
    std::stringstream in(values_.at(key));
    std::string item;
    while (std::getline(in, item, ',')) {
      char* end = nullptr;
      const long x = std::strtol(item.c_str(), &end, 10);
      SC_CHECK(!item.empty() && *end == '\0' && x > 0, "flag --", key,
               " expects positive integers separated by commas, got '", values_.at(key), "'");
      out.push_back(x);
    }
    SC_CHECK(!out.empty(), "flag --", key, " is empty");
    return out;
  }
  long integer(const std::string& key) const {
    const std::string& v = values_.at(key);
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    SC_CHECK(!v.empty() && *end == '\0', "flag --", key, " expects an integer, got '", v, "'");
    return x;
  }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> given_;
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
// learning rate is the benchmark's own: 0.02 for SGD, 1e-3 for AdamW.
RunConfig bench_config(const Flags& flags);
// The backend --device names (cpu, cuda, cuda:N), with --threads for the CPU.
std::unique_ptr<Backend> bench_backend(const std::string& device, int threads);

inline std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace scenecam::bench
