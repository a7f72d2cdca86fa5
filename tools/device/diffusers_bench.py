"""Times HuggingFace diffusers' UNet2DConditionModel beside `sdj bench`, on the same GPU in the same run.

Random weights from the same config.json sdj builds its U-Net from, fp16, diffusers' default attention
(SDPA), CFG batch 2, the latent size of the image; CUDA events around each forward after warm-up; median of
the timed steps. diffusers itself is not on the GPU machine: bundle.sh packs its source (DIFFUSERS_SRC) and
run.sh puts it on PYTHONPATH; PyTorch comes from the machine. Prints the figures as `key: value` lines and a
JSON line last.
"""
import argparse
import json
import statistics
import sys

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="a diffusers unet config.json")
    p.add_argument("--name", default="unet")
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--batch", type=int, default=2, help="U-Net batch: 2 = one image with CFG")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()

    import diffusers
    from diffusers import UNet2DConditionModel

    with open(a.config) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    torch.manual_seed(0)
    dev, dtype = torch.device("cuda"), torch.float16
    unet = UNet2DConditionModel.from_config(cfg).to(dev, dtype).eval()
    b, h, w = a.batch, a.height // 8, a.width // 8
    x = torch.randn(b, cfg.get("in_channels", 4), h, w, device=dev, dtype=dtype)
    t = torch.full((b,), 999, device=dev, dtype=torch.long)
    ctx_dim = cfg["cross_attention_dim"]
    ctx_dim = ctx_dim if isinstance(ctx_dim, int) else ctx_dim[0]
    ehs = torch.randn(b, 77, ctx_dim, device=dev, dtype=dtype)
    added = None
    if cfg.get("addition_embed_type") == "text_time":
        pooled = 1280  # text_encoder_2's projection, in SDXL base and refiner alike
        ids = (cfg["projection_class_embeddings_input_dim"] - pooled) // cfg["addition_time_embed_dim"]  # 6 base, 5 refiner
        added = {"text_embeds": torch.randn(b, pooled, device=dev, dtype=dtype),
                 "time_ids": torch.tensor([[a.height, a.width, 0, 0, a.height, a.width][:ids]] * b, device=dev, dtype=dtype)}

    def step():
        return unet(x, t, encoder_hidden_states=ehs, added_cond_kwargs=added).sample

    times = []
    with torch.inference_mode():
        for _ in range(a.warmup):
            step()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(a.steps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            step()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
    med = statistics.median(times)
    out = {"name": a.name, "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
           "diffusers": diffusers.__version__, "attention": type(unet.attn_processors[next(iter(unet.attn_processors))]).__name__,
           "size": f"{a.width}x{a.height}", "batch": b, "ms_median": round(med, 3), "ms_min": round(min(times), 3),
           "ms_max": round(max(times), 3), "steps_per_s": round(1000.0 / med, 3),
           "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
    print(f"diffusers: {out['diffusers']} on torch {out['torch']}, {out['gpu']}, attention {out['attention']}")
    print(f"ms/step:   median {out['ms_median']}, min {out['ms_min']}, max {out['ms_max']}")
    print(f"steps/s:   {out['steps_per_s']}")
    print(f"memory:    peak {out['peak_mem_gib']} GiB allocated")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
