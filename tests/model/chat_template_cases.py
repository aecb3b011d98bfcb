#!/usr/bin/python3
"""Writes tests/data/tokenizer/chat_template_cases.json: conversations and the prompt text that
the real Qwen3 chat template (tests/data/tokenizer/qwen3/tokenizer_config.json) renders for them
with Jinja2, the engine Hugging Face transformers uses (Debian's python3-jinja2). LLaMA-2 and
plain cases are written out by hand from the LLaMA-2-chat format.

    /usr/bin/python3 tests/model/chat_template_cases.py > tests/data/tokenizer/chat_template_cases.json
"""
import json
import os

import jinja2

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer")
template_text = json.load(open(os.path.join(root, "qwen3", "tokenizer_config.json")))["chat_template"]
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
env.filters["tojson"] = json.dumps
template = env.from_string(template_text)


def qwen3(messages, add_generation_prompt=True, **kwargs):
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                           **kwargs)


S = {"role": "system", "content": "You are terse."}
U1 = {"role": "user", "content": "What is 2+3?"}
A1 = {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n5"}
U2 = {"role": "user", "content": "And 2*3?"}
A2 = {"role": "assistant", "content": "<think>\n2 times 3.\n</think>\n\n6"}
A_plain = {"role": "assistant", "content": "6"}

cases = []


def add(name, messages, add_generation_prompt=True, enable_thinking=None):
    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    cases.append({
        "name": name, "format": "qwen3", "messages": messages,
        "add_generation_prompt": add_generation_prompt,
        "enable_thinking": True if enable_thinking is None else enable_thinking,
        "expected": qwen3(messages, add_generation_prompt, **kwargs)})


add("user_only", [U1])
add("system_user_no_thinking", [S, U1], enable_thinking=False)
add("history_drops_old_reasoning", [S, U1, A1, U2])
add("last_turn_keeps_reasoning", [U1, A1, U2, A2], add_generation_prompt=False)
add("last_turn_without_reasoning_gets_empty_think", [U1, A_plain], add_generation_prompt=False)
add("system_in_the_middle", [U1, {"role": "system", "content": "Be brief."}, U2])

# LLaMA-2-chat and plain, by hand.
cases.append({"name": "llama2_system_user", "format": "llama2", "messages": [S, U1],
              "add_generation_prompt": True, "enable_thinking": True,
              "expected": "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2+3? [/INST]"})
cases.append({"name": "llama2_turns", "format": "llama2",
              "messages": [U1, {"role": "assistant", "content": " 5 "}, U2],
              "add_generation_prompt": True, "enable_thinking": True,
              "expected": "<s>[INST] What is 2+3? [/INST] 5 </s><s>[INST] And 2*3? [/INST]"})
cases.append({"name": "plain", "format": "plain", "messages": [S, U1],
              "add_generation_prompt": True, "enable_thinking": True,
              "expected": "You are terse.\n\nWhat is 2+3?"})
print(json.dumps({"template_source": "tests/data/tokenizer/qwen3/tokenizer_config.json",
                  "cases": cases}, ensure_ascii=False, indent=1))
