"""Times upstream LLaDA's own Monte-Carlo likelihood on the requests `llada-eval requests` printed.

The reference side of bench/run_likelihood_bench.sh. It imports, unmodified, `get_log_likelihood`
from ML-GSAI/LLaDA's get_log_likelihood.py and loads the checkpoint through the Hugging Face
`modeling_llada.py` / `configuration_llada.py` (trust_remote_code), all three from --upstream (fetched
by the bench script's user; never committed here). Text to ids is eval_llada.py's `_encode_pair`
(reproduced below: it is a method of a class whose module needs lm-eval and accelerate). Each request
is seeded with torch.manual_seed(seed) right before its call, the harness's policy
(../shared/golden/e2e/README.md). Only the get_log_likelihood calls are timed.

Prints one JSON object: requests, model_seconds, rows, flops (the forward passes the reference ran,
2 x multiply-adds, attention included), matmul_gflops (a float32 1024^3 matmul in this process, the
MFU yardstick), flops_per_row (per request, for the other side's count), loglikelihoods.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--mc-num", type=int, required=True)
    parser.add_argument("--mc-batch", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.upstream)
    from get_log_likelihood import get_log_likelihood  # upstream, unmodified
    from transformers import AutoModel, AutoTokenizer

    # The checkpoint with the upstream modeling files beside it, as on the hub.
    scratch = tempfile.mkdtemp()
    try:
        for name in os.listdir(args.checkpoint):
            os.symlink(os.path.join(args.checkpoint, name), os.path.join(scratch, name))
        for name in ("modeling_llada.py", "configuration_llada.py"):
            shutil.copy(os.path.join(args.upstream, name), scratch)
        config = json.load(open(os.path.join(args.checkpoint, "config.json")))
        config["auto_map"] = {"AutoConfig": "configuration_llada.LLaDAConfig",
                              "AutoModel": "modeling_llada.LLaDAModelLM",
                              "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"}
        os.remove(os.path.join(scratch, "config.json"))
        json.dump(config, open(os.path.join(scratch, "config.json"), "w"))
        try:  # the hub's layout: modeling_llada.py imports .configuration_llada
            model = AutoModel.from_pretrained(scratch, trust_remote_code=True, torch_dtype=torch.float32)
        except (ImportError, ValueError):  # a copy that imports configuration_llada absolutely
            from modeling_llada import LLaDAModelLM
            model = LLaDAModelLM.from_pretrained(scratch, torch_dtype=torch.float32)
        model = model.eval()
        tokenizer = AutoTokenizer.from_pretrained(scratch)
    finally:
        shutil.rmtree(scratch)
    mask_id = config["mask_token_id"]

    def encode_pair(context, continuation):  # eval_llada.py's _encode_pair
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = tokenizer(context + continuation)["input_ids"]
        context_enc = tokenizer(context)["input_ids"]
        return context_enc, whole[len(context_enc):]

    d, layers, vocab = config["d_model"], config["n_layers"], config["vocab_size"]
    ffn = config["mlp_hidden_size"]

    def flops_per_row(length):
        dense = layers * (4 * d * d + 3 * d * ffn) + d * vocab
        return 2 * length * dense + 4 * layers * length * length * d

    requests = [json.loads(line) for line in open(args.requests)]
    pairs = [encode_pair(r["context"], r["continuation"]) for r in requests]
    seconds, rows, flops, lls, per_row = 0.0, 0, 0, [], []
    with torch.no_grad():
        model(torch.tensor([pairs[0][0][:8]]))  # warm-up, untimed (ours: one untimed pass too)
        for prefix, target in pairs:
            torch.manual_seed(args.seed)
            start = time.perf_counter()
            ll = get_log_likelihood(model, torch.tensor(prefix), torch.tensor(target), mc_num=args.mc_num,
                                    batch_size=args.mc_batch, cfg_scale=0., mask_id=mask_id)
            seconds += time.perf_counter() - start
            lls.append(ll)
            rows += args.mc_num
            per_row.append(flops_per_row(len(prefix) + len(target)))
            flops += args.mc_num * per_row[-1]
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        torch.matmul(a, b)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(4):
                torch.matmul(a, b)
            best = min(best, (time.perf_counter() - start) / 4)
    print(json.dumps({"requests": len(pairs), "model_seconds": seconds, "rows": rows, "flops": flops,
                      "matmul_gflops": 2 * 1024 ** 3 / best / 1e9, "flops_per_row": per_row,
                      "loglikelihoods": lls, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
