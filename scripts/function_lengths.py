#!/usr/bin/python3
"""Lists C++ functions longer than a limit, counted in lines from the signature's first line to
the closing brace (clang-formatted sources, Google style).

Usage: function_lengths.py [--max N] [--max-file-lines M] [--all] PATH...
PATH is a file or a folder (its *.cc and *.h, recursively). Prints "file:line: N lines: name"
for every function over N lines (default 80), or for every function with --all, and exits 1
when any is over the limit. With --max-file-lines, a file longer than M lines is reported too
("file: N lines, over M") and fails the check.

A function is a brace block opened at the end of a declaration that has a parameter list and
is not a control statement, a lambda, a class, a namespace or an initializer; lambdas and
local classes count towards the function that holds them. Brace initializers of members in a
constructor's initializer list belong to the constructor's head.
"""
import os
import re
import sys

CONTROL = re.compile(r"^(if|else|for|while|switch|do|try|catch|namespace|class|struct|enum|union|"
                     r"extern|return|case|default)\b")


def strip_code(text):
    """Blanks out comments, string and character literals (keeping newlines)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    with open(path, encoding="utf-8") as f:
        code = strip_code(f.read())
    lines = code.split("\n")
    # The statement text before each '{' decides what the block is.
    depth_stack = []  # (kind, start_line, name)
    statement = ""
    statement_start = 0
    found = []
    for number, line in enumerate(lines, start=1):
        if not statement.strip():
            statement_start = number
        for ch in line:
            if ch == "{":
                head = " ".join(statement.split())
                in_function = any(kind == "function" for kind, _, _ in depth_stack)
                if not in_function and re.search(r"\)\s*:[^;]*[\w>]$", head):
                    # A member's brace initializer in a constructor's initializer list: the
                    # statement (the constructor's head) goes on after it.
                    depth_stack.append(("init", statement_start, statement))
                    continue
                is_function = (
                    not any(kind == "function" for kind, _, _ in depth_stack)
                    and ")" in head
                    and not CONTROL.match(head)
                    and not re.search(r"\]\s*\([^()]*\)[^()]*$|\]\s*$", head)  # lambda
                    and not head.endswith("=")
                    and not re.search(r"=\s*[\w:<>]*$", head))
                name = ""
                if is_function:
                    m = re.search(r"([~\w:]+(?:operator\S*)?)\s*\(", head)
                    name = m.group(1) if m else head[:40]
                depth_stack.append(("function" if is_function else "block",
                                    statement_start, name))
                statement = ""
                statement_start = number
            elif ch == "}":
                if depth_stack:
                    kind, start, name = depth_stack.pop()
                    if kind == "init":
                        statement = name + "{}"
                        continue
                    if kind == "function":
                        found.append((start, number - start + 1, name))
                statement = ""
                statement_start = number
            elif ch == ":" and statement.strip() in ("public", "protected", "private"):
                statement = ""  # an access label is not part of the next declaration
                statement_start = number + 1
            elif ch == ";":
                statement = ""
                statement_start = number + 1
            else:
                statement += ch
        statement += " "
    return found


def main(argv):
    limit, file_limit, show_all, paths = 80, None, False, []
    i = 0
    while i < len(argv):
        if argv[i] in ("--max", "--max-file-lines"):
            if i + 1 >= len(argv) or not argv[i + 1].isdigit():
                print(f"{argv[i]} needs a number of lines", file=sys.stderr)
                return 2
            if argv[i] == "--max":
                limit = int(argv[i + 1])
            else:
                file_limit = int(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--all":
            show_all = True
        else:
            paths.append(argv[i])
        i += 1
    files = []
    for p in paths:
        if not os.path.exists(p):
            print(f"no such file or folder: {p}", file=sys.stderr)
            return 2
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in names if n.endswith((".cc", ".h"))]
        else:
            files.append(p)
    if not files:
        print("no *.cc or *.h files to check", file=sys.stderr)
        return 2
    over, long_files = 0, 0
    for path in sorted(files):
        for start, length, name in functions(path):
            if show_all or length > limit:
                print(f"{path}:{start}: {length} lines: {name}")
            over += length > limit
        if file_limit is not None:
            with open(path, encoding="utf-8") as f:
                count = len(f.read().splitlines())
            if count > file_limit:
                print(f"{path}: {count} lines, over {file_limit}")
                long_files += 1
    if over:
        print(f"{over} function(s) over {limit} lines", file=sys.stderr)
    if long_files:
        print(f"{long_files} file(s) over {file_limit} lines", file=sys.stderr)
    return 1 if over or long_files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
