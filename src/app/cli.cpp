// The tools' flag table and parse (see scenecam/cli.hpp). Every message is one line that names
// the flag and quotes the value as given, so the user sees exactly what was not understood.
#include "scenecam/cli.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "scenecam/error.hpp"

namespace scenecam {
namespace {

// "--" alone counts too, so that it is refused as an unknown flag rather than taken for a file.
bool is_flag(const char* arg) {
  return arg[0] == '-' && arg[1] == '-';
}

// strtol with the checks it leaves out: nothing before or after the digits, no overflow.
bool parse_long(const std::string& text, long* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtol(text.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}

bool parse_double(const std::string& text, double* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return *end == '\0' && std::isfinite(*out);
}

// Edit distance with adjacent transpositions counted as one edit ("trian" is one from "train").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string spelled(const FlagSpec& f) {
  std::string s = "--" + f.name;
  if (f.arity == FlagArity::one) s += " " + f.value_name;
  if (f.arity == FlagArity::many) s += " " + f.value_name + " ...";
  return s;
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // Short words are one slip from many others, so they get a tighter bound; a prefix of three
  // or more letters ("--stop" for "--stop-after-epoch") counts as close.
  const size_t limit = word.size() <= 4 ? 1 : 2;
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, c);
    if (word.size() >= 3 && c.rfind(word, 0) == 0) d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

CommandLine::CommandLine(int argc, char** argv, int first, std::vector<FlagSpec> flags,
                         std::string command, size_t max_positional)
    : command_(std::move(command)) {
  for (FlagSpec& f : flags)
    entries_.push_back({std::move(f), {}});
  // Asking for help is never a mistake, whatever else the line holds.
  for (int i = first; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      help_ = true;
      return;
    }
  for (int i = first; i < argc;) {
    if (is_flag(argv[i])) {
      i = parse_flag(argc, argv, i);
      continue;
    }
    if (positional_.size() >= max_positional)
      fail_usage("unexpected argument '", argv[i], "' for ", command_,
                 positional_.empty() ? "" : " after '" + positional_.back() + "'");
    positional_.push_back(argv[i++]);
  }
}

// Reads the flag at argv[i] and its values; returns the index of the next argument.
int CommandLine::parse_flag(int argc, char** argv, int i) {
  const std::string arg = argv[i++];
  const size_t eq = arg.find('=');
  const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  Entry& e = entry_for(name);
  if (e.spec.arity == FlagArity::none) {
    SC_USAGE_CHECK(eq == std::string::npos, "flag --", name, " takes no value, got '", arg, "'");
    e.values.emplace_back();
    return i;
  }
  const size_t before = e.values.size();
  if (eq != std::string::npos) e.values.push_back(arg.substr(eq + 1));
  // A following "--..." is the next flag, not this one's value: "--resume --overwrite" is a
  // forgotten value (a value that starts with "--" can still be given as --flag=--value).
  if (e.spec.arity == FlagArity::one && eq == std::string::npos && i < argc && !is_flag(argv[i]))
    e.values.push_back(argv[i++]);
  if (e.spec.arity == FlagArity::many)
    while (i < argc && !is_flag(argv[i]))
      e.values.push_back(argv[i++]);
  SC_USAGE_CHECK(e.values.size() > before, "flag --", name, " needs a value");
  return i;
}

CommandLine::Entry& CommandLine::entry_for(const std::string& name) {
  std::vector<std::string> names;
  for (Entry& e : entries_) {
    if (e.spec.name == name) return e;
    names.push_back(e.spec.name);
  }
  const std::string near = closest_match(name, names);
  if (!near.empty())
    fail_usage("unknown flag '--", name, "' for ", command_, " (did you mean --", near, "?)");
  std::ostringstream known;
  for (size_t k = 0; k < names.size(); ++k)
    known << (k ? ", --" : "--") << names[k];
  if (names.empty()) fail_usage("unknown flag '--", name, "' for ", command_, " (it takes none)");
  fail_usage("unknown flag '--", name, "' for ", command_, " (known: ", known.str(), ")");
}

const CommandLine::Entry& CommandLine::lookup(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.spec.name == name) return e;
  // The caller asked for a flag its own table lacks: a bug in the tool, not in the command line.
  fail("flag --", name, " is not in the flag table of ", command_);
}

bool CommandLine::given(const std::string& name) const {
  return !lookup(name).values.empty();
}

const std::string& CommandLine::str(const std::string& name) const {
  const Entry& e = lookup(name);
  return e.values.empty() ? e.spec.default_value : e.values.back();
}

const std::vector<std::string>& CommandLine::all(const std::string& name) const {
  return lookup(name).values;
}

long CommandLine::integer(const std::string& name) const {
  const std::string& v = str(name);
  long x = 0;
  SC_USAGE_CHECK(parse_long(v, &x), "flag --", name, " expects an integer, got '", v, "'");
  return x;
}

long CommandLine::integer(const std::string& name, long lo, long hi) const {
  const std::string& v = str(name);
  long x = 0;
  SC_USAGE_CHECK(parse_long(v, &x) && x >= lo && x <= hi, "flag --", name,
                 " expects an integer in [", lo, ", ", hi, "], got '", v, "'");
  return x;
}

std::vector<long> CommandLine::integers(const std::string& name) const {
  const std::string& v = str(name);
  std::vector<long> out;
  for (size_t start = 0; start <= v.size();) {
    const size_t comma = std::min(v.find(',', start), v.size());
    long x = 0;
    SC_USAGE_CHECK(parse_long(v.substr(start, comma - start), &x) && x > 0, "flag --", name,
                   " expects positive integers separated by commas, got '", v, "'");
    out.push_back(x);
    start = comma + 1;
  }
  return out;
}

double CommandLine::number(const std::string& name) const {
  const std::string& v = str(name);
  double x = 0;
  SC_USAGE_CHECK(parse_double(v, &x), "flag --", name, " expects a number, got '", v, "'");
  return x;
}

double CommandLine::number(const std::string& name, double lo, double hi) const {
  const std::string& v = str(name);
  double x = 0;
  SC_USAGE_CHECK(parse_double(v, &x) && x >= lo && x <= hi, "flag --", name,
                 " expects a number in [", lo, ", ", hi, "], got '", v, "'");
  return x;
}

const std::string& CommandLine::choice(const std::string& name,
                                       std::initializer_list<const char*> options) const {
  const std::string& v = str(name);
  std::ostringstream list;
  for (const char* o : options) {
    if (v == o) return v;
    list << (list.tellp() > 0 ? ", " : "") << o;
  }
  fail_usage("flag --", name, " expects one of ", list.str(), ", got '", v, "'");
}

std::string CommandLine::describe() const {
  size_t width = 0;
  for (const Entry& e : entries_)
    width = std::max(width, spelled(e.spec).size());
  std::ostringstream out;
  for (const Entry& e : entries_) {
    const std::string left = spelled(e.spec);
    out << "  " << left << std::string(width - left.size() + 2, ' ') << e.spec.help;
    if (!e.spec.default_value.empty()) out << " (default " << e.spec.default_value << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace scenecam
