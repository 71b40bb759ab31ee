from pathlib import Path

from advisor.settings import Settings


def test_all_state_lives_under_home(tmp_path):
    settings = Settings(home=tmp_path / "bank-a")
    for path in (settings.store_path, settings.chroma_path, settings.models_dir, settings.key_file,
                 settings.reports_dir, Path(settings.checkpoint_url), Path(settings.audit_url)):
        assert str(path).startswith(str(tmp_path / "bank-a"))
    assert str(tmp_path / "bank-a") in settings.ui_database_url


def test_environment_overrides_with_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "bank-b"))
    monkeypatch.setenv("ADVISOR_LLM_BACKEND", "openai")
    settings = Settings()
    assert settings.home == tmp_path / "bank-b" and settings.llm_backend == "openai"
    assert settings.store_path == tmp_path / "bank-b" / "bank.db"


def test_tracing_is_off_without_a_key(monkeypatch):
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    assert Settings().tracing_enabled is False
    monkeypatch.setenv("LANGSMITH_API_KEY", "ls-test")
    assert Settings().tracing_enabled is True


def test_every_field_describes_itself():
    undocumented = [name for name, field in Settings.model_fields.items()
                    if not field.description and not name.startswith("langsmith")]
    assert undocumented == []
