"""Settings from `MATCHDAY_*` variables, and errors that name the variable and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from matchday.config import LogFormat, Profile, Settings, SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.profile is Profile.LOCAL
    assert settings.state_dir == Path(".matchday")
    assert settings.data_dir is None
    assert settings.database_url is None
    assert settings.log_format is LogFormat.TEXT
    assert settings.log_level == "INFO"
    assert settings.download_retries == 4
    assert settings.cache_dir == Path(".matchday") / "cache"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / '.matchday' / 'matchday.db'}"
    assert settings.resolved_database_url.startswith("sqlite:////")  # an absolute path


def test_state_dir_moves_the_default_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_STATE_DIR", str(tmp_path / "state"))
    settings = load_settings()
    assert settings.state_dir == tmp_path / "state"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'state' / 'matchday.db'}"


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://matchday:secret@db:5432/matchday"
    monkeypatch.setenv("MATCHDAY_DATABASE_URL", url)
    monkeypatch.setenv("MATCHDAY_PROFILE", "prod")
    monkeypatch.setenv("MATCHDAY_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    settings = load_settings()
    assert settings.database_url == url
    assert settings.resolved_database_url == url
    assert settings.profile is Profile.PROD


def test_environment_values_are_read_and_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_LOG_LEVEL", "debug")
    monkeypatch.setenv("MATCHDAY_LOG_FORMAT", "json")
    monkeypatch.setenv("MATCHDAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MATCHDAY_DOWNLOAD_RETRIES", "7")
    settings = load_settings()
    assert (settings.log_level, settings.log_format) == ("DEBUG", LogFormat.JSON)
    assert settings.data_dir == tmp_path
    assert settings.download_retries == 7


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_LOG_LEVEL", "debug")
    assert load_settings(log_level="warning").log_level == "WARNING"


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(bogus=1)
    assert "MATCHDAY_BOGUS=1" in str(caught.value)
    assert str(caught.value).startswith("invalid configuration: ")


def test_bad_log_level_names_variable_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "MATCHDAY_LOG_LEVEL='loud'" in str(caught.value)
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in str(caught.value)


def test_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "MATCHDAY_DATABASE_URL='mysql://x'" in str(caught.value)


@pytest.mark.parametrize(("variable", "value"), [("MATCHDAY_DOWNLOAD_RETRIES", "0"), ("MATCHDAY_PROFILE", "staging")])
def test_other_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"{variable}='{value}'"):
        load_settings()


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_LOG_LEVEL", "loud")
    monkeypatch.setenv("MATCHDAY_DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "MATCHDAY_LOG_LEVEL" in str(caught.value)
    assert "MATCHDAY_DATABASE_URL" in str(caught.value)


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    assert settings.log_level == "INFO"


def test_a_mistyped_variable_is_refused_naming_it(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MATCHDAY_DATABSE_URL", "postgresql://x/y")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MATCHDAY_DATABSE_URL" in message
    assert "MATCHDAY_DATABASE_URL" in message  # the known settings are listed to spot the typo


def test_test_suite_variables_are_not_settings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MATCHDAY_TEST_POSTGRES_URL", "postgresql://x/y")
    assert load_settings().profile is Profile.LOCAL


def test_prod_profile_refuses_to_fall_back_to_sqlite(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(profile="prod")
    assert "MATCHDAY_DATABASE_URL" in str(caught.value)
    with pytest.raises(SettingsError, match="MATCHDAY_MLFLOW_TRACKING_URI"):
        load_settings(profile="prod", database_url="postgresql://db/matchday")
    prod = {"profile": "prod", "database_url": "postgresql://db/matchday", "mlflow_tracking_uri": "http://mlflow:5000"}
    settings = load_settings(**prod, jwt_secret="s3cret")
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.resolved_database_url == "postgresql://db/matchday"
    assert settings.resolved_mlflow_tracking_uri == "http://mlflow:5000"
