// ISA-L: CRC32C (crc32_iscsi) for chunk and frame checksums. Wrapped only by GranaryCore.
#pragma once
#include <stdint.h>
#include <isa-l/crc.h>
