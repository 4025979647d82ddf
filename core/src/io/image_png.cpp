// PNG decoding through libpng, from the mapped file's bytes.
//
// libpng reports errors by longjmp to the setjmp of the step that is running. Each step below is
// a function whose frame holds only trivially destructible locals, so the jump skips no
// destructor; the C++ objects (the pixel buffer, the row pointers) live in the caller, and the
// caller turns a failed step into an Error. libpng's warnings are dropped (nothing on stderr).
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "io/image_pixels.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::io {
namespace {

struct PngInput {
  std::span<const std::byte> bytes;
  std::size_t pos = 0;
  char message[256] = {};
};

[[noreturn]] void on_error(png_structp png, png_const_charp what) {
  auto* in = static_cast<PngInput*>(png_get_error_ptr(png));
  std::snprintf(in->message, sizeof in->message, "%s", what);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, std::size_t n) {
  auto* in = static_cast<PngInput*>(png_get_io_ptr(png));
  if (n > in->bytes.size() - in->pos) png_error(png, "the data ends early (the file is truncated)");
  std::memcpy(out, in->bytes.data() + in->pos, n);
  in->pos += n;
}

// Owns libpng's structures (destroyed on every path, also after a longjmp).
class PngDecoder {
 public:
  explicit PngDecoder(PngInput& in) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &in, on_error, on_warning);
    if (png_) info_ = png_create_info_struct(png_);
    if (png_) png_set_read_fn(png_, &in, on_read);
  }
  ~PngDecoder() { png_destroy_read_struct(&png_, &info_, nullptr); }
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;

  bool ready() const { return png_ && info_; }

  // IHDR and the chunks before the first IDAT.
  bool read_header() {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_info(png_, info_);
    return true;
  }

  // Transforms to 8-bit grey or RGB without alpha, as PIL's convert("L"/"RGB") sees the pixels.
  bool set_transforms(int& channels, std::size_t& row_bytes) {
    if (setjmp(png_jmpbuf(png_))) return false;
    const int color = png_get_color_type(png_, info_);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png_);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png_, info_) < 8) png_set_expand_gray_1_2_4_to_8(png_);
    // The high byte, as PIL's 16-bit unpackers take it (png_set_scale_16 would round instead).
    png_set_strip_16(png_);
    png_set_strip_alpha(png_);
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    channels = png_get_channels(png_, info_);
    row_bytes = png_get_rowbytes(png_, info_);
    return true;
  }

  // The whole image, then the chunks up to IEND (so a file cut after its pixels is caught too).
  bool read_rows(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_image(png_, rows);
    png_read_end(png_, nullptr);
    return true;
  }

  png_uint_32 width() const { return png_get_image_width(png_, info_); }
  png_uint_32 height() const { return png_get_image_height(png_, info_); }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

Pixels decode_png(std::span<const std::byte> bytes, const std::filesystem::path& file) {
  PngInput in{bytes};
  PngDecoder png(in);
  const auto corrupt = [&] { return bad_input(file, "is a corrupt PNG: " + printable(in.message)); };
  if (!png.ready()) throw bad_input(file, "libpng could not start decoding (out of memory)");
  if (!png.read_header()) throw corrupt();

  const std::int64_t width = png.width(), height = png.height();
  check_image_size(width, height, file);  // before libpng allocates its row buffers

  int channels = 0;
  std::size_t row_bytes = 0;
  if (!png.set_transforms(channels, row_bytes)) throw corrupt();
  if ((channels != 1 && channels != 3) || row_bytes != static_cast<std::size_t>(width) * static_cast<std::size_t>(channels))
    throw unsupported(file, "libpng gives " + std::to_string(channels) + " channels of " + std::to_string(row_bytes) +
                                " bytes a row for this PNG (expected 8-bit grey or RGB)");

  Pixels px = Pixels::make(width, height, channels);
  std::vector<png_bytep> rows(static_cast<std::size_t>(height));
  for (std::size_t y = 0; y < rows.size(); ++y) rows[y] = px.data.get() + y * row_bytes;
  if (!png.read_rows(rows.data())) throw corrupt();
  return px;
}

}  // namespace paramscope::io
