"""Load every definition under ``defs/`` (one folder per stage) into one ``Definitions``."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
