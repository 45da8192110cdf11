"""Settings from the environment, or from files named by `<NAME>_FILE` (Docker and Kubernetes
secrets)."""

import pytest

from catalog.selectors import provider_api_key
from marketplace.env import EnvError, env_int, env_str


def test_a_value_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE", "plain")
    assert env_str("SWITCHYARD_TEST_VALUE", "default") == "plain"
    assert env_str("SWITCHYARD_TEST_UNSET", "default") == "default"


def test_a_value_comes_from_a_file_without_its_final_newline(monkeypatch, tmp_path):
    (tmp_path / "secret").write_text("  s3cret value\n")
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE_FILE", str(tmp_path / "secret"))
    assert env_str("SWITCHYARD_TEST_VALUE") == "s3cret value"


def test_typed_values_come_from_files_too(monkeypatch, tmp_path):
    (tmp_path / "number").write_text("42\n")
    monkeypatch.setenv("SWITCHYARD_TEST_NUMBER_FILE", str(tmp_path / "number"))
    assert env_int("SWITCHYARD_TEST_NUMBER", 0) == 42


def test_an_empty_file_variable_is_unset(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE_FILE", "")
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE", "plain")
    assert env_str("SWITCHYARD_TEST_VALUE") == "plain"


def test_a_value_given_both_ways_is_refused(monkeypatch, tmp_path):
    (tmp_path / "secret").write_text("from the file")
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE", "from the environment")
    with pytest.raises(EnvError, match="set SWITCHYARD_TEST_VALUE or SWITCHYARD_TEST_VALUE_FILE"):
        env_str("SWITCHYARD_TEST_VALUE")


def test_a_missing_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SWITCHYARD_TEST_VALUE_FILE", str(tmp_path / "nowhere"))
    with pytest.raises(EnvError, match=r"SWITCHYARD_TEST_VALUE_FILE: cannot read .*nowhere"):
        env_str("SWITCHYARD_TEST_VALUE")


def test_a_provider_key_comes_from_its_variable_or_a_file(monkeypatch, tmp_path):
    assert provider_api_key(api_key_env="") == ""
    monkeypatch.setenv("SWITCHYARD_TEST_PROVIDER_KEY", "sk-from-env")
    assert provider_api_key(api_key_env="SWITCHYARD_TEST_PROVIDER_KEY") == "sk-from-env"
    monkeypatch.delenv("SWITCHYARD_TEST_PROVIDER_KEY")
    (tmp_path / "key").write_text("sk-from-file\n")
    monkeypatch.setenv("SWITCHYARD_TEST_PROVIDER_KEY_FILE", str(tmp_path / "key"))
    assert provider_api_key(api_key_env="SWITCHYARD_TEST_PROVIDER_KEY") == "sk-from-file"
