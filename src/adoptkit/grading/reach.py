"""Which learner code reaches for the grading machinery: read in the grader, before the kernel runs it.

The hidden tests run in the same interpreter as the learner's code, so any code that can touch the
interpreter's machinery (the IPython shell and kernel, builtins, `sys.modules`, the import system,
frames, the garbage collector, raw memory) can forge their verdict. This check reads each cell the
learner wrote (and every Python file submitted beside the notebook) from outside the kernel, where
the learner's code cannot answer it, and refuses to run code that:

- names the machinery: `get_ipython`, `__builtins__`/`builtins`, `__import__`, `importlib`, `sys.modules`
  and other `sys` internals, IPython/ipykernel/jupyter_client/zmq, `gc`, `inspect`, `ctypes`, frames and
  tracebacks' frames, `exec`/`eval`/`compile`, `globals`/`locals`/`vars`, IPython's input history;
- reaches it indirectly: dunder attributes (`print.__self__`, `().__class__.__subclasses__()`), dunder names
  in strings, `getattr`/`setattr`/`delattr` with a computed name, `operator.attrgetter`, code loaders
  (pickle, marshal, `read_pickle`, `allow_pickle=True`), `/proc/.../mem`;
- monkeypatches a library: assigns to or deletes an attribute of an imported module (`np.isclose = ...`,
  `pd.testing.assert_frame_equal = ...`);
- rebinds a builtin or a name the instructor's cells define from inside a function (`global isinstance`).

IPython syntax is translated first, so `%magic` and `!shell` lines are seen as the calls they become;
a short list of harmless magics (%matplotlib, %time, %timeit, ...) is allowed.

Ordinary code is untouched: functions, classes (with their own dunder methods), pandas, numpy, re, json,
files in the working folder. What it cannot see is stated in docs/grading.md.
"""

from __future__ import annotations

import ast
import builtins
import re

MACHINERY_NAMES = {
    "get_ipython", "__builtins__", "__import__", "__loader__", "__spec__", "exec", "eval", "compile", "globals",
    "locals", "vars", "breakpoint", "In", "Out", "_ih", "_oh", "_dh", "attrgetter", "methodcaller",
}
HISTORY = re.compile(r"^_i{1,3}\d*$")  # IPython's _i, _ii, _i7: the source of earlier cells, hidden tests included
MACHINERY_MODULES = {
    "builtins", "importlib", "imp", "IPython", "ipykernel", "jupyter_client", "jupyter_core", "zmq",
    "tornado", "traitlets", "comm", "debugpy", "gc", "inspect", "ctypes", "cffi", "_ctypes", "types", "code",
    "codeop", "pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve", "copyreg",
    "runpy", "pdb", "bdb", "faulthandler", "tracemalloc", "sysconfig", "site", "pkgutil", "zipimport",
    "adoptkit.grading", "nbgrader", "nbclient", "nbconvert", "_thread",
}
# attributes that lead to the interpreter's internals whatever object they are read from
MACHINERY_ATTRS = {
    "modules", "meta_path", "path_hooks", "path_importer_cache", "_getframe", "settrace", "setprofile",
    "excepthook", "displayhook", "audit", "addaudithook", "f_back", "f_globals", "f_locals", "f_builtins",
    "f_code", "tb_frame", "tb_next", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "read_pickle", "walk_stack", "walk_tb", "currentframe", "getouterframes",
    "user_ns", "user_global_ns", "kernel", "shell", "events", "run_cell", "run_line_magic", "run_cell_magic",
    "attrgetter", "methodcaller", "_current_frames", "setrecursionlimit", "sys", "builtins", "get_ipython",
    "InteractiveShell", "getipython",
}
# `sys.<name>` that a learner may read
SYS_ALLOWED = {"version", "version_info", "platform", "maxsize", "float_info", "int_info", "byteorder",
               "stdout", "stderr", "argv", "getsizeof", "getrecursionlimit", "executable", "float_repr_style"}
DUNDER_ALLOWED = {"__init__", "__name__", "__doc__", "__main__", "__version__", "__len__", "__str__",
                  "__repr__", "__eq__", "__lt__", "__hash__", "__iter__", "__next__", "__enter__", "__exit__",
                  "__file__", "__all__", "__post_init__", "__annotations__"}
ALLOWED_MAGICS = {"matplotlib", "time", "timeit", "capture", "pinfo", "pinfo2", "who", "whos", "precision",
                  "pprint", "autoawait"}
BUILTIN_NAMES = {n for n in dir(builtins) if not n.startswith("_")}
DUNDER = re.compile(r"__\w+__")


def _ipython_to_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _allowed_magic(node: ast.Call) -> bool:
    """`get_ipython().run_line_magic('time', ...)` for a magic on the allowed list."""
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
            and f.value.func.id == "get_ipython" and node.args and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in ALLOWED_MAGICS)


class _Reader(ast.NodeVisitor):
    def __init__(self, modules: set[str], protected: set[str], known: set[str] | None):
        self.modules, self.protected, self.known = set(modules), set(protected), known
        self.sys_names = {"sys"}
        self.found: list[str] = []
        self._magic_depth = 0

    def say(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", None)
        entry = f"line {line}: {what}" if line else what
        if entry not in self.found:
            self.found.append(entry)

    # imports
    def _module(self, node, name: str) -> None:
        top = name.split(".")[0]
        if name == "IPython.display" or name.startswith("IPython.display."):
            return  # display(HTML(...)), Markdown: output, not machinery
        if top in MACHINERY_MODULES or name in MACHINERY_MODULES or name.startswith("adoptkit.grading"):
            self.say(node, f"imports {name}")
        elif self.known is not None and top and top not in self.known:
            self.say(node, f"imports {name}, a module that is neither installed nor handed in")

    def visit_Import(self, node):
        for a in node.names:
            self._module(node, a.name)
            self.modules.add((a.asname or a.name).split(".")[0])
            if a.name == "sys":
                self.sys_names.add(a.asname or "sys")

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        if node.level:
            self.say(node, "uses a relative import")
        if not (mod == "IPython" and all(a.name == "display" for a in node.names)):
            self._module(node, mod)
        for a in node.names:
            if a.name == "*":
                self.say(node, f"imports * from {mod}")
            elif a.name in MACHINERY_NAMES or a.name in MACHINERY_ATTRS or a.name in MACHINERY_MODULES:
                self.say(node, f"imports {a.name} from {mod}")

    # names and attributes
    def visit_Name(self, node):
        if node.id in MACHINERY_NAMES or HISTORY.match(node.id):
            self.say(node, f"uses {node.id}")
        elif DUNDER.fullmatch(node.id) and node.id not in DUNDER_ALLOWED:
            self.say(node, f"uses {node.id}")

    def visit_Attribute(self, node):
        if node.attr in MACHINERY_ATTRS:
            self.say(node, f"reads .{node.attr}")
        elif DUNDER.fullmatch(node.attr) and node.attr not in DUNDER_ALLOWED:
            self.say(node, f"reads .{node.attr}")
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.sys_names and node.attr not in SYS_ALLOWED:
            self.say(node, f"reads sys.{node.attr}")
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            root = _root(node)
            if isinstance(root, ast.Name) and root.id in self.modules:
                self.say(node, f"changes {ast.unparse(node)} (a library's attribute)")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            for m in DUNDER.findall(node.value):
                if m not in DUNDER_ALLOWED:
                    self.say(node, f"names {m} in a string")
                    break
            if re.search(r"/proc/[^/\s]+/(mem|maps)", node.value):
                self.say(node, "names a process's memory file")

    def visit_Call(self, node):
        if _allowed_magic(node):
            for arg in node.args[1:]:
                self.visit(arg)
            return
        f = node.func
        name = f.id if isinstance(f, ast.Name) else None
        if name in ("getattr", "setattr", "delattr", "hasattr"):
            if len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                self.say(node, f"calls {name} with a computed attribute name")
            else:
                attr = node.args[1].value
                if attr in MACHINERY_ATTRS or (DUNDER.fullmatch(attr) and attr not in DUNDER_ALLOWED):
                    self.say(node, f"{name}(..., {attr!r})")
                if name in ("setattr", "delattr"):
                    root = _root(node.args[0])
                    if isinstance(root, ast.Name) and root.id in self.modules:
                        self.say(node, f"changes an attribute of {ast.unparse(node.args[0])} (a library)")
        for kw in node.keywords:
            if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                self.say(node, "loads pickled data (allow_pickle)")
        self.generic_visit(node)

    # rebinding builtins or the instructor's names from inside a function
    def visit_Global(self, node):
        for n in node.names:
            if n in BUILTIN_NAMES or n in self.protected:
                self.say(node, f"rebinds {n} (a builtin or a name the instructor's cells define) from a function")

    def visit_Nonlocal(self, node):
        self.visit_Global(node)


def imported_modules(sources: list[str]) -> set[str]:
    """Names bound by import statements in `sources` (cells the instructor wrote, say)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_ipython_to_python(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from pandas import testing` binds a module too; a function bound this way is harmless here
                names |= {a.asname or a.name for a in node.names if a.name != "*"}
    return names


def problems(source: str, modules: set[str] = frozenset(), protected: set[str] = frozenset(),
             python: bool = False, known: set[str] | None = None) -> list[str]:
    """What in `source` reaches for the grading machinery, one line each; [] for ordinary code.

    `modules`: names known to be modules (imported by the instructor's cells); `protected`: names the
    instructor's cells bind; `python`: the source is a .py file, not a notebook cell; `known`: the
    top-level modules the kernel can import (installed or handed in), when known.
    """
    try:
        code = source if python else _ipython_to_python(source)
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return []  # it cannot run either: the kernel reports the syntax error as usual
    reader = _Reader(set(modules), set(protected), known)
    try:
        reader.visit(tree)
    except RecursionError:
        return ["code nested too deeply to be checked"]
    return reader.found


def importable_names(paths: list[str] | None = None) -> set[str]:
    """Top-level module names importable from `paths` (default: this interpreter's sys.path), the
    standard library and the built-in modules: what a file handed in must not shadow."""
    import pkgutil
    import sys

    paths = [p for p in (paths if paths is not None else sys.path) if p]
    names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
    names |= {m.name for m in pkgutil.iter_modules(paths)}
    return names
