// The strict YAML config reader. Every key is read through a Section, which remembers which keys
// it consumed; anything left over is an unknown key. Every message starts with file:line:column
// (1-based) of the offending node, or "--set" for a value that came from the command line.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "scenecam/config.hpp"
#include "scenecam/error.hpp"

namespace scenecam {
namespace {

// The file being read and the dotted keys that --set wrote (their marks point into the --set
// text, not the file).
struct Source {
  std::string file;
  std::set<std::string> overridden;

  std::string where(const YAML::Mark& mark, const std::string& key = "") const {
    for (std::string k = key; !k.empty();) {  // the key itself, then each enclosing section
      if (overridden.count(k)) return "--set";
      const size_t dot = k.rfind('.');
      if (dot == std::string::npos) break;
      k.resize(dot);
    }
    if (mark.is_null() || mark.line < 0) return file;
    return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
};

class Section {
 public:
  Section(YAML::Node node, std::string path, const Source& source)
      : node_(std::move(node)), path_(std::move(path)), src_(source) {
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
      fail(src_.where(node_.Mark(), path_), ": ", path_.empty() ? "the config" : path_,
           " must be a mapping of keys to values");
  }

  // A nested section; `required` sections must be present.
  Section section(const char* key, bool required) {
    YAML::Node child = lookup(key);
    if (!child.IsDefined() && required)
      fail(src_.where(node_.Mark(), path_), ": missing required section '", full(key), "'");
    return Section(child, full(key), src_);
  }

  template <typename T>
  void required(const char* key, T& out) {
    YAML::Node n = lookup(key);
    if (!n.IsDefined() || n.IsNull())
      fail(src_.where(node_.Mark(), path_), ": missing required value '", full(key), "'");
    read(n, key, out);
  }

  template <typename T>
  void optional(const char* key, T& out) {
    YAML::Node n = lookup(key);
    if (n.IsDefined() && !n.IsNull()) read(n, key, out);
  }

  // Fails with the location of `key`'s value (or of the section) unless `ok`.
  void check(bool ok, const char* key, const std::string& message) {
    if (ok) return;
    YAML::Node n = lookup(key);
    fail(src_.where(n.IsDefined() ? n.Mark() : node_.Mark(), full(key)), ": ", full(key), ": ",
         message);
  }

  // An optional word that must be one of `names` (in the enum's order); out keeps its default
  // when the key is absent.
  template <typename E, size_t N>
  void choice(const char* key, E& out, const char* const (&names)[N]) {
    std::string word = names[int(out)];
    optional(key, word);
    std::string list;
    for (size_t i = 0; i < N; ++i) {
      list += (i ? ", " : "") + std::string(names[i]);
      if (word == names[i]) {
        out = static_cast<E>(i);
        return;
      }
    }
    check(false, key, "'" + word + "' is not one of " + list);
  }

  void one_of(const char* key, const std::string& value,
              std::initializer_list<const char*> allowed) {
    std::string list;
    bool found = false;
    for (const char* a : allowed) {
      list += (list.empty() ? "" : ", ") + std::string(a);
      found |= value == a;
    }
    check(found, key, "'" + value + "' is not one of " + list);
  }

  // Every key of the mapping must have been read.
  void finish() {
    if (!node_.IsDefined() || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (!read_.count(key))
        fail(src_.where(kv.first.Mark(), full(key.c_str())), ": unknown key '", full(key.c_str()),
             "'");
    }
  }

 private:
  YAML::Node lookup(const char* key) {
    read_.insert(key);
    if (!node_.IsDefined() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return node_[key];
  }
  std::string full(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  [[noreturn]] void wrong_type(const YAML::Node& n, const char* key, const char* expected) {
    std::string got = n.IsScalar()     ? "'" + n.Scalar() + "'"
                      : n.IsSequence() ? "a list"
                                       : "a mapping";
    fail(src_.where(n.Mark(), full(key)), ": ", full(key), ": expected ", expected, ", got ", got);
  }

  void read(const YAML::Node& n, const char* key, std::string& out) {
    if (!n.IsScalar()) wrong_type(n, key, "a string");
    out = n.Scalar();
  }
  void read(const YAML::Node& n, const char* key, bool& out) {
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, out)) wrong_type(n, key, "true or false");
  }
  void read(const YAML::Node& n, const char* key, double& out) {
    if (!n.IsScalar()) wrong_type(n, key, "a number");
    std::istringstream s(n.Scalar());
    s >> out;
    if (!s || !s.eof()) wrong_type(n, key, "a number");
  }
  template <typename I>
  void read_integer(const YAML::Node& n, const char* key, I& out) {
    if (!n.IsScalar()) wrong_type(n, key, "an integer");
    const std::string& text = n.Scalar();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    static_assert(std::is_signed_v<I>);
    if (text.empty() || *end != '\0' || errno != 0 ||
        v < static_cast<long long>(std::numeric_limits<I>::min()) ||
        v > static_cast<long long>(std::numeric_limits<I>::max()))
      wrong_type(n, key, "an integer");
    out = static_cast<I>(v);
  }
  void read(const YAML::Node& n, const char* key, int& out) { read_integer(n, key, out); }
  void read(const YAML::Node& n, const char* key, int64_t& out) { read_integer(n, key, out); }
  void read(const YAML::Node& n, const char* key, uint64_t& out) {
    int64_t v = 0;
    read_integer(n, key, v);
    if (v < 0) wrong_type(n, key, "a non-negative integer");
    out = static_cast<uint64_t>(v);
  }
  template <typename E>
  void read(const YAML::Node& n, const char* key, std::vector<E>& out) {
    if (!n.IsSequence()) wrong_type(n, key, "a list");
    out.clear();
    for (const YAML::Node& item : n) {
      if constexpr (std::is_same_v<E, float>) {
        double v;
        read(item, key, v);
        out.push_back(static_cast<float>(v));
      } else {
        E v;
        read(item, key, v);
        out.push_back(v);
      }
    }
  }

  YAML::Node node_;
  std::string path_;
  const Source& src_;
  std::set<std::string> read_;
};

// Writes `value` at a dotted path, creating mappings on the way.
void set_path(YAML::Node node, const std::vector<std::string>& parts, size_t i,
              const YAML::Node& value) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  YAML::Node child = node[parts[i]];
  if (child.IsDefined() && !child.IsNull() && !child.IsMap())
    fail("--set: '", parts[i], "' is a value, not a section");
  set_path(child, parts, i + 1, value);
}

void apply_override(YAML::Node root, const std::string& text, Source& source) {
  const size_t eq = text.find('=');
  SC_CHECK(eq != std::string::npos && eq > 0, "--set '", text, "': expected key=value");
  std::vector<std::string> parts;
  std::stringstream path(text.substr(0, eq));
  for (std::string part; std::getline(path, part, '.');) {
    SC_CHECK(!part.empty(), "--set '", text, "': empty key segment");
    parts.push_back(part);
  }
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail("--set '", text, "': the value is not valid YAML (", e.msg, ")");
  }
  set_path(root, parts, 0, value);
  source.overridden.insert(text.substr(0, eq));
}

void read_model(Section s, ModelConfig& m) {
  s.required("arch", m.arch);
  s.one_of("arch", m.arch, {"resnet18", "resnet34", "resnet50", "seed_resnet"});
  s.required("classes", m.classes);
  s.check(m.classes >= 2, "classes", "must be at least 2");
  s.optional("width", m.width);
  s.check(m.width == 0 || (m.width >= 4 && m.width <= 4096), "width", "must be in [4, 4096]");
  s.optional("blocks", m.blocks);
  s.check(m.blocks.empty() || m.blocks.size() == 4, "blocks", "must list 4 stages");
  for (int b : m.blocks)
    s.check(b >= 1 && b <= 64, "blocks", "each stage needs 1 to 64 blocks");
  s.optional("stem", m.stem);
  s.one_of("stem", m.stem, {"imagenet", "small"});
  s.finish();
}

void read_data(Section s, DataConfig& d) {
  s.required("source", d.source);
  s.one_of("source", d.source, {"folder", "synthetic"});
  s.required("image_size", d.image_size);
  s.check(d.image_size >= 16 && d.image_size <= 1024, "image_size", "must be in [16, 1024]");
  if (d.source == "folder") {
    s.required("root", d.root);
  } else {
    s.optional("root", d.root);
  }
  s.optional("val_fraction", d.val_fraction);
  s.check(d.val_fraction > 0 && d.val_fraction < 1, "val_fraction", "must be in (0, 1)");
  s.optional("cache_file", d.cache_file);
  s.optional("synthetic_train", d.synthetic_train);
  s.check(d.synthetic_train >= 1, "synthetic_train", "must be at least 1");
  s.optional("synthetic_val", d.synthetic_val);
  s.check(d.synthetic_val >= 1, "synthetic_val", "must be at least 1");
  Section a = s.section("augment", false);
  AugmentConfig& g = d.augment;
  a.choice("crop", g.crop, kCropNames);
  a.optional("padding", g.padding);
  a.check(g.padding >= 0 && g.padding < d.image_size, "padding", "must be in [0, image_size)");
  a.optional("scale_min", g.scale_min);
  a.optional("scale_max", g.scale_max);
  a.check(g.scale_min > 0 && g.scale_min <= g.scale_max && g.scale_max <= 1, "scale_min",
          "needs 0 < scale_min <= scale_max <= 1");
  a.optional("flip", g.flip);
  a.finish();
  s.optional("mean", d.mean);
  s.check(d.mean.size() == 3, "mean", "must list 3 values (R, G, B)");
  s.optional("std", d.std);
  s.check(
      d.std.size() == 3 && std::all_of(d.std.begin(), d.std.end(), [](float v) { return v > 0; }),
      "std", "must list 3 positive values (R, G, B)");
  s.finish();
}

void read_train(Section s, TrainConfig& t) {
  s.required("epochs", t.epochs);
  s.check(t.epochs >= 1 && t.epochs <= 100000, "epochs", "must be in [1, 100000]");
  s.required("batch_size", t.batch_size);
  s.check(t.batch_size >= 2 && t.batch_size <= 65536, "batch_size", "must be in [2, 65536]");
  s.optional("label_smoothing", t.label_smoothing);
  s.check(t.label_smoothing >= 0 && t.label_smoothing < 1, "label_smoothing", "must be in [0, 1)");
  s.optional("log_every", t.log_every);
  s.check(t.log_every >= 1, "log_every", "must be at least 1");

  Section o = s.section("optimizer", false);
  OptimizerConfig& op = t.optimizer;
  o.choice("name", op.name, kOptimizerNames);
  if (op.name == Optimizer::adamw) op.weight_decay = 0.01;  // AdamW's customary default
  o.optional("lr", op.lr);
  o.check(op.lr > 0 && op.lr < 100, "lr", "must be in (0, 100)");
  o.optional("momentum", op.momentum);
  o.check(op.momentum >= 0 && op.momentum < 1, "momentum", "must be in [0, 1)");
  o.optional("nesterov", op.nesterov);
  o.check(!op.nesterov || op.momentum > 0, "nesterov", "needs momentum > 0");
  o.optional("weight_decay", op.weight_decay);
  o.check(op.weight_decay >= 0 && op.weight_decay < 1, "weight_decay", "must be in [0, 1)");
  o.optional("decoupled_weight_decay", op.decoupled_weight_decay);
  o.optional("beta1", op.beta1);
  o.check(op.beta1 >= 0 && op.beta1 < 1, "beta1", "must be in [0, 1)");
  o.optional("beta2", op.beta2);
  o.check(op.beta2 >= 0 && op.beta2 < 1, "beta2", "must be in [0, 1)");
  o.optional("eps", op.eps);
  o.check(op.eps > 0, "eps", "must be positive");
  o.finish();

  Section c = s.section("schedule", false);
  ScheduleConfig& sc = t.schedule;
  c.choice("name", sc.name, kScheduleNames);
  c.optional("warmup_epochs", sc.warmup_epochs);
  c.check(sc.warmup_epochs >= 0 && sc.warmup_epochs < t.epochs, "warmup_epochs",
          "must be in [0, epochs)");
  c.optional("min_lr", sc.min_lr);
  c.check(sc.min_lr >= 0 && sc.min_lr <= op.lr, "min_lr", "must be in [0, optimizer.lr]");
  c.optional("step_epochs", sc.step_epochs);
  c.check(sc.step_epochs >= 1, "step_epochs", "must be at least 1");
  c.optional("gamma", sc.gamma);
  c.check(sc.gamma > 0 && sc.gamma <= 1, "gamma", "must be in (0, 1]");
  c.optional("pct_start", sc.pct_start);
  c.check(sc.pct_start > 0 && sc.pct_start < 1, "pct_start", "must be in (0, 1)");
  c.optional("div_factor", sc.div_factor);
  c.check(sc.div_factor >= 1, "div_factor", "must be at least 1");
  c.optional("final_div_factor", sc.final_div_factor);
  c.check(sc.final_div_factor >= 1, "final_div_factor", "must be at least 1");
  c.finish();
  s.finish();
}

void read_runtime(Section s, RuntimeConfig& r) {
  s.optional("device", r.device);
  s.check(r.device == "auto" || r.device == "cpu" || r.device == "cuda" ||
              r.device.rfind("cuda:", 0) == 0,
          "device", "'" + r.device + "' is not one of auto, cpu, cuda, cuda:N");
  s.optional("seed", r.seed);
  s.optional("threads", r.threads);
  s.check(r.threads >= 0 && r.threads <= 1024, "threads", "must be in [0, 1024] (0: all cores)");
  s.optional("workspace_limit_mb", r.workspace_limit_mb);
  s.check(r.workspace_limit_mb >= 1, "workspace_limit_mb", "must be at least 1");
  s.finish();
}

void read_output(Section s, OutputConfig& o) {
  s.required("dir", o.dir);
  s.check(!o.dir.empty(), "dir", "must not be empty");
  s.optional("checkpoint_every", o.checkpoint_every);
  s.check(o.checkpoint_every >= 1, "checkpoint_every", "must be at least 1");
  s.finish();
}

}  // namespace

RunConfig parse_config(const std::string& yaml, const std::string& name,
                       const std::vector<std::string>& overrides) {
  Source source{name, {}};
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    fail(source.where(e.mark), ": not valid YAML: ", e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const std::string& o : overrides)
    apply_override(root, o, source);

  RunConfig config;
  config.source_file = name;
  Section top(root, "", source);
  read_model(top.section("model", true), config.model);
  read_data(top.section("data", true), config.data);
  read_train(top.section("train", true), config.train);
  read_runtime(top.section("runtime", false), config.runtime);
  read_output(top.section("output", true), config.output);
  top.finish();
  return config;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  SC_CHECK(in.good(), path, ": cannot read the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, overrides);
}

std::string config_to_yaml(const RunConfig& c) {
  YAML::Emitter e;
  e.SetDoublePrecision(15);  // decimal values of up to 15 digits read back exactly
  e.SetFloatPrecision(7);
  e << YAML::BeginMap;
  e << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "arch" << YAML::Value << c.model.arch;
  e << YAML::Key << "classes" << YAML::Value << c.model.classes;
  e << YAML::Key << "width" << YAML::Value << c.model.width;
  if (!c.model.blocks.empty())
    e << YAML::Key << "blocks" << YAML::Value << YAML::Flow << c.model.blocks;
  e << YAML::Key << "stem" << YAML::Value << c.model.stem;
  e << YAML::EndMap;

  const DataConfig& d = c.data;
  e << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "source" << YAML::Value << d.source;
  if (!d.root.empty()) e << YAML::Key << "root" << YAML::Value << d.root;
  e << YAML::Key << "image_size" << YAML::Value << d.image_size;
  e << YAML::Key << "val_fraction" << YAML::Value << d.val_fraction;
  e << YAML::Key << "cache_file" << YAML::Value << d.cache_file;
  e << YAML::Key << "synthetic_train" << YAML::Value << d.synthetic_train;
  e << YAML::Key << "synthetic_val" << YAML::Value << d.synthetic_val;
  e << YAML::Key << "augment" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "crop" << YAML::Value << name_of(d.augment.crop);
  e << YAML::Key << "padding" << YAML::Value << d.augment.padding;
  e << YAML::Key << "scale_min" << YAML::Value << d.augment.scale_min;
  e << YAML::Key << "scale_max" << YAML::Value << d.augment.scale_max;
  e << YAML::Key << "flip" << YAML::Value << d.augment.flip;
  e << YAML::EndMap;
  e << YAML::Key << "mean" << YAML::Value << YAML::Flow << d.mean;
  e << YAML::Key << "std" << YAML::Value << YAML::Flow << d.std;
  e << YAML::EndMap;

  const TrainConfig& t = c.train;
  e << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "epochs" << YAML::Value << t.epochs;
  e << YAML::Key << "batch_size" << YAML::Value << t.batch_size;
  e << YAML::Key << "label_smoothing" << YAML::Value << t.label_smoothing;
  e << YAML::Key << "log_every" << YAML::Value << t.log_every;
  e << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << name_of(t.optimizer.name);
  e << YAML::Key << "lr" << YAML::Value << t.optimizer.lr;
  e << YAML::Key << "momentum" << YAML::Value << t.optimizer.momentum;
  e << YAML::Key << "nesterov" << YAML::Value << t.optimizer.nesterov;
  e << YAML::Key << "weight_decay" << YAML::Value << t.optimizer.weight_decay;
  e << YAML::Key << "decoupled_weight_decay" << YAML::Value << t.optimizer.decoupled_weight_decay;
  e << YAML::Key << "beta1" << YAML::Value << t.optimizer.beta1;
  e << YAML::Key << "beta2" << YAML::Value << t.optimizer.beta2;
  e << YAML::Key << "eps" << YAML::Value << t.optimizer.eps;
  e << YAML::EndMap;
  e << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << name_of(t.schedule.name);
  e << YAML::Key << "warmup_epochs" << YAML::Value << t.schedule.warmup_epochs;
  e << YAML::Key << "min_lr" << YAML::Value << t.schedule.min_lr;
  e << YAML::Key << "step_epochs" << YAML::Value << t.schedule.step_epochs;
  e << YAML::Key << "gamma" << YAML::Value << t.schedule.gamma;
  e << YAML::Key << "pct_start" << YAML::Value << t.schedule.pct_start;
  e << YAML::Key << "div_factor" << YAML::Value << t.schedule.div_factor;
  e << YAML::Key << "final_div_factor" << YAML::Value << t.schedule.final_div_factor;
  e << YAML::EndMap;
  e << YAML::EndMap;

  e << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "device" << YAML::Value << c.runtime.device;
  e << YAML::Key << "seed" << YAML::Value << c.runtime.seed;
  e << YAML::Key << "threads" << YAML::Value << c.runtime.threads;
  e << YAML::Key << "workspace_limit_mb" << YAML::Value << c.runtime.workspace_limit_mb;
  e << YAML::EndMap;

  e << YAML::Key << "output" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "dir" << YAML::Value << c.output.dir;
  e << YAML::Key << "checkpoint_every" << YAML::Value << c.output.checkpoint_every;
  e << YAML::EndMap;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace scenecam
