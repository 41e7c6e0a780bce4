#!/usr/bin/env python3
"""dit_model.py: the reference DiT of dit_ref.py in PyTorch: FLUX.1-dev and
SD3-medium shapes (and tiny ones for CPU checks), random bf16 weights from a
seeded generator on the device, Ulysses sequence parallelism over k ranks
(each rank holds 1/k of the text and image tokens, padded to a multiple of
k and masked out of attention; one all_to_all_single before attention
trades the token split of q, k, v for a head split, one after trades it
back), and one flow-matching Euler denoising step that ends with every rank
holding the full latent."""

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
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
