"""Feature vectors formed on the fly equal the stored-vector layout, and the random draws equal the
public baseline's (scikit-learn's train_test_split and torch's DataLoader shuffling)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from datasets.clip_features import ClipFeatures
from datasets.features import FeatureParams
from datasets.vector_data import (
    VectorSet,
    batch_slices,
    dataloader_pass_draw,
    epoch_order,
    split_train_validation,
)


def random_features(frame_counts: list[int], n_mels: int, seed: int = 0) -> ClipFeatures:
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(frame_counts)]).astype(np.int64)
    log_mel = rng.normal(size=(offsets[-1], n_mels)).astype(np.float32)
    return ClipFeatures(
        offsets=offsets, names=[f"clip{i}.wav" for i in range(len(frame_counts))], sample_rate=16000, log_mel=log_mel
    )


def concatenated_frames(log_mel: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The public baseline's vectors of one clip: vector t is frames t..t+frames-1 side by side, every
    frame_hop_length-th t; none when the clip is shorter than ``frames``."""
    starts = range(0, len(log_mel) - params.frames + 1, params.frame_hop_length)
    rows = [np.concatenate(log_mel[t : t + params.frames]) for t in starts]
    return np.stack(rows) if rows else np.empty((0, params.frames * log_mel.shape[1]), log_mel.dtype)


def test_a_ten_second_clip_gives_309_vectors_of_640() -> None:
    data = VectorSet.from_features(
        random_features([313], n_mels=128), FeatureParams(), np.array([False]), torch.device("cpu")
    )
    assert data.n_vectors == 309 and data.gather(torch.arange(2)).shape == (2, 640)


@pytest.mark.parametrize("frame_hop_length", [1, 2, 3])
def test_gathered_vectors_equal_per_clip_vectors(frame_hop_length: int) -> None:
    params = FeatureParams(n_mels=6, frames=5, frame_hop_length=frame_hop_length)
    features = random_features([9, 5, 12], n_mels=6)  # clips of different lengths
    data = VectorSet.from_features(features, params, np.array([False, True, False]), torch.device("cpu"))
    expected = np.concatenate([concatenated_frames(features.clip_frames(i), params) for i in range(3)])
    gathered = data.gather(torch.arange(data.n_vectors)).numpy()
    np.testing.assert_array_equal(gathered, expected)
    counts = [len(concatenated_frames(features.clip_frames(i), params)) for i in range(3)]
    np.testing.assert_array_equal(data.clip_bounds(), np.concatenate([[0], np.cumsum(counts)]))
    np.testing.assert_array_equal(data.vector_is_target, np.repeat([False, True, False], counts))


@pytest.mark.parametrize(("n_vectors", "split"), [(27810, 0.1), (1000, 0.1), (257, 0.25)])
def test_validation_split_equals_train_test_split_after_np_random_seed(n_vectors: int, split: float) -> None:
    np.random.seed(13711)
    expected_train, expected_valid = train_test_split(range(n_vectors), test_size=split)
    train, valid = split_train_validation(n_vectors, split, 13711)
    assert list(train) == list(expected_train) and list(valid) == list(expected_valid)


def test_epoch_orders_equal_a_shuffled_dataloader_over_a_subset() -> None:
    indices = list(range(100, 400))

    class Identity(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 1000

        def __getitem__(self, index: int) -> int:
            return index

    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(Identity(), indices), batch_size=64, shuffle=True)
    validation = torch.utils.data.DataLoader(torch.utils.data.Subset(Identity(), indices[:50]), batch_size=64)
    torch.manual_seed(5)
    expected = []
    for _ in range(3):  # epochs: a shuffled training pass, then a validation pass
        expected.append(torch.cat(list(loader)))
        list(validation)
    torch.manual_seed(5)
    for epoch in range(3):
        order = epoch_order(len(indices), shuffle=True)
        dataloader_pass_draw()
        np.testing.assert_array_equal(np.asarray(indices)[order.numpy()], expected[epoch].numpy())


def test_unshuffled_order_is_sequential_and_batches_cover_everything() -> None:
    assert epoch_order(5, shuffle=False).tolist() == [0, 1, 2, 3, 4]
    slices = batch_slices(10, 4)
    assert [(s.start, s.stop) for s in slices] == [(0, 4), (4, 8), (8, 10)]
