"""data.resize: squash, pad (aspect kept, black border) and crop (aspect kept, centre square), for images,
masks, the image cache and predicted masks mapped back onto the image."""

import albumentations as A
import cv2
import numpy as np
import pytest
from conftest import BrightIsLesion, disc_image
from PIL import Image

from skinlight.data.cache import ImageCache
from skinlight.data.layouts.images import load_rgb, read_mask
from skinlight.data.segmentation import HAM10000SegmentationDataModule, ISIC2018DataModule
from skinlight.data.transforms import build_transform, content_box, resize_steps
from skinlight.errors import ConfigError
from skinlight.inference.segment import predict_masks
from skinlight.train import build_datamodule


def _resize(image, policy, size=32, mask=None):
    out = A.Compose(resize_steps(size, policy))(image=image, **({} if mask is None else {"mask": mask}))
    return out if mask is not None else out["image"]


def _bbox(image):
    ys, xs = np.nonzero(image[..., 0] > 127)
    return ys.min(), xs.min(), ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


@pytest.mark.parametrize("shape", [(150, 200), (450, 600), (151, 200), (200, 37), (90, 120), (33, 32), (16, 16)])
def test_pad_centres_the_whole_image_on_a_black_square_where_content_box_says(shape):
    out = _resize(np.full((*shape, 3), 255, np.uint8), "pad")
    assert out.shape == (32, 32, 3)
    top, left, h, w = content_box(*shape, 32, "pad")
    assert _bbox(out) == (top, left, h, w) and (out > 0).sum() == h * w * 3  # the image inside, black elsewhere
    assert max(h, w) == 32 and abs(top - (32 - h - top)) <= 1 and abs(left - (32 - w - left)) <= 1  # centred
    assert abs(h / w - shape[0] / shape[1]) < 0.1  # the aspect kept


def test_pad_and_crop_keep_a_disc_round_where_squash_flattens_it():
    image = disc_image(150, 200, 60)
    for policy, round_ in (("pad", True), ("crop", True), ("squash", False)):
        _, _, h, w = _bbox(_resize(image, policy, size=64))
        assert (abs(h - w) <= 1) == round_, (policy, h, w)


def test_crop_keeps_the_centre_square_and_its_mask():
    image = np.zeros((150, 200, 3), np.uint8)
    image[:, :20], image[:, 20:180], image[:, 180:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)  # the crop: 25-175
    mask = np.zeros((150, 200), np.uint8)
    mask[:, 20:180] = 1
    out = _resize(image, "crop", mask=mask)
    assert out["image"].shape == (32, 32, 3)
    assert (out["image"][..., 1] == 255).all() and not out["image"][..., [0, 2]].any()  # no pixel of the edges
    assert (out["mask"] == 1).all()
    with pytest.raises(ConfigError, match="data.resize=crop cuts off"):
        content_box(150, 200, 32, "crop")


def test_squash_is_unchanged():
    image = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)
    assert np.array_equal(_resize(image, "squash"), cv2.resize(image, (32, 32), interpolation=cv2.INTER_LINEAR))
    assert content_box(30, 40, 32, "squash") == (0, 0, 32, 32)


def test_unknown_policy_stops_at_start_up(make_cfg, compose_cfg, synthetic_root):
    with pytest.raises(ConfigError, match=r"^data.resize='stretch': choose one of \['squash', 'pad', 'crop'\]$"):
        build_datamodule(make_cfg("data.resize=stretch"))
    with pytest.raises(ConfigError, match="data.resize='stretch'"):
        build_transform(32, policy="stretch")


def test_cache_file_is_keyed_on_the_policy(synthetic_root, tmp_path):
    paths = sorted(synthetic_root.rglob("*.jpg"))[:2]
    caches = {p: ImageCache(paths, 16, tmp_path, prefix="t", resize=p) for p in ("squash", "pad", "crop")}
    assert len({c.path for c in caches.values()}) == 3
    for policy, cache in caches.items():
        cache.build()
        expected = _resize(load_rgb(paths[1], 16), policy, size=16)
        assert np.array_equal(cache[1], expected), policy
    assert len(list(tmp_path.glob("t-*.npy"))) == 3  # one policy's cache does not delete another's


def test_segmentation_masks_follow_the_pad_geometry(synthetic_root):
    dm = HAM10000SegmentationDataModule(synthetic_root, image_size=32, resize="pad", num_workers=0)
    dm.setup()
    row = dm.table[dm.table["split"] == "test"].iloc[0]
    item = dm.datasets["test"][0]
    image, mask = load_rgb(row["path"]), read_mask(row["mask_path"])
    top, left, h, w = content_box(*image.shape[:2], 32, "pad")
    expected = np.zeros((32, 32), np.uint8)
    expected[top : top + h, left : left + w] = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    got = item["mask"][0].numpy().astype(bool)
    assert item["mask"].shape == (1, 32, 32) and top == 4 and h == 24  # 4:3 images: 4 rows of border each side
    assert not got[:top].any() and not got[top + h :].any() and _iou(got, expected > 0) > 0.85
    assert not item["image"][:, :top].any() and not item["image"][:, top + h :].any()


def test_segmentation_refuses_crop_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match=r"^data.resize=crop cuts off the image's edges"):
        ISIC2018DataModule(str(tmp_path), image_size=32, resize="crop")


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("policy", ["squash", "pad"])
def test_predicted_masks_map_back_onto_the_image(policy):
    """Off-centre disc on a 4:3 image: the mask at the image's size lies on the disc (pad: the border dropped)."""
    image = disc_image(150, 200, 30, centre=(40, 60))
    truth = image[..., 0] > 127
    (mask,) = predict_masks(BrightIsLesion(policy), [image])
    assert mask.shape == (150, 200) and _iou(mask, truth) > 0.9
    (half,) = predict_masks(BrightIsLesion(policy), [image], sizes=[(75, 100)])
    assert _iou(half, cv2.resize(truth.astype(np.uint8), (100, 75), interpolation=cv2.INTER_NEAREST) > 0) > 0.85


def test_predicting_masks_with_crop_is_refused():
    with pytest.raises(ConfigError, match="data.resize=crop"):
        predict_masks(BrightIsLesion("crop"), [disc_image(150, 200, 30)])


def test_mask_folder_prediction_with_pad(tmp_path):
    """predict_folder reads the image at a reduced size and writes the mask at the file's own size."""
    from skinlight.inference.segment import predict_folder

    Image.fromarray(disc_image(300, 400, 60, centre=(90, 110))).save(tmp_path / "a.png")
    (written,) = predict_folder(BrightIsLesion("pad"), tmp_path / "a.png", tmp_path / "out")
    mask = np.asarray(Image.open(written)) > 0
    assert mask.shape == (300, 400) and _iou(mask, disc_image(300, 400, 60, centre=(90, 110))[..., 0] > 0) > 0.9
