"""An in-kernel guard against the usual ways a submission cheats the tests, run before each grade cell.

What it undoes (and reports): IPython machinery replaced or wrapped (run_cell, showtraceback,
input/AST transformers, custom exception handlers, display hooks, cell-event callbacks the notebook
defined), builtins replaced (`isinstance = lambda *a: True`), and the instructor's test helpers
redefined or monkeypatched (functions, classes and modules bound by locked cells, the attributes of
those modules, a helper's code object).

It is called through the Jupyter protocol's `user_expressions`, not through `run_cell`, so a
submission that hijacks cell execution cannot stop it running; each call echoes a fresh challenge,
so a missing or replaced guard is noticed.

Limits, stated plainly: it lives in the same interpreter as the submission. Code written against
this guard in particular (reading it, then patching what it does not compare, such as the methods
of a helper's classes or C-level state) can still get past it; the report and the formgrader flag
are the backstop, and the kernel's sandbox limits what such code can reach.
"""

from __future__ import annotations

import ast
import json
import secrets

INSTALL = r'''
def __adk_make(name):
    import builtins, json, sys, types
    try:
        from adoptkit.grading.sandbox import arm
        arm()  # the kernel's audit hook, from now on
    except ImportError:
        pass
    ip = get_ipython()
    MISSING = object()
    B = dict(vars(builtins))  # the guard itself must not call a replaced builtin
    dumps = json.dumps
    SHELL = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "_run_cell", "showtraceback",
             "_showtraceback", "showsyntaxerror", "showindentationerror", "transform_cell", "transform_ast",
             "should_run_async", "user_expressions", "ex", "ev", "init_displayhook", "safe_execfile")
    LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
    cls = type(ip)
    snap = {
        "inst": {a: ip.__dict__.get(a, MISSING) for a in SHELL},
        "cls": {a: cls.__dict__.get(a, MISSING) for a in SHELL},
        "lists": {a: (getattr(ip, a), list(getattr(ip, a))) for a in LISTS},
        "tm": (ip.input_transformer_manager, list(ip.input_transformer_manager.cleanup_transforms),
               list(ip.input_transformer_manager.line_transforms), list(ip.input_transformer_manager.token_transformers)),
        "exc": (ip.custom_exceptions, ip.CustomTB),
        "sys": {a: getattr(sys, a) for a in ("excepthook", "displayhook")},
        "displayhook": ip.displayhook,
        # every builtin, `__import__` and `__build_class__` included; `_` is IPython's last result
        "builtins": {k: v for k, v in vars(builtins).items() if k not in ("_", "__", "___")},
    }
    shadows = {}     # learner's names that hide a builtin, set aside while a test cell runs
    protected = {}   # name -> object bound by a locked cell
    fn_state = {}    # name -> (code, defaults, kwdefaults) of protected functions
    mod_state = {}   # name -> dict(vars(module)) of protected modules

    def restore(challenge):
        """After a test cell: give the learner's own names that shadow builtins back."""
        ns = ip.user_ns
        for k, v in shadows.items():
            ns.setdefault(k, v)
        shadows.clear()
        return dumps({"challenge": challenge, "problems": []})

    def check(challenge, protect=(), test_cell=False, keep=()):
        getattr, setattr, isinstance, list, vars = (B[n] for n in ("getattr", "setattr", "isinstance", "list", "vars"))
        problems = []

        def undo(what, fn):
            problems.append(what)
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - say so; the grader sees it flagged
                problems.append(f"could not undo ({what}): {err!r}")

        b = vars(builtins)
        for k, v in snap["builtins"].items():
            if b.get(k, MISSING) is not v:
                undo(f"builtin {k} replaced", lambda k=k, v=v: b.__setitem__(k, v))
        for a, (orig, items) in snap["lists"].items():
            now = getattr(ip, a)
            if now is not orig:
                undo(f"IPython {a} replaced", lambda a=a, orig=orig: setattr(ip, a, orig))
            if list(orig) != items:
                undo(f"IPython {a} changed", lambda orig=orig, items=items: orig.__setitem__(slice(None), items))
        tm, c, l, t = snap["tm"]
        if ip.input_transformer_manager is not tm:
            undo("IPython input transformer manager replaced", lambda: setattr(ip, "input_transformer_manager", tm))
        for current, saved, what in ((tm.cleanup_transforms, c, "cleanup"), (tm.line_transforms, l, "line"),
                                     (tm.token_transformers, t, "token")):
            if current != saved:
                undo(f"IPython {what} input transformers changed",
                     lambda current=current, saved=saved: current.__setitem__(slice(None), saved))
        for a in SHELL:
            if ip.__dict__.get(a, MISSING) is not snap["inst"][a]:
                if snap["inst"][a] is MISSING:
                    undo(f"IPython shell method {a} replaced", lambda a=a: ip.__dict__.pop(a))
                else:
                    undo(f"IPython shell method {a} replaced", lambda a=a: ip.__dict__.__setitem__(a, snap["inst"][a]))
            if cls.__dict__.get(a, MISSING) is not snap["cls"][a]:
                undo(f"IPython shell class method {a} replaced", lambda a=a: setattr(cls, a, snap["cls"][a]))
        if (ip.custom_exceptions, ip.CustomTB) != snap["exc"]:
            undo("custom exception handler installed",
                 lambda: (setattr(ip, "custom_exceptions", snap["exc"][0]), setattr(ip, "CustomTB", snap["exc"][1])))
        for a, v in snap["sys"].items():
            if getattr(sys, a) is not v:
                undo(f"sys.{a} replaced", lambda a=a, v=v: setattr(sys, a, v))
        if ip.displayhook is not snap["displayhook"]:
            undo("IPython displayhook replaced", lambda: setattr(ip, "displayhook", snap["displayhook"]))
        for ev, cbs in ip.events.callbacks.items():
            for f in [f for f in cbs if getattr(f, "__module__", None) in ("__main__", None)]:
                undo(f"cell event callback on {ev} defined by the notebook", lambda cbs=cbs, f=f: cbs.remove(f))
        ns = ip.user_ns
        for name, obj in protected.items():
            if ns.get(name, MISSING) is not obj:
                undo(f"test helper {name} redefined", lambda name=name, obj=obj: ns.__setitem__(name, obj))
            if name in fn_state:
                code, dflt, kw = fn_state[name]
                if (obj.__code__, obj.__defaults__, obj.__kwdefaults__) != (code, dflt, kw):
                    def put_back(obj=obj, code=code, dflt=dflt, kw=kw):
                        obj.__code__, obj.__defaults__, obj.__kwdefaults__ = code, dflt, kw
                    undo(f"code of test helper {name} changed", put_back)
            if name in mod_state:
                now = vars(obj)
                for k, v in mod_state[name].items():
                    if now.get(k, MISSING) is not v:
                        undo(f"{name}.{k} monkeypatched", lambda now=now, k=k, v=v: now.__setitem__(k, v))
        for name in protect:
            obj = ns.get(name, MISSING)
            if isinstance(obj, (types.FunctionType, type, types.ModuleType, types.BuiltinFunctionType)):
                protected[name] = obj
                if isinstance(obj, types.FunctionType):
                    fn_state[name] = (obj.__code__, obj.__defaults__, obj.__kwdefaults__)
                if isinstance(obj, types.ModuleType):
                    # the module's functions, classes and submodules; not its data (tempfile keeps a counter)
                    mod_state[name] = {k: v for k, v in vars(obj).items()
                                       if isinstance(v, (types.FunctionType, type, types.ModuleType,
                                                         types.BuiltinFunctionType))}
        if test_cell:
            # a learner's own `sum = 0` or `isinstance = ...` must not answer for the test: set it aside
            for k in list(ns):
                if (k in snap["builtins"] and ns[k] is not snap["builtins"][k] and k not in protected
                        and k not in keep):
                    shadows[k] = ns.pop(k)
        return dumps({"challenge": challenge, "problems": problems})

    check.restore = restore
    ip.user_ns[name] = check
    ip.user_ns_hidden[name] = check

'''


def new_name() -> str:
    return "_adk_" + secrets.token_hex(6)


def install_code(name: str) -> str:
    return INSTALL + f"__adk_make({name!r})\ndel __adk_make\n"


def check_expression(name: str, challenge: str, protect: list[str], test_cell: bool = False,
                     keep: list[str] = ()) -> str:
    return f"{name}({challenge!r}, {protect!r}, {test_cell!r}, {list(keep)!r})"


def restore_expression(name: str, challenge: str) -> str:
    return f"{name}.restore({challenge!r})"


def new_challenge() -> str:
    return secrets.token_hex(8)


def parse_reply(reply: dict | None, challenge: str) -> list[str] | None:
    """The guard's findings, or None when the guard did not answer as itself."""
    try:
        data = reply["content"]["user_expressions"]["guard"]
        if data.get("status") != "ok":
            return None
        result = json.loads(ast.literal_eval(data["data"]["text/plain"]))
        if result.get("challenge") != challenge:
            return None
        return list(result["problems"])
    except (KeyError, TypeError, ValueError, SyntaxError):
        return None


def bound_names(source: str) -> list[str]:
    """Top-level names a (locked) cell binds with def, class, import or assignment."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names
