"""The paper's base SLOs, the same rule as `tetriserve trace gen`
(ts_slo_base_s in common/io/tracegen.c; traces/README.md, "SLOs"), so an
imported trace and a generated one give a size the same SLO."""

import math

# (pixels, base SLO in seconds): 256², 512², 1024², 2048².
SLO_TABLE = ((256.0 * 256.0, 1.5), (512.0 * 512.0, 2.0), (1024.0 * 1024.0, 3.0), (2048.0 * 2048.0, 5.0))


def slo_base_s(height: int, width: int) -> float:
    """Base SLO of a height x width image: the table's value at a table
    size, else a straight line in (log pixels, log SLO) between the two
    neighbouring sizes, the end segment's line extended outside them."""
    px = float(height) * width
    hi = 1
    while hi < len(SLO_TABLE) - 1 and SLO_TABLE[hi][0] < px:
        hi += 1
    for pixels, slo in SLO_TABLE[hi - 1:hi + 1]:
        if pixels == px:
            return slo
    (p0, s0), (p1, s1) = SLO_TABLE[hi - 1], SLO_TABLE[hi]
    x0, y0, x1, y1 = math.log(p0), math.log(s0), math.log(p1), math.log(s1)
    return math.exp(y0 + (y1 - y0) * (math.log(px) - x0) / (x1 - x0))


def slo_us(height: int, width: int, scale: float) -> int:
    """scale x base SLO in whole microseconds, rounded half away from zero
    as the generator's llround does."""
    return math.floor(scale * slo_base_s(height, width) * 1e6 + 0.5)
