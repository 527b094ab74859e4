// The strict YAML config reader. Every key is read through a Section, which remembers which keys
// it consumed; anything left over is an unknown key. Every message starts with file:line:column
// (1-based) of the offending node, or "--set" for a value that came from the command line.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "fields.hpp"
#include "internal/files.hpp"
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
    // A section that --set created has no mark in the file.
    if (mark.is_null() && !key.empty())
      for (const std::string& k : overridden)
        if (k.rfind(key + ".", 0) == 0) return "--set";
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
      fail(src_.where(n.IsDefined() ? n.Mark() : node_.Mark(), full(key)),
           ": missing required value '", full(key), "'");
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

  // Marks a key as one this section knows, before its value is read (so unknown keys can be
  // reported first).
  void expect(const char* key) { read_.insert(key); }

  // Every key of the mapping must have been read (or expected).
  void finish() {
    if (!node_.IsDefined() || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar())
        fail(src_.where(kv.first.Mark(), path_), ": ", path_.empty() ? "the config" : path_,
             " has a key that is not a word (",
             kv.first.IsNull() ? "an empty key" : "a list or mapping", ")");
      const std::string key = kv.first.Scalar();
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
  void read(const YAML::Node& n, const char* key, DeviceChoice& out) {
    if (!n.IsScalar() || !DeviceChoice::parse(n.Scalar(), &out))
      wrong_type(n, key, kDeviceChoiceWords);
  }
  // A list of words; one word alone stands for a list of one.
  void read(const YAML::Node& n, const char* key, std::vector<std::string>& out) {
    out.clear();
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
      return;
    }
    if (!n.IsSequence()) wrong_type(n, key, "a word or a list of words");
    for (const YAML::Node& item : n) {
      if (!item.IsScalar()) wrong_type(item, key, "a list of words");
      out.push_back(item.Scalar());
    }
  }
  void read(const YAML::Node& n, const char* key, std::map<std::string, double>& out) {
    if (!n.IsMap()) wrong_type(n, key, "a mapping of name patterns to numbers");
    out.clear();
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) wrong_type(kv.first, key, "a name pattern");
      double v = 0;
      read(kv.second, key, v);
      out[kv.first.Scalar()] = v;
    }
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

// YAML's mappings must not repeat a key, but the reader keeps both and lookups find the first:
// refuse a repeated key (at any depth) in one line naming both places.
void check_unique_keys(const YAML::Node& node, const std::string& path, const Source& src) {
  if (!node.IsMap()) return;
  std::map<std::string, YAML::Mark> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;  // an odd key is the section reader's to report
    const std::string key = kv.first.Scalar();
    const std::string full = path.empty() ? key : path + "." + key;
    const auto [it, fresh] = seen.emplace(key, kv.first.Mark());
    if (!fresh)
      fail(src.where(kv.first.Mark()), ": '", full, "' is given twice (first at line ",
           it->second.line + 1, ")");
    check_unique_keys(kv.second, full, src);
  }
}

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

// The enum a choice field holds, and the words that name its values.
template <typename E>
const auto& choice_names() {
  if constexpr (std::is_same_v<E, Crop>) return kCropNames;
  if constexpr (std::is_same_v<E, Optimizer>) return kOptimizerNames;
  if constexpr (std::is_same_v<E, Schedule>) return kScheduleNames;
  if constexpr (std::is_same_v<E, OnDevice>) return kOnDeviceNames;
}

template <typename T>
constexpr bool is_choice =
    std::is_same_v<T, Crop> || std::is_same_v<T, Optimizer> || std::is_same_v<T, Schedule> ||
    std::is_same_v<T, OnDevice>;

// The sections of a config by dotted path, made (with their parents) on first use.
class Sections {
 public:
  explicit Sections(Section& top) { open_.emplace("", top); }
  Section& at(const std::string& path) {
    auto it = open_.find(path);
    if (it != open_.end()) return it->second;
    const size_t dot = path.rfind('.');
    Section& parent = at(dot == std::string::npos ? "" : path.substr(0, dot));
    const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
    order_.push_back(path);
    return open_.emplace(path, parent.section(name.c_str(), config::section_required(path)))
        .first->second;
  }
  // Unknown keys, innermost sections first, then the top.
  void finish() {
    for (auto it = order_.rbegin(); it != order_.rend(); ++it)
      open_.at(*it).finish();
    open_.at("").finish();
  }

 private:
  std::map<std::string, Section> open_;
  std::vector<std::string> order_;
};

void read_field(Sections& sections, const config::Field& f, RunConfig& c) {
  const std::string path = f.path;
  const size_t dot = path.rfind('.');
  Section& s = sections.at(path.substr(0, dot));
  const std::string key = path.substr(dot + 1);
  const bool required = f.required || (f.required_when && f.required_when(c));
  std::visit(
      [&](auto* value) {
        using T = std::remove_pointer_t<decltype(value)>;
        if constexpr (is_choice<T>) {
          s.choice(key.c_str(), *value, choice_names<T>());
        } else if (required) {
          s.required(key.c_str(), *value);
        } else {
          s.optional(key.c_str(), *value);
        }
      },
      f.value(c));
  if (f.after) f.after(c);
  if (f.check) {
    const std::string problem = f.check(c);
    s.check(problem.empty(), key.c_str(), problem);
  }
}

// The config in `root` (overrides applied), read and checked field by field.
RunConfig read_config(const YAML::Node& root, const Source& source) {
  RunConfig config;
  config.source_file = source.file;
  Section top(root, "", source);
  // The required sections first, so that a missing one is named before any of its keys; then
  // unknown keys, before any value is judged (a misspelt key would otherwise hide behind the
  // error its default causes); then the values, in the table's order.
  Sections sections(top);
  for (const char* required : {"model", "data", "train", "output"})
    sections.at(required);
  for (const config::Field& f : config::fields()) {
    const std::string path = f.path;
    sections.at(path.substr(0, path.rfind('.'))).expect(path.substr(path.rfind('.') + 1).c_str());
  }
  sections.finish();
  for (const config::Field& f : config::fields())
    read_field(sections, f, config);
  return config;
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
  try {
    check_unique_keys(root, "", source);
    for (const std::string& o : overrides)
      apply_override(root, o, source);
    return read_config(root, source);
  } catch (const YAML::Exception& e) {  // what the checks above did not foresee, still one line
    fail(source.where(e.mark), ": ", e.msg);
  }
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_config(read_whole_file(path, "the config file"), path, overrides);
}

std::string config_to_yaml(const RunConfig& config) {
  RunConfig c = config;  // the table's accessors take a mutable config; nothing is changed
  YAML::Emitter e;
  e.SetDoublePrecision(15);  // decimal values of up to 15 digits read back exactly
  e.SetFloatPrecision(7);
  e << YAML::BeginMap;
  std::vector<std::string> open;  // the sections being written, outermost first
  for (const config::Field& f : config::fields()) {
    std::vector<std::string> parts;
    std::stringstream path(f.path);
    for (std::string part; std::getline(path, part, '.');)
      parts.push_back(part);
    const std::string key = parts.back();
    parts.pop_back();
    size_t common = 0;
    while (common < open.size() && common < parts.size() && open[common] == parts[common])
      ++common;
    for (; open.size() > common; open.pop_back())
      e << YAML::EndMap;
    for (; open.size() < parts.size(); open.push_back(parts[open.size()]))
      e << YAML::Key << parts[open.size()] << YAML::Value << YAML::BeginMap;
    std::visit(
        [&](auto* value) {
          using T = std::remove_pointer_t<decltype(value)>;
          if constexpr (is_choice<T>) {
            e << YAML::Key << key << YAML::Value << name_of(*value);
          } else if constexpr (std::is_same_v<T, std::vector<int>> ||
                               std::is_same_v<T, std::vector<float>> ||
                               std::is_same_v<T, std::vector<std::string>> ||
                               std::is_same_v<T, std::map<std::string, double>>) {
            if (!(f.omit_when_empty && value->empty()))
              e << YAML::Key << key << YAML::Value << YAML::Flow << *value;
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!(f.omit_when_empty && value->empty()))
              e << YAML::Key << key << YAML::Value << *value;
          } else if constexpr (std::is_same_v<T, DeviceChoice>) {
            e << YAML::Key << key << YAML::Value << value->str();
          } else {
            e << YAML::Key << key << YAML::Value << *value;
          }
        },
        f.value(c));
  }
  for (; !open.empty(); open.pop_back())
    e << YAML::EndMap;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const config::Field& f : config::fields())
    keys.push_back(f.path);
  return keys;
}

}  // namespace scenecam
