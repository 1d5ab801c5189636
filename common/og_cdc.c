/*
 * og_cdc.c: FastCDC with normalized chunking (level 2) over a gear rolling hash.
 *
 * Per byte: h = (h << 1) + gear[byte]. A shift-left gear hash forgets a byte after 64
 * steps, so bit k of h depends on the last k + 1 bytes only; the masks therefore use the
 * top bits of h, which see a window of up to 64 bytes. A chunk ends after the byte whose
 * updated hash has all mask bits zero. The first `min` bytes of a chunk are not hashed at
 * all (the hash restarts from 0 at byte `min`), which is both the cut-point skipping that
 * makes FastCDC fast and what keeps chunks at least min + 1 bytes long.
 */
#include "og_cdc.h"

/*
 * The gear table: splitmix64 (Steele et al. 2014) started from the fixed seed
 * 0x4f6e676769434443 ("OnggiCDC"), 256 successive outputs. It is written out rather than
 * computed so that it can never drift: these constants decide every chunk boundary ever
 * stored (see the on-disk contract in og_cdc.h). test_cdc.c regenerates and compares it.
 */
static const uint64_t og_cdc_gear[256] = {
    0xa1550f41d1ee4408ull, 0x90e3c850fd443e3full, 0xff89ac42e5ce0c0cull, 0x16d06d0ea623d8f3ull, 0xe296fa1de64e5acaull,
    0x35d72a0b8de0c171ull, 0xb23f56cf1473cc88ull, 0x8031698f0a312993ull, 0x4033734c67901a38ull, 0xb6f7fb6a8e48de8full,
    0x15e5ce3bda8efa2full, 0x3578189c4a482052ull, 0xc44128c0e423f82bull, 0x52d139856deb8ee1ull, 0x9e76fbb990058606ull,
    0x573ffeec2c527103ull, 0x51ef3f389ace6c8eull, 0x7b42b235f02a7a3full, 0xc72c84b267237e80ull, 0x1211a51e55181efbull,
    0xd87b59117d6e7393ull, 0x21e0a5b743e7411full, 0x895b00988cb599e7ull, 0x9370c39198088ae3ull, 0xdecede671c1a27f2ull,
    0x19875d4178d784eeull, 0x223897826bb1247bull, 0xcc0e75f33d91861aull, 0xf4a8c3759677a638ull, 0x84f315645a6785fdull,
    0x157e564dd1c292cfull, 0x46f53ffbd0039572ull, 0x14d941d4ea2a71d8ull, 0x3dd641f27379df03ull, 0xbfb136509af256b9ull,
    0x92f12c5809c87e87ull, 0x7529e34be6a681caull, 0x8b9f9b39b4d8578eull, 0x958b2e540a176ef4ull, 0x1f3a8114bf6adc31ull,
    0x5421f5855373baafull, 0x0bd71dfdbd6248ffull, 0x9885f49437abb457ull, 0xe88396f91e2ef0eaull, 0xae72dfccbc13da78ull,
    0x67f5871b7b5517fcull, 0x777d028efa4731cdull, 0x9799f6f806d04f3aull, 0xe426cb79acab32d7ull, 0x1f8f7537a19e17e8ull,
    0xf286df7da94bee7aull, 0xe329d36b2d87728full, 0x5ce9f14defb976beull, 0xaa60786b67ec45b5ull, 0xbc2c7d6bd3dd9ef9ull,
    0x8ec6b6daff340254ull, 0xdd26625ebbc1c3c8ull, 0x96a3232cf3cbc5adull, 0xe9156e283f96df81ull, 0xe7613e9f96ab43fdull,
    0x97ade61b456c2cd6ull, 0x5b2cb278132d80abull, 0xf33be0bd22d98d49ull, 0xdd3c695b2edd7e73ull, 0x51eedc256fa0142cull,
    0x94e3c264695ed3fcull, 0x848a8a8f8fe3d4d7ull, 0x9d72ef8496c36cdfull, 0x2c2487b5666a32d9ull, 0xb1eddb750a2d84feull,
    0xe3e45e3f542327d5ull, 0x1722b26ba291bea1ull, 0xc6369c83d778515eull, 0x4f01da76d482a9e3ull, 0xac17458b6068cb66ull,
    0x764d7f67c4c00622ull, 0xd4becc189890a091ull, 0xbec5fcf67d1a673dull, 0x4489320e5aeb3b5full, 0x9014a390fe876c19ull,
    0x597b43280c1088f7ull, 0xcc543233ea649c18ull, 0x85ac1e1b8362a77cull, 0xa14d203daac70446ull, 0xbc84a6d626a56edfull,
    0x2425de1053303ee9ull, 0x46a9a2d2fc95b3d9ull, 0x1b8bbf04dabc079cull, 0xc83ab9a82f5dea7eull, 0x06d201ee22ed9c85ull,
    0x39c27ad1408ea846ull, 0x866e52c555dd94eaull, 0xb544ed78f4d0d5ffull, 0x31a95256fabb90dcull, 0x1c82dbf5f0ab3719ull,
    0x08f125619d499b56ull, 0x453abccf20b16f7eull, 0x24e86abf917fcdeeull, 0x51fdf2d9ae40da40ull, 0xa5bfd1b13fd130a5ull,
    0xfa66e6a9edeae28bull, 0x656da5ffae0e1a9cull, 0x26d9c9764718e51cull, 0xb90caa6e6b43c090ull, 0x81b5bf00501ad258ull,
    0x59f0b13f7a96b83eull, 0x18f1d97a685e2218ull, 0x543c227e12d7af27ull, 0xe813eaa691df096full, 0x5f0fcc8fb6f92afcull,
    0xf53321795cb00c3dull, 0xda65bddab226e9d7ull, 0xdd5a028ca96d0d7bull, 0xe3095da5c1df91bfull, 0x47b4a30bc64c7ae6ull,
    0xa9de963c073b54bdull, 0xbdc439f28005d670ull, 0x57a2a55eb40572f5ull, 0x2a51313d9bda9dbfull, 0xd2ab8c4a68161571ull,
    0xe83b7d8e83858b3full, 0xdae2d299f47ffb6aull, 0x3ffea8c26e9db189ull, 0x880f08c17dd55cb6ull, 0x00e41b7de2a1b708ull,
    0x798f3d4b50f270a2ull, 0x734d1fda2a2bb732ull, 0xb27befac6dcb4755ull, 0x47f665e05e4e716cull, 0xf9f57f2aa5468fdfull,
    0xcad3436756f4c962ull, 0x29e6826a22a14ac0ull, 0xea76224567e41668ull, 0x459e9d632b2029d2ull, 0x6497c8d3d77293f5ull,
    0xa9aa5af00ea4be1aull, 0x86c1f05856051456ull, 0xb44faf4782d2c827ull, 0x432edf8bab7bf127ull, 0x2c4403b3e4c1514cull,
    0xe5bf3b1839f15c34ull, 0x9bdff2fbb805897full, 0xd1fa0fb4b40ba0edull, 0x9b767901dadac018ull, 0x5b0a125dc68f4e51ull,
    0xd85981ca8de55ed6ull, 0x0fa60ba7cb8f8e29ull, 0xae372b0f69338609ull, 0xc1ef02a6ee15a218ull, 0x102ab1517fe4fe06ull,
    0x07e28d8f5460ea6aull, 0x150c80d5c69e3395ull, 0x9b758c301bb55572ull, 0xb866ed6aed24d2a6ull, 0xa63b3fc4d2c1b9d2ull,
    0x034f8fbbcb5e39e1ull, 0xdb46b2f777914b27ull, 0x29f386d058effbbaull, 0xdb6cbc48af653e29ull, 0xf86e77ab4e4d9aadull,
    0xee0bd37955d59cc8ull, 0x1bfe9a28261a43f7ull, 0x5903e3d3a726058bull, 0x3e72a43bbff962ddull, 0x8456567af125a36aull,
    0xa22491e811b353e2ull, 0xd77377b1f36f8d91ull, 0x633c2a63a6a9a950ull, 0x33c6ab4be2fbff68ull, 0xf83672b5e3de7dcaull,
    0x0734cecb8f01faa4ull, 0x65406c8daae64c17ull, 0xd0cf2a3b8137999aull, 0x43dc242f53bb40dfull, 0x612e349b6c92c029ull,
    0xf08857eb1a53e44cull, 0xc8c2127b576aa75cull, 0x3cd376bfe2a13039ull, 0x31e54b72e0c36adcull, 0x2eb9698fe411e248ull,
    0xeca32d0893cf2cc8ull, 0x984f2651f67e45a9ull, 0x65b320d963fbc9f9ull, 0xc69e766dbef1f5afull, 0xe5d5580d0f095525ull,
    0xf331185742ea3775ull, 0xd7276a2c0b3c2717ull, 0x66e05be3c217fb8full, 0x52c031cb0b240184ull, 0xdb8547f47b9915fbull,
    0xee4d01f8b5691071ull, 0x5e6ac44ed58b4771ull, 0x61c899b27fdab62cull, 0x699bcd8ba568fc9bull, 0xc4ca2b739f480907ull,
    0xfeed75b987c75a97ull, 0x7bc655bc08ad001full, 0xa76689881b003593ull, 0x2f0069228a20a68cull, 0x65f2ab6173410a38ull,
    0x1d2c35c92bde155eull, 0xf0be5ce3b8067cbaull, 0x46893329dfc9f4bdull, 0x7aad3172bdc60a64ull, 0xfbef8e506014c162ull,
    0xfb5dcdc61ce2d340ull, 0xf751d6c5ba477780ull, 0x627662e7559379a3ull, 0x771f6aee7cb36cbeull, 0xe0e9552358a64896ull,
    0x245f5de8cca81b12ull, 0x4dbbd007fb820a95ull, 0x99babdbb57af1fd8ull, 0x9617bced0789a0bbull, 0x488e29193889f0f0ull,
    0x6d04579cc9d96601ull, 0x3eb26b5b7e136ab7ull, 0xc1ba89c92728d9acull, 0xb259d67b67ef0e38ull, 0xce044b73bdb02ffeull,
    0x3ee831adaf03cb45ull, 0x0d5d22b1d2a52450ull, 0x05440ab878bdd859ull, 0x7f1f26be3c79ccc4ull, 0x14864cffe1bb1626ull,
    0xeaf3c3745aa2f88bull, 0xc5bc6e790f0e28b7ull, 0x0740a85e688768d0ull, 0x5e0ceb386a995967ull, 0xe16605179775871full,
    0x38a917cbc400f977ull, 0x59c4daff16e4532cull, 0x89e27952ac660f59ull, 0xe9b4b41e815bc3c7ull, 0x999ad50c97df8b6bull,
    0x92b92ed805060ad4ull, 0xaf502fceff29eb51ull, 0xcd3f0e3d97930d1dull, 0x2ca26a3664514d8cull, 0xb328e1bc821e8276ull,
    0xe8e47e9eab1bec9cull, 0xbefe145944dac100ull, 0x65b4e6dd61b5fb62ull, 0x46d04a62887c1d6dull, 0xfb16af59eceb5c1full,
    0xcfafd944212cd13cull, 0x2aa8c3153bfba367ull, 0xdcb728d867630fdaull, 0xc7465838226dfaf0ull, 0x6135ef9c5fddfbbaull,
    0x34b3b498b716a718ull, 0x1c469a22f48dae5dull, 0x6106b992bd6444eaull, 0x6424cdc0c59544c6ull, 0xffc362c32854c821ull,
    0xf7b99a43e096c033ull,
};

/* A mask of `bits` ones in the top bits of a 64-bit word. */
static uint64_t top_mask(unsigned bits)
{
    return ~(uint64_t)0 << (64 - bits);
}

int og_cdc_init(og_cdc_t *c, uint32_t min, uint32_t avg, uint32_t max)
{
    unsigned lg = 0;
    if (avg < (1u << 8) || avg > (1u << 30) || (avg & (avg - 1)) != 0 || min >= avg || max <= avg)
        return OG_EINVAL;
    while ((1u << lg) < avg)
        lg++;
    /* Normalized chunking level 2: 4x less likely to cut than 1/avg before avg, 4x more
     * likely after it, which squeezes the sizes towards avg (fewer tiny and max chunks). */
    c->_mask_s = top_mask(lg + 2);
    c->_mask_l = top_mask(lg - 2);
    c->_min = min;
    c->_avg = avg;
    c->_max = max;
    og_cdc_reset(c);
    return 0;
}

void og_cdc_reset(og_cdc_t *c)
{
    c->_hash = 0;
    c->_len = 0;
}

size_t og_cdc_scan(og_cdc_t *c, const void *data, size_t len, int *boundary)
{
    const uint8_t *p = data;
    uint64_t h = c->_hash;
    const uint64_t mask_s = c->_mask_s, mask_l = c->_mask_l;
    size_t base = c->_len; /* chunk offset of p[0] */
    size_t i, end, cut;

    /* Offsets [0, min) are skipped, [min, avg) tested with mask_s, [avg, max) with mask_l;
     * reaching offset max forces a cut. Each `end` is that limit as an index into p, capped
     * at len; base < max always holds between calls. */
    i = base < c->_min ? c->_min - base : 0;
    if (i >= len)
        goto more;
    end = base < c->_avg ? c->_avg - base : 0;
    if (end > len)
        end = len;
    for (; i < end; i++) {
        h = (h << 1) + og_cdc_gear[p[i]];
        if (!(h & mask_s))
            goto found;
    }
    end = c->_max - base;
    if (end > len)
        end = len;
    for (; i < end; i++) {
        h = (h << 1) + og_cdc_gear[p[i]];
        if (!(h & mask_l))
            goto found;
    }
    if (base + i == c->_max) {
        cut = i;
        goto chunk_done;
    }
more:
    c->_hash = h;
    c->_len = (uint32_t)(base + len);
    *boundary = 0;
    return len;
found:
    cut = i + 1;
chunk_done:
    og_cdc_reset(c);
    *boundary = 1;
    return cut;
}
