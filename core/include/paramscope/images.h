// PNG and JPEG images as the engine's input arrays: the image folders that `calibrate`, `eval`
// and `attribute` take besides NPY/NPZ files. Decoding, colour conversion and resizing follow
// what torchvision's ImageFolder + Resize + ToTensor + Normalize compute on PIL images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/array.h"

namespace paramscope {

struct ImageOptions {
  std::int64_t height = 0, width = 0;   // target size; 0 = keep the file's (then all must agree)
  int channels = 3;                     // 1 (grey: ITU-R 601-2 luma as PIL's convert("L")) or 3 (RGB)
  float scale = 1.0f / 255.0f;          // applied to 0..255 values first
  std::vector<float> mean, std;         // per channel, applied after scale: (x*scale - mean)/std;
                                        // empty = none; one value = every channel
  bool nhwc = false;                    // layout of the produced arrays ([H,W,C] instead of [C,H,W])
};

/// Images larger than this many pixels (source or target) are refused before anything is
/// allocated for them.
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;

/// One image file decoded, converted, resized and normalised: F32 [C,H,W] (or [H,W,C]).
///
/// Colour as PIL's convert("RGB") / convert("L"): palette expanded, alpha dropped without
/// compositing, grey replicated, CMYK JPEGs read with Adobe's inverted convention, 16-bit PNG
/// samples reduced to their high byte (as PIL does for RGB; PIL 9.4 clips 16-bit grey to 255).
/// Resizing is PIL's Image.resize(size, BILINEAR): a triangle filter widened by the downscale
/// factor (antialiased), horizontal pass then vertical, each pass rounded to 8 bits in PIL's
/// 22-bit fixed point, so the pixels equal PIL's (and torchvision's Resize on PIL images)
/// exactly; only then are they scaled and normalised in float.
/// EXIF orientation is not applied (PIL does not either). Width and height must both be set or
/// both be 0.
///
/// throws Error(Io) if unreadable, Error(BadInput) naming the file for a corrupt or truncated
/// image (including a JPEG whose compressed data libjpeg finds cut short or garbled, which PIL
/// would return with a grey remainder) or one beyond kMaxImagePixels, Error(Unsupported) for
/// other formats (detected by magic bytes, not the extension), Error(Usage) for invalid options.
Array read_image(const std::filesystem::path& path, const ImageOptions& options);

/// A folder of images, read lazily. Either class subfolders (torchvision's ImageFolder layout:
/// every subfolder is a class, classes sorted by name, label = index; a class's images may sit in
/// nested folders) or images directly in the folder (no labels). Images are the files named
/// *.png, *.jpg, *.jpeg (any case), ordered class by class, each class's files sorted by path;
/// other files are ignored, and so are hidden files and folders (names starting with '.').
class ImageFolder {
 public:
  /// throws Error(Io) if the folder cannot be listed, Error(BadInput) if it holds no image, if a
  /// class folder holds none, or if it holds both images and class folders; Error(Usage) for
  /// invalid options.
  ImageFolder(const std::filesystem::path& dir, ImageOptions options);
  std::int64_t size() const noexcept;
  const std::vector<std::filesystem::path>& files() const noexcept;
  const std::vector<std::string>& classes() const noexcept;  // empty when unlabelled
  std::optional<Array> labels() const;                        // I64 [N], when classes exist
  /// Images [first, first+count) stacked: F32 [count, C, H, W] (or NHWC). Decodes in parallel on
  /// ThreadPool::global(). throws as read_image, and Error(BadInput) naming the file whose size
  /// differs from the batch's first when the options keep the files' sizes; Error(Usage) for a
  /// range outside [0, size()).
  Array batch(std::int64_t first, std::int64_t count) const;

 private:
  std::filesystem::path dir_;
  ImageOptions options_;
  std::vector<std::filesystem::path> files_;
  std::vector<std::string> classes_;
  std::vector<std::int64_t> labels_;
};

}  // namespace paramscope
