// Element conversions, checked against hand-computed bit patterns (IEEE 754 half, bfloat16 and
// the OCP 8-bit float formats).
#include <QTest>

#include <cmath>
#include <limits>

#include "paramscope/dtype.h"
#include "paramscope/shape.h"
#include "tensor/convert.h"

using namespace paramscope;

class TestConvert : public QObject {
  Q_OBJECT
 private slots:
  void half_to_float_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<float>("value");
    QTest::newRow("one") << 0x3C00 << 1.0f;
    QTest::newRow("minus two") << 0xC000 << -2.0f;
    QTest::newRow("max") << 0x7BFF << 65504.0f;
    QTest::newRow("smallest normal") << 0x0400 << 6.103515625e-05f;
    QTest::newRow("smallest subnormal") << 0x0001 << 5.9604644775390625e-08f;
    QTest::newRow("largest subnormal") << 0x03FF << 6.097555160522461e-05f;
    QTest::newRow("minus zero") << 0x8000 << -0.0f;
    QTest::newRow("one third") << 0x3555 << 0.333251953125f;
    QTest::newRow("inf") << 0x7C00 << std::numeric_limits<float>::infinity();
    QTest::newRow("-inf") << 0xFC00 << -std::numeric_limits<float>::infinity();
  }
  void half_to_float() {
    QFETCH(int, bits);
    QFETCH(float, value);
    QCOMPARE(f16_to_f32(static_cast<std::uint16_t>(bits)), value);
    QCOMPARE(std::signbit(f16_to_f32(static_cast<std::uint16_t>(bits))), std::signbit(value));
  }
  void f16_nan() { QVERIFY(std::isnan(f16_to_f32(0x7E00))); }

  void float_to_half_rounds_to_nearest_even_data() {
    QTest::addColumn<float>("value");
    QTest::addColumn<int>("bits");
    QTest::newRow("one") << 1.0f << 0x3C00;
    QTest::newRow("tie to even down") << (1.0f + 0x1p-11f) << 0x3C00;    // halfway between 1 and 1+2^-10
    QTest::newRow("tie to even up") << (1.0f + 3 * 0x1p-11f) << 0x3C02;  // halfway, rounds to even mantissa
    QTest::newRow("above tie") << (1.0f + 0x1p-11f + 0x1p-20f) << 0x3C01;
    QTest::newRow("overflow to inf") << 65520.0f << 0x7C00;  // rounds up past 65504
    QTest::newRow("largest finite") << 65519.0f << 0x7BFF;
    QTest::newRow("subnormal") << 5.9604644775390625e-08f << 0x0001;
    QTest::newRow("underflow") << 2.9e-08f << 0x0000;
    QTest::newRow("negative") << -0.5f << 0xB800;
  }
  void float_to_half_rounds_to_nearest_even() {
    QFETCH(float, value);
    QFETCH(int, bits);
    QCOMPARE(static_cast<int>(f32_to_f16(value)), bits);
  }

  void bf16() {
    QCOMPARE(bf16_to_f32(0x3F80), 1.0f);
    QCOMPARE(bf16_to_f32(0xC2F7), -123.5f);
    QCOMPARE(static_cast<int>(f32_to_bf16(1.0f)), 0x3F80);
    QCOMPARE(static_cast<int>(f32_to_bf16(1.00390625f)), 0x3F80);  // 1 + 2^-8: tie, stays even
    QCOMPARE(static_cast<int>(f32_to_bf16(1.01171875f)), 0x3F82);  // 1 + 3*2^-8: tie, rounds up to even
    QVERIFY(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  }

  void fp8_e4m3_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<float>("value");
    QTest::newRow("one") << 0x38 << 1.0f;
    QTest::newRow("max 448") << 0x7E << 448.0f;
    QTest::newRow("min subnormal") << 0x01 << 0.001953125f;
    QTest::newRow("min normal") << 0x08 << 0.015625f;
    QTest::newRow("-1.5") << 0xBC << -1.5f;
    QTest::newRow("0x78 is 256, not inf") << 0x78 << 256.0f;
  }
  void fp8_e4m3() {
    QFETCH(int, bits);
    QFETCH(float, value);
    QCOMPARE(f8e4m3_to_f32(static_cast<std::uint8_t>(bits)), value);
  }
  void fp8_e4m3_nan() {
    QVERIFY(std::isnan(f8e4m3_to_f32(0x7F)));
    QVERIFY(std::isnan(f8e4m3_to_f32(0xFF)));
  }
  void fp8_e5m2() {
    QCOMPARE(f8e5m2_to_f32(0x3C), 1.0f);
    QCOMPARE(f8e5m2_to_f32(0x7B), 57344.0f);
    QCOMPARE(f8e5m2_to_f32(0x01), 1.52587890625e-05f);
    QCOMPARE(f8e5m2_to_f32(0x7C), std::numeric_limits<float>::infinity());
    QVERIFY(std::isnan(f8e5m2_to_f32(0x7D)));
  }

  void integers_and_byte_swap() {
    const unsigned char be_i32[] = {0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x01, 0x00};  // -2, 256 big-endian
    float out[2];
    convert_to_f32(DType::I32, reinterpret_cast<const std::byte*>(be_i32), 2, out, true);
    QCOMPARE(out[0], -2.0f);
    QCOMPARE(out[1], 256.0f);
    const unsigned char u64[] = {0, 0, 0, 0, 0, 0, 0, 0x80};  // 2^63
    convert_to_f32(DType::U64, reinterpret_cast<const std::byte*>(u64), 1, out);
    QCOMPARE(out[0], 9223372036854775808.0f);
    const unsigned char b[] = {0, 1, 7};
    float bo[3];
    convert_to_f32(DType::BOOL, reinterpret_cast<const std::byte*>(b), 3, bo);
    QCOMPARE(bo[2], 1.0f);
  }

  void from_f32_saturates_integers() {
    const float in[] = {300.0f, -5.0f, 2.5f, std::numeric_limits<float>::quiet_NaN()};
    std::uint8_t u8[4];
    convert_from_f32(DType::U8, in, 4, reinterpret_cast<std::byte*>(u8));
    QCOMPARE(static_cast<int>(u8[0]), 255);
    QCOMPARE(static_cast<int>(u8[1]), 0);
    QCOMPARE(static_cast<int>(u8[2]), 2);  // nearbyint: ties to even
    QCOMPARE(static_cast<int>(u8[3]), 0);
  }

  void dtype_table() {
    QCOMPARE(*storage_bytes(DType::BF16, 10), std::uint64_t{20});
    QCOMPARE(*storage_bytes(DType::Q8_0, 64), std::uint64_t{68});  // 2 blocks of 32: fp16 scale + 32 int8
    QCOMPARE(*storage_bytes(DType::Q4_K, 512), std::uint64_t{288});
    QVERIFY(!storage_bytes(DType::Q8_0, 33));         // not whole blocks
    QVERIFY(!storage_bytes(DType::F64, 1ULL << 62));  // overflows 64 bits
    QCOMPARE(*dtype_from_name("F8_E4M3"), DType::F8_E4M3);
    QVERIFY(!dtype_from_name("F33"));
    QVERIFY(dtype_info(DType::Q8_0).readable);
    QVERIFY(!dtype_info(DType::Q4_K).readable);
  }

  void shapes() {
    const std::int64_t big[] = {1LL << 32, 1LL << 32};
    QVERIFY(!checked_numel(big));
    const std::int64_t neg[] = {2, -1};
    QVERIFY(!checked_numel(neg));
    const std::int64_t ok[] = {4096, 11008};
    QCOMPARE(*checked_numel(ok), std::int64_t{45088768});
    QCOMPARE(*checked_numel(std::span<const std::int64_t>{}), std::int64_t{1});  // a scalar
    QCOMPARE(shape_string(ok), std::string("[4096, 11008]"));
  }
};

QTEST_GUILESS_MAIN(TestConvert)
#include "test_convert.moc"
