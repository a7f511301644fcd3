"""The Feast objects for the Feast CLI (`feast -c feature_repo apply`), built by matchday exactly as
`matchday features apply` builds them: entities `team` and `match`, the two file sources, the feature views
`team_form_ratings` and `match_market`, and the feature services `open_model` and `close_model`.

Settings come from MATCHDAY_* variables; a relative state dir is read from the repository root, where
`feature_store.yaml` points. The sources must exist (`matchday features apply` writes them), else this import fails
naming the missing file.
"""

from pathlib import Path

from matchday.config import load_settings
from matchday.integrations.feast_definitions import feast_objects

_settings = load_settings()
if not _settings.state_dir.is_absolute():  # Feast runs this from feature_repo/, not from the repository root
    _settings = _settings.model_copy(update={"state_dir": Path(__file__).resolve().parents[1] / _settings.state_dir})
_objects = feast_objects(_settings)

team, match = _objects.team, _objects.match
team_features_source, match_features_source = _objects.team_source, _objects.match_source
team_form_ratings, match_market = _objects.team_view, _objects.match_view
open_model, close_model = _objects.services
