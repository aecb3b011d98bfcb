#!/usr/bin/python3
"""Self-test of scripts/function_lengths.py on small generated sources: it must find a function
one line over the limit (naming file, line and length), pass one at the limit, not be fooled by
braces in strings, comments, lambdas and control blocks, and check file lengths.

Usage: function_lengths_test.py  (run by ctest as function_lengths_self_test)
"""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "function_lengths.py")


def function(name, lines, header="absl::Status"):
    """A function `lines` long from its signature to its closing brace."""
    body = [f"  int v{i} = {i};" for i in range(lines - 4)]
    return "\n".join([f"{header} {name}(int x,", "    int y) {"] + body + ["  return {};", "}"])


def run(*args):
    done = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


class FunctionLengthsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        return path

    def test_a_function_at_the_limit_passes(self):
        path = self.write("a.cc", "// x\n" + function("AtLimit", 80))
        rc, out, _ = run("--max", "80", path)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out, "")

    def test_a_function_one_line_over_fails_naming_file_line_and_length(self):
        text = "#include <x>\n\nnamespace n {\n\n" + function("Long", 81) + "\n\n}  // namespace n"
        path = self.write("b.cc", text)
        rc, out, err = run("--max", "80", path)
        self.assertEqual(rc, 1)
        self.assertEqual(out.strip(), f"{path}:5: 81 lines: Long")
        self.assertIn("1 function(s) over 80 lines", err)

    def test_folders_are_searched_recursively(self):
        self.write("top.cc", function("Short", 10))
        nested = self.write("internal/deep/c.cc", function("Nested", 90))
        rc, out, _ = run("--max", "80", self.dir.name)
        self.assertEqual(rc, 1)
        self.assertEqual(out.strip(), f"{nested}:1: 90 lines: Nested")

    def test_member_functions_and_constructors_in_a_class_are_counted(self):
        method = "\n".join(["  void Method(int a) {"] + ["    ++a;"] * 85 + ["  }"])
        ctor = "\n".join(["Foo::Foo(int a)", "    : a_(a), b_{a} {"] + ["  ++a_;"] * 84 + ["}"])
        path = self.write("d.h", "class Foo {\n public:\n" + method + "\n};\n" + ctor)
        rc, out, _ = run("--max", "80", path)
        self.assertEqual(rc, 1)
        self.assertIn(f"{path}:3: 87 lines: Method", out)
        self.assertIn(f"{path}:91: 87 lines: Foo::Foo", out)

    def test_braces_in_strings_comments_lambdas_and_blocks_stay_in_their_function(self):
        inner = ['  const char* s = "} } {";', "  // } closing brace in a comment",
                 "  char c = '}';", "  auto f = [&](int k) -> int {", "    return k;", "  };",
                 "  if (x) {", "    for (;;) {", "    }", "  }", '  std::string r = R"(})";']
        filler = [f"  int v{i} = {i};" for i in range(90 - 2 - len(inner))]
        text = "\n".join(["int Tricky(int x) {"] + inner + filler + ["}"])
        path = self.write("e.cc", text + "\n" + function("After", 5))
        rc, out, _ = run("--max", "80", path)
        self.assertEqual(rc, 1)
        self.assertEqual(out.strip(), f"{path}:1: 90 lines: Tricky")
        rc, out, _ = run("--all", "--max", "100", path)
        self.assertEqual(rc, 0)
        self.assertIn(f"{path}:91: 5 lines: After", out)

    def test_file_length_limit(self):
        at = self.write("f.cc", "\n".join(["// line"] * 350))
        over = self.write("g.cc", "\n".join(["// line"] * 351))
        rc, out, _ = run("--max-file-lines", "350", at)
        self.assertEqual(rc, 0, out)
        rc, out, err = run("--max-file-lines", "350", at, over)
        self.assertEqual(rc, 1)
        self.assertEqual(out.strip(), f"{over}: 351 lines, over 350")
        self.assertIn("1 file(s) over 350 lines", err)

    def test_bad_arguments_are_errors(self):
        rc, _, err = run("--max", "x", self.dir.name)
        self.assertEqual(rc, 2)
        self.assertIn("--max needs a number of lines", err)
        rc, _, err = run(os.path.join(self.dir.name, "missing"))
        self.assertEqual(rc, 2)
        self.assertIn("no such file or folder", err)
        rc, _, err = run(self.dir.name)  # empty folder: nothing checked is not a pass
        self.assertEqual(rc, 2)
        self.assertIn("no *.cc or *.h files", err)


if __name__ == "__main__":
    unittest.main()
