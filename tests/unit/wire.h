/*
 * Big-endian (network order) reads and writes of 16- and 32-bit fields, for the tests that
 * build and pick apart frames byte by byte. The writes keep the low bits of v.
 */
#ifndef HASHI_TEST_WIRE_H
#define HASHI_TEST_WIRE_H

#include <stdint.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static inline void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v);
}

#endif
