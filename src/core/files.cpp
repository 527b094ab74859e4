#include "internal/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scenecam/error.hpp"

namespace scenecam {

std::string error_text(int error) {
  return std::strerror(error);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SC_CHECK(fd_ >= 0, path_, ": cannot create the file (", error_text(errno), ")");
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  SC_CHECK(fd_ >= 0, path_, ": written after it was committed");
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    SC_CHECK(n > 0, path_, ": writing failed (", error_text(n < 0 ? errno : ENOSPC),
             "); the previous file, if any, is untouched");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  SC_CHECK(fd_ >= 0, path_, ": committed twice");
  const int fd = fd_;
  fd_ = -1;
  const bool synced = ::fsync(fd) == 0;
  const int sync_error = errno;
  const bool closed = ::close(fd) == 0;
  const int close_error = errno;
  if (!synced || !closed) {
    std::remove(tmp_.c_str());
    fail(path_, ": writing failed (", error_text(synced ? close_error : sync_error),
         "); the previous file, if any, is untouched");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp_.c_str());
    fail(path_, ": could not move the finished file into place (", error_text(error), ")");
  }
}

LineAppender::LineAppender(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  SC_CHECK(fd_ >= 0, path_, ": cannot open for appending (", error_text(errno), ")");
}

LineAppender::~LineAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void LineAppender::append(const std::string& line) {
  SC_CHECK(fd_ >= 0, "a line appended to no file: ", line.substr(0, 40));
  const std::string text = line + "\n";
  ssize_t n;
  do {
    n = ::write(fd_, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  SC_CHECK(n == ssize_t(text.size()), path_, ": cannot append (",
           error_text(n < 0 ? errno : ENOSPC), ")");
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

std::string read_whole_file(const std::string& path, const char* what) {
  std::error_code ec;
  SC_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a folder, not a file (expected ",
           what, ")");
  std::ifstream in(path, std::ios::binary);
  SC_CHECK(in.good(), path, ": cannot read ", what, " (", error_text(errno), ")");
  std::stringstream text;
  text << in.rdbuf();
  SC_CHECK(!in.bad(), path, ": cannot read ", what, " (", error_text(errno), ")");
  return text.str();
}

std::string prepare_output_dir(const std::string& given, const std::string& checkpoint,
                               const std::string& name) {
  namespace fs = std::filesystem;
  const std::string dir =
      given.empty() ? (fs::path(checkpoint).parent_path() / name).string() : given;
  std::error_code ec;
  fs::create_directories(dir, ec);
  SC_CHECK(!ec, dir, ": cannot create the output folder (", ec.message(), ")");
  return dir;
}

}  // namespace scenecam
