// Reading whole files, and writing result files: to a temporary name in the same folder, then a
// rename, so a reader (or a crash, or a full disk) never leaves half a file behind. Every error
// names the file and the system's reason (no permission, disk full, a folder where a file was
// expected).
#pragma once

#include <cstddef>
#include <string>

namespace scenecam {

// Writes `path` + ".tmp" and, on commit(), flushes it to disk and renames it onto `path`. A
// file that is never committed (an exception on the way) is removed; `path` is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(const std::string& text) { write(text.data(), text.size()); }
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// A file opened for appending whole lines: each append is one write(2) to an O_APPEND file
// descriptor, so a killed process leaves every line either whole or absent.
class LineAppender {
 public:
  LineAppender() = default;
  explicit LineAppender(std::string path);
  ~LineAppender();
  LineAppender(const LineAppender&) = delete;
  LineAppender& operator=(const LineAppender&) = delete;

  // Appends `line` and a newline.
  void append(const std::string& line);

 private:
  std::string path_;
  int fd_ = -1;
};

// Writes `content` to `path` atomically; throws Error naming the file on failure.
void write_file_atomic(const std::string& path, const std::string& content);

// The whole of file `path`, which is `what` ("the config file"): an Error naming it and the
// reason when it is missing, a folder or unreadable.
std::string read_whole_file(const std::string& path, const char* what);

// The system's text for errno `error`, e.g. "Permission denied".
std::string error_text(int error);

// The output folder of a command that reads a checkpoint: `given`, or <checkpoint's folder>/
// `name` when empty; created (with its parents), or an Error naming it.
std::string prepare_output_dir(const std::string& given, const std::string& checkpoint,
                               const std::string& name);

}  // namespace scenecam
