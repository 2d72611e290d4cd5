"""Make the evidence's photo folder: scikit-image's sample photos (astronaut, coffee, chelsea) cropped, mirrored
and resized into three classes of real photos, plus a few broken and non-image files, and a folder of new
photos (other crops) to classify afterwards.

    python docs/practitioner/make_photos.py /tmp/practitioner

writes /tmp/practitioner/photos/<class>/... (30 per class, 160 x 200 px) and /tmp/practitioner/new/ (3 per class
and one broken file). It uses the tests' helper (tests/photos.py), so the tests and the evidence build their
folders the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from photos import PHOTOS, add_broken_files, make_photo_folder, photo_crops


def main(root: Path) -> None:
    make_photo_folder(root / "photos", per_class=30, side=160)
    (root / "photos" / "coffee" / "notes.txt").write_text("not an image: skipped, and said so\n")
    (root / "new").mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        for i, crop in enumerate(photo_crops(name, 3, 160, seed=1)):
            crop.save(root / "new" / f"{name}-new-{i}.jpg")
    add_broken_files(root / "new")
    print(f"wrote {root / 'photos'} and {root / 'new'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
