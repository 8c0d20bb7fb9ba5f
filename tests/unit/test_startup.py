"""plugin_kit.startup.run_main: the GC is paused only while the plugin's module is imported."""

from __future__ import annotations

import gc
import subprocess
from pathlib import Path

import pytest
from helpers import BIN

from plugin_kit.startup import run_main

MODULE = """
import gc
SEEN = {"import": gc.isenabled()}
def main():
    SEEN["call"] = gc.isenabled()
    SEEN["frozen"] = gc.get_freeze_count() > 0
"""


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    gc.unfreeze()


def test_gc_paused_for_the_import_and_back_on_for_the_run(module_dir: Path) -> None:
    (module_dir / "entry_ok.py").write_text(MODULE)
    run_main("entry_ok")
    import entry_ok  # noqa: PLC0415 - imported by run_main above

    assert entry_ok.SEEN == {"import": False, "call": True, "frozen": True}
    assert gc.isenabled()


def test_gc_back_on_when_the_import_fails(module_dir: Path) -> None:
    (module_dir / "entry_broken.py").write_text("raise RuntimeError('broken plugin')\n")
    with pytest.raises(RuntimeError, match="broken plugin"):
        run_main("entry_broken")
    assert gc.isenabled()


def test_gc_left_off_when_the_caller_had_turned_it_off(module_dir: Path) -> None:
    (module_dir / "entry_off.py").write_text(MODULE)
    gc.disable()
    try:
        run_main("entry_off")
        import entry_off  # noqa: PLC0415 - imported by run_main above

        assert entry_off.SEEN["call"] is False
    finally:
        gc.enable()


@pytest.mark.parametrize("script", ["target-bigquery-smart", "tap-generic-api"])
def test_console_scripts_start_through_run_main(script: str) -> None:
    entry = (BIN / script).read_text()
    assert "__main__ import main" in entry
    done = subprocess.run(
        [str(BIN / script), "--about", "--format", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f'"name": "{script}"' in done.stdout
