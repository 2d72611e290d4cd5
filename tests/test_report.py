"""``chimeramix report`` (a run's and a store's page, parsed back with the standard library's HTML parser) and
``chimeramix compare`` (methods over folds on a folder of real photos)."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.experiments.store import Store
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.report import document, method_pictures_section, write_report
from chimeramix.resolution import resolve_data
from chimeramix.rundir import RunFolder
from photos import make_photo_folder

pytestmark = pytest.mark.usefixtures("one_thread")


class Page(HTMLParser):
    """What a report page holds: its figures (name -> decoded PNG sizes), numbers (name -> values) and text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.figures: dict[str, list[tuple[int, int]]] = {}
        self.metrics: dict[str, list[str]] = {}
        self.best: list[str] = []
        self.text: list[str] = []
        self.figure: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "data-figure" in values:
            self.figure = str(values["data-figure"])
            self.figures.setdefault(self.figure, [])
        if "data-metric" in values:
            self.metrics.setdefault(str(values["data-metric"]), []).append(str(values["data-value"]))
        if "data-best" in values:
            self.best.append(str(values["data-best"]))
        if tag == "img" and self.figure is not None:
            source = str(values["src"])
            assert source.startswith("data:image/png;base64,")  # embedded: the page is one file
            picture = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
            self.figures[self.figure].append(picture.size)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def chimeramix_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ChimeraMix run (generator, then classifier) on a photo folder at 16 px."""
    root = tmp_path_factory.mktemp("report")
    photos = make_photo_folder(root / "photos", per_class=6)
    data = resolve_data(DataConfig(f"folder:{photos}", k=4, seed=0, folder_image_size=16))
    generator = GeneratorConfig(data=data, masks=MaskConfig(kind="grid"), base_channels=4, blocks=2, mix_after=1,
                                batch_size=8, repetition=1, epochs=1, checkpoint_every=1, device="cpu")
    train_generator(generator, root / "generator", progress=False)
    config = ClassifierConfig(data=data, method="chimeramix-grid", generator=str(root / "generator"),
                              architecture="wrn-10-1", epochs=2, repetition=2, batch_size=8, device="cpu")
    train_classifier(config, root / "classifier", progress=False)
    return root / "classifier"


def test_a_run_page_shows_every_figure_and_the_numbers_of_the_result(chimeramix_run: Path) -> None:
    page = Page(write_report(chimeramix_run).read_text())
    metrics = RunFolder(chimeramix_run).read_result()["metrics"]
    for name in ("confusion-matrix", "loss-curve", "training-images", "generator-compositions"):
        assert len(page.figures[name]) == 1 and min(page.figures[name][0]) > 16, name
    wrong = round((1 - metrics["accuracy"]) * metrics["num_test_images"])
    assert "most-wrong" in page.figures
    assert sum(len(sizes) for name, sizes in page.figures.items() if name.startswith("wrong-")) == min(wrong, 16)
    assert page.metrics["accuracy"] == [repr(metrics["accuracy"])]
    assert page.metrics["macro_accuracy"] == [repr(metrics["macro_accuracy"])]
    assert page.metrics["num_test_images"] == [repr(metrics["num_test_images"])] == ["3"]
    interval = [page.metrics["accuracy_low"][0], page.metrics["accuracy_high"][0]]
    assert interval == [repr(value) for value in metrics["accuracy_interval"]]
    assert page.metrics["per_class_accuracy"] == [repr(value) for value in metrics["per_class_accuracy"]]
    text = " ".join(page.text)
    assert "the test split holds only 3 images" in text and "astronaut" in text


def test_the_report_refuses_what_is_not_a_finished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "absent")]) == 2
    assert "does not exist; pass the folder of a finished classifier run" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_prints_the_best_method_and_its_store_page_has_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    store = tmp_path / "store"
    argv = ["compare", f"folder:{photos}", "--methods", "baseline,mixup", "--folds", "2", "--preset", "quick",
            "--folder-image-size", "8", "--classifier-set", "epochs=1", "--classifier-set", "repetition=1",
            "--classifier-set", "architecture=wrn-10-1", "--device", "cpu", "--no-progress", "--store", str(store)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 of 4 jobs finished" in out and "k = 2 per class" in out
    best = next(line for line in out.splitlines() if line.startswith("best: "))
    assert " % (n=2) over folds [95 % interval " in best and "test images over 2 folds]" in best
    assert {job.config["data"]["folder_folds"] for job in Store.open(store).load_plan().values()} == {2}
    assert main(["report", str(store)]) == 0
    page = Page((store / "report.html").read_text())
    assert len(page.figures["accuracy-vs-k"]) == 1
    assert set(page.metrics) == {"baseline@2", "mixup@2"}
    assert page.best and page.best[0].split("@")[0] == best.split()[1].rstrip(",")


def test_a_method_s_pictures_are_the_ones_its_components_declare(tmp_path: Path) -> None:
    """The report shows what the registry says a method's runs save, under each component's heading, and leaves
    out what the folder lacks (the report names no method itself)."""
    sizes = {"wavelets-init": (4, 3), "wavelets": (5, 3), "supermix": (6, 3), "compositions": (7, 3)}
    for name, size in sizes.items():
        Image.new("RGB", size).save(tmp_path / f"{name}.png")
    page = Page(document("run", method_pictures_section("scattering+supermix", RunFolder(tmp_path))))
    assert page.figures == {name: [size] for name, size in sizes.items() if name != "compositions"}
    assert "The scattering wavelets" in page.text and "SuperMix's mixes" in page.text
    (tmp_path / "wavelets-init.png").unlink()
    assert list(Page(document("run", method_pictures_section("scattering", RunFolder(tmp_path)))).figures) == [
        "wavelets"]
    assert method_pictures_section("baseline", RunFolder(tmp_path)) == []
