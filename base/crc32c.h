// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), as used by iSCSI, ext4
// and gRPC's own checksums. Table-driven, eight bytes at a time ("slicing-by-8"); Debian's
// Abseil has no absl/crc.
//
//   uint32_t crc = 0;
//   crc = Crc32cExtend(crc, part1.data(), part1.size());
//   crc = Crc32cExtend(crc, part2.data(), part2.size());   // == Crc32c(part1 + part2)
#pragma once

#include <cstddef>
#include <cstdint>

namespace ponder {

// The CRC-32C of the bytes covered so far (`crc`, 0 for none) followed by data[0, size).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

}  // namespace ponder
