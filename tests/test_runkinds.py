"""The run a method needs first (one registry field, one set of functions) and the run kinds (one table)."""

from __future__ import annotations

import pytest

from chimeramix.components.registry import declared_run_kinds
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.experiments.costs import cost_key
from chimeramix.methods import parse_method
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.resolution import apply_preset, first_run_config, first_run_field, with_first_run
from chimeramix.runkinds import kind_of, run_kind, run_kinds

DATA = DataConfig(dataset="cifar10", k=10)


def test_each_method_declares_the_run_it_needs_first() -> None:
    first = {name: parse_method(name).first_run for name in (
        "baseline", "chimeramix-seg", "chimeramix-grid-n3+trivialaugment", "glico", "supermix", "scattering+supermix",
        "mixup", "gridmix")}
    assert first == {"baseline": None, "chimeramix-seg": "generator", "chimeramix-grid-n3+trivialaugment": "generator",
                     "glico": "glico", "supermix": "teacher", "scattering+supermix": "teacher", "mixup": None,
                     "gridmix": None}


@pytest.mark.parametrize(("method", "config_class", "field"), [
    ("chimeramix-grid", GeneratorConfig, "generator"), ("glico", GlicoConfig, "generator"),
    ("supermix", ClassifierConfig, "teacher")])
def test_the_first_run_and_the_field_that_names_its_folder(method: str, config_class: type, field: str) -> None:
    config = apply_preset(ClassifierConfig(data=DATA, method=method), "quick")
    first = first_run_config(config)
    assert isinstance(first, config_class) and first.preset == "quick" and first.data == config.data
    assert first_run_field(method) == field
    assert getattr(with_first_run(config, "runs/first"), field) == "runs/first"


def test_a_scattering_students_teacher_is_the_presets_plain_network() -> None:
    config = apply_preset(ClassifierConfig(data=DATA, method="scattering+supermix"), "quick")
    teacher = first_run_config(config)
    assert isinstance(teacher, ClassifierConfig) and teacher.method == "baseline" and teacher.method_settings == {}
    assert teacher.architecture == apply_preset(ClassifierConfig(data=DATA), "quick").architecture


def test_a_method_without_a_first_run() -> None:
    config = ClassifierConfig(data=DATA, method="cutout+mixup")
    assert first_run_config(config) is None and first_run_field(config.method) is None
    with pytest.raises(ValueError, match="needs no run trained first"):
        with_first_run(config, "runs/first")


def test_the_run_kinds_are_one_table() -> None:
    """The core's one kind (the classifier) and those method components declare (ChimeraMix's generator, GLICO's
    stage 1, from their hooks), first runs first."""
    assert list(run_kinds()) == ["generator", "glico", "classifier"]
    assert list(declared_run_kinds()) == ["generator", "glico"]
    for name, kind in run_kinds().items():
        config = kind.config(data=DATA)
        assert kind.name == name == config.KIND and kind_of(config) is kind and run_kind(name) is kind
        assert cost_key(name, {"data": {"dataset": "cifar10", "k": 10}, "precision": "fp32"}).startswith(f"{name}/")
    with pytest.raises(KeyError, match="the kinds are generator, glico, classifier"):
        run_kind("teacher")
