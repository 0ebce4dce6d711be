"""A bench run's own copy of the GX project, so the gate measured stores and lists only that run's results.

GX lists every stored validation result when it renders Data Docs (the gate does for each failed table), so a gate
writing into the checkout's ``expectations/uncommitted/`` would be measured against however many results earlier
bench and test runs left there (1,000-4,000 in a working checkout: up to ~1 s of a gate). The copy holds the
committed project (suites, checkpoints, checks.yml) and starts with no results.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ar_radar.settings import Settings


def gx_project(folder: Path) -> Path:
    """``folder``/expectations: a copy of the committed GX project, made on first use (later runs reuse it)."""
    target = folder / "expectations"
    if not target.exists():
        shutil.copytree(Settings.from_env().gx_root, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target
