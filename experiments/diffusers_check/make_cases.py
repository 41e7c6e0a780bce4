#!/usr/bin/env python3
"""make_cases.py: diffusers transformers with random weights, saved as the
folders users have (config.json, diffusion_pytorch_model*.safetensors), each
with a case.safetensors holding fixed inputs and what diffusers' forward
gives for them, for our engine to be checked against (tests/gpu/test_diffusers).

  make_cases.py tiny OUTROOT          OUTROOT/tiny_flux, OUTROOT/tiny_sd3 (CPU;
                                      the committed tests/data folders)
  make_cases.py full flux|sd3 OUTDIR [--res 1024] [--device cuda]
                                      FLUX.1-dev or SD3-medium shapes

case.safetensors (all F32):
  latent   [B, C, H/8, W/8]   the noisy latent (bf16 values)
  text     [B, L, text_dim]   text embeddings (bf16 values)
  pooled   [B, pooled_dim]    pooled text embedding (bf16 values)
  sigma    [2]                sigma of the step and the next one
  guidance [1]                FLUX guidance scale (0 for SD3)
  out_bf16 [B, C, H/8, W/8]   diffusers' output, model in bf16
  out_fp32 [B, C, H/8, W/8]   diffusers' output, the same (bf16-valued)
                              weights and inputs in fp32: the reference

The outputs are the predicted velocity in the latent's layout: FLUX's packed
tokens unpacked as FluxPipeline does, SD3's as the model returns it. FLUX in
diffusers rounds the timestep and guidance to the model's dtype before and
after multiplying by 1000; the fp32 run is given those rounded values, so
both runs compute the same function and differ only by rounding.
"""
import argparse
import copy
import json
import os
import sys
import time

import torch
from safetensors.torch import save_file

FLUX_DEV = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56))
SD3_MEDIUM = dict(sample_size=128, patch_size=2, in_channels=16, num_layers=24,
                  attention_head_dim=64, num_attention_heads=24, joint_attention_dim=4096,
                  caption_projection_dim=1536, pooled_projection_dim=2048, out_channels=16,
                  pos_embed_max_size=192)
# Tiny: real head widths of the kernels (64), 2 heads so that SP 2 splits
# them, one block of each kind (SD3's only block is its last, text stream
# ending after the attention), rows that do not divide by 2 (SP padding).
TINY_FLUX = dict(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                 attention_head_dim=64, num_attention_heads=2, joint_attention_dim=32,
                 pooled_projection_dim=16, guidance_embeds=True, axes_dims_rope=(8, 28, 28))
TINY_SD3 = dict(sample_size=16, patch_size=2, in_channels=16, num_layers=1,
                attention_head_dim=64, num_attention_heads=2, joint_attention_dim=32,
                caption_projection_dim=128, pooled_projection_dim=16, out_channels=16,
                pos_embed_max_size=16)


def model_class(kind):
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel
    return FluxTransformer2DModel if kind == "flux" else SD3Transformer2DModel


def build(kind, cfg, device, seed):
    """The model in bf16 with random weights: diffusers' own initialisation,
    then every norm scale (all ones there) drawn from U(0.5, 1.5) so that
    the check sees where each goes."""
    torch.manual_seed(seed)
    with torch.device(device):
        m = model_class(kind)(**cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".norm_" in name and name.endswith(".weight"):
                p.uniform_(0.5, 1.5)
    return m.to(torch.bfloat16).eval()


def bf16_values(shape, gen, device):
    return torch.randn(shape, generator=gen, device=device).to(torch.bfloat16).float()


def pack(x):
    """FluxPipeline._pack_latents: [B, C, h, w] -> [B, h/2 * w/2, 4C]."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(x, h, w):
    """FluxPipeline._unpack_latents: [B, h/2 * w/2, 4C] -> [B, C, h, w]."""
    b, _, f = x.shape
    x = x.view(b, h // 2, w // 2, f // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, f // 4, h, w)


def bf16_round(v):
    return torch.tensor([v], dtype=torch.float32).to(torch.bfloat16).float().item()


def flux_forward(m, inp, dtype):
    """One forward of FluxTransformer2DModel as FluxPipeline calls it."""
    lat = inp["latent"]
    b, _, h, w = lat.shape
    dev = lat.device
    ids = torch.zeros(h // 2, w // 2, 3, device=dev)
    ids[..., 1] += torch.arange(h // 2, device=dev)[:, None]
    ids[..., 2] += torch.arange(w // 2, device=dev)[None, :]
    txt_ids = torch.zeros(inp["text"].shape[1], 3, device=dev)
    sigma, g = inp["sigma"][0].item(), inp["guidance"][0].item()
    if dtype == torch.float32:  # the bf16 model's own rounding of t and g
        sigma = bf16_round(bf16_round(sigma) * 1000.0) / 1000.0
        g = bf16_round(bf16_round(g) * 1000.0) / 1000.0
    out = m(hidden_states=pack(lat).to(dtype), encoder_hidden_states=inp["text"].to(dtype),
            pooled_projections=inp["pooled"].to(dtype),
            timestep=torch.full((b,), sigma, dtype=torch.float32, device=dev),
            img_ids=ids.reshape(-1, 3), txt_ids=txt_ids,
            guidance=torch.full((b,), g, dtype=torch.float32, device=dev),
            return_dict=False)[0]
    return unpack(out.float(), h, w)


def sd3_forward(m, inp, dtype):
    """One forward of SD3Transformer2DModel as StableDiffusion3Pipeline calls
    it: the timestep is sigma x 1000 in fp32."""
    b = inp["latent"].shape[0]
    t = torch.full((b,), inp["sigma"][0].item(), dtype=torch.float32,
                   device=inp["latent"].device) * 1000.0
    out = m(hidden_states=inp["latent"].to(dtype), encoder_hidden_states=inp["text"].to(dtype),
            pooled_projections=inp["pooled"].to(dtype), timestep=t, return_dict=False)[0]
    return out.float()


def make_inputs(kind, cfg, batch, height, width, text_tokens, device, seed):
    gen = torch.Generator(device=device).manual_seed(seed)
    ch = cfg["in_channels"] // 4 if kind == "flux" else cfg["in_channels"]
    return {
        "latent": bf16_values((batch, ch, height // 8, width // 8), gen, device),
        "text": bf16_values((batch, text_tokens, cfg["joint_attention_dim"]), gen, device),
        "pooled": bf16_values((batch, cfg["pooled_projection_dim"]), gen, device),
        "sigma": torch.tensor([0.6, 0.55], device=device),
        "guidance": torch.tensor([3.5 if kind == "flux" else 0.0], device=device),
    }


@torch.no_grad()
def make_case(kind, cfg, outdir, batch, height, width, text_tokens, device, seed):
    """Saves the model and case.safetensors into outdir; returns the
    relative L2 distance of the bf16 output from the fp32 one."""
    t0 = time.time()
    m = build(kind, cfg, device, seed)
    inp = make_inputs(kind, cfg, batch, height, width, text_tokens, device, seed + 1)
    fwd = flux_forward if kind == "flux" else sd3_forward
    out_bf16 = fwd(m, inp, torch.bfloat16)
    ref = copy.deepcopy(m).float()
    out_fp32 = fwd(ref, inp, torch.float32)
    del ref
    print(f"{kind} {height}x{width}: model and forwards in {time.time() - t0:.1f} s", flush=True)
    os.makedirs(outdir, exist_ok=True)
    shard = "1MB" if kind == "flux" and cfg["num_layers"] < 4 else "10GB"
    t0 = time.time()
    m.save_pretrained(outdir, max_shard_size=shard)
    print(f"{kind}: saved to {outdir} in {time.time() - t0:.1f} s", flush=True)
    case = dict(inp)
    case["out_bf16"], case["out_fp32"] = out_bf16, out_fp32
    save_file({k: v.float().contiguous().cpu() for k, v in case.items()},
              os.path.join(outdir, "case.safetensors"))
    err = ((out_bf16 - out_fp32).norm() / out_fp32.norm()).item()
    print(f"{kind}: diffusers bf16 vs fp32: relative L2 {err:.3e}, "
          f"max abs {(out_bf16 - out_fp32).abs().max().item():.3e}, "
          f"rms(ref) {out_fp32.pow(2).mean().sqrt().item():.3e}", flush=True)
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["tiny", "full"])
    ap.add_argument("rest", nargs="+", help="tiny: OUTROOT; full: flux|sd3 OUTDIR")
    ap.add_argument("--res", type=int, default=1024)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    # the fp32 reference in true fp32: no TF32 matmuls or convolutions
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.what == "tiny":
        root = a.rest[0]
        # 80 x 112 pixels: 5 x 7 patches (odd: SP 2 pads), 7 text tokens.
        make_case("flux", TINY_FLUX, os.path.join(root, "tiny_flux"), 2, 80, 112, 7, "cpu", 11)
        make_case("sd3", TINY_SD3, os.path.join(root, "tiny_sd3"), 1, 80, 112, 7, "cpu", 21)
        return 0
    if len(a.rest) != 2 or a.rest[0] not in ("flux", "sd3"):
        ap.error("full: flux|sd3 OUTDIR")
    kind, outdir = a.rest
    cfg, tokens = (FLUX_DEV, 512) if kind == "flux" else (SD3_MEDIUM, 333)
    make_case(kind, cfg, outdir, 1, a.res, a.res, tokens, a.device, 31)
    with open(os.path.join(outdir, "config.json")) as f:
        print(f"{kind}: config {json.load(f)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
