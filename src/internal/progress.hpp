// Progress of long work: a bar redrawn in place on a terminal, plain lines otherwise (a log file
// or CI), so the same run reads well in both.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace scenecam {

class Progress {
 public:
  // label: what is being done; total: units of work (0 = unknown).
  Progress(std::string label, int64_t total, std::FILE* out = stdout);
  // done units so far and a short status ("loss 0.512"). On a terminal, redraws at most ~10 times
  // a second; otherwise prints a line at every tenth of the total.
  void update(int64_t done, const std::string& status);
  // Ends the bar with a final line at `done` units (the total when negative).
  void finish(const std::string& status, int64_t done = -1);
  bool interactive() const { return interactive_; }

 private:
  void draw(int64_t done, const std::string& status, bool final_line);

  std::string label_;
  int64_t total_;
  std::FILE* out_;
  bool interactive_;
  int64_t last_line_bucket_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace scenecam
