# sdpa_backends.py: times torch SDPA per backend (default, flash, cuDNN,
# mem-efficient) at the step engine's large attention shapes, and names the
# kernel the default picks. Run: python3 experiments/bench_step/sdpa_backends.py
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
torch.manual_seed(0)
cases = [("sd3 2048^2", 16717, 24, 64), ("sd3 1024^2", 4429, 24, 64), ("flux 2048^2", 16896, 24, 128)]
backs = [("default", None), ("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
         ("efficient", SDPBackend.EFFICIENT_ATTENTION)]
print(torch.__version__, torch.cuda.get_device_name(), "cudnn", torch.backends.cudnn.version())
for name, n, h, d in cases:
    q, k, v = (torch.randn(1, h, n, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flops = 4 * n * n * d * h
    for bname, b in backs:
        def f():
            if b is None:
                return F.scaled_dot_product_attention(q, k, v)
            with sdpa_kernel([b]):
                return F.scaled_dot_product_attention(q, k, v)
        try:
            for _ in range(3): f()
            ts = []
            for _ in range(10):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record(); f(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
            ts.sort(); ms = ts[5]
            print(f"{name:12s} {bname:10s} {ms:8.3f} ms {flops/ms/1e9:7.1f} TFLOP/s", flush=True)
        except Exception as ex:
            print(f"{name:12s} {bname:10s} failed: {str(ex)[:100]}")
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as p:
    q, k, v = (torch.randn(1, 24, 16717, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    F.scaled_dot_product_attention(q, k, v); torch.cuda.synchronize()
for e in p.key_averages():
    print("kernel:", e.key[:120])
