// The command line of the tools (scenecam, scenecam-bench): a table of the flags a command knows,
// the parse of argv against it, and typed answers. Every mistake it finds (an unknown flag, a
// flag without its value, a value that does not parse) is a UsageError whose one-line message
// names the flag and the bad value, so the tools can exit with 2 for all of them alike.
//
// Accepted forms: `--name value`, `--name=value`, `--name` for a switch, `--name v1 v2 ...` for a
// list flag (values up to the next argument that starts with "--"). A flag given twice keeps
// every value; the single-value getters answer the last one. Anything else is positional.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace scenecam {

enum class FlagArity {
  none,  // a switch: --overwrite
  one,   // one value: --top-k 5
  many,  // the values up to the next flag: --images a.png b.png dir/
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  FlagArity arity = FlagArity::one;
  std::string value_name;     // what the value is, for the help text: "N", "DIR"
  std::string default_value;  // what str() answers when the flag is absent
  std::string help;           // one line
};

inline FlagSpec value_flag(std::string name, std::string value_name, std::string default_value,
                           std::string help) {
  return {std::move(name), FlagArity::one, std::move(value_name), std::move(default_value),
          std::move(help)};
}
inline FlagSpec switch_flag(std::string name, std::string help) {
  return {std::move(name), FlagArity::none, "", "", std::move(help)};
}
inline FlagSpec list_flag(std::string name, std::string value_name, std::string help) {
  return {std::move(name), FlagArity::many, std::move(value_name), "", std::move(help)};
}

class CommandLine {
 public:
  // Parses argv[first, argc) against `flags`. `command` names the command in messages ("train",
  // "kernels"); at most `max_positional` positional arguments are taken. When --help or -h is
  // among the arguments nothing else is checked and help_requested() says so.
  CommandLine(int argc, char** argv, int first, std::vector<FlagSpec> flags, std::string command,
              size_t max_positional = 0);

  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }

  bool given(const std::string& name) const;
  // The last value given, or the table's default.
  const std::string& str(const std::string& name) const;
  // Every value given, in order (repeated one-value flags, list flags); empty when absent.
  const std::vector<std::string>& all(const std::string& name) const;
  // A switch: whether it was given.
  bool enabled(const std::string& name) const { return given(name); }

  long integer(const std::string& name) const;
  long integer(const std::string& name, long lo, long hi) const;
  // A comma-separated list of positive integers: "32,64,128".
  std::vector<long> integers(const std::string& name) const;
  double number(const std::string& name) const;
  double number(const std::string& name, double lo, double hi) const;
  // The value, which must be one of `options`.
  const std::string& choice(const std::string& name,
                            std::initializer_list<const char*> options) const;

  // The table as help lines: "  --top-k K   how many classes to show (default 3)".
  std::string describe() const;

 private:
  struct Entry {
    FlagSpec spec;
    std::vector<std::string> values;
  };
  int parse_flag(int argc, char** argv, int i);
  Entry& entry_for(const std::string& name);
  const Entry& lookup(const std::string& name) const;

  std::vector<Entry> entries_;
  std::string command_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// The candidate closest to `word` by edit distance, or "" when none is close enough to be a
// plausible typo. For unknown flags and unknown commands.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace scenecam
