"""Mask post-processing (conf/postprocess/): largest component, hole filling and speck removal on hand-made masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import CONF_DIR

from skinlight.errors import ConfigError
from skinlight.inference.postprocess import PostProcess


def ring_and_speck() -> np.ndarray:
    """A 12 x 12 mask: a 6 x 6 square ring (a 2 x 2 hole inside) and a 1-pixel speck touching it only diagonally
    (one component with 8-connectivity), and a 2 x 2 blob apart."""
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:7, 1:7] = True
    mask[3:5, 3:5] = False  # the hole
    mask[7, 7] = True  # diagonal neighbour of the ring's corner (6, 6)
    mask[9:11, 9:11] = True  # the blob
    return mask


def config(name: str) -> dict:
    return yaml.safe_load((Path(CONF_DIR) / "postprocess" / f"{name}.yaml").read_text())


def test_none_leaves_the_mask_as_it_is():
    mask = ring_and_speck()
    assert np.array_equal(PostProcess.from_config(config("none"))(mask), mask)


def test_largest_component_keeps_the_ring_with_its_diagonal_speck():
    out = PostProcess(largest_component=True)(ring_and_speck())
    expected = ring_and_speck()
    expected[9:11, 9:11] = False
    assert np.array_equal(out, expected)


def test_fill_holes_closes_the_ring_and_nothing_else():
    out = PostProcess(fill_holes=True)(ring_and_speck())
    expected = ring_and_speck()
    expected[3:5, 3:5] = True
    assert np.array_equal(out, expected)


def test_largest_filled_keeps_one_filled_lesion():
    out = PostProcess.from_config(config("largest_filled"))(ring_and_speck())
    expected = np.zeros((12, 12), dtype=bool)
    expected[1:7, 1:7], expected[7, 7] = True, True
    assert np.array_equal(out, expected)


def test_min_area_removes_the_components_below_a_fraction_of_the_image():
    mask = ring_and_speck()  # the ring with its speck: 33 pixels, the blob: 4, of 144
    out = PostProcess(min_area=5 / 144)(mask)
    assert np.array_equal(out, mask & ~np.pad(np.ones((2, 2), bool), ((9, 1), (9, 1))))
    assert np.array_equal(PostProcess(min_area=4 / 144)(mask), mask)


def test_an_empty_mask_stays_empty():
    empty = np.zeros((5, 5), dtype=bool)
    assert not PostProcess.from_config(config("largest_filled"))(empty).any()
    assert not PostProcess(largest_component=True, min_area=0.5)(ring_and_speck()).any()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_area": 1.5}, "postprocess.min_area=1.5"),
        ({"min_area": "big"}, "postprocess.min_area='big'"),
        ({"fill_holes": "yes"}, "postprocess.fill_holes='yes'"),
        ({"largest": True}, r"unknown key\(s\) \['largest'\]"),
    ],
)
def test_bad_postprocess_options_stop_with_one_line_naming_the_key(options, message):
    with pytest.raises(ConfigError, match=message):
        PostProcess.from_config(options)
