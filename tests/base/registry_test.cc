// The generic plug-in registry: names and aliases, messages that list what is registered,
// factories with shared options and with typed per-entry option blocks.
#include "base/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ponder {
namespace {

using ::testing::HasSubstr;

class Shape {
 public:
  virtual ~Shape() = default;
  virtual double Area() const = 0;
};

struct Size {
  double side = 1;
};

class Square : public Shape {
 public:
  explicit Square(double side) : side_(side) {}
  static absl::StatusOr<std::unique_ptr<Square>> Create(const Size& size) {
    if (size.side < 0) return absl::InvalidArgumentError("a square's side must be >= 0");
    return std::make_unique<Square>(size.side);
  }
  double Area() const override { return side_ * side_; }

 private:
  double side_;
};

class Circle : public Shape {
 public:
  static absl::StatusOr<std::unique_ptr<Circle>> Create(const Size& size) {
    return std::make_unique<Circle>();
  }
  double Area() const override { return 3; }
};

TEST(RegistryTest, FindsEntriesByNameAndAliasAndListsThemInOrder) {
  Registry<Shape, Size> shapes("shape");
  shapes.Register<Square>("square", "four equal sides", {"quad"});
  shapes.Register<Circle>("circle", "round");
  EXPECT_EQ(shapes.Names(), (std::vector<std::string>{"square", "circle"}));
  EXPECT_EQ(shapes.Find("quad"), shapes.Find("square"));
  EXPECT_EQ(shapes.Find("quad")->name, "square");
  EXPECT_FALSE(shapes.Contains("triangle"));
  EXPECT_EQ(shapes.Supported(), "supported: square (or quad), circle");

  auto square = shapes.Create("quad", Size{3});
  ASSERT_TRUE(square.ok()) << square.status();
  EXPECT_EQ((*square)->Area(), 9);
  EXPECT_THAT(std::string(shapes.Create("square", Size{-1}).status().message()),
              HasSubstr("side must be >= 0"));
  auto unknown = shapes.Create("triangle", Size{});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "unknown shape 'triangle' (supported: square (or quad), circle)");
}

TEST(RegistryTest, RefusesNamelessFactorylessAndTakenEntries) {
  Registry<Shape, Size> shapes("shape");
  shapes.Register<Square>("square", "", {"quad"});
  using Entry = Registry<Shape, Size>::Entry;
  auto factory = [](const Size&) -> absl::StatusOr<std::unique_ptr<Shape>> {
    return std::make_unique<Circle>();
  };
  EXPECT_THAT(std::string(shapes.Add(Entry{"", "", factory, nullptr, {}}).message()),
              HasSubstr("a shape needs a name"));
  EXPECT_THAT(std::string(shapes.Add(Entry{"circle", "", nullptr, nullptr, {}}).message()),
              HasSubstr("'circle' has no factory"));
  EXPECT_EQ(shapes.Add(Entry{"square", "", factory, nullptr, {}}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(shapes.Add(Entry{"box", "", factory, nullptr, {"quad"}}).message()),
              HasSubstr("'quad' is registered twice"));
  EXPECT_TRUE(shapes.Add(Entry{"circle", "", factory, nullptr, {}}).ok());
  EXPECT_EQ(shapes.Names().size(), 2u);
}

// An entry with its own options, decoded from a config block (the verifier shape).
class Polygon : public Shape {
 public:
  struct Options {
    int64_t sides = 3;
    void Bind(config::Binder& b) { b.Field("sides", sides).AtLeast(3); }
  };
  static absl::StatusOr<std::unique_ptr<Polygon>> Create(const Options& options) {
    return std::make_unique<Polygon>(options.sides);
  }
  explicit Polygon(int64_t sides) : sides_(sides) {}
  double Area() const override { return static_cast<double>(sides_); }

 private:
  int64_t sides_;
};

struct ShapeSpec {
  std::string name;
  config::Block options;
  void Bind(config::Binder& b) {
    b.Field("name", name);
    b.Field("options", options);
  }
};

TEST(RegistryTest, TypedOptionBlocksAreDecodedAndCheckedWithTheirLocation) {
  Registry<Shape, config::Block> shapes("shape");
  shapes.Register<Polygon>("polygon", "n sides");
  auto spec = config::LoadString<ShapeSpec>("name: polygon\noptions: {sides: 5}\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto polygon = shapes.Create(spec->name, spec->options);
  ASSERT_TRUE(polygon.ok()) << polygon.status();
  EXPECT_EQ((*polygon)->Area(), 5);

  spec = config::LoadString<ShapeSpec>("name: polygon\noptions: {sides: 2}\n", "job.yaml");
  ASSERT_TRUE(spec.ok());
  auto bad = shapes.Create(spec->name, spec->options);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("options.sides must be >= 3"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("job.yaml"));
  ASSERT_TRUE(shapes.Find("polygon")->check_options != nullptr);
}

}  // namespace
}  // namespace ponder
