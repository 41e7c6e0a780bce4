#!/usr/bin/env python3
"""dit_ref.py: a reference DiT denoising step in PyTorch, timed per step.

One step = patchify the latent, run the transformer (FLUX.1-dev or SD3-medium
shapes, random bf16 weights drawn from a seeded generator on the device),
final adaLN layer, unpatchify, flow-matching Euler update of the latent.
With k ranks (torchrun, NCCL) the step runs Ulysses sequence parallelism:
each rank holds 1/k of the text and image tokens (padded to a multiple of
k, the padding masked out of attention); before attention one
all_to_all_single trades the token split of q, k, v for a head split, and
one after attention trades it back. Every rank ends the step holding the
full updated latent (one all-gather), which is what lets a scheduler change
the SP degree between steps.

Output: rows in the project's profile format (traces/README.md),
  model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch
plus, with --details, one row per cell with peak memory and the all-to-all
share of the step. See README.md beside this file for the CLI contract.
"""

import argparse
import csv
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

PROFILE_COLUMNS = ["model", "gpu", "height", "width", "sp", "step_ms",
                   "p50_ms", "p99_ms", "cv", "samples", "batch"]
DETAIL_COLUMNS = ["model", "gpu", "height", "width", "sp", "batch",
                  "step_ms", "peak_mem_gib", "weights_gib", "a2a_share",
                  "out_std", "check_rel_err"]
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
MIN_SAMPLES = 5        # timed steps per cell even when --max-seconds is hit
LATENT_DOWNSCALE = 8   # VAE: latent is (H/8, W/8)
ROPE_THETA = 10000.0
SD3_POS_EMBED_MAX = 192

# arch "flux": double-stream blocks, then single-stream blocks, RoPE, QK RMSNorm.
# arch "mmdit": SD3 joint blocks, learned absolute position embedding, no QK norm,
# the last block's text stream "pre-only" (no output projection or MLP).
PRESETS = {
    "flux-dev": dict(arch="flux", hidden=3072, heads=24, double=19, single=38,
                     txt_tokens=512, txt_dim=4096, vec_dim=768, channels=16,
                     patch=2, mlp_ratio=4, rope_axes=(16, 56, 56)),
    "sd3-medium": dict(arch="mmdit", hidden=1536, heads=24, double=24, single=0,
                       txt_tokens=333, txt_dim=4096, vec_dim=2048, channels=16,
                       patch=2, mlp_ratio=4, rope_axes=None),
    # Small models of the same code paths, for checking SP on a CPU.
    "tiny-flux": dict(arch="flux", hidden=64, heads=4, double=2, single=2,
                      txt_tokens=7, txt_dim=32, vec_dim=16, channels=4,
                      patch=2, mlp_ratio=4, rope_axes=(4, 6, 6)),
    "tiny-sd3": dict(arch="mmdit", hidden=64, heads=4, double=3, single=0,
                     txt_tokens=7, txt_dim=32, vec_dim=16, channels=4,
                     patch=2, mlp_ratio=4, rope_axes=None),
}


# ----------------------------------------------------------------------------
# Sequence parallelism


class SeqParallel:
    """Ulysses all-to-alls over a process group; world 1 means no communication.

    When `trace` is a list, each collective appends its (start, end) CUDA
    events to it, so a step can be split into communication and the rest.
    """

    def __init__(self, group, world, rank):
        self.group = group
        self.world = world
        self.rank = rank
        self.trace = None

    def _all_to_all(self, out, inp):
        if self.trace is None:
            dist.all_to_all_single(out, inp, group=self.group)
            return
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        dist.all_to_all_single(out, inp, group=self.group)
        end.record()
        self.trace.append((start, end))

    def scatter_heads(self, q, k, v):
        """(B, Lloc, H, D) x3 with local tokens -> (B, H/k, L, D) x3 with all
        tokens (ordered rank by rank) and this rank's heads."""
        b, lloc, h, d = q.shape
        hk = h // self.world
        send = q.new_empty(self.world, b, lloc, 3, hk, d)
        for i, t in enumerate((q, k, v)):
            send[:, :, :, i] = t.unflatten(2, (self.world, hk)).permute(2, 0, 1, 3, 4)
        recv = torch.empty_like(send)
        self._all_to_all(recv, send)
        # recv[src] holds rank src's tokens for our heads.
        full = recv.permute(3, 1, 4, 0, 2, 5).reshape(3, b, hk, self.world * lloc, d)
        return full[0], full[1], full[2]

    def gather_heads(self, o):
        """(B, H/k, L, D) for this rank's heads -> (B, Lloc, H*D) for our tokens."""
        b, hk, l, d = o.shape
        lloc = l // self.world
        send = o.unflatten(2, (self.world, lloc)).permute(2, 0, 3, 1, 4).contiguous()
        recv = torch.empty_like(send)
        self._all_to_all(recv, send)
        # recv[src] holds our tokens for rank src's heads.
        return recv.permute(1, 2, 0, 3, 4).reshape(b, lloc, self.world * hk * d)

    def gather_tokens(self, x):
        """(B, Lloc, C) -> (B, k*Lloc, C), rank-major token order."""
        if self.world == 1:
            return x
        b, lloc, c = x.shape
        out = x.new_empty(self.world * b, lloc, c)
        dist.all_gather_into_tensor(out, x.contiguous(), group=self.group)
        return out.view(self.world, b, lloc, c).permute(1, 0, 2, 3).reshape(b, -1, c)


# ----------------------------------------------------------------------------
# Token layout of one cell on one rank


class Layout:
    """Which text and image tokens this rank holds, the attention mask of
    the gathered sequence, and per-token positions (RoPE ids or SD3
    position-embedding rows)."""

    def __init__(self, cfg, height, width, sp, device):
        p = cfg["patch"]
        self.h = height // LATENT_DOWNSCALE // p
        self.w = width // LATENT_DOWNSCALE // p
        self.lt = cfg["txt_tokens"]
        self.li = self.h * self.w
        self.lt_loc = -(-self.lt // sp.world)
        self.li_loc = -(-self.li // sp.world)
        self.lt_pad = self.lt_loc * sp.world
        self.li_pad = self.li_loc * sp.world
        self.img_range = (sp.rank * self.li_loc, (sp.rank + 1) * self.li_loc)
        self.txt_range = (sp.rank * self.lt_loc, (sp.rank + 1) * self.lt_loc)
        # Padding tokens take the last real position; their keys are masked.
        img_idx = torch.arange(*self.img_range).clamp(max=self.li - 1)
        rows, cols = img_idx // self.w, img_idx % self.w
        self.img_ids = self.pos_rows = None
        if cfg["arch"] == "flux":
            self.img_ids = torch.stack([torch.zeros_like(rows), rows, cols], -1).float().to(device)
        else:
            # SD3 crops the centre of its 192x192 grid of position embeddings.
            if max(self.h, self.w) > SD3_POS_EMBED_MAX:
                raise ValueError(f"{height}x{width}: SD3 supports at most "
                                 f"{SD3_POS_EMBED_MAX} patches a side")
            top = (SD3_POS_EMBED_MAX - self.h) // 2
            left = (SD3_POS_EMBED_MAX - self.w) // 2
            self.pos_rows = ((top + rows) * SD3_POS_EMBED_MAX + left + cols).to(device)
        self.mask = self._key_mask(sp.world, device)

    def _key_mask(self, world, device):
        """Boolean (1,1,1,L) mask of real keys in the gathered order (rank by
        rank: that rank's text tokens, then its image tokens); None if no pad."""
        if self.lt_pad == self.lt and self.li_pad == self.li:
            return None
        valid = []
        for r in range(world):
            valid += [r * self.lt_loc + i < self.lt for i in range(self.lt_loc)]
            valid += [r * self.li_loc + i < self.li for i in range(self.li_loc)]
        return torch.tensor(valid, device=device).view(1, 1, 1, -1)


# ----------------------------------------------------------------------------
# Weights


class WeightFactory:
    """Draws seeded random weights on the device. Linear weights get std
    gain/sqrt(fan_in), so activations keep their scale through the layers."""

    def __init__(self, seed, device, dtype):
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)
        self.device = device
        self.dtype = dtype

    def randn(self, *shape, std=1.0):
        t = torch.randn(*shape, generator=self.gen, device=self.device, dtype=torch.float32)
        return (t * std).to(self.dtype)

    def linear(self, fan_in, fan_out, gain=1.0):
        return Linear(self.randn(fan_out, fan_in, std=gain / math.sqrt(fan_in)),
                      self.randn(fan_out, std=0.02))


class Linear:
    def __init__(self, weight, bias):
        self.weight = weight
        self.bias = bias

    def __call__(self, x):
        return F.linear(x, self.weight, self.bias)


class MLPEmbedder:
    """in -> hidden, SiLU, hidden -> hidden (time, guidance, pooled text)."""

    def __init__(self, wf, fan_in, hidden):
        self.inp = wf.linear(fan_in, hidden)
        self.out = wf.linear(hidden, hidden)

    def __call__(self, x):
        return self.out(F.silu(self.inp(x)))


# adaLN weights are small so shifts, scales and gates stay near 0 and the
# residual stream stays finite over 57 blocks of random weights.
ADALN_GAIN = 0.2


class Modulation:
    """SiLU(vec) -> n chunks of (B, 1, d): shift/scale/gate vectors."""

    def __init__(self, wf, hidden, n):
        self.lin = wf.linear(hidden, n * hidden, gain=ADALN_GAIN)
        self.n = n

    def __call__(self, vec):
        return self.lin(F.silu(vec))[:, None, :].chunk(self.n, dim=-1)


def layer_norm(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def modulate(x, shift, scale):
    return layer_norm(x) * (1 + scale) + shift


# ----------------------------------------------------------------------------
# Attention pieces


def timestep_embedding(t, dim=256, max_period=10000.0):
    """Sinusoidal embedding of t*1000 (float32), as FLUX and SD3 do."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period)
                      * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_angles(ids, axes):
    """ids (L, 3) -> cos, sin of shape (L, 1, D/2): RoPE over (t, row, col)."""
    parts = []
    for i, dim in enumerate(axes):
        omega = 1.0 / ROPE_THETA ** (torch.arange(0, dim, 2, dtype=torch.float32,
                                                   device=ids.device) / dim)
        parts.append(ids[:, i:i + 1] * omega[None])
    ang = torch.cat(parts, dim=-1)[:, None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x (B, L, H, D), rotating interleaved pairs, computed in float32."""
    xf = x.float().unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack([cos * x0 - sin * x1, sin * x0 + cos * x1], dim=-1)
    return out.flatten(-2).to(x.dtype)


class QKNorm:
    """Per-head RMSNorm of q and k with learned scales (FLUX)."""

    def __init__(self, wf, head_dim):
        self.q_scale = (1 + wf.randn(head_dim, std=0.05)).to(wf.dtype)
        self.k_scale = (1 + wf.randn(head_dim, std=0.05)).to(wf.dtype)

    def __call__(self, q, k):
        d = (q.shape[-1],)
        return (F.rms_norm(q, d, self.q_scale, eps=1e-6),
                F.rms_norm(k, d, self.k_scale, eps=1e-6))


def split_qkv(qkv, heads):
    """(B, L, 3d) -> q, k, v of (B, L, H, D)."""
    b, l, _ = qkv.shape
    return qkv.view(b, l, 3, heads, -1).unbind(2)


def attention(sp, q, k, v, mask):
    """Joint attention over all ranks' tokens. q, k, v: (B, Lloc, H, D) for
    this rank's tokens. Returns (B, Lloc, H*D)."""
    if sp.world == 1:
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                           v.transpose(1, 2), attn_mask=mask)
        b, h, l, d = o.shape
        return o.transpose(1, 2).reshape(b, l, h * d)
    qh, kh, vh = sp.scatter_heads(q, k, v)
    o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
    return sp.gather_heads(o)


# ----------------------------------------------------------------------------
# Blocks


class Stream:
    """One stream (image or text) of a joint block: adaLN, qkv, output
    projection and MLP. pre_only: the stream only feeds keys/values (SD3's
    last text stream)."""

    def __init__(self, wf, cfg, qk_norm, pre_only=False):
        d = cfg["hidden"]
        self.pre_only = pre_only
        self.mod = Modulation(wf, d, 2 if pre_only else 6)
        self.qkv = wf.linear(d, 3 * d)
        self.norm = QKNorm(wf, d // cfg["heads"]) if qk_norm else None
        if not pre_only:
            self.proj = wf.linear(d, d)
            self.mlp_in = wf.linear(d, cfg["mlp_ratio"] * d)
            self.mlp_out = wf.linear(cfg["mlp_ratio"] * d, d)

    def pre_attention(self, x, vec, heads):
        mods = self.mod(vec)
        q, k, v = split_qkv(self.qkv(modulate(x, mods[0], mods[1])), heads)
        if self.norm is not None:
            q, k = self.norm(q, k)
        return (q, k, v), mods

    def post_attention(self, x, attn, mods):
        shift1, scale1, gate1, shift2, scale2, gate2 = mods
        x = x + gate1 * self.proj(attn)
        h = self.mlp_in(modulate(x, shift2, scale2))
        return x + gate2 * self.mlp_out(F.gelu(h, approximate="tanh"))


class JointBlock:
    """FLUX double-stream block / SD3 MM-DiT block: separate weights for
    text and image, one attention over both (text tokens first)."""

    def __init__(self, wf, cfg, qk_norm, txt_pre_only=False):
        self.heads = cfg["heads"]
        self.img = Stream(wf, cfg, qk_norm)
        self.txt = Stream(wf, cfg, qk_norm, pre_only=txt_pre_only)

    def __call__(self, sp, img, txt, vec, rope, mask):
        (iq, ik, iv), imods = self.img.pre_attention(img, vec, self.heads)
        (tq, tk, tv), tmods = self.txt.pre_attention(txt, vec, self.heads)
        q, k, v = (torch.cat(p, dim=1) for p in ((tq, iq), (tk, ik), (tv, iv)))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        attn = attention(sp, q, k, v, mask)
        lt = txt.shape[1]
        img = self.img.post_attention(img, attn[:, lt:], imods)
        if self.txt.pre_only:
            return img, txt
        return img, self.txt.post_attention(txt, attn[:, :lt], tmods)


class SingleBlock:
    """FLUX single-stream block: linear1 d -> 3d (qkv) + 4d (MLP), attention,
    linear2 (d + 4d) -> d, gated residual."""

    def __init__(self, wf, cfg):
        d = cfg["hidden"]
        self.heads = cfg["heads"]
        self.mlp_dim = cfg["mlp_ratio"] * d
        self.mod = Modulation(wf, d, 3)
        self.linear1 = wf.linear(d, 3 * d + self.mlp_dim)
        self.linear2 = wf.linear(d + self.mlp_dim, d)
        self.norm = QKNorm(wf, d // cfg["heads"])

    def __call__(self, sp, x, vec, rope, mask):
        shift, scale, gate = self.mod(vec)
        qkv, mlp = self.linear1(modulate(x, shift, scale)).split(
            [x.shape[-1] * 3, self.mlp_dim], dim=-1)
        q, k, v = split_qkv(qkv, self.heads)
        q, k = self.norm(q, k)
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        attn = attention(sp, q, k, v, mask)
        out = self.linear2(torch.cat([attn, F.gelu(mlp, approximate="tanh")], dim=-1))
        return x + gate * out


class FinalLayer:
    """adaLN (shift, scale) + LayerNorm + linear to patch channels."""

    def __init__(self, wf, cfg):
        d = cfg["hidden"]
        self.mod = Modulation(wf, d, 2)
        self.linear = wf.linear(d, cfg["patch"] ** 2 * cfg["channels"])

    def __call__(self, x, vec):
        shift, scale = self.mod(vec)
        return self.linear(modulate(x, shift, scale))


# ----------------------------------------------------------------------------
# Models


class DiT:
    """The transformer of one preset; __call__ maps this rank's tokens to
    its share of the velocity (B, Li_loc, p*p*C) in float32."""

    def __init__(self, cfg, wf):
        d = cfg["hidden"]
        self.cfg = cfg
        self.flux = cfg["arch"] == "flux"
        patch_dim = cfg["patch"] ** 2 * cfg["channels"]
        self.img_in = wf.linear(patch_dim, d)
        self.txt_in = wf.linear(cfg["txt_dim"], d)
        self.time_in = MLPEmbedder(wf, 256, d)
        self.vector_in = MLPEmbedder(wf, cfg["vec_dim"], d)
        if self.flux:
            self.guidance_in = MLPEmbedder(wf, 256, d)
            self.double = [JointBlock(wf, cfg, qk_norm=True) for _ in range(cfg["double"])]
            self.single = [SingleBlock(wf, cfg) for _ in range(cfg["single"])]
        else:
            self.pos_embed = wf.randn(SD3_POS_EMBED_MAX ** 2, d, std=0.5)
            n = cfg["double"]
            self.double = [JointBlock(wf, cfg, qk_norm=False, txt_pre_only=(i == n - 1))
                           for i in range(n)]
            self.single = []
        self.final = FinalLayer(wf, cfg)

    def __call__(self, sp, lay, img_tokens, txt, pooled, t, guidance):
        img = self.img_in(img_tokens)
        txt = self.txt_in(txt)
        vec = self.time_in(timestep_embedding(t).to(img.dtype)) + self.vector_in(pooled)
        rope = None
        if self.flux:
            vec = vec + self.guidance_in(timestep_embedding(guidance).to(img.dtype))
            txt_ids = torch.zeros(txt.shape[1], 3, device=img.device)
            rope = rope_angles(torch.cat([txt_ids, lay.img_ids]), self.cfg["rope_axes"])
        else:
            img = img + self.pos_embed[lay.pos_rows]
        for blk in self.double:
            img, txt = blk(sp, img, txt, vec, rope, lay.mask)
        if self.single:
            x = torch.cat([txt, img], dim=1)
            for blk in self.single:
                x = blk(sp, x, vec, rope, lay.mask)
            img = x[:, txt.shape[1]:]
        return self.final(img, vec).float()


def patchify(latent, p):
    """(B, C, h, w) -> (B, (h/p)(w/p), C*p*p)."""
    b, c, h, w = latent.shape
    x = latent.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


def unpatchify(tokens, c, h, w, p):
    """Inverse of patchify."""
    b = tokens.shape[0]
    x = tokens.view(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, h, w)


def denoise_step(model, sp, lay, latent, txt, pooled, t_curr, t_prev, guidance):
    """One Euler step of flow matching: latent (B, C, h, w) float32 on every
    rank -> the updated latent, float32, on every rank. txt is padded to
    lt_pad tokens."""
    cfg = model.cfg
    p, (_, c, h, w) = cfg["patch"], latent.shape
    tokens = F.pad(patchify(latent, p), (0, 0, 0, lay.li_pad - lay.li))
    local = tokens[:, lay.img_range[0]:lay.img_range[1]]
    txt_local = txt[:, lay.txt_range[0]:lay.txt_range[1]]
    vel = model(sp, lay, local.to(txt.dtype), txt_local, pooled, t_curr, guidance)
    updated = local + (t_prev - t_curr)[:, None, None] * vel
    full = sp.gather_tokens(updated)[:, :lay.li]
    return unpatchify(full, c, h, w, p)


# ----------------------------------------------------------------------------
# Measurement


def short_gpu_name(name):
    """'NVIDIA H100 80GB HBM3' -> 'H100-SXM-80GB'; 'NVIDIA H200' -> 'H200'."""
    if "H100" in name:
        if "PCIe" in name:
            return "H100-PCIe-80GB"
        if "NVL" in name:
            return "H100-NVL-94GB"
        return "H100-SXM-80GB"
    if "H200" in name:
        return "H200"
    return name.replace("NVIDIA", "").strip().replace(" ", "-") or "unknown"


class Clock:
    """Times device work: CUDA events on a GPU, the host clock on a CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def start(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return time.perf_counter()

    def stop_ms(self, start):
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        return (time.perf_counter() - start) * 1e3


def all_max(value, device, group):
    """Max of a float over the group; also a barrier."""
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
    return t.item()


def all_mean(value, device, group, world):
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
    return t.item() / world


def percentile(sorted_xs, q):
    """Linear-interpolated percentile (numpy's default) of a sorted list."""
    pos = (len(sorted_xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def summarize(samples):
    """mean, p50, p99, cv (sample std / mean, a fraction) of step times."""
    n = len(samples)
    mean = sum(samples) / n
    var = sum((x - mean) ** 2 for x in samples) / (n - 1) if n > 1 else 0.0
    s = sorted(samples)
    return mean, percentile(s, 50), percentile(s, 99), math.sqrt(var) / mean


class Cell:
    """Inputs of one (resolution, batch) cell, drawn from a seeded generator."""

    def __init__(self, cfg, height, width, batch, seed, device, dtype, lay):
        g = torch.Generator(device=device)
        g.manual_seed(seed)
        h8, w8 = height // LATENT_DOWNSCALE, width // LATENT_DOWNSCALE
        self.latent = torch.randn(batch, cfg["channels"], h8, w8, generator=g, device=device)
        txt = torch.randn(batch, cfg["txt_tokens"], cfg["txt_dim"], generator=g, device=device)
        self.txt = F.pad(txt, (0, 0, 0, lay.lt_pad - lay.lt)).to(dtype)
        self.pooled = torch.randn(batch, cfg["vec_dim"], generator=g, device=device).to(dtype)
        self.t_curr = torch.full((batch,), 0.5, device=device)
        self.t_prev = torch.full((batch,), 0.48, device=device)
        self.guidance = torch.full((batch,), 3.5, device=device)

    def step(self, model, sp, lay):
        return denoise_step(model, sp, lay, self.latent, self.txt, self.pooled,
                            self.t_curr, self.t_prev, self.guidance)


def velocity_rel_err(model, sp, lay_sp, lay_one, cell):
    """Relative L2 error between the SP step's update and a single-rank step
    on the same inputs (each rank holds all weights)."""
    one = SeqParallel(None, 1, 0)
    ref = cell.step(model, one, lay_one) - cell.latent
    got = cell.step(model, sp, lay_sp) - cell.latent
    return ((got - ref).norm() / ref.norm()).item()


def time_cell(model, sp, lay, cell, args, clock, device):
    """Warm-up, then timed steps until --iters or --max-seconds (at least
    MIN_SAMPLES). Each sample is the slowest rank's step; ranks start each
    step together (the max-reduction of the previous sample is a barrier)."""
    for _ in range(args.warmup):
        cell.step(model, sp, lay)
    all_max(0.0, device, sp.group)
    samples = []
    while len(samples) < args.iters:
        t0 = clock.start()
        cell.step(model, sp, lay)
        samples.append(all_max(clock.stop_ms(t0), device, sp.group))
        if sum(samples) >= 1e3 * args.max_seconds and len(samples) >= MIN_SAMPLES:
            break
    return samples


def a2a_share(model, sp, lay, cell, clock, device, steps=3):
    """Share of step time spent inside the all-to-alls (CUDA events around
    each collective, which includes waiting for the slowest peer), averaged
    over ranks and a few extra steps. 0 without SP or without CUDA."""
    if sp.world == 1 or not clock.cuda:
        return 0.0
    total_comm = total_step = 0.0
    for _ in range(steps):
        sp.trace = []
        all_max(0.0, device, sp.group)
        t0 = clock.start()
        cell.step(model, sp, lay)
        total_step += clock.stop_ms(t0)
        total_comm += sum(s.elapsed_time(e) for s, e in sp.trace)
    sp.trace = None
    return all_mean(total_comm / total_step, device, sp.group, sp.world)


# ----------------------------------------------------------------------------
# Driver


def parse_res(text):
    """'256,512' or '1024x768' -> [(h, w), ...], each a multiple of 16."""
    out = []
    for item in text.split(","):
        h, sep, w = item.strip().lower().partition("x")
        if not (h.isdigit() and (w.isdigit() or not sep)):
            raise ValueError(f"--res: '{item}' is not N or HxW")
        hw = (int(h), int(w or h))
        if hw[0] <= 0 or hw[1] <= 0 or hw[0] % 16 or hw[1] % 16:
            raise ValueError(f"--res: '{item}' is not a positive multiple of 16")
        out.append(hw)
    return out


def parse_ints(text, name):
    if not all(x.strip().isdigit() for x in text.split(",")):
        raise ValueError(f"{name}: '{text}' is not a comma-separated list of integers")
    vals = [int(x) for x in text.split(",")]
    if any(v <= 0 for v in vals):
        raise ValueError(f"{name}: values must be positive, got '{text}'")
    return vals


def cells_of(args):
    """(h, w, batch) in order of growing work, so a budget cut drops the largest."""
    cells = [(h, w, b) for (h, w) in args.res for b in args.batch
             if b == 1 or args.batch_res_max is None or max(h, w) <= args.batch_res_max]
    return sorted(cells, key=lambda c: (c[0] * c[1] * c[2], c[2]))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default="flux-dev", choices=sorted(PRESETS))
    ap.add_argument("--res", default="256,512,1024,2048",
                    help="square sizes or HxW, comma-separated (multiples of 16)")
    ap.add_argument("--batch", default="1", help="batch sizes, comma-separated")
    ap.add_argument("--batch-res-max", type=int, default=None,
                    help="run batches > 1 only at resolutions up to this side")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per cell")
    ap.add_argument("--iters", type=int, default=20, help="most timed steps per cell")
    ap.add_argument("--max-seconds", type=float, default=4.0,
                    help=f"stop timing a cell after this much step time "
                         f"(at least {MIN_SAMPLES} steps)")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="start no new cell after this many seconds of the run")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES),
                    help="weights and activations (fp32 sharpens --check on a CPU)")
    ap.add_argument("--check", action="store_true",
                    help="with SP, compare the first cell's update with a one-rank step")
    ap.add_argument("--check-tol", type=float, default=None,
                    help="with --check, exit 1 when the relative error exceeds this")
    ap.add_argument("--out", required=True, help="profile CSV to write (rank 0)")
    ap.add_argument("--details", default=None,
                    help="CSV of peak memory and all-to-all share per cell (rank 0)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu (gloo) is for checking the SP logic on tiny presets")
    args = ap.parse_args(argv)
    try:
        args.res = parse_res(args.res)
        args.batch = parse_ints(args.batch, "--batch")
    except ValueError as e:
        ap.error(str(e))
    if args.iters < 1 or args.warmup < 0:
        ap.error("--iters must be >= 1 and --warmup >= 0")
    return args


def init_dist(device_kind):
    """Process group from torchrun's environment (or a single process)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_kind == "cuda":
        if not torch.cuda.is_available():
            sys.exit("dit_ref.py: no CUDA device (use --device cpu for tiny presets)")
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if "MASTER_ADDR" not in os.environ:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    dist.init_process_group(backend, rank=rank, world_size=world,
                            device_id=device if backend == "nccl" else None)
    return SeqParallel(dist.group.WORLD, world, rank), device


def open_csv(path, columns):
    f = open(path, "w", newline="")
    w = csv.writer(f)
    w.writerow(columns)
    f.flush()
    return f, w


def measure_cell(model, sp, cfg, args, device, clock, meta, hwb, check):
    """Times one cell and returns (profile row, details row). meta: (short
    GPU name, GiB of weights per rank)."""
    gpu, weights_gib = meta
    h, w, b = hwb
    lay = Layout(cfg, h, w, sp, device)
    cell = Cell(cfg, h, w, b, args.seed + 1, device, DTYPES[args.dtype], lay)
    rel_err = ""
    if check:
        lay_one = Layout(cfg, h, w, SeqParallel(None, 1, 0), device)
        rel_err = velocity_rel_err(model, sp, lay, lay_one, cell)
        if args.check_tol is not None and not rel_err <= args.check_tol:
            raise RuntimeError(f"--check: {h}x{w} b{b} sp{sp.world}: relative error "
                               f"{rel_err:.3e} above {args.check_tol:g}")
    if clock.cuda:  # after the check: its one-rank step is not part of this cell
        torch.cuda.reset_peak_memory_stats(device)
    samples = time_cell(model, sp, lay, cell, args, clock, device)
    share = a2a_share(model, sp, lay, cell, clock, device)
    out_std = cell.step(model, sp, lay).std().item()
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if clock.cuda else 0.0
    peak = all_max(peak, device, sp.group)
    mean, p50, p99, cv = summarize(samples)
    row = [args.model, gpu, h, w, sp.world, f"{mean:.3f}", f"{p50:.3f}", f"{p99:.3f}",
           f"{cv:.5f}", len(samples), b]
    details = [args.model, gpu, h, w, sp.world, b, f"{mean:.3f}", f"{peak:.2f}",
               f"{weights_gib:.2f}", f"{share:.4f}", f"{out_std:.4f}",
               rel_err if rel_err == "" else f"{rel_err:.3e}"]
    if not math.isfinite(out_std):
        raise RuntimeError(f"cell {h}x{w} b{b} sp{sp.world}: non-finite latent")
    return row, details


def check_shapes(cfg, res):
    """Exits with a message if a resolution does not fit the preset."""
    for h, w in res:
        try:
            Layout(cfg, h, w, SeqParallel(None, 1, 0), torch.device("cpu"))
        except ValueError as e:
            sys.exit(f"dit_ref.py: --res: {e}")


def main(argv):
    args = parse_args(argv)
    t_begin = time.monotonic()
    cfg = PRESETS[args.model]
    check_shapes(cfg, args.res)
    sp, device = init_dist(args.device)
    if cfg["heads"] % sp.world:
        sys.exit(f"dit_ref.py: {cfg['heads']} heads do not split over {sp.world} ranks")
    clock = Clock(device)
    gpu = short_gpu_name(torch.cuda.get_device_name(device)) if clock.cuda else "cpu"
    model = DiT(cfg, WeightFactory(args.seed, device, DTYPES[args.dtype]))
    weights_gib = torch.cuda.memory_allocated(device) / 2**30 if clock.cuda else 0.0
    lead = sp.rank == 0
    out_f, out_w = open_csv(args.out, PROFILE_COLUMNS) if lead else (None, None)
    det_f, det_w = (open_csv(args.details, DETAIL_COLUMNS)
                    if lead and args.details else (None, None))
    if lead:
        print(f"# {args.model} sp={sp.world} on {gpu}: weights {weights_gib:.2f} GiB/rank, "
              f"torch {torch.__version__}", flush=True)
    for i, hwb in enumerate(cells_of(args)):
        elapsed = all_max(time.monotonic() - t_begin, device, sp.group)
        if args.time_budget is not None and elapsed > args.time_budget:
            if lead:
                print(f"# budget: skipped {hwb[0]}x{hwb[1]} b{hwb[2]}", flush=True)
            continue
        check = args.check and i == 0 and sp.world > 1
        row, details = measure_cell(model, sp, cfg, args, device, clock,
                                    (gpu, weights_gib), hwb, check)
        if lead:
            out_w.writerow(row)
            out_f.flush()
            if det_w:
                det_w.writerow(details)
                det_f.flush()
            print(f"{args.model} {hwb[0]}x{hwb[1]} b{hwb[2]} sp{sp.world}: "
                  f"mean {row[5]} p50 {row[6]} p99 {row[7]} ms cv {row[8]} n {row[9]} "
                  f"peak {details[7]} GiB a2a {details[9]} rel_err {details[11]}",
                  flush=True)
    if lead:
        out_f.close()
        if det_f:
            det_f.close()
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
