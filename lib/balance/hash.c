/* balance/hash.c - the two hashes ingress-nginx's affinity uses: CRC-32 (the ring, via
 * lua-resty-balancer's chash.c and nginx's ngx_crc32_short) and MD5 (backend_key and
 * persistent keys, via ngx.md5). Written here so lib/balance depends on nothing but base. */
#include "balance/affinity.h"

#include <string.h>

#include "balance/internal.h"

/* Table for the reflected polynomial 0xedb88320, one entry per byte value. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t tt_affinity__crc32_update(uint32_t reg, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        reg = crc_table[(reg ^ b[i]) & 0xffu] ^ (reg >> 8);
    return reg;
}

uint32_t tt_affinity_crc32(const void *p, size_t n)
{
    return tt_affinity__crc32_update(0xffffffffu, p, n) ^ 0xffffffffu;
}

/* ---- MD5, RFC 1321 ---- */

/* K[i] = floor(|sin(i + 1)| * 2^32), RFC 1321 §3.4. */
static const uint32_t md5_k[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu, 0x4787c62au, 0xa8304613u,
    0xfd469501u, 0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu, 0x6b901122u, 0xfd987193u,
    0xa679438eu, 0x49b40821u, 0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau, 0xd62f105du,
    0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u, 0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu,
    0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au, 0xfffa3942u, 0x8771f681u, 0x6d9d6122u,
    0xfde5380cu, 0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u, 0x289b7ec6u, 0xeaa127fau,
    0xd4ef3085u, 0x04881d05u, 0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u, 0xf4292244u,
    0x432aff97u, 0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u, 0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu,
    0xeb86d391u,
};

/* Per-round left-rotation amounts, four per round. */
static const uint8_t md5_s[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static inline uint32_t rotl(uint32_t x, unsigned s)
{
    return (x << s) | (x >> (32 - s));
}

static void md5_block(uint32_t st[4], const uint8_t b[64])
{
    uint32_t m[16];
    uint32_t a = st[0], bb = st[1], c = st[2], d = st[3];

    /* The message words are little-endian regardless of the host. */
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
               (uint32_t)b[4 * i + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        switch (i / 16) {
        case 0:
            f = (bb & c) | (~bb & d);
            g = i;
            break;
        case 1:
            f = (d & bb) | (~d & c);
            g = (5 * i + 1) % 16;
            break;
        case 2:
            f = bb ^ c ^ d;
            g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (bb | ~d);
            g = (7 * i) % 16;
            break;
        }
        f = f + a + md5_k[i] + m[g];
        a = d;
        d = c;
        c = bb;
        bb = bb + rotl(f, md5_s[(i / 16) * 4 + i % 4]);
    }
    st[0] += a;
    st[1] += bb;
    st[2] += c;
    st[3] += d;
}

void tt_affinity__md5_init(struct tt_affinity__md5 *c)
{
    c->state[0] = 0x67452301u;
    c->state[1] = 0xefcdab89u;
    c->state[2] = 0x98badcfeu;
    c->state[3] = 0x10325476u;
    c->length = 0;
    c->used = 0;
}

void tt_affinity__md5_update(struct tt_affinity__md5 *c, const void *p, size_t n)
{
    const uint8_t *b = p;

    if (n == 0) /* p may be NULL then */
        return;
    c->length += n;
    if (c->used > 0) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->block + c->used, b, take);
        c->used += take;
        b += take;
        n -= take;
        if (c->used < 64)
            return;
        md5_block(c->state, c->block);
        c->used = 0;
    }
    for (; n >= 64; b += 64, n -= 64)
        md5_block(c->state, b);
    if (n > 0)
        memcpy(c->block, b, n);
    c->used = n;
}

void tt_affinity__md5_hex(struct tt_affinity__md5 *c, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = c->length * 8;
    uint8_t tail[72];
    size_t pad = (c->used < 56 ? 56 : 120) - c->used;

    /* 0x80, zeros up to 56 mod 64, then the bit length little-endian (RFC 1321 §3.1-3.2). */
    memset(tail, 0, sizeof(tail));
    tail[0] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[pad + (size_t)i] = (uint8_t)(bits >> (8 * i));
    tt_affinity__md5_update(c, tail, pad + 8);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            uint8_t v = (uint8_t)(c->state[i] >> (8 * j));
            out[8 * i + 2 * j] = hex[v >> 4];
            out[8 * i + 2 * j + 1] = hex[v & 15];
        }
    }
    out[32] = '\0';
}

void tt_affinity_md5hex(char out[TT_AFFINITY_KEY_LEN + 1], const void *p, size_t n)
{
    struct tt_affinity__md5 c;

    tt_affinity__md5_init(&c);
    tt_affinity__md5_update(&c, p, n);
    tt_affinity__md5_hex(&c, out);
}

void tt_affinity_make_backend_key(char out[TT_AFFINITY_KEY_LEN + 1], struct tt_slice backend_name)
{
    char inner[TT_AFFINITY_KEY_LEN + 1];
    struct tt_affinity__md5 c;

    /* The inner digest is hashed as its 32-character hex text, not as 16 raw bytes (§1.3). */
    tt_affinity_md5hex(inner, backend_name.ptr, backend_name.len);
    tt_affinity__md5_init(&c);
    tt_affinity__md5_update(&c, inner, TT_AFFINITY_KEY_LEN);
    tt_affinity__md5_update(&c, backend_name.ptr, backend_name.len);
    tt_affinity__md5_hex(&c, out);
}

void tt_affinity_make_persistent_key(char out[TT_AFFINITY_KEY_LEN + 1],
                                     struct tt_slice backend_name, struct tt_slice node_id)
{
    struct tt_affinity__md5 c;

    /* No separator between salt and node id (sticky_persistent.lua). */
    tt_affinity__md5_init(&c);
    tt_affinity__md5_update(&c, backend_name.ptr, backend_name.len);
    tt_affinity__md5_update(&c, node_id.ptr, node_id.len);
    tt_affinity__md5_hex(&c, out);
}
