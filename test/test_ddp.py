"""Two-process CPU DDP (gloo) around the real bss_cffma: frozen, PF and EF train."""

import subprocess
import sys
import textwrap

import pytest

from espnet_cffma.ssl.checkpoints import build_random_checkpoint

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from torch.nn.parallel import DistributedDataParallel

    from espnet_cffma.losses.log1p_mask_l1 import Log1pMaskL1Loss
    from espnet_cffma.losses.wrappers import FixedOrderOthersSolver
    from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator

    def worker(rank, kind, ckpt, finetune, port):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        dist.init_process_group("gloo", rank=rank, world_size=2)
        torch.manual_seed(0)
        model = BSSCFFMASeparator(
            ssl_upstream=f"{kind}_local", ssl_path_or_url=ckpt,
            ssl_finetune=finetune, attention_dim=32, num_heads=2, ffn_dim=64,
            fusion_dim=48, fusion_hidden_dim=24, num_blocks=1,
        )
        ddp = DistributedDataParallel(model)  # find_unused_parameters=False
        loss_fn = FixedOrderOthersSolver(Log1pMaskL1Loss())
        optim = torch.optim.Adam(ddp.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(rank)
        before = [p.detach().clone() for p in model.ssl.upstream.parameters()]
        for step in range(3):
            noisy = 0.1 * torch.randn(2, 4800, generator=gen)
            (enhanced,), _, others = ddp(noisy, torch.tensor([4800, 4800]))
            loss, _, _ = loss_fn([0.5 * noisy], [enhanced], others)
            optim.zero_grad()
            loss.backward()
            optim.step()
        after = list(model.ssl.upstream.parameters())
        changed = any(not torch.equal(b, a) for b, a in zip(before, after))
        if rank == 0:
            print(f"OK steps=3 upstream_changed={changed}")
        dist.destroy_process_group()

    if __name__ == "__main__":
        mp.spawn(worker, args=tuple(sys.argv[1:]), nprocs=2, join=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind,finetune", [("wavlm", "frozen"), ("wavlm", "pf"), ("wavlm", "ef"),
                      ("wav2vec2", "pf"), ("wav2vec2", "ef")]
)  # fmt: skip
def test_ddp_two_processes(tmp_path, kind, finetune):
    ckpt = build_random_checkpoint(kind, tmp_path / f"{kind}.pt")
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    port = str(29500 + hash((kind, finetune, str(tmp_path))) % 2000)
    result = subprocess.run(
        [sys.executable, str(script), kind, str(ckpt), finetune, port],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK steps=3" in result.stdout
    # Frozen upstreams stay as loaded; fine-tuned ones learn.
    assert f"upstream_changed={finetune != 'frozen'}" in result.stdout


@pytest.mark.parametrize("finetune", ["pf", "ef"])
def test_pretraining_only_parameters_are_frozen(ssl_checkpoints, finetune):
    from espnet_cffma.ssl.front import SSLFeatureExtractor

    front = SSLFeatureExtractor(
        "wavlm_local", str(ssl_checkpoints["wavlm", "layer_norm"]), finetune=finetune
    )
    trainable = {n for n, p in front.upstream.named_parameters() if p.requires_grad}
    assert trainable, "the transformer must stay trainable"
    assert not [n for n in trainable if n.endswith("mask_emb")]
    front = SSLFeatureExtractor(
        "wavlm_local", str(ssl_checkpoints["wavlm", "layer_norm"]), layers=[0, 1],
        finetune=finetune,
    )  # fmt: skip
    # The last transformer layer feeds no selected hidden state: frozen too.
    last = [n for n, p in front.upstream.named_parameters() if "encoder.layers.1." in n]
    assert last and not any(
        p.requires_grad for n, p in front.upstream.named_parameters() if n in last
    )
