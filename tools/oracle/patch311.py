"""Rewrites the Python 3.12 forms in LocalStack's sources (type aliases, type
parameters) so a 3.11 interpreter imports them. Usage: patch311.py PACKAGE_DIR."""
import re, sys, pathlib
root = pathlib.Path(sys.argv[1])
n = 0
for f in root.rglob("*.py"):
    s = f.read_text()
    t = re.sub(r"^(\s*)type (\w+) = ", r"\1\2 = ", s, flags=re.M)
    # PEP 695 type parameters on classes and functions: drop them, bind the names to object.
    def cls(m):
        params = [p.split(":")[0].strip() for p in m.group(3).split(",")]
        pre = "".join(f"{m.group(1)}{p} = __import__('typing').TypeVar('{p}')\n" for p in params)
        return pre + f"{m.group(1)}{m.group(2)}"
    t = re.sub(r"^(\s*)(class \w+)\[([^\]]+)\]", cls, t, flags=re.M)
    t = re.sub(r"^(\s*)(def \w+)\[([^\]]+)\]", lambda m: cls(m), t, flags=re.M)
    if t != s:
        f.write_text(t); n += 1
print("patched", n, "files")
