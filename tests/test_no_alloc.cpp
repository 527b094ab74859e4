// After its first step, a training step of a residual network reaches neither malloc nor the
// pools' underlying allocator. Every allocation in the process, from our code, libstdc++, OpenMP
// or Eigen, is counted: in a plain build this binary replaces glibc's malloc family with counting
// wrappers (forwarding to glibc's own __libc_* entry points); under AddressSanitizer, which owns
// malloc, through the sanitizer's allocation hooks instead.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "model_step.hpp"
#include "test_util.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
}  // namespace

#if SCENECAM_TEST_ASAN
// From the sanitizers' allocator interface (declared here: not every compiler ships the header).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void*, size_t),
                                                         void (*)(const volatile void*));

namespace {
void on_malloc(const volatile void*, size_t) {
  count();
}
void on_free(const volatile void*) {}
const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace
#else
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

extern "C" {
void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t s) {
  count();
  return __libc_calloc(n, s);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void free(void* p) {
  __libc_free(p);
}
void* aligned_alloc(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
void* memalign(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  count();
  *out = __libc_memalign(a, n);
  return *out ? 0 : ENOMEM;
}
}
#endif

namespace scenecam {
namespace {

TEST(NoAllocation, TheCounterSeesAllocations) {
  g_allocations = 0;
  g_counting = true;
  std::vector<int>* v = new std::vector<int>(100);
  g_counting = false;
  delete v;
  EXPECT_GE(g_allocations.load(), 2);  // the vector object and its storage
}

TEST(NoAllocation, ResidualNetworkStepsAfterTheFirst) {
  test::ModelRig rig(test::tiny_spec(), 5);
  test::F images(Shape{4, 3, 15, 13});
  test::fill_random(images, 9);
  test::Buffer<int32_t> labels(Shape{4}, {0, 1, 2, 3});
  SgdParams sgd;
  sgd.lr = 0.01f;

  rig.step(images.t(), labels.t(), sgd);  // the first step sizes the arenas
  const PoolStats arena = rig.arena->stats();
  const PoolStats workspace = rig.backend->workspace_stats();
  EXPECT_GT(arena.peak, 0u);
  EXPECT_GT(workspace.peak, 0u);

  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 3; ++i)
    rig.step(images.t(), labels.t(), sgd);
  g_counting = false;

  EXPECT_EQ(g_allocations.load(), 0) << "malloc calls during steps 2-4";
  EXPECT_EQ(rig.arena->stats().allocations, arena.allocations);
  EXPECT_EQ(rig.arena->stats().reserved, arena.reserved);
  EXPECT_EQ(rig.backend->workspace_stats().allocations, workspace.allocations);
  EXPECT_EQ(rig.arena->stats().live, 0u);
}

}  // namespace
}  // namespace scenecam
