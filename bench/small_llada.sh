# Sourced by the bench scripts: writes the small random LLaDA they share
# (init-model: 8 layers, d_model 512, 8 heads, FFN 1536, vocab 32000) with
# llama2's tokenizer and ids (as ../shared/models/mini-llada-llama2) into
# "$1", and prints the machine line. Needs $bin (llada-eval) and $shared.
write_small_llada() {
  local model=$1
  "$bin" init-model --arch llada --layers 8 --d-model 512 --heads 8 --ffn 1536 --vocab 32000 --out "$model" >/dev/null
  cp "$shared"/models/mini-llada-llama2/tokenizer.json "$shared"/models/mini-llada-llama2/tokenizer_config.json "$model"/
  python3 - "$model/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config.update(mask_token_id=31999, eos_token_id=2, pad_token_id=2)  # llama2's ids, as mini-llada-llama2
json.dump(config, open(path, "w"), indent=2)
PY
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $("$bin" --version 2>/dev/null | head -1)"
}
