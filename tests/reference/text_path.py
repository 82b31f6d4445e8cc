"""Reference for tests/data/text_path.json: text <-> ids at the edges of a run.

What the unmodified Hugging Face code (transformers v4.39.0, tokenizers 0.15.2)
does with ../shared's real tokenizers and with real chat templates:

- "encode": tokenizer(text, add_special_tokens=...)["input_ids"] -- the BOS that
  eval_llada.py's tokenizer(text) adds, and HFLM's add_bos_token switch.
- "generation": a generate_until response from generated ids, as
  eval_llada.py post-processes it (decode with special tokens, cut at each stop
  string that occurs, in list order; tokenizer(text) again; decode without
  special tokens) and as lm-eval's HFLM does (decode without special tokens,
  then s = s.split(term)[0] for each non-empty term).
- "chat": tokenizer.apply_chat_template(messages, tokenize=False,
  add_generation_prompt=...) with the chat_template of a real
  tokenizer_config.json (../shared's, or the published one quoted below with its
  source), or the error it raises.

Run (once, by hand; the tests read the JSON it writes):
  python3 -m venv --system-site-packages /tmp/hfenv   # Debian's python3-torch 1.13
  /tmp/hfenv/bin/pip install transformers==4.39.0
  /tmp/hfenv/bin/python tests/reference/text_path.py ../shared > tests/data/text_path.json
"""
import json
import sys

import jinja2
import transformers

# Chat templates whose tokenizer_config.json is not in ../shared, as published.
# huggingface.co/meta-llama/Llama-2-7b-chat-hf/blob/main/tokenizer_config.json
LLAMA2_CHAT = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
# huggingface.co/mistralai/Mistral-7B-Instruct-v0.1 and -v0.2, tokenizer_config.json
# before the 2024 revisions that added a system role.
MISTRAL_INSTRUCT = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

ENCODE_TEXTS = ["Hello world", " leading space", "Question: 2+2?\nAnswer:", "日本語 text", ""]

GENERATIONS = {  # tokenizer -> (pieces, until); a piece is text or a special token id
    "llama2": [
        (["The answer is 4.", 2, " Question: more"], ["Question:", "</s>", "<|im_end|>"]),
        (["The answer is 4.\n\nQuestion: what", 2], ["Question:", "</s>", "<|im_end|>"]),
        (["no stop here at all"], ["Question:", "</s>", "<|im_end|>"]),
        (["xabcy"], ["bc", "ab"]),
        (["xabcy"], ["ab", "bc"]),
        (["keep", 1, " going", 0, " on"], ["zzz"]),
    ],
    "llama3": [
        (["So 6.", 128009, "Question: next"], ["Question:", "<|eot_id|>"]),
        (["Line one\n\nLine two", 128001, "junk"], ["\n\n"]),
        (["a", 128000, "b"], []),
    ],
}

CONVERSATIONS = [
    [{"role": "user", "content": "What is 1+1?"}],
    [{"role": "user", "content": " 2+2? "}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}],
    [{"role": "system", "content": "Be brief. "}, {"role": "user", "content": " 2+2? "},
     {"role": "assistant", "content": " 4 "}, {"role": "user", "content": "3+3?\n"}],
    [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
]


def pieces_to_ids(tokenizer, pieces):
    ids = []
    for piece in pieces:
        ids += [piece] if isinstance(piece, int) else tokenizer(piece, add_special_tokens=False)["input_ids"]
    return ids


def llada_response(tokenizer, ids, until):  # eval_llada.py generate_until
    text = tokenizer.decode(ids, skip_special_tokens=False)
    for stop in until:
        if stop in text:
            text = text.split(stop)[0]
    return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)


def hflm_response(tokenizer, ids, until):  # lm-eval HFLM generate_until
    text = tokenizer.decode(ids, skip_special_tokens=True)
    for term in until:
        if len(term) > 0:
            text = text.split(term)[0]
    return text


def render(tokenizer, messages, add_generation_prompt):
    try:
        return {"text": tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)}
    except jinja2.exceptions.TemplateError as error:  # raise_exception in the template
        return {"error": str(error)}


def main(shared):
    tokenizers = {name: transformers.PreTrainedTokenizerFast(
        tokenizer_file=f"{shared}/tokenizers/{name}/tokenizer.json",
        **{k: v for k, v in json.load(open(f"{shared}/tokenizers/{name}/tokenizer_config.json")).items()
           if k in ("bos_token", "eos_token", "unk_token", "pad_token", "chat_template")})
        for name in ("llama2", "llama3")}  # qwen3's tokenizer.json needs tokenizers >= 0.19
    out = {"about": __doc__.split("\n\n")[0], "transformers": transformers.__version__,
           "encode": [], "generation": [], "chat": []}
    for name, tokenizer in tokenizers.items():
        for text in ENCODE_TEXTS:
            for special in (True, False):
                out["encode"].append({"tokenizer": name, "text": text, "add_special_tokens": special,
                                      "ids": tokenizer(text, add_special_tokens=special)["input_ids"]})
    for name, cases in GENERATIONS.items():
        for pieces, until in cases:
            ids = pieces_to_ids(tokenizers[name], pieces)
            out["generation"].append({"tokenizer": name, "ids": ids, "until": until,
                                      "llada": llada_response(tokenizers[name], ids, until),
                                      "hflm": hflm_response(tokenizers[name], ids, until)})
    llada_config = json.load(open(f"{shared}/tokenizers/llada-8b-base-partial/tokenizer_config.json"))
    templates = {
        "llada": (llada_config["chat_template"], "tokenizers/llada-8b-base-partial/tokenizer_config.json",
                  "<|startoftext|>", "<|endoftext|>"),
        "chatml": (json.load(open(f"{shared}/tokenizers/qwen3/tokenizer_config.json"))["chat_template"],
                   "tokenizers/qwen3/tokenizer_config.json", None, "<|im_end|>"),
        "llama2": (LLAMA2_CHAT, "meta-llama/Llama-2-7b-chat-hf tokenizer_config.json", "<s>", "</s>"),
        "mistral": (MISTRAL_INSTRUCT, "mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json", "<s>", "</s>"),
    }
    for name, (template, source, bos, eos) in templates.items():
        tokenizer = tokenizers["llama2"]
        tokenizer.chat_template = template
        tokenizer.bos_token, tokenizer.eos_token = bos or "<s>", eos
        for messages in CONVERSATIONS:
            for add_generation_prompt in (True, False):
                out["chat"].append({"template": name, "source": source, "messages": messages,
                                    "add_generation_prompt": add_generation_prompt,
                                    **render(tokenizer, messages, add_generation_prompt)})
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
