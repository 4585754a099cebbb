"""The deployed code imports only the standard library, the five runtime packages (plus PyJWT, msal's
own dependency, declared because the backend validates tokens with it) and itself."""
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = [ROOT / "function_app.py", *(ROOT / "ciconnector").rglob("*.py"), *(ROOT / "actions").rglob("*.py"),
            *(ROOT / "triggers").rglob("*.py")]
# urllib3 comes with requests, cryptography and jwt (PyJWT, declared explicitly) with msal
RUNTIME = {"azure", "msal", "requests", "urllib3", "cryptography", "jwt"}
OWN = {"ciconnector", "actions", "triggers"}


def imports(path: Path) -> set[str]:
    """Full names of the absolute imports of ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def top_level_imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


def test_deployed_code_needs_only_runtime_packages():
    offenders = {str(p.relative_to(ROOT)): sorted(top_level_imports(p) - set(sys.stdlib_module_names) - RUNTIME - OWN)
                 for p in DEPLOYED}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_requirements_list_exactly_the_five_runtime_packages_and_pyjwt():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    names = sorted(line.split(">")[0].split("<")[0].split("=")[0].split("~")[0] for line in lines if line)
    assert names == ["PyJWT", "azure-data-tables", "azure-functions", "azure-storage-queue", "msal", "requests"]


def test_logic_modules_do_not_import_azure_functions():
    logic = (ROOT / "ciconnector").rglob("*.py")
    assert [str(p) for p in logic if any(n.startswith("azure.functions") for n in imports(p))] == []
