"""Presets: built-ins, the user folder, paths, partial presets, extends, saving."""

from __future__ import annotations

import tomllib

import pytest

from tui_trainer.core import presets
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError, UserError

PLAYGROUND = ("circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss")


def test_every_builtin_loads_and_has_a_description():
    infos = {p.name: p for p in presets.list_presets()}
    for name in PLAYGROUND:
        assert name in infos and infos[name].source == "built-in"
        assert infos[name].description
        cfg = presets.load_preset(name)
        assert cfg.data.dataset == name


def test_circle_is_exactly_the_textbook():
    cfg = presets.load_preset("circle")
    assert cfg.data.features == ("x1", "x2") and cfg.data.train_ratio == 0.5 and cfg.data.noise == 0.0
    assert cfg.model.hidden == (3, 3) and set(cfg.model.activation) == {"tanh"}
    assert cfg.model.output_activation == "tanh"
    assert (cfg.train.loss, cfg.train.optimizer, cfg.train.learning_rate) == ("mse", "sgd", 0.03)
    assert (cfg.train.batch_size, cfg.train.epochs) == (15, 100)


def test_partial_user_preset_changes_only_what_it_sets(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "quick.toml").write_text('description = "fewer epochs"\n[train]\nepochs = 7\n')
    cfg = presets.load_preset("quick")
    assert cfg.train.epochs == 7
    assert cfg.model == Config().model and cfg.data == Config().data
    listed = {p.name: p for p in presets.list_presets()}
    assert listed["quick"].source == "user" and listed["quick"].description == "fewer epochs"


def test_user_preset_shadows_builtin(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "xor.toml").write_text("[train]\nepochs = 3\n")
    assert presets.load_preset("xor").train.epochs == 3


def test_preset_by_path_and_extends(tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text('extends = "spiral"\n[model]\nhidden = [32, 32]\n')
    cfg = presets.load_preset(str(path))
    assert cfg.data.dataset == "spiral"
    assert cfg.model.hidden == (32, 32) and cfg.model.activation == ("tanh", "tanh")
    assert cfg.train.optimizer == "adam"


def test_extends_loop_is_reported(tmp_path):
    (tmp_path / "a.toml").write_text(f'extends = "{tmp_path / "b.toml"}"\n')
    (tmp_path / "b.toml").write_text(f'extends = "{tmp_path / "a.toml"}"\n')
    with pytest.raises(ConfigError, match="loop"):
        presets.load_preset(str(tmp_path / "a.toml"))


def test_bad_preset_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\noptimizer = 'adamm'\n")
    with pytest.raises(ConfigError) as info:
        presets.load_preset(str(bad))
    assert "train.optimizer" in str(info.value) and str(bad) in str(info.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        presets.load_preset(str(broken))
    with pytest.raises(UserError, match="did you mean 'circle'"):
        presets.load_preset("circel")
    with pytest.raises(UserError, match="file not found"):
        presets.load_preset(str(tmp_path / "missing.toml"))


def test_overrides_are_blamed_on_the_command_line():
    with pytest.raises(ConfigError) as info:
        presets.load_preset("circle", {"data.noise": 2})
    assert "command-line" in str(info.value)


def test_save_and_reload_round_trip(isolated_config):
    cfg = presets.load_preset("spiral").with_updates({"train.epochs": 12, "description": "mine"})
    path = presets.save_preset(cfg, "my-spiral")
    assert path.parent == isolated_config
    assert tomllib.loads(path.read_text())["train"]["epochs"] == 12
    assert presets.load_preset("my-spiral") == cfg
    with pytest.raises(FileExistsError):
        presets.save_preset(cfg, "my-spiral")
    presets.save_preset(cfg.with_updates({"train.epochs": 13}), "my-spiral", overwrite=True)
    assert presets.load_preset("my-spiral").train.epochs == 13
    with pytest.raises(ConfigError, match="letters, digits"):
        presets.save_preset(cfg, "../evil")


def test_presets_are_never_executed(tmp_path):
    # A preset is data: Python in it is just an invalid value or invalid TOML.
    sneaky = tmp_path / "sneaky.toml"
    sneaky.write_text('[data]\ndataset = "__import__(\'os\').system(\'false\')"\n')
    with pytest.raises(ConfigError, match="data.dataset"):
        presets.load_preset(str(sneaky))
