// PNG and JPEG decoding, PIL's resize and normalisation on arbitrary bytes (the first byte picks
// the decoder, as read_image's magic-byte check does).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/image_pixels.h"
#include "paramscope/error.h"

using namespace paramscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    io::Pixels px = size > 0 && data[0] == 0x89 ? io::decode_png(bytes, "fuzz.png") : io::decode_jpeg(bytes, "fuzz.jpg");
    px = io::resize_bilinear(std::move(px), 5, 3);
    ImageOptions o;
    o.height = 3;
    o.width = 5;
    std::vector<float> out(3 * 15);
    io::normalise_pixels(px, o, out.data());
  } catch (const Error&) {
  }
  return 0;
}
