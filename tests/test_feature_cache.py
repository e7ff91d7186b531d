"""Backbone features cached on disk, the transforms behind views and copies, and the code-quality figures."""

import numpy as np
import pytest

from ganhash_zoo.datasets.sources import ImageData
from ganhash_zoo.datasets.transforms import COPY_SHIFT, apply_views, near_duplicates, view_transforms
from ganhash_zoo.feature_cache import cached_features, feature_data
from ganhash_zoo.nets.efficientnet_lite import split_at_block
from ganhash_zoo.pretrained import load_backbone
from ganhash_zoo.retrieval import pack
from ganhash_zoo.retrieval.code_quality import code_spread, copy_ranks, near_duplicate_figures


class CountingExtractor:
    """The real backbone, counting the images it is asked to run."""

    def __init__(self, cut_block=None):
        self.inner, self.seen = load_backbone(cut_block=cut_block), 0
        self.key, self.feature_shape, self.name = self.inner.key, self.inner.feature_shape, self.inner.name

    def features(self, images, **kwargs):
        self.seen += len(images)
        return self.inner.features(images, **kwargs)


@pytest.fixture
def images(tmp_path, monkeypatch):
    monkeypatch.setenv("GANHASH_ZOO_CACHE", str(tmp_path / "cache"))
    return np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)


def test_features_are_computed_once_and_a_tampered_entry_is_recomputed(images, tmp_path):
    extractor = CountingExtractor()
    first = cached_features(images, extractor, progress=False)
    again = cached_features(images, extractor, progress=False)
    assert extractor.seen == 12 and np.array_equal(first, again)
    entry = next((tmp_path / "cache" / "features").glob("*.npy"))
    data = bytearray(entry.read_bytes())
    data[-4] ^= 0xFF  # one feature changed on disk
    entry.write_bytes(bytes(data))
    repaired = cached_features(images, extractor, progress=False)
    assert extractor.seen == 24 and np.array_equal(repaired, first)
    entry.write_bytes(entry.read_bytes()[:-100])  # cut short
    assert np.array_equal(cached_features(images, extractor, progress=False), first) and extractor.seen == 36
    other = images.copy()
    other[0, 0, 0, 0] ^= 1  # other pixels: another entry, never the cached one
    cached_features(other, extractor, progress=False)
    assert extractor.seen == 48


def test_maps_at_a_cut_block_are_cached_apart_from_pooled_features_and_lead_to_them(images):
    maps_extractor = CountingExtractor(cut_block=12)
    maps = cached_features(images, maps_extractor, progress=False)
    pooled = cached_features(images, CountingExtractor(), progress=False)  # another key: not read from the maps' entry
    assert maps.shape == (12, 5, 5, 192) and pooled.shape == (12, 1280)
    assert np.array_equal(cached_features(images, maps_extractor, progress=False), maps) and maps_extractor.seen == 12
    _, tail = split_at_block(load_backbone().network, 12)
    np.testing.assert_allclose(tail.predict(maps, verbose=0), pooled, atol=1e-4)
    assert load_backbone(cut_block=12).spec() == {"name": "efficientnet-lite0", "resolution": 160, "cut_block": 12}


def test_an_images_augmented_view_is_the_same_in_any_subset(images):
    data = feature_data(ImageData(images, np.arange(12) % 2, ["a", "b"], np.array(["train"] * 12)), load_backbone(),
                        progress=False)
    pairs = data.training_inputs(np.array([3, 7, 9]))
    assert pairs.shape == (3, 2, 1280)
    assert np.array_equal(pairs[:, 0], data.images[[3, 7, 9]])
    np.testing.assert_allclose(data.training_inputs(np.array([7]))[0, 1], pairs[1, 1], atol=1e-5)
    assert not np.allclose(pairs[:, 0], pairs[:, 1])  # a view is another image


def test_views_and_copies_are_flips_and_shifts_with_repeated_edges():
    image = np.arange(5 * 6).reshape(1, 5, 6, 1).astype(np.uint8)
    copy = near_duplicates(image)
    flipped = image[:, :, ::-1]
    assert np.array_equal(copy[0, COPY_SHIFT:, COPY_SHIFT:], flipped[0, :-COPY_SHIFT, :-COPY_SHIFT])
    assert np.array_equal(copy[0, :COPY_SHIFT, COPY_SHIFT:], np.repeat(flipped[0, :1, :-COPY_SHIFT], COPY_SHIFT, 0))
    flips, offsets = view_transforms(1000, seed=0)
    assert 0.4 < flips.mean() < 0.6 and offsets.min() == -3 and offsets.max() == 3
    same = apply_views(np.repeat(image, 2, 0), np.array([False, True]), np.zeros((2, 2), int))
    assert np.array_equal(same[0], image[0]) and np.array_equal(same[1], flipped[0])


def test_copy_ranks_place_ties_after_the_database():
    db = pack(np.array([[1, 1, 1, 1], [1, 1, 1, -1], [-1, -1, -1, -1]], np.float32))
    query = pack(np.array([[1, 1, 1, 1], [-1, -1, 1, 1]], np.float32))
    copy = pack(np.array([[1, 1, 1, -1], [-1, -1, 1, 1]], np.float32))
    # query 0: copy at distance 1; db rows at 0 and 1 -> rank 3. query 1: copy at 0, no db row at 0 -> rank 1
    assert copy_ranks(query, copy, db).tolist() == [3, 1]
    assert near_duplicate_figures(query, copy, db) == {"copy_recall@10": 1.0, "copy_median_rank": 2.0}
    spread = code_spread(pack(np.array([[1, 1], [1, -1], [1, 1], [1, -1]], np.float32)))
    assert spread["distinct_codes"] == 2 and spread["bit_entropy"] == pytest.approx(0.5)
