// JPEG decoding through libjpeg-turbo, from the mapped file's bytes, with the settings PIL decodes
// with (libjpeg's defaults: accurate integer DCT, fancy upsampling), so pixels equal PIL's when
// both use the same libjpeg.
//
// libjpeg reports errors through error_exit, which must not return: it longjmps to the setjmp of
// the step that is running. As in image_png.cpp, each step's frame holds only trivially
// destructible locals, and the caller turns a failed step into an Error. Warnings are dropped,
// except those that say the compressed pixels are cut short or garbled: there libjpeg would go on
// and fill the rest of the image with grey or garbage. PIL refuses a truncated file too, but
// takes the others; for calibration data a clear error naming the file beats a half-grey image.
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jpeglib.h>
#include <jerror.h>

#include <csetjmp>
#include <cstring>

#include "io/image_pixels.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::io {
namespace {

// Progressive JPEGs may hold any number of scans, each a pass over the whole image; real files
// have about ten. A cap keeps a small crafted file from taking minutes.
constexpr int kMaxScans = 500;

struct JpegState {
  jpeg_decompress_struct* cinfo = nullptr;
  std::jmp_buf jump;
  int code = 0;  // the libjpeg message code of the failure
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void fail(j_common_ptr c) {
  auto* s = static_cast<JpegState*>(c->client_data);
  s->code = c->err->msg_code;
  (*c->err->format_message)(c, s->message);
  std::longjmp(s->jump, 1);
}

void on_error_exit(j_common_ptr c) { fail(c); }

void on_emit_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  ++c->err->num_warnings;
  switch (c->err->msg_code) {
    case JWRN_JPEG_EOF:         // the file ends early
    case JWRN_HIT_MARKER:       // the entropy-coded data ends before the image does
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:      // a restart marker is missing: data was lost
      fail(c);
    default:                    // e.g. extraneous bytes before a marker, an unknown JFIF version
      break;
  }
}

void on_output_message(j_common_ptr) {}

void on_progress(j_common_ptr c) {
  auto* s = static_cast<JpegState*>(c->client_data);
  if (s->cinfo->input_scan_number <= kMaxScans) return;
  s->code = -1;
  std::snprintf(s->message, sizeof s->message, "it has more than %d progressive scans", kMaxScans);
  std::longjmp(s->jump, 1);
}

// Owns libjpeg's decompressor (destroyed on every path, also after a longjmp).
class JpegDecoder {
 public:
  explicit JpegDecoder(std::span<const std::byte> bytes) : bytes_(bytes) {
    state_.cinfo = &cinfo_;
    cinfo_.err = jpeg_std_error(&errors_);
    errors_.error_exit = on_error_exit;
    errors_.emit_message = on_emit_message;
    errors_.output_message = on_output_message;
    cinfo_.client_data = &state_;
    progress_.progress_monitor = on_progress;
  }
  ~JpegDecoder() { jpeg_destroy_decompress(&cinfo_); }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // Up to the first scan: size, components, colour space.
  bool read_header() {
    if (setjmp(state_.jump)) return false;
    jpeg_create_decompress(&cinfo_);  // clears every field but err and client_data
    cinfo_.progress = &progress_;
    jpeg_mem_src(&cinfo_, reinterpret_cast<const unsigned char*>(bytes_.data()),
                 static_cast<unsigned long>(bytes_.size()));
    jpeg_read_header(&cinfo_, TRUE);
    return true;
  }

  bool set_output(J_COLOR_SPACE space) {
    if (setjmp(state_.jump)) return false;
    cinfo_.out_color_space = space;
    jpeg_calc_output_dimensions(&cinfo_);
    return true;
  }

  bool read_rows(std::uint8_t* out, std::size_t row_bytes) {
    if (setjmp(state_.jump)) return false;
    jpeg_start_decompress(&cinfo_);
    while (cinfo_.output_scanline < cinfo_.output_height) {
      JSAMPROW row = out + static_cast<std::size_t>(cinfo_.output_scanline) * row_bytes;
      jpeg_read_scanlines(&cinfo_, &row, 1);
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

  const jpeg_decompress_struct& info() const { return cinfo_; }
  const JpegState& state() const { return state_; }

 private:
  std::span<const std::byte> bytes_;
  jpeg_decompress_struct cinfo_{};
  jpeg_error_mgr errors_{};
  jpeg_progress_mgr progress_{};
  JpegState state_{};
};

// x * y / 255 rounded, as PIL's MULDIV255.
int muldiv255(int x, int y) {
  const int t = x * y + 128;
  return ((t >> 8) + t) >> 8;
}

// PIL reads every 4-component JPEG as Adobe's inverted CMYK ("CMYK;I"), then converts to RGB
// as r = (255 - k) * (1 - c / 255) with its rounding (Convert.c cmyk2rgb).
void cmyk_to_rgb(const std::uint8_t* cmyk, std::uint8_t* rgb, std::size_t pixels) {
  for (std::size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - (255 - stored k)
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<std::uint8_t>(nk - muldiv255(255 - cmyk[c], nk));
  }
}

}  // namespace

Pixels decode_jpeg(std::span<const std::byte> bytes, const std::filesystem::path& file) {
  JpegDecoder jpeg(bytes);
  const auto failed = [&] {
    const int code = jpeg.state().code;
    const std::string what = printable(jpeg.state().message);
    if (code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED || code == JERR_NOT_COMPILED ||
        code == JERR_CONVERSION_NOTIMPL || code == JERR_ARITH_NOTIMPL)
      return unsupported(file, "is a JPEG that libjpeg-turbo cannot decode: " + what);
    return bad_input(file, "is a corrupt JPEG: " + what + (code == JWRN_JPEG_EOF ? " (the file is truncated)" : ""));
  };
  if (!jpeg.read_header()) throw failed();

  const auto& info = jpeg.info();
  check_image_size(info.image_width, info.image_height, file);  // before libjpeg allocates for it
  const int n = info.num_components;
  const J_COLOR_SPACE in_space = info.jpeg_color_space;
  J_COLOR_SPACE out_space = JCS_UNKNOWN;
  if (n == 1)
    out_space = JCS_GRAYSCALE;
  else if (n == 3 && (in_space == JCS_YCbCr || in_space == JCS_RGB))
    out_space = JCS_RGB;
  else if (n == 4 && (in_space == JCS_CMYK || in_space == JCS_YCCK))
    out_space = JCS_CMYK;
  else
    throw unsupported(file, "is a JPEG of " + std::to_string(n) +
                                " components in an unknown colour space (grey, YCbCr, RGB, CMYK and YCCK are read)");
  const int out_components = n;
  if (!jpeg.set_output(out_space)) throw failed();
  if (info.output_components != out_components || info.output_width != info.image_width ||
      info.output_height != info.image_height)
    throw unsupported(file, "libjpeg-turbo gives " + std::to_string(info.output_components) +
                                " components for this JPEG, not " + std::to_string(out_components));

  Pixels raw = Pixels::make(info.output_width, info.output_height, out_components);
  if (!jpeg.read_rows(raw.data.get(), static_cast<std::size_t>(raw.width) * static_cast<std::size_t>(out_components)))
    throw failed();
  if (out_components != 4) return raw;
  Pixels rgb = Pixels::make(raw.width, raw.height, 3);
  cmyk_to_rgb(raw.data.get(), rgb.data.get(), static_cast<std::size_t>(raw.width * raw.height));
  return rgb;
}

}  // namespace paramscope::io
