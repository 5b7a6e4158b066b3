"""Who may import whom, read from the source (nothing is imported to check it).

``studiobot`` wires the product together; the transport (``bot``) is handed a
conversation and its own config, so it never imports ``studiobot``: a new
channel (DingTalk, Feishu) is another package beside ``bot``, wired the same
way.  ``storage`` knows no transport and no wiring either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, at any depth (inside functions too), absolute."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted((root / package).rglob("*.py")):
        for module in sorted(imported_modules(path, root)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(root).as_posix()} imports {module}")
    return out


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("bot", ("studiobot",)),
        ("dingtalk", ("studiobot", "bot", "aiogram")),
        ("storage", ("studiobot", "bot", "aiogram")),
        ("review", ("studiobot", "bot", "aiogram", "dialogs")),
        ("reminders", ("studiobot", "bot", "aiogram", "dialogs")),
        ("dialogs", ("studiobot", "bot", "aiogram", "documents")),
        ("documents", ("studiobot", "bot", "aiogram")),
    ],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == []


def test_the_scan_sees_hidden_and_relative_imports(tmp_path: Path) -> None:
    """The check itself: imports inside a function body, plain and relative, are found."""
    (tmp_path / "bot" / "routers").mkdir(parents=True)
    (tmp_path / "bot" / "late.py").write_text(
        "def f():\n    from studiobot.app import build_conversation\n"
    )
    near = tmp_path / "bot" / "routers" / "near.py"
    near.write_text("import studiobot.cli\nfrom .. import app\nfrom .text import on_text\n")
    assert imported_modules(near, tmp_path) == {
        "studiobot.cli",
        "bot",
        "bot.app",
        "bot.routers.text",
        "bot.routers.text.on_text",
    }
    assert offenders("bot", ("studiobot",), tmp_path) == [
        "bot/late.py imports studiobot.app",
        "bot/late.py imports studiobot.app.build_conversation",
        "bot/routers/near.py imports studiobot.cli",
    ]


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_cycles(
    packages: tuple[str, ...] = ("dialogs", "storage", "bot", "studiobot"),
) -> list[list[str]]:
    """Groups of the product's modules that import each other, directly or round about."""
    files = [p for package in packages for p in sorted((ROOT / package).rglob("*.py"))]
    modules = {_module_name(p): p for p in files if "migrations" not in p.parts}
    graph = {
        name: {m for m in imported_modules(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        # Modules reachable from start that also reach back to it form its cycle.
        reach = _reachable(graph, start)
        back = {m for m in reach if start in _reachable(graph, m)}
        done |= back | {start}
        if back:
            cycles.append(sorted(back | {start}))
    return cycles


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_no_module_imports_itself_round_about() -> None:
    """The engine decides and the renderer draws: neither may need the other back."""
    assert import_cycles() == []
