"""Reference for tests/data/arm_left_padded_generate.json.

Greedy generation of a left-padded batch with the unmodified Hugging Face
transformers v4.39.0 (eager attention, float32, CPU) on ../shared's tiny ARM
checkpoints, as `generate(input_ids, attention_mask=..., do_sample=False)`
runs it: position_ids = cumsum(mask) - 1 with pads at 1, the mask extended by
one per cached step. Each row is also generated alone (no padding) to record
whether padding changed its tokens.

Run (once, by hand; the test reads the JSON it writes):
  python3 -m venv --system-site-packages /tmp/hfenv   # Debian's python3-torch 1.13
  /tmp/hfenv/bin/pip install transformers==4.39.0
  /tmp/hfenv/bin/python tests/reference/arm_left_padded_generate.py ../shared > tests/data/arm_left_padded_generate.json
"""
import json
import sys

import torch
import transformers

ROWS = [  # prompt ids of unequal lengths: 0, 7 and 11 pads
    [508, 459, 233, 17, 301, 88, 412, 5, 260, 199, 43, 371],
    [508, 12, 97, 340, 451],
    [508],
]
NEW_TOKENS = 16


def main(shared):
    torch.set_num_threads(1)
    cases = []
    for name in ["tiny-llama", "tiny-mistral", "tiny-qwen2"]:
        path = f"{shared}/models/{name}"
        golden_ids = json.load(open(f"{shared}/golden/arm/{name}/golden.json"))["ids"]
        pad = golden_ids["pad"]
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path, torch_dtype=torch.float32, attn_implementation="eager").eval()
        width = max(len(r) for r in ROWS)
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in ROWS])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in ROWS])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=pad)
            alone = [model.generate(torch.tensor([r]), do_sample=False, max_new_tokens=NEW_TOKENS,
                                    min_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=pad)[0, len(r):].tolist()
                     for r in ROWS]
        cases.append({"model": name, "prompt_ids": ids.tolist(), "attention_mask": mask.tolist(),
                      "new_ids": out[:, width:].tolist(), "new_ids_unpadded": alone})
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "attn_implementation": "eager",
               "dtype": "float32", "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
