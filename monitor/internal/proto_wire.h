// A protobuf wire-format encoder for the handful of messages monitor/ writes by hand
// (TensorBoard's Event and Summary): varints, fixed32/fixed64 and length-delimited fields.
// Fields come out in the order they are added; nested messages are encoded first and added
// as bytes.
//
//   ProtoWriter value;
//   value.String(1, "reward/score/mean").Float(2, 0.5f);
//   ProtoWriter summary;
//   summary.Message(1, value);
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ponder::monitor::internal {

class ProtoWriter {
 public:
  ProtoWriter& Varint(int field, uint64_t value) {
    Tag(field, 0);
    AppendVarint(value);
    return *this;
  }
  ProtoWriter& Double(int field, double value) {
    Tag(field, 1);
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    AppendLittleEndian(bits, 8);
    return *this;
  }
  ProtoWriter& Float(int field, float value) {
    Tag(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    AppendLittleEndian(bits, 4);
    return *this;
  }
  // A string, bytes or an already encoded message (possibly empty: the field is still there).
  ProtoWriter& String(int field, std::string_view bytes) {
    Tag(field, 2);
    AppendVarint(bytes.size());
    out_.append(bytes.data(), bytes.size());
    return *this;
  }
  ProtoWriter& Message(int field, const ProtoWriter& message) {
    return String(field, message.bytes());
  }

  const std::string& bytes() const { return out_; }

 private:
  void Tag(int field, int wire_type) {
    AppendVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void AppendVarint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void AppendLittleEndian(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }

  std::string out_;
};

}  // namespace ponder::monitor::internal
