// Pools: alignment, stack release, reset, statistics, growth, the out-of-memory message and guard
// bytes.
#include "scenecam/pool.hpp"

#include <cstdint>
#include <cstring>

#include "test_util.hpp"

namespace scenecam {
namespace {

// A host pool without guard bytes (debug builds give make_host_pool's pools guards), so the byte
// counts below hold in every build.
std::unique_ptr<Pool> plain_pool(std::string name, size_t capacity, bool growable) {
  return std::make_unique<Pool>(std::move(name), std::make_unique<HostAllocator>(), capacity,
                                growable);
}

TEST(Pool, BlocksAreAlignedAndDisjoint) {
  auto pool = plain_pool("test", 1 << 16, false);
  Block a = pool->allocate(1, "a");
  Block b = pool->allocate(300, "b");
  Block c = pool->allocate(7, "c");
  for (const Block* blk : {&a, &b, &c})
    EXPECT_EQ(reinterpret_cast<uintptr_t>(blk->data()) % kPoolAlignment, 0u);
  EXPECT_EQ(static_cast<char*>(b.data()) - static_cast<char*>(a.data()), 256);
  EXPECT_EQ(static_cast<char*>(c.data()) - static_cast<char*>(b.data()), 512);
  EXPECT_EQ(b.bytes(), 512u);
  EXPECT_EQ(pool->stats().live, 1024u);
  EXPECT_EQ(pool->stats().blocks, 3u);
}

TEST(Pool, ReleasingTheTopReusesItsBytes) {
  auto pool = plain_pool("test", 1 << 16, false);
  Block a = pool->allocate(100, "a");
  void* first;
  {
    Block scratch = pool->allocate(1000, "scratch");
    first = scratch.data();
  }
  Block again = pool->allocate(1000, "again");
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(pool->stats().peak, 256u + 1024u);
}

TEST(Pool, ReleasingBelowTheTopWaitsForTheTop) {
  auto pool = plain_pool("test", 1 << 16, false);
  Block a = pool->allocate(256, "a");
  Block b = pool->allocate(256, "b");
  void* base = a.data();
  a.release();
  EXPECT_EQ(pool->stats().live, 256u);
  Block c = pool->allocate(256, "c");  // a's bytes are not reused while b sits above them
  EXPECT_EQ(static_cast<char*>(c.data()) - static_cast<char*>(b.data()), 256);
  c.release();
  b.release();  // now a, b and c are all gone: the next block starts at the base again
  Block d = pool->allocate(256, "d");
  EXPECT_EQ(d.data(), base);
  EXPECT_EQ(pool->stats().live, 256u);
  EXPECT_EQ(pool->stats().blocks, 1u);
}

TEST(Pool, ResetForgetsEverythingAndOldHandlesAreInert) {
  auto pool = plain_pool("test", 4096, false);
  Block a = pool->allocate(1024, "a");
  void* base = a.data();
  Tensor t = pool->take(Shape{16}, DType::f32, "t");
  EXPECT_EQ(t.data<float>(), reinterpret_cast<float*>(static_cast<char*>(base) + 1024));
  EXPECT_EQ(pool->stats().blocks, 2u);
  pool->reset();
  EXPECT_EQ(pool->stats().live, 0u);
  EXPECT_EQ(pool->stats().blocks, 0u);
  Block b = pool->allocate(2048, "b");
  EXPECT_EQ(b.data(), base);
  a.release();  // leased before the reset: must not free b's bytes
  EXPECT_EQ(pool->stats().live, 2048u);
  Block c = pool->allocate(1024, "c");
  EXPECT_EQ(static_cast<char*>(c.data()) - static_cast<char*>(b.data()), 2048);
  EXPECT_EQ(pool->stats().peak, 3072u);
}

TEST(Pool, PeakTracksTheHighestLiveBytes) {
  auto pool = plain_pool("test", 1 << 20, false);
  {
    Block a = pool->allocate(4096, "a");
    Block b = pool->allocate(8192, "b");
  }
  Block c = pool->allocate(512, "c");
  const PoolStats s = pool->stats();
  EXPECT_EQ(s.peak, 12288u);
  EXPECT_EQ(s.live, 512u);
  EXPECT_EQ(s.reserved, size_t(1) << 20);
  EXPECT_EQ(s.allocations, 1u);
}

TEST(Pool, ExhaustionNamesTensorRequestAndPoolSize) {
  auto pool = plain_pool("activations", 4096, false);
  Block a = pool->allocate(3000, "conv1.out");
  try {
    pool->allocate(2000, "layer1.0.bn1.out");
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("activations"), std::string::npos) << m;
    EXPECT_NE(m.find("layer1.0.bn1.out"), std::string::npos) << m;
    EXPECT_NE(m.find("requested 2000 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("3072 of 4096 bytes"), std::string::npos) << m;
  }
  EXPECT_EQ(pool->stats().live, 3072u);  // the failed request changed nothing
}

TEST(Pool, GrowableArenaMergesIntoOneReservationOnReset) {
  auto pool = plain_pool("step", 1024, true);
  for (int step = 0; step < 4; ++step) {
    pool->take(Shape{200}, DType::f32, "a");   // 800 -> 1024 bytes: fills the first chunk
    pool->take(Shape{1000}, DType::f32, "b");  // 4000 -> 4096: a second chunk on the first step
    pool->take(Shape{10}, DType::f64, "c");    // 80 -> 256: a third
    pool->reset();
    const PoolStats s = pool->stats();
    // Three chunks and one merged reservation on the first step; nothing after it.
    EXPECT_EQ(s.allocations, 4u) << "step " << step;
    EXPECT_EQ(s.reserved, 1024u + 4096u + 256u) << "step " << step;
  }
}

TEST(Pool, GrowableScratchMergesWhenItsLastBlockIsReleased) {
  auto pool = plain_pool("workspace", 0, true);
  {
    Block a = pool->allocate(1000, "a");
    Block b = pool->allocate(5000, "b");
    EXPECT_EQ(pool->stats().allocations, 2u);
  }
  EXPECT_EQ(pool->stats().allocations, 3u);
  EXPECT_EQ(pool->stats().reserved, 1024u + 5120u);
  {
    Block a = pool->allocate(1000, "a");
    Block b = pool->allocate(5000, "b");
  }
  EXPECT_EQ(pool->stats().allocations, 3u);
}

TEST(Pool, BlockTensorViewChecksSize) {
  auto pool = plain_pool("test", 4096, false);
  Tensor t;
  Block b = pool->allocate_tensor(Shape{2, 3}, DType::f64, "t", &t);
  EXPECT_EQ(t.data<double>(), b.data());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  test::expect_error([&] { b.tensor(Shape{100}, DType::f32); }, {"cannot hold", "f32[100]"});
}

TEST(Pool, MovedHandlesReleaseOnce) {
  auto pool = plain_pool("test", 4096, false);
  Block a = pool->allocate(256, "a");
  Block b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(b.valid());
  b = Block();
  EXPECT_EQ(pool->stats().live, 0u);
}

TEST(Pool, GuardBytesNameTheTensorAWriteWentPast) {
  auto pool = plain_pool("guarded", pool_capacity({{{10}, DType::f32}, {{3}, DType::f32}}), false);
  pool->enable_guards();
  Tensor a, b;
  Block ba = pool->allocate_tensor(Shape{10}, DType::f32, "a", &a);
  Block bb = pool->allocate_tensor(Shape{3}, DType::f32, "b", &b);  // pool_capacity fits both
  pool->check_guards();
  volatile float* past_the_end = a.data<float>() + 10;
#if SCENECAM_TEST_ASAN
  // AddressSanitizer sees the guard bytes as poisoned: the stray write itself is the report.
  EXPECT_DEATH(*past_the_end = 1.0f, "use-after-poison");
  return;
#endif
  *past_the_end = 1.0f;
  test::expect_error([&] { pool->check_guards(); },
                     {"pool 'guarded'", "guard bytes after 'a' (40 bytes)", "out-of-bounds write"});
  EXPECT_DEATH(ba.release(), "guard bytes after 'a'");     // checked again when given back
  std::memset(a.data<float>() + 10, 0xFD, sizeof(float));  // the canary again: intact
  pool->check_guards();
}

TEST(Pool, GuardsMustComeBeforeTheFirstLease) {
  auto pool = plain_pool("late", 4096, false);
  Block b = pool->allocate(16, "x");
  test::expect_error([&] { pool->enable_guards(); }, {"pool 'late'", "before the first lease"});
}

}  // namespace
}  // namespace scenecam
