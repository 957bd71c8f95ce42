// The exhook's cache of parsed certificates and sessions: bounded, least recently used first
// out, and safe for readers holding a value that is replaced.
#include "emqx-exhook/bounded_cache.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace certguard::exhook {
namespace {

TEST(BoundedCacheTest, FindsWhatWasPutAndReplacesByKey) {
  BoundedCache<std::string> cache(64);
  EXPECT_EQ(cache.Find("a"), nullptr);
  cache.Put("a", std::make_shared<const std::string>("one"));
  ASSERT_NE(cache.Find("a"), nullptr);
  EXPECT_EQ(*cache.Find("a"), "one");
  const auto held = cache.Find("a");
  cache.Put("a", std::make_shared<const std::string>("two"));
  EXPECT_EQ(*cache.Find("a"), "two");
  EXPECT_EQ(*held, "one") << "a reader keeps the value it found";
  EXPECT_EQ(cache.size(), 1u);
}

TEST(BoundedCacheTest, NeverHoldsMoreThanItsCapacity) {
  BoundedCache<int> cache(160);
  for (int i = 0; i < 100000; ++i) cache.Put(std::to_string(i), std::make_shared<const int>(i));
  EXPECT_LE(cache.size(), 160u);
  EXPECT_GT(cache.size(), 0u);
  EXPECT_NE(cache.Find("99999"), nullptr) << "the newest entry stays";
  EXPECT_EQ(cache.Find("0"), nullptr) << "the oldest went first";
}

TEST(BoundedCacheTest, KeepsEntriesThatAreUsed) {
  BoundedCache<int> cache(160);
  cache.Put("hot", std::make_shared<const int>(1));
  for (int i = 0; i < 100000; ++i) {
    cache.Put(std::to_string(i), std::make_shared<const int>(i));
    ASSERT_NE(cache.Find("hot"), nullptr) << "evicted after " << i << " newer entries";
  }
}

TEST(BoundedCacheTest, ManyThreadsPuttingAndFindingAgree) {
  BoundedCache<std::string> cache(1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string key = std::to_string((i * 7 + t) % 3000);
        if (auto found = cache.Find(key)) {
          EXPECT_EQ(*found, "value of " + key);
        } else {
          cache.Put(key, std::make_shared<const std::string>("value of " + key));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(cache.size(), 1024u);
}

}  // namespace
}  // namespace certguard::exhook
