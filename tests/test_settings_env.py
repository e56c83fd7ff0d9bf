"""CONTEXT_* variables that are no setting: a typo of one is reported, not ignored (DESIGN §7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctxstore.infrastructure.settings import SettingsError, load_settings, misspelt_settings

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def test_a_misspelt_setting_is_an_error_naming_the_one_meant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXT_DATABSE_URL", "postgresql://elsewhere/db")
    with pytest.raises(SettingsError, match=r"^CONTEXT_DATABSE_URL is not a setting: did you "
                                            r"mean CONTEXT_DATABASE_URL\?$"):
        load_settings()


def test_names_are_matched_whatever_their_case_and_far_ones_left_alone() -> None:
    assert misspelt_settings({"context_nats_partitons": "2"}) == [
        "context_nats_partitons is not a setting: did you mean CONTEXT_NATS_PARTITIONS?"]
    assert misspelt_settings({"CONTEXT_NATS_PARTITIONS": "2", "CONTEXT_menu_colour": "red",
                              "OTHER_DATABSE_URL": "x"}) == []
    # What a command reads itself is no typo, however close to a setting it is.
    assert misspelt_settings({"CONTEXT_NEW_ENCRYPTION_KEY": "k"}) == []


def test_the_cli_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "sqlite",
           "CONTEXT_STORAGE_PATH": str(tmp_path), "CONTEXT_SNAPSHOT_INTERVALL": "5"}
    proc = subprocess.run([CTXSTORE, "agents"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: CONTEXT_SNAPSHOT_INTERVALL is not a setting: did you mean "
        "CONTEXT_SNAPSHOT_INTERVAL?"], proc.stderr
