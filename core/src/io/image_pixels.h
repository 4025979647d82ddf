// The stages of reading an image, between the file's bytes and the normalised Array: decoding
// (libpng, libjpeg-turbo) to 8-bit grey or RGB pixels, and PIL's bilinear resize on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "paramscope/images.h"

namespace paramscope::io {

/// 8-bit pixels, interleaved, rows top to bottom: channels is 1 (grey) or 3 (RGB).
struct Pixels {
  std::int64_t width = 0, height = 0;
  int channels = 0;
  /// width * height * channels bytes, left uninitialised by make(): a crafted file that claims a
  /// large size and then ends early fails before its buffer's pages are ever touched.
  std::unique_ptr<std::uint8_t[]> data;

  static Pixels make(std::int64_t width, std::int64_t height, int channels) {
    Pixels p{width, height, channels, nullptr};
    p.data = std::make_unique_for_overwrite<std::uint8_t[]>(p.size());
    return p;
  }
  std::size_t size() const {
    return static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * static_cast<std::size_t>(channels);
  }
};

/// throws Error(Usage) unless the options are valid: sizes both 0 or both positive and within
/// kMaxImagePixels, 1 or 3 channels, mean and std of 0, 1 or `channels` values, std nonzero.
void check_image_options(const ImageOptions& options);

/// The file decoded (format by its magic bytes), converted to grey when options.channels is 1
/// and resized to the options' size: what read_image normalises. Grey stays one channel when
/// options.channels is 3 (normalise_pixels replicates it).
Pixels load_pixels(const std::filesystem::path& path, const ImageOptions& options);

/// px as options.channels float planes [C,H,W] (or [H,W,C]) of (x*scale - mean)/std, into out
/// (options.channels * px.height * px.width floats).
void normalise_pixels(const Pixels& px, const ImageOptions& options, float* out);

/// throws Error(BadInput) naming file if width x height is empty or beyond kMaxImagePixels.
void check_image_size(std::int64_t width, std::int64_t height, const std::filesystem::path& file);

/// A PNG as grey (grey, grey+alpha) or RGB (RGB, RGBA, palette): alpha and tRNS dropped, 1/2/4-bit
/// grey scaled to 8 bits, 16-bit samples cut to their high byte, Adam7 interlacing undone.
/// throws Error(BadInput) naming file for a corrupt or truncated PNG.
Pixels decode_png(std::span<const std::byte> bytes, const std::filesystem::path& file);

/// A JPEG as grey (one component) or RGB (YCbCr, RGB, and CMYK/YCCK converted as PIL does).
/// throws Error(BadInput) naming file for a corrupt or truncated JPEG (also where libjpeg only
/// warns that the compressed pixels are cut short or garbled), Error(Unsupported) for
/// what libjpeg-turbo does not decode (12-bit, lossless, two components).
Pixels decode_jpeg(std::span<const std::byte> bytes, const std::filesystem::path& file);

/// PIL's Image.resize((width, height), BILINEAR): see paramscope/images.h.
Pixels resize_bilinear(Pixels in, std::int64_t width, std::int64_t height);

}  // namespace paramscope::io
