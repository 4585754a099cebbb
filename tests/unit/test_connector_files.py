"""The committed connector/ files match the code (regenerate with ``python -m dev.connector``)."""
import pytest

from ciconnector.connector import DEFINITION_FILE, PROPERTIES_FILE, generate
from ciconnector.data_actions import ACTIONS
from ciconnector.trigger_kinds import CATALOG
from dev.connector import CONNECTOR_DIR, drifted, main


def test_committed_files_match_the_code():
    assert drifted() == [], "connector/ is out of date: run `python -m dev.connector` and commit the result"


def test_drift_is_detected(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    assert drifted(tmp_path) == []
    (tmp_path / PROPERTIES_FILE).write_text("{}\n", encoding="utf-8")
    (tmp_path / DEFINITION_FILE).unlink()
    assert sorted(drifted(tmp_path)) == sorted([DEFINITION_FILE, PROPERTIES_FILE])
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_host_option_only_changes_the_host(tmp_path):
    main(["--out", str(tmp_path), "--host", "myapp.azurewebsites.net"])
    text = (tmp_path / DEFINITION_FILE).read_text(encoding="utf-8")
    assert text == generate()[DEFINITION_FILE].replace("your-function-app.azurewebsites.net", "myapp.azurewebsites.net")


def test_committed_folder_keeps_the_placeholder_host():
    with pytest.raises(SystemExit):
        main(["--host", "myapp.azurewebsites.net"])
    assert drifted() == []


def test_readme_lists_every_visible_operation():
    readme = (CONNECTOR_DIR / "README.md").read_text(encoding="utf-8")
    summaries = [a.summary for a in ACTIONS if a.visibility != "internal"] + [k.summary for k in CATALOG.values()]
    assert [s for s in summaries if f"| {s} |" not in readme] == []
