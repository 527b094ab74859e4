// Synthetic scenes and batch conversion.
#include <set>

#include "scenecam/data.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

TEST(SyntheticScenes, ImageIDependsOnlyOnSeedAndIndex) {
  const SyntheticScenes a(40, 7), b(40, 7), c(40, 8);
  int la, lb, lc;
  Box ba, bb, bc;
  const ImageU8 late = a.draw(123, &la, &ba);
  b.draw(5, &lb, &bb);  // drawing other images first changes nothing
  const ImageU8 again = b.draw(123, &lb, &bb);
  EXPECT_EQ(late.rgb, again.rgb);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(ba.x0, bb.x0);
  const ImageU8 other = c.draw(123, &lc, &bc);
  EXPECT_NE(late.rgb, other.rgb);
}

TEST(SyntheticScenes, LabelsCoverEveryClassAndBoxesLieInside) {
  const SyntheticScenes scenes(32, 1);
  std::vector<int> count(SyntheticScenes::kClasses, 0);
  for (int i = 0; i < 600; ++i) {
    int label;
    Box box;
    const ImageU8 img = scenes.draw(i, &label, &box);
    ASSERT_GE(label, 0);
    ASSERT_LT(label, SyntheticScenes::kClasses);
    ++count[label];
    EXPECT_EQ(img.rgb.size(), 32u * 32u * 3u);
    EXPECT_GE(box.x0, 0);
    EXPECT_GE(box.y0, 0);
    EXPECT_LE(box.x1, 32);
    EXPECT_LE(box.y1, 32);
    EXPECT_GE(box.x1 - box.x0, 10);  // the object is at least ~a third of the image
  }
  for (int c = 0; c < SyntheticScenes::kClasses; ++c)
    EXPECT_GT(count[c], 60) << c;
  std::set<std::string> names;
  for (int c = 0; c < SyntheticScenes::kClasses; ++c)
    names.insert(SyntheticScenes::class_name(c));
  EXPECT_EQ(names.size(), size_t(SyntheticScenes::kClasses));
}

TEST(SyntheticScenes, TheObjectDiffersFromTheBackgroundAroundIt) {
  // Mean colour inside the box's central region vs a band outside it: the object is visible.
  const SyntheticScenes scenes(48, 3);
  int visible = 0;
  for (int i = 0; i < 50; ++i) {
    int label;
    Box b;
    const ImageU8 img = scenes.draw(i, &label, &b);
    auto mean = [&](int x0, int y0, int x1, int y1) {
      double s = 0;
      int n = 0;
      for (int y = std::max(0, y0); y < std::min(48, y1); ++y)
        for (int x = std::max(0, x0); x < std::min(48, x1); ++x, ++n)
          for (int c = 0; c < 3; ++c)
            s += img.rgb[(y * 48 + x) * 3 + c];
      return n ? s / n : 0.0;
    };
    const int cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
    const double inside = mean(cx - 2, cy - 2, cx + 2, cy + 2);
    const double whole = mean(0, 0, 48, 48);
    visible += std::abs(inside - whole) > 20;
  }
  EXPECT_GT(visible, 30);
}

TEST(Images, AugmentBatchNormalisesPerChannel) {
  // Two pixels, identity transform: (v / 255 - mean) / std per channel.
  test::Buffer<uint8_t> px(Shape{1, 2, 2, 3}, {0, 255, 51, 255, 0, 102, 0, 0, 0, 255, 255, 255});
  test::F tf(Shape{1, kTransformFields}, {0, 0, 1, 1, 0, 0});
  Normalization norm;
  norm.mean[0] = 0.5f;
  norm.std[0] = 0.5f;
  norm.mean[1] = 0.0f;
  norm.std[1] = 1.0f;
  norm.mean[2] = 0.2f;
  norm.std[2] = 0.2f;
  test::F out(Shape{1, 3, 2, 2});
  auto cpu = make_cpu_backend(1);
  cpu->augment_batch(px.t(), tf.t(), norm, out.t());
  EXPECT_NEAR(out[0], -1.0f, 1e-6);  // R, pixel (0, 0)
  EXPECT_NEAR(out[1], 1.0f, 1e-6);   // R, pixel (1, 0)
  EXPECT_NEAR(out[3], 1.0f, 1e-6);   // R, pixel (1, 1)
  EXPECT_NEAR(out[4], 1.0f, 1e-6);   // G, pixel (0, 0)
  EXPECT_NEAR(out[8], 0.0f, 1e-6);   // B: 51/255 = 0.2
  EXPECT_NEAR(out[9], 1.0f, 1e-6);   // 102/255 = 0.4
  test::F wrong(Shape{1, 3, 2, 3});
  test::expect_error([&] { cpu->augment_batch(px.t(), tf.t(), norm, wrong.t()); },
                     {"augment_batch", "'out'", "[1, 3, 2, 3]", "[1, 3, 2, 2]"});
}

}  // namespace
}  // namespace scenecam
