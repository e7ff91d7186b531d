"""Release -> model card -> publish -> download, with the real huggingface_hub client against a local Hub.

The Hub is tests/fake_hub.py on 127.0.0.1; each client step is a fresh
process (tests/hub_client.py) with HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE set
as a user would set them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard

from fake_hub import FakeHub
from ganhash_zoo import cards, registry, zoo
from ganhash_zoo.registry import quality_shortfalls
from ganhash_zoo.releases import WEIGHTS_BUDGET_BYTES, folder_bytes, release_run

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


@pytest.fixture
def release(finished_run, tmp_path, monkeypatch):
    """The finished run (tiny, so below the quality bar) released into a temporary weights/ and released.json."""
    weights, released = tmp_path / "weights", tmp_path / "released.json"
    release_run(finished_run["out"], weights, released, require_bar=False)
    monkeypatch.setattr(registry, "released_file", lambda: released)
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(weights))
    return zoo.get_entry("fakereg-fashion-mnist-48bit"), weights, released


def client(*args, env, check=True):
    full_env = {**os.environ, "PYTHONPATH": str(TESTS), **env}
    result = subprocess.run([sys.executable, str(TESTS / "hub_client.py"), *map(str, args)], env=full_env,
                            capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"hub_client {args} failed:\n{result.stderr[-3000:]}")
    return result


def test_release_records_the_runs_own_figures_and_refuses_to_overwrite(release, finished_run):
    entry, weights, released = release
    measured = finished_run["second"]
    assert entry.released and entry.metrics == measured["metrics"] and entry.baselines == measured["baselines"]
    assert set(entry.files) == {"config.json", "encoder.weights.h5", "model.weights.h5"}
    assert folder_bytes(weights) < WEIGHTS_BUDGET_BYTES
    zoo.read_verified_files(entry, weights / entry.name)
    with pytest.raises(FileExistsError, match="--overwrite"):
        release_run(finished_run["out"], weights, released, require_bar=False)


def test_release_refuses_a_run_below_the_quality_bar(finished_run, tmp_path):
    results = json.loads((finished_run["out"] / "results.json").read_text())
    shortfalls = quality_shortfalls(results)
    assert shortfalls and "ITQ" in shortfalls[0]  # 2 epochs at width 8 do not beat ITQ
    with pytest.raises(ValueError, match="below the release bar"):
        release_run(finished_run["out"], tmp_path / "weights", tmp_path / "released.json")
    assert not (tmp_path / "weights").exists() and not (tmp_path / "released.json").exists()
    better = {**results, "metrics": {k: v + 1.0 for k, v in results["metrics"].items()}}
    assert quality_shortfalls(better) == []


def test_release_ships_the_encoder_alone_when_the_full_gan_would_break_the_budget(finished_run, tmp_path,
                                                                                  monkeypatch):
    import ganhash_zoo.releases as releases

    encoder = finished_run["out"] / "encoder"
    monkeypatch.setattr(releases, "WEIGHTS_BUDGET_BYTES", folder_bytes(encoder) - 1)  # all but the full GAN fits
    entry = release_run(finished_run["out"], tmp_path / "weights", tmp_path / "released.json", require_bar=False)
    assert set(entry["files"]) == {"config.json", "encoder.weights.h5"}
    assert sorted(p.name for p in (tmp_path / "weights" / "fakereg-fashion-mnist-48bit").iterdir()) == sorted(
        entry["files"])


def test_card_metadata_round_trips_through_model_card_load(release, tmp_path):
    entry = release[0]
    card = cards.model_card(entry)
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.to_dict() == cards.card_data(entry).to_dict()
    assert loaded.data.library_name == "keras" and loaded.data.license == "apache-2.0"
    results = {r.metric_type: r for r in loaded.data.eval_results}
    assert set(results) == {"mAP@all", "mAP@1000", "tie_aware_mAP@1000", "precision@r2", "copy_recall@10"}
    assert results["mAP@1000"].metric_value == round(entry.metrics["mAP@1000"], 4)
    assert all("fashion_mnist-59k" in r.metric_name and r.task_type == "image-retrieval" for r in results.values())
    for must in ("Geng", "--max-unlabeled 512", "model.weights.h5", "trainable_model()",
                 f"{100 * entry.baselines['itq']['mAP@1000']:.2f}", "ganhash_zoo.load(\"fakereg-fashion-mnist-48bit\")"):
        assert must in loaded.text


def test_unreleased_models_get_no_card(withhold):
    withhold("uspah-cifar10-16bit")
    with pytest.raises(ValueError, match="not released"):
        cards.model_card(zoo.get_entry("uspah-cifar10-16bit"))


def test_shipped_model_cards_are_generated_from_the_registry():
    """model_cards/ must equal what scripts/make_cards.py writes now (cards are never edited by hand)."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "make_cards.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fine_tuning_starts_from_the_released_gan(release):
    entry = release[0]
    hasher = zoo.load(entry.name)
    model = hasher.trainable_model()
    probe = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(model.encoder(probe), hasher.encoder(probe), atol=1e-6)
    model.compile(learning_rate=1e-3)
    before = [np.array(v) for v in model.encoder.trainable_variables]
    model.fit(np.repeat(probe, 8, axis=0), np.arange(32) % 10, batch_size=16, epochs=1, verbose=0)
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(before, model.encoder.trainable_variables))


def test_publish_then_download_cache_offline_and_tamper(release, tmp_path):
    entry, weights, released = release
    expected = zoo.load(entry.name).encode(
        np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)).packed
    env = {"GANHASH_TEST_RELEASED": str(released), "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "hf_test",
           "GANHASH_ZOO_WEIGHTS": str(tmp_path / "not-bundled"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    with FakeHub(tmp_path / "hub") as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        # dry run: the folder only, nothing sent
        publisher = {**env, "GANHASH_ZOO_WEIGHTS": str(weights)}
        client("publish", entry.name, "--repo-prefix", "test-org", "--dry-run", "--out", tmp_path / "dry",
               env=publisher)
        assert sorted(p.name for p in (tmp_path / "dry" / entry.name).iterdir()) == [
            "README.md", "config.json", "encoder.weights.h5", "model.weights.h5"]
        assert hub.requests == []

        client("publish", entry.name, "--repo-prefix", "test-org/", "--out", tmp_path / "out", env=publisher)
        pinned = json.loads(released.read_text())[entry.name]
        assert pinned["hub_repo"] == f"test-org/{entry.name}" and len(pinned["revision"]) == 40
        for filename in entry.files:
            served = hub.file_path(pinned["hub_repo"], pinned["revision"], filename)
            assert served.read_bytes() == (weights / entry.name / filename).read_bytes()
        card = ModelCard.load(hub.file_path(pinned["hub_repo"], "main", "README.md"))
        assert card.data.model_name == entry.name

        # first load: downloads through the client into HF_HOME
        client("load", entry.name, tmp_path / "codes1.npy", env=env)
        np.testing.assert_array_equal(np.load(tmp_path / "codes1.npy"), expected)
        downloads = [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
        assert sorted(Path(p).name for p in downloads) == sorted(entry.files)
        assert all(pinned["revision"] in p for p in downloads)

        # a Hub serving other bytes than the registry's sha256: refused, never loaded
        served = hub.file_path(pinned["hub_repo"], pinned["revision"], "encoder.weights.h5")
        good = served.read_bytes()
        served.write_bytes(good[:-64] + bytes(64))
        refused = client("load", entry.name, tmp_path / "x.npy", env={**env, "HF_HOME": str(tmp_path / "hf2")},
                         check=False)
        assert refused.returncode == 3 and "WeightIntegrityError" in refused.stderr
        served.write_bytes(good)

        # offline with nothing cached: a clear error, not a traceback
        empty = client("load", entry.name, tmp_path / "x.npy", check=False,
                       env={**env, "HF_HOME": str(tmp_path / "hf3"), "HF_HUB_OFFLINE": "1"})
        assert empty.returncode == 3 and "Connect once" in empty.stderr

    # second load: the Hub is gone and HF_HUB_OFFLINE is set; the cache serves it
    client("load", entry.name, tmp_path / "codes2.npy", env={**env, "HF_HUB_OFFLINE": "1"})
    np.testing.assert_array_equal(np.load(tmp_path / "codes2.npy"), expected)

    # a cached file modified on disk: refused and left as it is
    cached = next((tmp_path / "hf").rglob("snapshots/*/encoder.weights.h5")).resolve()
    tampered = cached.read_bytes()[:-64] + bytes(64)
    cached.write_bytes(tampered)
    refused = client("load", entry.name, tmp_path / "x.npy", env={**env, "HF_HUB_OFFLINE": "1"}, check=False)
    assert refused.returncode == 3 and "corrupt or was modified" in refused.stderr
    assert cached.read_bytes() == tampered


def test_release_keeps_room_for_the_encoders_of_models_still_to_come(finished_run, tmp_path, monkeypatch):
    """The full GAN ships only if every planned model not yet released can still ship its encoder."""
    import ganhash_zoo.releases as releases

    encoder = finished_run["out"] / "encoder"
    monkeypatch.setattr(releases, "WEIGHTS_BUDGET_BYTES", folder_bytes(encoder) + 1)  # this run alone would fit
    entry = release_run(finished_run["out"], tmp_path / "weights", tmp_path / "released.json", require_bar=False)
    assert "model.weights.h5" not in entry["files"]  # 24 planned encoders still to come take the room
    monkeypatch.setattr(releases, "WEIGHTS_BUDGET_BYTES", 25 * folder_bytes(encoder))
    entry = release_run(finished_run["out"], tmp_path / "weights", tmp_path / "released.json", require_bar=False,
                        overwrite=True)
    assert "model.weights.h5" in entry["files"]
