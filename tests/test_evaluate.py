"""The evaluation protocol on a toy model whose answer is known, and the clip sampling it rests on."""

import numpy as np
import pytest
import torch
from PIL import Image

from scenebias.data import (
    EpochSampler,
    EvalClips,
    TrainClips,
    Video,
    all_windows,
    corner_crop_box,
    loop_pad,
    model_input,
    normalize,
    random_window,
)
from scenebias.evaluate import accuracy_report, predict
from scenebias.framepack import write_pack
from scenebias.models.common import ActionNet
from scenebias.settings import ClipSpec


class BrightnessNet(ActionNet):
    """Class 1 when the clip's mean pixel (after normalisation with mean 0, std 1) is above 128, else class 0;
    the logit gap is large, so each clip's softmax is one-hot for practical purposes."""

    feature_dim = 1

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[-1.0], [1.0]]))
            self.fc.bias.zero_()

    def forward_features(self, x):
        return (x.mean(dim=(1, 2, 3, 4)) - 128.0).unsqueeze(1) * 10


def make_pack(path, values) -> Video:
    """A video whose frame i is a flat grey image of brightness values[i]."""
    jpegs = []
    for i, v in enumerate(values):
        jpeg = path.parent / f"{path.stem}_{i:03d}.jpg"
        Image.fromarray(np.full((16, 20, 3), v, np.uint8)).save(jpeg, quality=95)
        jpegs.append(jpeg)
    write_pack(jpegs, path)
    return Video(video_id=path.stem, pack=path, n_frames=len(values), label=0)


def test_windows_cover_the_video_with_loop_padding():
    assert all_windows(20, 8) == [list(range(8)), list(range(8, 16)), [16, 17, 18, 19, 16, 17, 18, 19]]
    assert all_windows(3, 8) == [[0, 1, 2, 0, 1, 2, 0, 1]]
    assert loop_pad([4, 5], 5) == [4, 5, 4, 5, 4]
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = random_window(30, 8, rng)
        assert w == list(range(w[0], w[0] + 8))


def test_corner_crops_are_squares_at_the_five_positions():
    h, w = 32, 48
    assert corner_crop_box(h, w, 1.0, "c") == (0, 8, 32, 40)
    assert corner_crop_box(h, w, 0.5, "tl") == (0, 0, 16, 16)
    assert corner_crop_box(h, w, 0.5, "br") == (16, 32, 32, 48)


def test_video_prediction_averages_softmax_over_all_clips(tmp_path):
    # 20 frames at T=8 -> windows [0..7], [8..15], [16..19 looped]: bright, dark, dark.
    bright_then_dark = make_pack(tmp_path / "a.zip", [200] * 8 + [40] * 12)
    # 24 frames -> three windows bright, bright, dark: the video is bright (class 1).
    mostly_bright = make_pack(tmp_path / "b.zip", [200] * 16 + [40] * 8)
    mostly_bright.label = 1
    spec = ClipSpec(frames=8, crop=16)
    pred = predict(BrightnessNet(), [bright_then_dark, mostly_bright], spec, (0, 0, 0), (1, 1, 1))
    assert pred["clips_per_video"].tolist() == [3, 3]
    assert pred["probs"][:, 1] == pytest.approx([1 / 3, 2 / 3], abs=1e-4)
    report = accuracy_report(pred, ["dark", "bright"])
    assert report["video_top1"] == 1.0  # a: dark (label 0) wins 2:1; b: bright (label 1) wins 2:1
    assert report["clip_top1"] == pytest.approx(4 / 6)  # a: 2 of 3 clips dark; b: 2 of 3 bright
    assert report["confusion"] == [[1, 0], [0, 1]]
    assert report["per_class"] == {"dark": 1.0, "bright": 1.0}


def test_static_transform_repeats_the_first_frame(tmp_path):
    video = make_pack(tmp_path / "v.zip", [200] + [40] * 7)
    clip = EvalClips([video], ClipSpec(frames=8, crop=16), transform="static")[0]["clip"].numpy()
    assert abs(int(clip.mean()) - 200) <= 2


def test_training_clips_are_uint8_and_reproducible(tmp_path):
    video = make_pack(tmp_path / "v.zip", list(range(10, 250, 8)))
    spec = ClipSpec(frames=8, crop=12)
    a = TrainClips([video], spec, seed=3, with_mask=False)
    b = TrainClips([video], spec, seed=3, with_mask=False, cache=True)
    x, y = a[(0, 5)]["clip"], b[(0, 5)]["clip"]
    assert x.dtype == torch.uint8 and tuple(x.shape) == (8, 12, 12, 3)
    assert torch.equal(x, y)  # same (seed, epoch, index) -> same clip, cached or not


def test_epoch_sampler_is_a_function_of_seed_and_epoch_and_shards_ranks():
    s = EpochSampler(10, seed=1)
    s.set_epoch(3)
    first = list(s)
    s.set_epoch(3)
    assert list(s) == first and all(epoch == 3 for _, epoch in first)
    ranks = [list(EpochSampler(10, 1, rank=r, world_size=3)) for r in range(3)]
    assert [len(r) for r in ranks] == [4, 4, 4]
    assert {i for r in ranks for i, _ in r} == set(range(10))


def test_normalize_moves_channels_and_subtracts_mean():
    clip = torch.full((1, 2, 4, 4, 3), 100, dtype=torch.uint8)
    x = normalize(clip, (100, 50, 0), (1, 2, 4))
    assert x.shape == (1, 3, 2, 4, 4)
    assert x[0, :, 0, 0, 0].tolist() == [0.0, 25.0, 25.0]


def test_model_input_is_the_normalised_clip_and_channels_last_only_on_cuda():
    clip = torch.randint(0, 256, (2, 3, 4, 5, 3), dtype=torch.uint8)
    x = model_input(clip, (100, 50, 0), (1, 2, 4), True, "cpu")
    reference = normalize(clip, (100, 50, 0), (1, 2, 4))
    assert torch.equal(x, reference) and x.stride() == reference.stride()  # on CPU, the layout is left alone


def test_a_source_model_on_the_classes_another_dataset_shares(tmp_path):
    """evaluate_on_shared_classes: the other dataset's names mapped to the source's (a class map), videos of classes
    the source lacks left out, top-1 taken among the shared classes only."""
    import pandas as pd

    from scenebias.evaluate import evaluate_on_shared_classes
    from scenebias.models import build_model, save_model
    from scenebias.settings import TrainSettings

    torch.manual_seed(0)
    settings = TrainSettings(seed=0, model="small3d", model_kwargs={"widths": [4, 4, 4, 4]}, clip_frames=4, crop=16,
                             mean=[0.0, 0.0, 0.0])  # fmt: skip
    save_model(tmp_path / "m.pt", build_model("small3d", 3, widths=[4, 4, 4, 4]), {}, settings, {})
    source = pd.DataFrame({"video_id": ["s0", "s1", "s2"], "path": "", "label": [0, 1, 2],
                           "label_name": ["archery", "bowling", "juggling balls"], "split1": "train"})  # fmt: skip
    source.to_csv(tmp_path / "source.csv", index=False)
    rows = [("m0", "Archery!", 0, 30), ("m1", "Archery!", 0, 200), ("m2", "bowling", 1, 90), ("m3", "writing", 2, 60)]
    (tmp_path / "packs").mkdir()
    for vid, _, _, value in rows:
        make_pack(tmp_path / "packs" / f"{vid}.zip", [value] * 4)
    pd.DataFrame([{"video_id": v, "path": "", "label": k, "label_name": n, "split1": "test", "shard": "0000"}
                  for v, n, k, _ in rows]).to_csv(tmp_path / "manifest.csv", index=False)  # fmt: skip
    (tmp_path / "frames").mkdir()
    pd.DataFrame([{"video_id": v, "status": "ok", "n_frames": 4, "pack": f"{v}.zip", "shard": "0000", "w": 20,
                   "h": 16} for v, *_ in rows]).to_csv(tmp_path / "frames" / "index.csv", index=False)  # fmt: skip
    (tmp_path / "frames" / "0000").mkdir()
    (tmp_path / "frames" / "0000" / "packs").symlink_to(tmp_path / "packs")
    report = evaluate_on_shared_classes(tmp_path / "m.pt", tmp_path / "manifest.csv", tmp_path / "frames" /
                                        "index.csv", tmp_path / "source.csv", {"Archery!": "archery"})  # fmt: skip
    assert report["shared_classes"] == ["archery", "bowling"] and report["n_videos"] == 3
    assert report["videos_left_out"] == 1  # "writing": not a source class
    from scenebias.data import load_videos
    from scenebias.models import load_model

    net, _ = load_model(tmp_path / "m.pt")
    videos = load_videos(tmp_path / "manifest.csv", tmp_path / "frames" / "index.csv", 1, ["test"])[:3]
    probs = predict(net, videos, settings.clip_spec(), settings.mean, settings.std)["probs"]
    expected = np.mean(probs[:, :2].argmax(1) == np.array([0, 0, 1]))  # archery, archery, bowling among 2 columns
    assert report["shared_top1"] == pytest.approx(expected)
    assert report["all_classes_top1"] == pytest.approx(np.mean(probs.argmax(1) == np.array([0, 0, 1])))
