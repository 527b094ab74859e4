// Errors: every failure the engine reports is a scenecam::Error whose message is one line that
// carries its own context (the op and argument, the file and line, the shapes involved). The
// command-line tools print what() and exit with a non-zero code (2 for a UsageError, 1 for any
// other Error); nothing is caught silently.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace scenecam {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A pool could not satisfy a request. Kept distinct so callers (e.g. an algorithm search that
// tries a larger workspace first) can fall back without parsing messages.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

// The command line itself is wrong: an unknown command or flag, a flag without its value, a value
// that does not parse, a missing argument. Kept distinct so the tools can exit with 2 for it and
// a script can tell a mistyped call from work that failed. What a config file or a checkpoint
// says is input, not the command line, and stays a plain Error.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Builds a message from any streamable pieces and throws it as an Error.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

// The same, thrown as a UsageError.
template <typename... Parts>
[[noreturn]] void fail_usage(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw UsageError(message.str());
}

}  // namespace scenecam

// SC_CHECK(condition, message parts...): throws scenecam::Error when the condition is false.
#define SC_CHECK(condition, ...)                     \
  do {                                               \
    if (!(condition)) ::scenecam::fail(__VA_ARGS__); \
  } while (0)

// SC_USAGE_CHECK(condition, message parts...): the same for the command line (a UsageError).
#define SC_USAGE_CHECK(condition, ...)                     \
  do {                                                     \
    if (!(condition)) ::scenecam::fail_usage(__VA_ARGS__); \
  } while (0)
