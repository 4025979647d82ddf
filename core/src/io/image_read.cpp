// read_image: the file's format from its magic bytes, decoding, PIL's colour conversion and
// resize, then (x * scale - mean) / std into float planes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "io/image_pixels.h"
#include "paramscope/error.h"
#include "paramscope/images.h"
#include "util/mapped_file.h"

namespace paramscope {
namespace io {
namespace {

using namespace std::string_view_literals;

enum class Format { Png, Jpeg };

bool starts_with(std::span<const std::byte> b, std::string_view sig, std::size_t at = 0) {
  return b.size() >= at + sig.size() && std::memcmp(b.data() + at, sig.data(), sig.size()) == 0;
}

// A file shorter than sig that matches as far as it goes.
bool cut_inside(std::span<const std::byte> b, std::string_view sig) {
  return b.size() < sig.size() && std::memcmp(b.data(), sig.data(), b.size()) == 0;
}

std::string first_bytes(std::span<const std::byte> b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i) {
    const auto v = static_cast<unsigned>(b[i]);
    out += i ? " " : "";
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

Format detect_format(std::span<const std::byte> b, const std::filesystem::path& file) {
  // The literals' sizes count their NUL bytes.
  static constexpr std::string_view kPng = "\x89PNG\r\n\x1a\n"sv, kJpeg = "\xff\xd8\xff"sv;
  if (b.empty()) throw bad_input(file, "is empty (0 bytes), not an image");
  if (starts_with(b, kPng)) return Format::Png;
  if (starts_with(b, kJpeg)) return Format::Jpeg;
  if (cut_inside(b, kPng)) throw bad_input(file, "is a truncated PNG (it ends inside the PNG signature)");
  if (cut_inside(b, kJpeg)) throw bad_input(file, "is a truncated JPEG (it ends inside the JPEG signature)");
  const char* kind = starts_with(b, "GIF87a"sv) || starts_with(b, "GIF89a"sv)      ? "a GIF image"
                     : starts_with(b, "RIFF"sv) && starts_with(b, "WEBP"sv, 8)     ? "a WebP image"
                     : starts_with(b, "II*\0"sv) || starts_with(b, "MM\0*"sv)      ? "a TIFF image"
                     : starts_with(b, "BM"sv)                                      ? "a BMP image"
                     : starts_with(b, "ftyp"sv, 4)                                 ? "an ISO media file (HEIF, AVIF)"
                     : starts_with(b, "\xff\x4f\xff\x51"sv) || starts_with(b, "\0\0\0\x0cjP  "sv) ? "a JPEG 2000 image"
                                                                                   : nullptr;
  if (kind) throw unsupported(file, std::string("is ") + kind + "; only PNG and JPEG images are read");
  throw unsupported(file, "is not a PNG or JPEG image (it starts with the bytes " + first_bytes(b) + ")");
}

// ITU-R 601-2 luma in PIL's 16-bit fixed point (Convert.c's L24): the weights sum to 65536.
Pixels to_grey(const Pixels& rgb) {
  Pixels g = Pixels::make(rgb.width, rgb.height, 1);
  const std::uint8_t* p = rgb.data.get();
  for (std::size_t i = 0; i < g.size(); ++i, p += 3)
    g.data[i] = static_cast<std::uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
  return g;
}

}  // namespace

void check_image_options(const ImageOptions& o) {
  const std::string size = "image height " + std::to_string(o.height) + " and width " + std::to_string(o.width);
  if (o.height < 0 || o.width < 0 || (o.height == 0) != (o.width == 0))
    throw usage_error(size + ": both must be positive, or both 0 to keep each file's size");
  if (o.height > 0 && o.height > kMaxImagePixels / o.width)
    throw usage_error(size + " exceed the limit of " + std::to_string(kMaxImagePixels) + " pixels");
  if (o.channels != 1 && o.channels != 3)
    throw usage_error("images have 1 (grey) or 3 (RGB) channels, not " + std::to_string(o.channels));
  const auto check = [&](const std::vector<float>& v, const char* name) {
    if (v.size() > 1 && v.size() != static_cast<std::size_t>(o.channels))
      throw usage_error(std::string("image ") + name + " has " + std::to_string(v.size()) + " values for " +
                        std::to_string(o.channels) + " channels (give one, or one per channel)");
  };
  check(o.mean, "mean");
  check(o.std, "std");
  if (std::any_of(o.std.begin(), o.std.end(), [](float s) { return s == 0.0f || std::isnan(s); }))
    throw usage_error("image std values must be nonzero");
}

void check_image_size(std::int64_t width, std::int64_t height, const std::filesystem::path& file) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw bad_input(file, "has an empty size of " + size + " pixels");
  if (width > kMaxImagePixels / height)
    throw bad_input(file, "is " + size + " pixels, more than the limit of " + std::to_string(kMaxImagePixels));
}

Pixels load_pixels(const std::filesystem::path& path, const ImageOptions& options) {
  Pixels px;
  {
    const auto file = MappedFile::open(path);
    px = detect_format(file->bytes(), path) == Format::Png ? decode_png(file->bytes(), path)
                                                           : decode_jpeg(file->bytes(), path);
  }
  if (options.channels == 1 && px.channels == 3) px = to_grey(px);
  if (options.height > 0 && (px.width != options.width || px.height != options.height))
    px = resize_bilinear(std::move(px), options.width, options.height);
  return px;
}

void normalise_pixels(const Pixels& px, const ImageOptions& options, float* out) {
  const std::size_t c = static_cast<std::size_t>(options.channels);
  const std::size_t n = static_cast<std::size_t>(px.width * px.height);
  // One table per channel: the same float operations as numpy's (x * scale - mean) / std.
  std::vector<float> table(c * 256);
  for (std::size_t k = 0; k < c; ++k) {
    const float m = options.mean.empty() ? 0.0f : options.mean[options.mean.size() == 1 ? 0 : k];
    const float s = options.std.empty() ? 1.0f : options.std[options.std.size() == 1 ? 0 : k];
    for (int v = 0; v < 256; ++v) table[k * 256 + static_cast<std::size_t>(v)] = (static_cast<float>(v) * options.scale - m) / s;
  }
  const std::size_t in_c = static_cast<std::size_t>(px.channels);  // 1 is replicated into every channel
  for (std::size_t k = 0; k < c; ++k) {
    const float* t = table.data() + k * 256;
    const std::uint8_t* src = px.data.get() + (in_c == 1 ? 0 : k);
    if (options.nhwc)
      for (std::size_t i = 0; i < n; ++i) out[i * c + k] = t[src[i * in_c]];
    else
      for (std::size_t i = 0; i < n; ++i) out[k * n + i] = t[src[i * in_c]];
  }
}

}  // namespace io

Array read_image(const std::filesystem::path& path, const ImageOptions& options) {
  io::check_image_options(options);
  const io::Pixels px = io::load_pixels(path, options);
  const std::int64_t c = options.channels;
  Array out(DType::F32, options.nhwc ? std::vector<std::int64_t>{px.height, px.width, c}
                                     : std::vector<std::int64_t>{c, px.height, px.width});
  io::normalise_pixels(px, options, out.data<float>());
  return out;
}

}  // namespace paramscope
