// model.init, name patterns, freezing and learning-rate factors (finetune.hpp).
#include "scenecam/finetune.hpp"

#include <fnmatch.h>

#include <cstdio>

#include "internal/sha256.hpp"
#include "scenecam/safetensors.hpp"

namespace scenecam {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool is_head(const std::string& name) {
  return starts_with(name, "fc.");
}

// "up_to:layerN": the stem and the stages 1..N.
bool up_to_matches(const std::string& stage, const std::string& name) {
  if (!starts_with(stage, "layer") || stage.size() != 6 || stage[5] < '1' || stage[5] > '9')
    fail("'up_to:", stage, "': expected up_to:layerN (N a stage number)");
  if (starts_with(name, "conv1.") || starts_with(name, "bn1.")) return true;
  return starts_with(name, "layer") && name.size() > 6 && name[5] >= '1' && name[5] <= stage[5] &&
         name[6] == '.';
}

}  // namespace

bool tensor_name_matches(const std::string& pattern, const std::string& name) {
  if (pattern == "stem") return starts_with(name, "conv1.") || starts_with(name, "bn1.");
  if (pattern == "head") return is_head(name);
  if (pattern == "backbone") return !is_head(name);
  if (starts_with(pattern, "up_to:")) return up_to_matches(pattern.substr(6), name);
  if (name == pattern || starts_with(name, pattern + ".")) return true;
  return pattern.find_first_of("*?[") != std::string::npos &&
         fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

void record_init_checksum(ModelConfig& model) {
  if (model.init.empty()) return;
  const std::string sha = sha256_of_file(model.init);
  SC_CHECK(model.init_sha256.empty() || model.init_sha256 == sha, model.init, ": its SHA-256 is ",
           sha, " but model.init_sha256 says ", model.init_sha256,
           " (the file changed since the run recorded it)");
  model.init_sha256 = sha;
}

InitSummary load_initial_weights(const ModelConfig& model, const Parameters& params,
                                 Backend& backend) {
  const SafetensorsFile file(model.init);
  frozen_by(model.init_exclude, params, "model.init_exclude");  // each pattern must match
  InitSummary summary;
  std::vector<std::string> missing;
  for (const ParamEntry& e : params.entries()) {
    bool excluded = false;
    for (const std::string& p : model.init_exclude)
      excluded = excluded || tensor_name_matches(p, e.name);
    if (excluded) {
      summary.excluded.push_back(e.name);
    } else if (is_head(e.name) && (!file.has(e.name) || file.shape(e.name) != e.shape)) {
      if (summary.head_reset.empty())  // the first head tensor says why
        summary.head_reset = file.has(e.name) ? "'" + e.name + "' is " + file.shape(e.name).str() +
                                                    " in the file, " + e.shape.str() + " here"
                                              : "the file has no '" + e.name + "'";
    } else if (!file.has(e.name)) {
      missing.push_back(e.name);
    } else {
      SC_CHECK(file.shape(e.name) == e.shape, model.init, ": tensor '", e.name, "' has shape ",
               file.shape(e.name).str(), " in the file but ", e.shape.str(), " in this model (",
               model.arch, ", width ", model.width, ")");
      file.read_into(e.name, e.value, backend);
      ++summary.loaded;
    }
  }
  SC_CHECK(summary.loaded > 0, model.init, ": none of this model's tensors is in the file (",
           file.names().size(), " tensors, none named as ", model.arch,
           "'s: another architecture?)");
  SC_CHECK(missing.empty(), model.init, ": tensor '", missing.empty() ? "" : missing.front(),
           "' of this model is missing from the file", missing.size() > 1 ? " (and " : "",
           missing.size() > 1 ? std::to_string(missing.size() - 1) + " more)" : "",
           "; name it in model.init_exclude to keep it as initialised");
  for (const std::string& name : file.names()) {
    bool known = false;
    for (const ParamEntry& e : params.entries())
      known = known || e.name == name;
    const bool state = starts_with(name, "optimizer.") ||
                       (name.size() > 20 && name.rfind(".num_batches_tracked") == name.size() - 20);
    summary.ignored += !known && !state;
  }
  return summary;
}

std::vector<bool> frozen_by(const std::vector<std::string>& patterns, const Parameters& params,
                            const std::string& key) {
  std::vector<bool> frozen(params.entries().size(), false);
  for (const std::string& p : patterns) {
    bool any = false;  // batch-norm statistics alone do not count: they never train
    for (size_t i = 0; i < frozen.size(); ++i)
      if (tensor_name_matches(p, params[int(i)].name)) {
        frozen[i] = true;
        any = any || params[int(i)].kind != ParamKind::buffer;
      }
    SC_CHECK(any, key, ": '", p, "' matches no trainable tensor of this model");
  }
  return frozen;
}

std::vector<double> lr_scales(const std::map<std::string, double>& scales,
                              const Parameters& params) {
  const size_t n = params.entries().size();
  std::vector<double> factor(n, 1.0);
  std::vector<const std::string*> given_by(n, nullptr);
  for (const auto& [pattern, scale] : scales) {
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      const std::string& name = params[int(i)].name;
      if (params[int(i)].kind == ParamKind::buffer || !tensor_name_matches(pattern, name)) continue;
      any = true;
      SC_CHECK(!given_by[i] || factor[i] == scale, "train.optimizer.lr_scale: '", name,
               "' is matched by '", *given_by[i], "' and '", pattern, "' with different factors");
      factor[i] = scale;
      given_by[i] = &pattern;
    }
    SC_CHECK(any, "train.optimizer.lr_scale: '", pattern,
             "' matches no trainable tensor of this model");
  }
  return factor;
}

}  // namespace scenecam
