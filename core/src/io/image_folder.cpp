// ImageFolder: torchvision's ImageFolder layout (one subfolder per class, classes sorted by name)
// or a flat folder of images, listed when opened and decoded batch by batch.
#include <algorithm>
#include <cctype>
#include <system_error>

#include "io/image_pixels.h"
#include "paramscope/error.h"
#include "paramscope/images.h"
#include "paramscope/jobs.h"
#include "util/printable.h"

namespace paramscope {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

bool image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// What error_code-taking filesystem calls report, as Error(Io).
[[noreturn]] void listing_failed(const fs::path& p, const std::error_code& ec) {
  throw io_error(p, "cannot list the folder: " + ec.message());
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);  // follows symlinks; an unreadable entry counts as no folder
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// torchvision's order: os.walk's folders sorted by path, each folder's files by name.
void sort_as_walk(std::vector<fs::path>& files) {
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const std::string pa = a.parent_path().string(), pb = b.parent_path().string();
    return pa != pb ? pa < pb : a.filename().string() < b.filename().string();
  });
}

// The images under a class folder, nested folders included (symlinked folders inside it are
// not followed, so a link loop cannot recurse forever).
std::vector<fs::path> images_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) listing_failed(dir, ec);
  for (; it != end; it.increment(ec)) {
    if (ec) listing_failed(dir, ec);
    const fs::path& p = it->path();
    if (hidden(p)) {
      if (is_dir(p)) it.disable_recursion_pending();
      continue;
    }
    if (image_name(p) && is_file(p)) out.push_back(p);
  }
  if (ec) listing_failed(dir, ec);
  sort_as_walk(out);
  return out;
}

}  // namespace

ImageFolder::ImageFolder(const fs::path& dir, ImageOptions options) : dir_(dir), options_(std::move(options)) {
  io::check_image_options(options_);
  std::error_code ec;
  if (!fs::is_directory(dir_, ec))
    throw io_error(dir_, ec ? "cannot open the folder: " + ec.message() : "is not a folder");
  std::vector<fs::path> subfolders, images;
  fs::directory_iterator it(dir_, ec), end;
  if (ec) listing_failed(dir_, ec);
  for (; it != end; it.increment(ec)) {
    if (ec) listing_failed(dir_, ec);
    const fs::path& p = it->path();
    if (hidden(p)) continue;
    if (is_dir(p))
      subfolders.push_back(p);
    else if (image_name(p) && is_file(p))
      images.push_back(p);
  }
  if (ec) listing_failed(dir_, ec);

  if (subfolders.empty()) {
    std::sort(images.begin(), images.end());
    files_ = std::move(images);
    if (files_.empty()) throw bad_input(dir_, "holds no image (PNG or JPEG files named *.png, *.jpg, *.jpeg)");
    return;
  }
  if (!images.empty())
    throw bad_input(dir_, "holds both images (" + in_quotes(images.front().filename().string()) +
                              ") and class folders (" + in_quotes(subfolders.front().filename().string()) +
                              "); put every image in a class folder, or remove the folders");
  std::sort(subfolders.begin(), subfolders.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  for (const auto& folder : subfolders) {
    auto found = images_under(folder);
    if (found.empty())
      throw bad_input(dir_, "class folder " + in_quotes(folder.filename().string()) +
                                " holds no image (PNG or JPEG files named *.png, *.jpg, *.jpeg)");
    labels_.insert(labels_.end(), found.size(), static_cast<std::int64_t>(classes_.size()));
    classes_.push_back(folder.filename().string());
    files_.insert(files_.end(), found.begin(), found.end());
  }
}

std::int64_t ImageFolder::size() const noexcept { return static_cast<std::int64_t>(files_.size()); }
const std::vector<fs::path>& ImageFolder::files() const noexcept { return files_; }
const std::vector<std::string>& ImageFolder::classes() const noexcept { return classes_; }

std::optional<Array> ImageFolder::labels() const {
  if (classes_.empty()) return std::nullopt;
  return Array::of<std::int64_t>({size()}, std::span<const std::int64_t>(labels_));
}

Array ImageFolder::batch(std::int64_t first, std::int64_t count) const {
  if (first < 0 || count < 0 || first > size() || count > size() - first)
    throw usage_error(dir_.string() + ": images [" + std::to_string(first) + ", " + std::to_string(first) + "+" +
                      std::to_string(count) + ") are outside the folder's " + std::to_string(size()) + " images");
  const std::int64_t c = options_.channels;
  const auto shape = [&](std::int64_t h, std::int64_t w) {
    return options_.nhwc ? std::vector<std::int64_t>{count, h, w, c} : std::vector<std::int64_t>{count, c, h, w};
  };
  const auto n = static_cast<std::size_t>(count);
  auto& pool = ThreadPool::global();

  if (options_.height > 0) {  // every image comes out at the same size: decode straight into the batch
    Array out(DType::F32, shape(options_.height, options_.width));
    const std::size_t stride = static_cast<std::size_t>(c * options_.height * options_.width);
    float* data = out.data<float>();
    pool.parallel_for(n, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const auto px = io::load_pixels(files_[static_cast<std::size_t>(first) + i], options_);
        io::normalise_pixels(px, options_, data + i * stride);
      }
    });
    return out;
  }

  // Sizes kept: decode, check that they agree, then normalise.
  std::vector<io::Pixels> pixels(n);
  pool.parallel_for(n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) pixels[i] = io::load_pixels(files_[static_cast<std::size_t>(first) + i], options_);
  });
  if (n == 0) return Array(DType::F32, shape(0, 0));
  const auto size_of = [](const io::Pixels& p) { return std::to_string(p.width) + "x" + std::to_string(p.height); };
  for (std::size_t i = 1; i < n; ++i)
    if (pixels[i].width != pixels[0].width || pixels[i].height != pixels[0].height)
      throw bad_input(files_[static_cast<std::size_t>(first) + i],
                      "is " + size_of(pixels[i]) + " pixels, but " + files_[static_cast<std::size_t>(first)].string() +
                          " in the same batch is " + size_of(pixels[0]) + "; set an image size to resize them all");
  Array out(DType::F32, shape(pixels[0].height, pixels[0].width));
  const std::size_t stride = static_cast<std::size_t>(c * pixels[0].height * pixels[0].width);
  float* data = out.data<float>();
  pool.parallel_for(n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) io::normalise_pixels(pixels[i], options_, data + i * stride);
  });
  return out;
}

}  // namespace paramscope
