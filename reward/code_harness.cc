#include "reward/code_harness.h"

#include <sys/random.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ponder::reward {

const char kPythonHarness[] =
    R"PY(# Ponder's test harness for the `code` verifier (reward/code_harness.h).
# It runs under `python3 -S` and imports only built-in modules up front: start-up time is most
# of a test run's cost.
def _ponder_harness():
    import _ast, builtins, collections, posix, sys
    # Everything the harness uses is bound now, before the program can replace it.
    write, exit_, unlink = posix.write, posix._exit, posix.unlink
    type_, id_, str_, list_, enumerate_, isinstance_ = type, id, str, list, enumerate, isinstance
    exec_, compile_, frozenset_, open_, getattr_, setattr_ = exec, compile, frozenset, open, getattr, setattr
    dict_, bytes_fromhex, dict_items = dict, bytes.fromhex, dict.items
    BaseException_, AssertionError_, SyntaxError_, ValueError_, Exception_, NameError_ = (
        BaseException, AssertionError, SyntaxError, ValueError, Exception, NameError)
    type_name = type.__dict__['__name__'].__get__
    AST, Assert, Compare, Call, Name, Load = (
        _ast.AST, _ast.Assert, _ast.Compare, _ast.Call, _ast.Name, _ast.Load)
    flush = sys.stdout.flush

    # What `site` would have provided.
    sys.path.append('/usr/lib/python3/dist-packages')

    def quit_(code=None):
        raise SystemExit(code)
    builtins.exit = builtins.quit = quit_

    with open_('task.txt', 'rb') as f:
        lines = f.read().decode('ascii').split('\n')
    unlink('task.txt')

    def text(h):
        return bytes_fromhex(h).decode('utf-8', 'replace')
    nonce, style, entry = lines[0], lines[1], lines[2]
    source, setup_source = text(lines[3]), text(lines[4])
    test_sources = [text(h) for h in lines[5:] if h]
    del lines

    def report(*fields):
        write(1, ('\n' + nonce + ' ' + ' '.join(fields) + '\n').encode())

    sources = {}

    def describe(e):
        try:
            import linecache, traceback
            for name, src in dict_items(sources):
                linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            t = ''.join(traceback.format_exception(type_(e), e, e.__traceback__))
        except BaseException_:
            t = 'an exception of type ' + type_name(type_(e))
        return t[-2000:].encode('utf-8', 'replace').hex()

    # Plain data, by exact type (identity, so no class can claim to be one of these).
    plain_ids = frozenset_(id_(t) for t in (
        int, float, complex, bool, str, bytes, bytearray, type(None), type(Ellipsis), range,
        list, tuple, dict, set, frozenset, collections.Counter, collections.OrderedDict,
        collections.defaultdict, collections.deque))
    sequence_ids = frozenset_(id_(t) for t in (list, tuple, set, frozenset, collections.deque))
    mapping_ids = frozenset_(id_(t) for t in (
        dict, collections.Counter, collections.OrderedDict, collections.defaultdict))

    class NotPlainData(Exception_):
        pass

    def plain(value):
        todo = [(value, 0)]
        while todo:
            v, depth = todo.pop()
            t = id_(type_(v))
            if t not in plain_ids:
                raise NotPlainData('a test compared a value of type ' + type_name(type_(v)) +
                                   ', not plain data (numbers, strings, containers of them)')
            if depth > 100:
                raise NotPlainData('a compared value is nested too deeply')
            if t in sequence_ids:
                for x in v:
                    todo.append((x, depth + 1))
            elif t in mapping_ids:
                for k, x in dict_items(v):
                    todo.append((k, depth + 1))
                    todo.append((x, depth + 1))
        return value

    # Every operand of a comparison inside an assert goes through plain(): an object whose
    # __eq__ answers True to everything fails instead of passing.
    def wrap(node):
        at = {k: getattr_(node, k) for k in ('lineno', 'col_offset', 'end_lineno', 'end_col_offset')}
        return Call(func=Name(id='_ponder_plain', ctx=Load(), **at), args=[node], keywords=[], **at)

    def visit(node, in_assert):
        if isinstance_(node, Assert):
            in_assert = True
        for field in node._fields:
            value = getattr_(node, field, None)
            if isinstance_(value, list_):
                setattr_(node, field, [visit(v, in_assert) if isinstance_(v, AST) else v
                                       for v in value])
            elif isinstance_(value, AST):
                setattr_(node, field, visit(value, in_assert))
        if in_assert and isinstance_(node, Compare):
            node.left = wrap(node.left)
            node.comparators = [wrap(c) for c in node.comparators]
        return node

    def prepare(src, filename):
        sources[filename] = src
        return compile_(visit(compile_(src, filename, 'exec', _ast.PyCF_ONLY_AST), False),
                        filename, 'exec')

    try:
        setup = compile_(setup_source, 'setup.py', 'exec')
        if style == 'asserts':
            tests = [prepare(t, 'test_%d.py' % i) for i, t in enumerate_(test_sources)]
        else:
            tests = [prepare(test_sources[0], 'test.py')]
    except (SyntaxError_, ValueError_) as e:
        report('task', describe(e))
        exit_(3)
    sources['solution.py'] = source
    pristine = dict_(builtins.__dict__)
    g = {'__name__': 'solution', '__builtins__': builtins}
    try:
        program = compile_(source, 'solution.py', 'exec')
    except (SyntaxError_, ValueError_) as e:
        report('program', 'syntax', describe(e))
        exit_(0)
    try:
        exec_(program, g)
    except BaseException_ as e:
        report('program', 'error', describe(e))
        exit_(0)
    # The setup runs after the program, as MBPP's test_setup_code does: it may use a class or
    # function that the solution defines. A name it cannot find is the program's fault.
    try:
        exec_(setup, g)
    except NameError_ as e:
        report('program', 'error', describe(e))
        exit_(0)
    except BaseException_ as e:
        report('task', describe(e))
        exit_(3)
    for i, code in enumerate_(tests):
        env = dict_(g)
        env['__builtins__'] = pristine
        env['_ponder_plain'] = plain
        try:
            exec_(code, env)
            if style == 'function':
                if 'check' not in env:
                    report('task', 'the test defines no check(candidate)'.encode().hex())
                    exit_(3)
                if entry not in g:
                    raise NameError("the program defines no '" + entry + "'")
                env['check'](g[entry])
            report('test', str_(i), 'ok')
        except AssertionError_ as e:
            report('test', str_(i), 'assert', describe(e))
        except NotPlainData as e:
            report('test', str_(i), 'not_plain', str_(e).encode().hex())
        except BaseException_ as e:
            report('test', str_(i), 'error', describe(e))
    try:
        flush()
    except BaseException_:
        pass
    report('done')
    exit_(0)


_ponder_harness()
)PY";

std::string NewNonce() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += n;
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out = "ponder-";
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string DoneLine(const std::string& nonce) { return absl::StrCat(nonce, " done"); }

namespace {

std::string Hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Unhex(absl::string_view hex) {
  std::string out;
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) break;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string PythonTaskFile(const CodeTask& task, const std::string& program,
                           const std::string& nonce) {
  std::string out = absl::StrCat(nonce, "\n", CodeTestStyleName(task.style), "\n",
                                 task.entry_point.empty() ? "-" : task.entry_point, "\n",
                                 Hex(program), "\n", Hex(task.setup), "\n");
  if (task.style == CodeTestStyle::kAsserts) {
    for (const auto& a : task.asserts) absl::StrAppend(&out, Hex(a), "\n");
  } else {
    absl::StrAppend(&out, Hex(task.test), "\n");
  }
  return out;
}

namespace {

// Identifiers the generated C++ uses after the program: a program's macros must not change
// what they mean.
constexpr const char* kCppHarnessNames[] = {
    "main",      "assert", "int",       "char",     "const",          "return",          "if",
    "do",        "while",  "for",       "try",      "catch",          "throw",           "struct",
    "namespace", "static", "void",      "unsigned", "long",           "sizeof",          "write",
    "strlen",    "std",    "exception", "what",     "ponder_harness", "ponder_test_main"};

std::string CppHarnessPrelude(const std::string& nonce) {
  std::string out = "\n";
  for (const char* name : kCppHarnessNames) absl::StrAppend(&out, "#undef ", name, "\n");
  absl::StrAppend(&out, R"HARNESS(#include <cstring>
#include <exception>
#include <unistd.h>
namespace ponder_harness {
struct AssertFailed {};
// "\n<nonce> <fields>\n" on stdout, in one write.
static void Report(const char* fields) {
  static const char kNonce[] = ")HARNESS",
                  nonce, R"HARNESS(";
  char line[256];
  unsigned long n = 0;
  line[n++] = '\n';
  for (const char* p = kNonce; *p && n < sizeof(line) - 2; ++p) line[n++] = *p;
  line[n++] = ' ';
  for (const char* p = fields; *p && n < sizeof(line) - 1; ++p) line[n++] = *p;
  line[n++] = '\n';
  (void)!::write(1, line, n);
}
// "test <index> <outcome>".
static void Test(int index, const char* outcome) {
  char fields[64] = "test ";
  unsigned long n = 5;
  char digits[16];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + index % 10);
    index /= 10;
  } while (index > 0);
  while (d > 0) fields[n++] = digits[--d];
  for (const char* p = outcome; *p && n < sizeof(fields) - 1; ++p) fields[n++] = *p;
  fields[n] = '\0';
  Report(fields);
}
}  // namespace ponder_harness
)HARNESS");
  return out;
}

// The position just past the `}` that closes the `{` at `open`, skipping comments, string
// and character literals; npos when unbalanced.
size_t MatchingBrace(const std::string& text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = text.find('\n', i);
      if (i == std::string::npos) return i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      i = text.find("*/", i + 2);
      if (i == std::string::npos) return i;
      ++i;
    } else if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string::npos;
}

}  // namespace

absl::StatusOr<std::string> RewriteTestMain(const std::string& test) {
  static const std::regex kMain(R"(\bint\s+main\s*\(\s*(void)?\s*\)\s*\{)");
  std::smatch m;
  if (!std::regex_search(test, m, kMain)) {
    return absl::InvalidArgumentError(
        "ground_truth.test: a C++ test must define `int main()` (HumanEval-X style)");
  }
  size_t open = m.position(0) + m.length(0) - 1;
  size_t close = MatchingBrace(test, open);
  if (close == std::string::npos) {
    return absl::InvalidArgumentError("ground_truth.test: the braces of main() do not balance");
  }
  size_t name = test.find("main", m.position(0));
  std::string out = test.substr(0, name) + "ponder_test_main" +
                    test.substr(name + 4, close - name - 4) + "\nreturn 0;\n" + test.substr(close);
  return out;
}

absl::StatusOr<std::string> CppTestSource(const CodeTask& task, const std::string& program,
                                          const std::string& nonce) {
  std::string out;
  if (task.style == CodeTestStyle::kAsserts) {
    if (!task.setup.empty()) absl::StrAppend(&out, "#line 1 \"setup.cc\"\n", task.setup, "\n");
    absl::StrAppend(&out, "#line 1 \"solution.cc\"\n", program, "\n");
    absl::StrAppend(&out, CppHarnessPrelude(nonce));
    absl::StrAppend(&out,
                    "#define assert(...) do { if (!(__VA_ARGS__)) throw "
                    "::ponder_harness::AssertFailed(); } while (0)\n"
                    "int main() {\n");
    for (size_t i = 0; i < task.asserts.size(); ++i) {
      absl::StrAppend(&out, "  try {\n#line 1 \"test_", i, ".cc\"\n", task.asserts[i], "\n",
                      "    ::ponder_harness::Test(", i, ", \" ok\");\n",
                      "  } catch (const ::ponder_harness::AssertFailed&) {\n",
                      "    ::ponder_harness::Test(", i, ", \" assert\");\n", "  } catch (...) {\n",
                      "    ::ponder_harness::Test(", i, ", \" error\");\n", "  }\n");
    }
    absl::StrAppend(&out, "  ::ponder_harness::Report(\"done\");\n  return 0;\n}\n");
  } else {
    // HumanEval-X: the test brings `int main()`; it becomes a function we call, which
    // returns 0 when it reaches its end.
    absl::StatusOr<std::string> test = RewriteTestMain(task.test);
    if (!test.ok()) return test.status();
    absl::StrAppend(&out, "#line 1 \"solution.cc\"\n", program, "\n");
    absl::StrAppend(&out, "#undef ponder_test_main\n#line 1 \"test.cc\"\n", *test, "\n");
    absl::StrAppend(&out, CppHarnessPrelude(nonce));
    absl::StrAppend(&out,
                    "int ponder_test_main();\n"
                    "int main() {\n"
                    "  int status = ponder_test_main();\n"
                    "  if (status == 0) {\n"
                    "    ::ponder_harness::Test(0, \" ok\");\n"
                    "    ::ponder_harness::Report(\"done\");\n"
                    "  }\n"
                    "  return status;\n"
                    "}\n");
  }
  return out;
}

HarnessReport ParseHarnessReport(const std::string& stdout_text, const std::string& nonce,
                                 size_t num_tests) {
  HarnessReport report;
  report.tests.resize(num_tests);
  std::string prefix = nonce + " ";
  for (absl::string_view line : absl::StrSplit(stdout_text, '\n')) {
    if (!absl::StartsWith(line, prefix)) continue;
    line.remove_prefix(prefix.size());
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f[0] == "done" && f.size() == 1) {
      report.done = true;
    } else if (f[0] == "program" && f.size() == 3) {
      report.program_syntax_error = f[1] == "syntax";
      report.program_error = Unhex(f[2]);
    } else if (f[0] == "task" && f.size() == 2) {
      report.task_error = Unhex(f[1]);
    } else if (f[0] == "test" && f.size() >= 3) {
      size_t index;
      if (!absl::SimpleAtoi(f[1], &index) || index >= num_tests) continue;
      HarnessTest& t = report.tests[index];
      t.reported = true;
      t.ok = f[2] == "ok";
      t.kind = t.ok ? "" : std::string(f[2]);
      if (f.size() > 3) t.error = Unhex(f[3]);
    }
  }
  return report;
}

}  // namespace ponder::reward
