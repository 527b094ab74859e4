// Progress bars and progress lines.
#include "internal/progress.hpp"

#include <unistd.h>

namespace scenecam {

Progress::Progress(std::string label, int64_t total, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      interactive_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, status, false);
    return;
  }
  const int64_t bucket = total_ > 0 ? done * 10 / total_ : done;
  if (bucket == last_line_bucket_) return;
  last_line_bucket_ = bucket;
  draw(done, status, true);
}

void Progress::finish(const std::string& status, int64_t done) {
  if (done < 0) done = total_;
  if (!interactive_ && done == total_ && last_line_bucket_ == (total_ > 0 ? 10 : total_))
    return;  // the last line already said it
  draw(done, status, true);
}

void Progress::draw(int64_t done, const std::string& status, bool final_line) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (interactive_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(out_, "\r\033[K%s [%s] %ld/%ld %.1fs %s", label_.c_str(), bar.c_str(),
                 static_cast<long>(done), static_cast<long>(total_), elapsed, status.c_str());
    if (final_line) std::fprintf(out_, "\n");
  } else {
    std::fprintf(out_, "%s %ld/%ld %.1fs %s\n", label_.c_str(), static_cast<long>(done),
                 static_cast<long>(total_), elapsed, status.c_str());
  }
  std::fflush(out_);
}

}  // namespace scenecam
