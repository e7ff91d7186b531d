"""Metrics against brute-force references on small codes with many ties, and hand-computed cases."""

import itertools

import numpy as np
import pytest

from ganhash_zoo.retrieval import PackedCodes, evaluate_ranking, hamming_distances, pack, relevance, unpack
from ganhash_zoo.retrieval.metrics import tie_aware_ap


def brute_ap(relevant_in_order, k):
    rel = np.asarray(relevant_in_order[:k], dtype=bool)
    if not rel.any():
        return 0.0
    hits = np.cumsum(rel)
    return float((hits / np.arange(1, len(rel) + 1))[rel].sum() / rel.sum())


def brute_tie_aware(dist_row, rel_row, k):
    groups = [np.flatnonzero(dist_row == d) for d in np.unique(dist_row)]
    values = [brute_ap(rel_row[np.concatenate([np.array(p, int) for p in perms])], k)
              for perms in itertools.product(*[itertools.permutations(g) for g in groups])]
    return float(np.mean(values))


@pytest.fixture
def tied_codes():
    rng = np.random.default_rng(3)
    q, d = rng.integers(0, 2, (6, 3)), rng.integers(0, 2, (8, 3))  # 3 bits: lots of ties
    return q, d, rng.integers(0, 3, 6), rng.integers(0, 3, 8)


def test_pack_accepts_signs_bits_bools_and_real_values():
    signs = np.array([[1, -1, -1, 1, 1, 1, -1, 1, -1]])
    expected = (signs > 0).astype(np.uint8)
    for form in (signs, expected, expected.astype(bool), signs * 0.3, np.where(signs > 0, 0.9, 0.1)):
        codes = pack(form)
        assert codes.bits == 9 and codes.packed.shape == (1, 2)
        np.testing.assert_array_equal(unpack(codes), expected)
    np.testing.assert_array_equal(pack(signs).to_signs(), signs)


def test_pack_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        pack(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        pack(np.array([[0.1, np.nan]]))
    with pytest.raises(ValueError, match="bytes"):
        PackedCodes(np.zeros((2, 3), np.uint8), 8)


def test_hamming_matches_bitwise_count_for_long_codes():
    rng = np.random.default_rng(0)
    q, d = rng.integers(0, 2, (5, 77)), rng.integers(0, 2, (9, 77))
    expected = (q[:, None, :] != d[None, :, :]).sum(-1)
    np.testing.assert_array_equal(hamming_distances(pack(q), pack(d)), expected)
    with pytest.raises(ValueError, match="bits"):
        hamming_distances(pack(q), pack(d[:, :64]))


def test_ap_and_curves_match_brute_force_with_ties(tied_codes):
    q, d, ql, dl = tied_codes
    m = evaluate_ranking(pack(q), pack(d), ql, dl, cutoffs=(None, 3), n_points=np.array([1, 2, 5, 8]))
    dist = (q[:, None] != d[None]).sum(-1)
    for i in range(len(q)):
        order = np.argsort(dist[i], kind="stable")  # ties broken by database index
        rel = dl[order] == ql[i]
        assert m.ap[None][i] == pytest.approx(brute_ap(rel, 8))
        assert m.ap[3][i] == pytest.approx(brute_ap(rel, 3))
        for j, n in enumerate([1, 2, 5, 8]):
            assert m.precision_at_n[i, j] == pytest.approx(rel[:n].sum() / n)
            assert m.recall_at_n[i, j] == pytest.approx(rel[:n].sum() / max(rel.sum(), 1))
        for r in range(4):
            inside = dist[i] <= r
            expected = (dl[inside] == ql[i]).mean() if inside.any() else 0.0
            assert m.precision_at_radius[i, r] == pytest.approx(expected)
            assert m.retrieved_at_radius[i, r] == inside.sum()
        np.testing.assert_array_equal(m.top_indices[i], order[:10])


def test_tie_aware_ap_is_exact_expectation_over_tie_orders(tied_codes):
    q, d, ql, dl = tied_codes
    dist = (q[:, None] != d[None]).sum(-1)
    m = evaluate_ranking(pack(q), pack(d), ql, dl, cutoffs=(None, 3, 5))
    for i in range(len(q)):
        for k in (None, 3, 5):
            assert m.tie_aware_ap[k][i] == pytest.approx(brute_tie_aware(dist[i], dl == ql[i], k or 8))


def test_hand_computed_case():
    # distances 0,1,1,2 ; relevance 1,0,1,1 -> index order: rel at ranks 1,3,4
    q = np.array([[0, 0]])
    d = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    m = evaluate_ranking(pack(q), pack(d), np.array([0]), np.array([0, 1, 0, 0]), cutoffs=(None, 2))
    assert m.ap[None][0] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert m.ap[2][0] == pytest.approx(1.0)  # only rank 1 is relevant in the top 2
    # tie group {1,2} has one relevant: expected AP over both orders
    both = [(1 + 2 / 2 + 3 / 4) / 3, (1 + 2 / 3 + 3 / 4) / 3]
    assert m.tie_aware_ap[None][0] == pytest.approx(np.mean(both))
    # @2: 1 relevant of the 2 tied items fills rank 2 with probability 1/2
    assert m.tie_aware_ap[2][0] == pytest.approx(np.mean([1.0, 1.0]))
    assert m.precision_at_radius[0, 0] == 1.0 and m.precision_at_radius[0, 1] == pytest.approx(2 / 3)


def test_empty_ball_counts_as_zero_and_no_relevant_gives_zero_ap():
    q = np.array([[0, 0, 0, 0]])
    d = np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    m = evaluate_ranking(pack(q), pack(d), np.array([5]), np.array([0, 1]), cutoffs=(None,))
    assert m.precision_at_radius[0, 2] == 0 and m.retrieved_at_radius[0, 2] == 0
    assert m.ap[None][0] == 0 and m.tie_aware_ap[None][0] == 0


def test_multi_label_relevance_means_a_shared_label():
    ql = np.array([[1, 0, 1], [0, 1, 0]])
    dl = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(relevance(ql, dl), [[1, 1, 1, 0], [0, 1, 0, 0]])
    with pytest.raises(ValueError, match="multi-hot"):
        relevance(np.array([1, 2]), dl)


def test_chunked_threaded_evaluation_equals_single_chunk(monkeypatch):
    from ganhash_zoo.retrieval import metrics

    rng = np.random.default_rng(1)
    q, d = pack(rng.standard_normal((50, 16))), pack(rng.standard_normal((300, 16)))
    ql, dl = rng.integers(0, 4, 50), rng.integers(0, 4, 300)
    whole = evaluate_ranking(q, d, ql, dl, workers=1)
    monkeypatch.setattr(metrics, "CHUNK_BYTES", 300 * 24 * 7)  # 7 queries a chunk
    chunked = evaluate_ranking(q, d, ql, dl, workers=3)
    for c in whole.ap:
        np.testing.assert_allclose(whole.ap[c], chunked.ap[c])
        np.testing.assert_allclose(whole.tie_aware_ap[c], chunked.tie_aware_ap[c])
    np.testing.assert_array_equal(whole.top_indices, chunked.top_indices)


def test_tie_aware_equals_plain_ap_without_ties():
    n_hist = np.array([[1, 1, 1, 1]])
    r_hist = np.array([[1, 0, 1, 0]])
    assert tie_aware_ap(n_hist, r_hist)[0] == pytest.approx((1 + 2 / 3) / 2)
    assert tie_aware_ap(n_hist, r_hist, 2)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("bits, labels_2d", [(4, False), (12, False), (8, True)])
def test_map_at_k_from_the_faiss_index_equals_the_full_ranking(bits, labels_2d):
    """Evaluator.map_at_k_of_codes (FAISS top-k) and evaluate_codes (full ranking) agree on heavily tied codes."""
    from ganhash_zoo.retrieval import Evaluator

    rng = np.random.default_rng(bits)
    queries, database = pack(rng.integers(0, 2, (40, bits))), pack(rng.integers(0, 2, (700, bits)))
    shape_q, shape_d = ((40, 3), (700, 3)) if labels_2d else ((40,), (700,))
    q_labels, d_labels = rng.integers(0, 2 if labels_2d else 5, shape_q), rng.integers(0, 2 if labels_2d else 5, shape_d)
    cutoffs = (1, 10, 100, 700, 5000)
    evaluator = Evaluator(np.zeros(40), q_labels, np.zeros(700), d_labels, cutoffs=cutoffs)
    full = evaluator.evaluate_codes(queries, database).metrics
    for k in cutoffs:
        assert abs(evaluator.map_at_k_of_codes(queries, database, k) - full[f"mAP@{k}"]) < 1e-12, k


def test_validation_reads_the_headline_cutoff_at_the_scale_of_its_smaller_database(fashion):
    from ganhash_zoo.retrieval import Evaluator

    data, split = fashion  # fashion_mnist-59k: mAP@1000 of 59,000 images is judged on the queries
    validation = Evaluator.validation(data, split)
    assert split.map_cutoffs == (None, 1000) and (len(split.train), len(split.database)) == (4500, 59000)
    assert validation.cutoffs == (76, None)  # the top 1.7% in both; the first is what a run's log records
    assert len(validation.query_labels) == len(split.val)
