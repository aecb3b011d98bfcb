#!/usr/bin/python3
"""Baseline for bench_reward_math: verl's rule-based math rewards, re-implemented from
verl/utils/reward_score/gsm8k.py (strict "####" and flexible last-number extraction, string
equality) and verl/utils/reward_score/math.py (last \\boxed{} plus Hendrycks' strip_string /
is_equiv). Each response is scored by the scorer meant for its style: "hashes" -> gsm8k strict,
"answer_is" -> gsm8k flexible, "boxed" -> math.

Usage: reward_math_baseline.py ITEMS.jsonl MIN_SECONDS
Each line of ITEMS.jsonl: {"response", "gold", "style", "expect"} (expect: the right verdict).
Prints one JSON line: {"verifications_per_s": ..., "agree": ..., "items": ...}, where agree counts
the verdicts equal to "expect".
"""
import json
import re
import sys
import time

_SOLUTION_CLIP_CHARS = 300


def gsm8k_extract(solution_str, method="strict"):
    if len(solution_str) > _SOLUTION_CLIP_CHARS:
        solution_str = solution_str[-_SOLUTION_CLIP_CHARS:]
    if method == "strict":
        solutions = re.findall("#### (\\-?[0-9\\.\\,]+)", solution_str)
        if len(solutions) == 0:
            return None
        return solutions[-1].replace(",", "").replace("$", "")
    answer = re.findall("(\\-?[0-9\\.\\,]+)", solution_str)
    final_answer = None
    if len(answer) == 0:
        pass
    else:
        invalid_str = ["", "."]
        for final_answer in reversed(answer):
            if final_answer not in invalid_str:
                break
    return final_answer


def gsm8k_score(solution_str, ground_truth, method):
    answer = gsm8k_extract(solution_str, method)
    if answer is None:
        return 0.0
    return 1.0 if answer == ground_truth else 0.0


def last_boxed_only_string(string):
    idx = string.rfind("\\boxed")
    if "\\boxed " in string:
        return "\\boxed " + string.split("\\boxed ")[-1].split("$")[0]
    if idx < 0:
        idx = string.rfind("\\fbox")
        if idx < 0:
            return None
    i = idx
    right_brace_idx = None
    num_left_braces_open = 0
    while i < len(string):
        if string[i] == "{":
            num_left_braces_open += 1
        if string[i] == "}":
            num_left_braces_open -= 1
            if num_left_braces_open == 0:
                right_brace_idx = i
                break
        i += 1
    if right_brace_idx is None:
        return None
    return string[idx:right_brace_idx + 1]


def remove_boxed(s):
    if "\\boxed " in s:
        return s[len("\\boxed "):]
    left = "\\boxed{"
    assert s[:len(left)] == left and s[-1] == "}"
    return s[len(left):-1]


def fix_fracs(string):
    substrs = string.split("\\frac")
    new_str = substrs[0]
    if len(substrs) > 1:
        substrs = substrs[1:]
        for substr in substrs:
            new_str += "\\frac"
            if len(substr) > 0 and substr[0] == "{":
                new_str += substr
            else:
                try:
                    assert len(substr) >= 2
                except AssertionError:
                    return string
                a = substr[0]
                b = substr[1]
                if b != "{":
                    if len(substr) > 2:
                        new_str += "{" + a + "}{" + b + "}" + substr[2:]
                    else:
                        new_str += "{" + a + "}{" + b + "}"
                else:
                    if len(substr) > 2:
                        new_str += "{" + a + "}" + b + substr[2:]
                    else:
                        new_str += "{" + a + "}" + b
    return new_str


def fix_a_slash_b(string):
    if len(string.split("/")) != 2:
        return string
    a, b = string.split("/")
    try:
        a = int(a)
        b = int(b)
        assert string == "{}/{}".format(a, b)
        return "\\frac{" + str(a) + "}{" + str(b) + "}"
    except (AssertionError, ValueError):
        return string


def remove_right_units(string):
    if "\\text{ " in string:
        splits = string.split("\\text{ ")
        assert len(splits) == 2
        return splits[0]
    return string


def fix_sqrt(string):
    if "\\sqrt" not in string:
        return string
    splits = string.split("\\sqrt")
    new_string = splits[0]
    for split in splits[1:]:
        if len(split) > 0 and split[0] != "{":
            new_substr = "\\sqrt{" + split[0] + "}" + split[1:]
        else:
            new_substr = "\\sqrt" + split
        new_string += new_substr
    return new_string


def strip_string(string):
    string = string.replace("\n", "")
    string = string.replace("\\!", "")
    string = string.replace("\\\\", "\\")
    string = string.replace("tfrac", "frac")
    string = string.replace("dfrac", "frac")
    string = string.replace("\\left", "")
    string = string.replace("\\right", "")
    string = string.replace("^{\\circ}", "")
    string = string.replace("^\\circ", "")
    string = string.replace("\\$", "")
    string = remove_right_units(string)
    string = string.replace("\\%", "")
    string = string.replace("\\%", "")
    string = string.replace(" .", " 0.")
    string = string.replace("{.", "{0.")
    if len(string) == 0:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2:
        if len(string.split("=")[0]) <= 2:
            string = string.split("=")[1]
    string = fix_sqrt(string)
    string = string.replace(" ", "")
    string = fix_fracs(string)
    if string == "0.5":
        string = "\\frac{1}{2}"
    string = fix_a_slash_b(string)
    return string


def is_equiv(str1, str2):
    if str1 is None and str2 is None:
        return True
    if str1 is None or str2 is None:
        return False
    try:
        return strip_string(str1) == strip_string(str2)
    except Exception:
        return str1 == str2


def math_score(solution_str, ground_truth):
    retval = 0.0
    try:
        string_in_last_boxed = last_boxed_only_string(solution_str)
        if string_in_last_boxed is not None:
            answer = remove_boxed(string_in_last_boxed)
            if is_equiv(answer, ground_truth):
                retval = 1.0
    except Exception:
        pass
    return retval


def score(item):
    style = item["style"]
    if style == "hashes":
        return gsm8k_score(item["response"], item["gold"], "strict")
    if style == "answer_is":
        return gsm8k_score(item["response"], item["gold"], "flexible")
    return math_score(item["response"], item["gold"])


def main():
    items = [json.loads(line) for line in open(sys.argv[1])]
    min_seconds = float(sys.argv[2])
    agree = sum((score(item) == 1.0) == item["expect"] for item in items)
    done = 0
    start = time.perf_counter()
    while True:
        for item in items:
            score(item)
        done += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    print(json.dumps({"verifications_per_s": done / elapsed, "agree": agree,
                      "items": len(items)}))


if __name__ == "__main__":
    main()
