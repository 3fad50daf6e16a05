#!/usr/bin/env python3
"""Lists the functions whose body is longer than the limit (60 lines) in the given C++ files or
folders, and exits 1 when there is one. A body's length is the number of lines between its opening
and its closing brace. Lambdas count towards the function they are written in. Used by
`packaging/quickstart.sh lint`.

  check-function-length.py [--max N] PATH...
"""
import re
import sys
from pathlib import Path

NOT_FUNCTIONS = re.compile(r"^(if|for|while|switch|catch|do|else|try|namespace|class|struct|union|enum|return|case)\b")


def strip_code(text):
    """The text with comments, string and character literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", "", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def long_functions(path, limit):
    code = strip_code(path.read_text(encoding="utf-8", errors="replace"))
    code = re.sub(r"^[ \t]*#.*$", "", code, flags=re.M)  # preprocessor lines
    found = []
    stack = []  # per open brace: (kind, line, name)
    statement = ""
    line = 1
    for ch in code:
        if ch == "\n":
            line += 1
        if ch == "{":
            head = " ".join(statement.split())
            inside_function = any(kind == "function" for kind, _, _ in stack)
            is_function = (not inside_function and re.search(r"\)[^()]*$", head) and not NOT_FUNCTIONS.match(head)
                           and not re.search(r"=\s*\[|\]\s*\(|=$", head))
            name = re.search(r"([~\w:<>]+)\s*\(", head)
            stack.append(("function" if is_function else "block", line, name.group(1) if name else head[:40]))
            statement = ""
        elif ch == "}":
            if stack:
                kind, start, name = stack.pop()
                body = line - start - 1
                if kind == "function" and body > limit:
                    found.append((start, name, body))
            statement = ""
        elif ch == ";":
            statement = ""
        else:
            statement += ch
    return found


def main(argv):
    limit = 60
    if len(argv) >= 2 and argv[0] == "--max":
        limit = int(argv[1])
        argv = argv[2:]
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    files = []
    for arg in argv:
        p = Path(arg)
        files += sorted(f for f in p.rglob("*") if f.suffix in (".cpp", ".h")) if p.is_dir() else [p]
    failures = 0
    for f in files:
        for start, name, body in long_functions(f, limit):
            print(f"{f}:{start}: {name} has {body} lines; the limit is {limit}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
