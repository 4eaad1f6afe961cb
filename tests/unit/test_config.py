"""Settings: every setting typed, documented, listed in the README, read only here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_here_and_in_the_readme(name: str) -> None:
    assert Settings.model_fields[name].description, f"{name} has no description"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"`{name.upper()}`", readme), f"{name.upper()} missing from the README"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_THREADS", "4")
    assert make_settings().api_threads == 4
    assert make_settings({"api_threads": 3}).api_threads == 3
    monkeypatch.setenv("API_THREADS", "0")
    with pytest.raises(ValidationError):
        make_settings()


def test_no_module_of_the_service_reads_the_environment_itself() -> None:
    readers = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "app").rglob("*.py")
        if re.search(
            r"os\.environ(?!\[\"PROMETHEUS_MULTIPROC_DIR\"\] =)|os\.getenv", path.read_text()
        )
    ]
    assert readers == []
