"""Every C++ function under cpp/ and examples/cpp/ is shorter than 80 lines (measured by
tools/cpp_function_lengths.py: signature to closing brace, by brace matching)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 80


def load_tool():
    spec = importlib.util.spec_from_file_location("cpp_function_lengths", ROOT / "tools" / "cpp_function_lengths.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is being run
    spec.loader.exec_module(module)
    return module


def test_every_cpp_function_is_under_the_limit():
    functions = load_tool().all_functions(ROOT)
    too_long = [f"{f.path}:{f.first_line} {f.name} ({f.lines} lines)" for f in functions if f.lines >= LIMIT]
    assert too_long == []


def test_the_measure_sees_functions_methods_and_constructors(tmp_path):
    tool = load_tool()
    source = tmp_path / "sample.cpp"
    source.write_text(
        "namespace a {\n"
        "struct S { int f() const { return 1; } };\n"  # line 2
        "// a comment with { a brace\n"
        "S::S(int x)\n"  # line 4
        "    : x_(x) {\n"
        '  const char* s = "}";\n'
        "  auto l = [](int y) { return y; };\n"
        "}\n"  # line 8
        "const int kTable[] = {1, 2};\n"
        "}  // namespace a\n"
    )
    found = {f.name: (f.first_line, f.lines) for f in tool.functions_in(source, "sample.cpp")}
    assert found == {"f": (2, 1), "S::S": (4, 5)}
