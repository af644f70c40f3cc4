"""One settings tree: every component's configuration reachable from ``Settings`` and ``KINDRED_*``."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest
from pydantic import SecretStr

from agent.settings import LEGACY_NAMES, Settings, setting_paths
from memory.config import ComponentConfig
from memory.errors import ConfigurationError

from conftest import T0

ROOT = Path(__file__).resolve().parents[1]


def _all_component_configs() -> set[type]:
    """Every ComponentConfig subclass defined anywhere in the packages (imported here)."""
    for package in ("memory", "personas", "graphs", "agent"):
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            importlib.import_module(info.name)
    found, todo = set(), [ComponentConfig]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def _reached(model: type, seen: set[type]) -> set[type]:
    for field in model.model_fields.values():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, ComponentConfig) and kind not in seen:
            seen.add(kind)
            _reached(kind, seen)
    return seen


def test_every_component_config_is_reachable_from_settings():
    reachable = _reached(Settings, set())
    missing = sorted(c.__qualname__ for c in _all_component_configs() - reachable)
    assert not missing, f"configs Settings cannot reach: {missing}"


def test_the_knobs_the_issue_named_are_settings():
    paths = setting_paths()
    for path in ("retrieval.turn_min_score", "retrieval.fact_min_similarity",
                 "retrieval.hybrid.session_top", "retrieval.scoring.tau_s",
                 "storage.lexical.body", "personas.consistency.flip_similarity",
                 "feedback.max_edit_distance", "personas.rehearsal.stm_max_edit_distance",
                 "session.stm_keep", "personas.max_clauses"):
        assert path in paths, path
    assert not any(p.endswith("tau_s") for p in paths if p != "retrieval.scoring.tau_s")


def _other_value(path: str, kind, default):
    """A valid value different from ``default`` for a leaf of the given type."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Literal:
        return next(a for a in args if a != default)
    if kind is bool:
        return not default
    if kind is int:
        return default + 1
    if kind is float:
        return round(default - 0.01 if default >= 0.99 else default + 0.01, 6)
    if type(None) in args:  # Optional[...]
        inner = next(a for a in args if a is not type(None))
        if inner is Path:
            return Path("/tmp/kindred-settings-test")
        return "s3cret" if inner is SecretStr else "value" if inner is str else 1
    if kind is Path:
        return Path("/tmp/kindred-settings-test")
    if kind is str:
        return "other" if path != "persona" else "kindred"
    raise AssertionError(f"no test value for {path}: {kind}")


def _get(settings, path: str):
    value = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


LEAVES = sorted(setting_paths().items())


@pytest.mark.parametrize("path, kind", LEAVES, ids=[p for p, _ in LEAVES])
def test_every_leaf_is_set_by_its_nested_variable_and_keyword(path, kind, monkeypatch):
    default = _get(Settings(), path)
    value = _other_value(path, kind, default)
    if path == "persona":
        pytest.skip("one card ships; a path is tested in test_persona_check")
    variable = "KINDRED_" + path.replace(".", "__").upper()
    monkeypatch.setenv(variable, str(value).lower() if isinstance(value, bool) else str(value))
    assert _get(Settings(), path) == value, variable
    monkeypatch.delenv(variable)
    tree: dict = {}
    node = tree
    *groups, leaf = path.split(".")
    for group in groups:
        node = node.setdefault(group, {})
    node[leaf] = value
    assert _get(Settings(**tree), path) == value


@pytest.mark.parametrize("old", sorted(LEGACY_NAMES))
def test_old_flat_names_keep_working_and_name_the_new_one(old, monkeypatch):
    new = LEGACY_NAMES[old]
    kind = setting_paths()[new]
    value = _other_value(new, kind, _get(Settings(), new))
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        assert _get(Settings(**{old: value}), new) == value
    monkeypatch.setenv(f"KINDRED_{old.upper()}",
                       str(value).lower() if isinstance(value, bool) else str(value))
    with pytest.warns(DeprecationWarning, match=f"KINDRED_{new.replace('.', '__').upper()}"):
        assert _get(Settings(), new) == value


def test_a_new_nested_variable_wins_over_an_old_flat_one(monkeypatch):
    monkeypatch.setenv("KINDRED_TURNS_K", "7")
    monkeypatch.setenv("KINDRED_RETRIEVAL__TURNS_K", "9")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert Settings().retrieval.turns_k == 9
        assert Settings(turns_k=4).retrieval.turns_k == 4  # a keyword wins over both


def test_a_misspelt_variable_is_an_error_that_suggests_the_right_one(monkeypatch):
    monkeypatch.setenv("KINDRED_RETRIEVAL__TURN_K", "8")
    with pytest.raises(ConfigurationError, match="KINDRED_RETRIEVAL__TURNS_K"):
        Settings()


def test_an_invalid_value_fails_at_construction_with_the_field_named(make_bot):
    with pytest.raises(ConfigurationError, match="turn_min_score"):
        make_bot(retrieval={"turn_min_score": "high"})
    with pytest.raises(ConfigurationError, match=r"retrieval\.hybrid\.lexcal"):
        make_bot(retrieval={"hybrid": {"lexcal": 1.0}})  # a typo in a nested knob


def test_components_take_the_settings_objects_themselves(make_bot):
    bot = make_bot(retrieval={"turn_min_score": 0.9, "hybrid": {"session_top": 1}})
    graph = bot.settings.graph_config()
    assert graph.retrieval is bot.settings.retrieval
    assert graph.retrieval.hybrid.session_top == 1


def test_turn_min_score_really_gates_what_recall_returns(make_bot):
    """A setting that was not reachable before: a floor above every score leaves no turn."""
    loose = make_bot(data_dir=None)
    loose.ingest("ann", [{"speaker": "ann", "text": "My sister Ana lives in Porto.", "at": T0}])
    loose.end_session("ann", at=T0 + 1)
    assert loose.recall("ann", "Where does my sister live?", at=T0 + 99).turns
    loose.close()
    strict = make_bot(retrieval={"turn_min_score": 50.0})
    assert strict.recall("ann", "Where does my sister live?", at=T0 + 99).turns == []
    assert strict.recall("ann", "Where does my sister live?", at=T0 + 99, min_score=None).turns
