#include "scenecam/interrupt.hpp"

namespace scenecam {

std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  static_assert(std::atomic<bool>::is_always_lock_free);
  return flag;
}

void check_interrupt(const std::string& what) {
  if (interrupt_flag().load(std::memory_order_relaxed)) throw Interrupted(what + ": interrupted");
}

}  // namespace scenecam
