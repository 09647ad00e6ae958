"""Training mechanics on a small synthetic pair (needs the [train] extra; skipped without torch).

Synthetic arrays test the mechanics only (loss goes down, export matches torch, the
metadata is written); whether the network detects change is judged on real OSCD cities
in tests/detect/test_learned.py.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from sitewatch.base.pair_radiometry import match_pair  # noqa: E402
from sitewatch.detect.learned import learned_score, load_model  # noqa: E402
from sitewatch.modelops.int8 import FROZEN_SCOPE  # noqa: E402
from sitewatch.train.data import RGBN_BANDS, City, TrainingData  # noqa: E402
from sitewatch.train.fit import (  # noqa: E402
    TrainConfig,
    _loss,
    edge_weights,
    export_onnx,
    new_network,
    parameter_groups,
    predict,
    train,
)
from sitewatch.train.model import ChangeUNet  # noqa: E402
from sitewatch.train.patches import PatchSampler  # noqa: E402


class FixedFeatures(torch.nn.Module):
    """A stand-in pretrained context: the same features at 1/2 and 1/4 whatever the dates."""

    def forward(self, dn: torch.Tensor) -> list[torch.Tensor]:
        n, _, h, w = dn.shape
        g = torch.Generator().manual_seed(0)
        return [torch.rand(n, c, h // s, w // s, generator=g) for c, s in ((3, 2), (5, 4))]


def _city(name: str, seed: int) -> City:
    rng = np.random.default_rng(seed)
    before = rng.uniform(800, 1200, (4, 96, 96)).astype("float32")
    after = before * rng.uniform(0.97, 1.03, before.shape).astype("float32")
    changed = np.zeros((96, 96), bool)
    changed[30:50, 40:70] = True
    after[:, changed] *= 3.0  # a new bright roof
    return City(name, before, after, changed)


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return TrainingData(RGBN_BANDS, {"a": _city("a", 0), "b": _city("b", 1)})


def test_sampler_shapes_and_change_share(data):
    sampler = PatchSampler(list(data.cities.values()), size=32, change_share=1.0)
    before, after, label = sampler.batch(8)
    assert before.shape == after.shape == (8, 4, 32, 32)
    assert label.shape == (8, 32, 32)
    assert (label.reshape(8, -1).max(axis=1) == 1).all()  # every patch sees the change


def test_edge_weight_lowers_only_the_pixels_beside_a_label_outline():
    label = torch.zeros(1, 9, 9)
    label[0, 3:6, 2:7] = 1.0  # a 3 x 5 px changed object
    weights = edge_weights(label, 0.25)[0].numpy()
    ring = np.zeros((9, 9), bool)
    ring[2:7, 1:8] = True  # the object and one pixel around it...
    ring[4, 3:6] = False  # ...less its interior, which is not beside the outline
    np.testing.assert_array_equal(weights, np.where(ring, 0.25, 1.0))
    wrong_on_the_ring = torch.from_numpy(np.where(ring, -1.0, 1.0) * np.where(label[0] > 0, 4.0, -4.0))[None].float()
    assert _loss(wrong_on_the_ring, label, 3.0, 0.25) < _loss(wrong_on_the_ring, label, 3.0, 1.0) - 0.1


def test_train_export_and_onnx_parity(data, tmp_path):
    config = TrainConfig(band_set="rgbn", steps=40, batch=4, patch=32, widths=(8, 16, 16, 16), match_pairs=True)
    model = train(data, ["a"], config)
    assert np.mean(model.losses[-10:]) < np.mean(model.losses[:10])
    path = export_onnx(model, tmp_path / "m.onnx", command="test")
    loaded = load_model(path)
    assert loaded.bands == RGBN_BANDS
    assert loaded.threshold == model.threshold
    assert json.loads(loaded.metadata["train_cities"]) == ["a"]
    assert loaded.pair_radiometry == "pair-median-iqr"
    city = data.cities["b"]
    torch_prob = predict(model.net, *match_pair(city.before, city.after))  # the detector matches the pair itself
    onnx_prob = learned_score(city.before, city.after, loaded, tile=96, overlap=0)
    assert onnx_prob.shape == torch_prob.shape
    assert np.abs(onnx_prob - torch_prob).max() < 1e-4


def test_plan_keeps_models_trained_before_an_option_existed(data, tmp_path):
    """A model whose metadata predates an option counts as trained with its default."""
    import onnx

    from sitewatch.train.jobs import trained_with as _trained_with

    config = TrainConfig(band_set="rgbn", steps=2, batch=2, patch=32, widths=(8, 8, 8, 8))
    path = export_onnx(train(data, ["a"], config), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == "train_config":
            older = json.loads(entry.value)
            del older["match_pairs"]
            entry.value = json.dumps(older)
    onnx.save(proto, str(path))
    assert _trained_with(path, config, ["a"])
    assert not _trained_with(
        path, TrainConfig(band_set="rgbn", steps=2, batch=2, patch=32, widths=(8, 8, 8, 8), match_pairs=True), ["a"]
    )
    assert not _trained_with(path, config, ["a", "b"])


def test_plan_with_rgbn_bands_trains_every_fold_on_them(data, tmp_path):
    """`plan --band-set rgbn` makes an RGB+NIR recipe whose folds can join a Sentinel-2 ensemble."""
    from tests.cli.run import sitewatch

    data.save(tmp_path / "train.npz")
    out = tmp_path / "models"
    small = ["--steps", "2", "--batch", "2", "--patch", "32", *["--width", "8"] * 4]
    result = sitewatch("model", "plan", tmp_path / "train.npz", "--out", out, "--band-set", "rgbn", *small)
    assert result.returncode == 0, result.stderr
    command = load_model(out / "all.onnx").metadata["command"]
    assert command.startswith("sitewatch model plan ") and "--band-set rgbn" in command  # the command that redoes it
    names = sorted(p.name for p in out.glob("*.onnx"))
    assert names == ["all.onnx", "fixed.onnx", "loco-a.onnx", "loco-b.onnx", "rgbn-all.onnx", "rgbn-fixed.onnx"]
    assert {load_model(out / n).bands for n in names} == {RGBN_BANDS}
    assert (out / "rgbn-all.onnx").read_bytes() == (out / "all.onnx").read_bytes()  # trained once, not twice
    assert load_model(out / "loco-a.onnx").train_cities == ["b"]


def test_a_deeper_network_exports_the_size_multiple_its_poolings_need(data, tmp_path):
    """Five levels pool four times: inputs must be multiples of 16, and the file says so."""
    config = TrainConfig(band_set="rgbn", steps=2, batch=2, patch=32, widths=(8, 8, 8, 8, 8))
    model = train(data, ["a"], config)
    assert model.net.size_multiple == 16
    loaded = load_model(export_onnx(model, tmp_path / "deep.onnx"))
    assert loaded.size_multiple == 16
    city = data.cities["b"]
    whole = learned_score(city.before, city.after, loaded, tile=96, overlap=0)
    tiled = learned_score(city.before[:, :90, :90], city.after[:, :90, :90], loaded, tile=48, overlap=16)
    assert whole.shape == (96, 96) and tiled.shape == (90, 90) and np.isfinite(tiled).all()
    with pytest.raises(ValueError, match="multiple of 16"):
        learned_score(city.before, city.after, loaded, tile=40)


def test_siamese_network_ignores_the_order_of_the_dates_and_exports_faithfully(data, tmp_path):
    """One shared encoder per date, merged by |a - b| and a + b: swapping the dates changes nothing."""
    config = TrainConfig(band_set="rgbn", steps=40, batch=4, patch=32, widths=(8, 16, 16, 16), siamese=True)
    model = train(data, ["a"], config)
    assert np.mean(model.losses[-10:]) < np.mean(model.losses[:10])
    city = data.cities["b"]
    forward, backward = predict(model.net, city.before, city.after), predict(model.net, city.after, city.before)
    assert np.array_equal(forward, backward)
    loaded = load_model(export_onnx(model, tmp_path / "siam.onnx"))
    assert loaded.metadata["sitewatch_model"] == "change-unet-siam"
    assert json.loads(loaded.metadata["train_config"])["siamese"] is True
    onnx_prob = learned_score(city.before, city.after, loaded, tile=96, overlap=0)
    assert np.abs(onnx_prob - forward).max() < 1e-4


@pytest.mark.parametrize("encoder", ["csmask-b4", "csmask-b4-l2a"])
def test_pretrained_features_are_ukis_csmask_s_own_encoder_output(encoder):
    """The layers loaded from ukis-csmask compute what its ONNX graph computes at the end of block 9."""
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    import onnxruntime as ort

    from sitewatch.train.pretrained import CloudMaskFeatures, csmask_model_file

    path = csmask_model_file(encoder)
    proto = onnx.load(str(path))
    block9 = [n.output[0] for n in proto.graph.node if n.name.startswith("/model/encoder/_blocks.9/")][-1]
    proto.graph.output.append(onnx.helper.make_tensor_value_info(block9, onnx.TensorProto.FLOAT16, None))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    features = CloudMaskFeatures.pretrained(encoder)
    # 256 px (the model's tile), in 8 px blocks: smooth enough for its float16 arithmetic
    reflectance = np.random.default_rng(0).uniform(0.02, 0.4, (1, 4, 32, 32)).astype("float32")
    reflectance = np.kron(reflectance, np.ones((8, 8), "float32"))
    standard = (reflectance - features.mean.numpy()) / features.std.numpy()
    expected = session.run([block9], {"input": standard.astype("float32")})[0]  # float16 inside, float32 in
    with torch.no_grad():
        got = features(torch.from_numpy(reflectance * 10000))[2].numpy()
    assert got.shape == expected.shape == (1, 56, 32, 32)
    assert np.corrcoef(got.ravel(), expected.astype("float32").ravel())[0, 1] > 0.9999


def test_a_recipe_loads_the_encoder_it_names():
    """`--pretrained csmask-b4-l2a` builds on ukis-csmask's L2A weights, not silently on the L1C ones."""
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    from onnx import numpy_helper

    from sitewatch.train.pretrained import csmask_model_file

    stem = {
        name: new_network(TrainConfig(band_set="rgbn", pretrained=name)).context.stem[0].weight
        for name in ("csmask-b4", "csmask-b4-l2a")
    }
    l2a = onnx.load(str(csmask_model_file("csmask-b4-l2a")))
    expected = next(i for i in l2a.graph.initializer if i.name == "model.encoder._conv_stem.weight")
    assert np.array_equal(stem["csmask-b4-l2a"].numpy(), numpy_helper.to_array(expected).astype("float32"))
    assert not torch.equal(stem["csmask-b4"], stem["csmask-b4-l2a"])
    with pytest.raises(ValueError, match="csmask-b4-l2a"):
        new_network(TrainConfig(band_set="rgbn", pretrained="csmask-b5"))


def test_a_pretrained_encoder_stays_frozen_and_exports_faithfully(data, tmp_path):
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    config = TrainConfig(band_set="rgbn", steps=30, batch=4, patch=32, widths=(8, 16, 16, 16), pretrained="csmask-b4")
    torch.manual_seed(0)
    frozen = {k: v.clone() for k, v in new_network(config).context.state_dict().items()}
    model = train(data, ["a"], config)
    assert np.mean(model.losses[-10:]) < np.mean(model.losses[:10])
    after_training = model.net.context.state_dict()
    assert all(torch.equal(frozen[k], after_training[k]) for k in frozen)  # weights and batch-norm statistics
    city = data.cities["b"]
    expected = predict(model.net, city.before, city.after)
    loaded = load_model(export_onnx(model, tmp_path / "pretrained.onnx"))
    assert json.loads(loaded.metadata["train_config"])["pretrained"] == "csmask-b4"
    assert np.abs(learned_score(city.before, city.after, loaded, tile=96, overlap=0) - expected).max() < 1e-4
    names = [node.name for node in onnx.load(str(loaded.path)).graph.node]
    assert sum(FROZEN_SCOPE in name for name in names) > 100  # what `ensemble --int8` keeps float


def test_a_fine_tuned_encoder_learns_slower_than_the_unet_and_keeps_its_batch_norm_statistics(data):
    """`encoder_lr_scale` unfreezes the pretrained layers at a fraction of the learning rate."""
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    config = TrainConfig(
        steps=12,
        batch=4,
        patch=32,
        widths=(8, 16, 16, 16),
        pretrained="csmask-b4",
        features_only=True,
        match_pairs=True,
        encoder_lr_scale=0.1,
    )
    torch.manual_seed(0)
    net = new_network(config)
    groups = parameter_groups(net, config)
    assert [g["lr"] for g in groups] == [config.lr, pytest.approx(config.lr * 0.1)]
    assert groups[1]["weight_decay"] == 0 and len(groups[1]["params"]) == len(list(net.context.parameters()))
    frozen = TrainConfig(pretrained="csmask-b4")
    assert len(parameter_groups(new_network(frozen), frozen)) == 1
    pretrained = {k: v.clone() for k, v in net.context.state_dict().items()}
    model = train(data, ["a"], config)
    tuned = model.net.context.state_dict()
    assert not torch.equal(pretrained["stem.0.weight"], tuned["stem.0.weight"])  # the encoder learned
    statistics = [k for k in pretrained if "running_" in k]
    assert statistics and all(torch.equal(pretrained[k], tuned[k]) for k in statistics)
    assert model.net.context._session is None  # fine-tuning needs torch's gradients, not ONNX Runtime


def test_a_features_only_network_reads_nothing_but_the_pretrained_features_change():
    """With features_only the dates reach the output only through the frozen features."""
    torch.manual_seed(0)
    net = ChangeUNet(4, (8, 8, 8, 8), context=FixedFeatures(), context_channels=(3, 5), features_only=True).eval()
    rng = np.random.default_rng(0)
    dates = [torch.from_numpy(rng.uniform(300, 3000, (1, 4, 32, 32)).astype("float32")) for _ in range(4)]
    with torch.no_grad():
        assert torch.equal(net(dates[0], dates[1]), net(dates[2], dates[3]))
        net.features_only = False  # the same weights reading the dates too: the output moves
        assert not torch.equal(net(dates[0], dates[1]), net(dates[2], dates[3]))
    with pytest.raises(ValueError, match="features_only"):
        ChangeUNet(4, (8, 8, 8, 8), features_only=True)
    with pytest.raises(ValueError, match="features_only"):
        new_network(TrainConfig(features_only=True))


def test_a_features_only_network_s_first_level_outputs_exactly_zero_and_gets_no_gradient():
    """Its zero input leaves batch norm nothing to normalise, so the first level gives 0 and never learns.

    Only weight decay and the running variance move its parameters; its biases and output
    stay 0. The model card relies on it: in FO members only the decoder works at full
    resolution, and the first level could be dropped from their graphs.
    """
    torch.manual_seed(0)
    net = ChangeUNet(4, (8, 8, 8, 8), context=FixedFeatures(), context_channels=(3, 5), features_only=True)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    label = torch.zeros(2, 32, 32)
    label[:, 8:20, 10:24] = 1.0
    level0 = []
    net.encoders[0].register_forward_hook(lambda module, args, out: level0.append(out.detach()))
    for _ in range(5):
        before, after = (torch.from_numpy(rng.uniform(300, 3000, (2, 4, 32, 32)).astype("float32")) for _ in range(2))
        loss = _loss(net(before, after)[:, 0], label, pos_weight=3.0)  # as `train` calls it
        optimiser.zero_grad()
        loss.backward()
        assert all(torch.count_nonzero(p.grad) == 0 for p in net.encoders[0].parameters())
        assert torch.count_nonzero(net.encoders[1][0].weight.grad) > 0  # the level below does learn
        optimiser.step()
    net.eval()
    with torch.no_grad():
        net(before, after)
    assert len(level0) == 6 and all(torch.count_nonzero(out) == 0 for out in level0)
    batch_norms = [m for m in net.encoders[0] if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.count_nonzero(bn.bias) == 0 and torch.count_nonzero(bn.running_mean) == 0 for bn in batch_norms)


def test_the_frozen_encoder_on_onnxruntime_computes_what_torch_does():
    """Training runs the frozen layers on ONNX Runtime; their features must be torch's, at any tile size."""
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    from sitewatch.train.pretrained import CloudMaskFeatures

    features = CloudMaskFeatures.pretrained("csmask-b4")
    dn = torch.from_numpy(np.random.default_rng(0).uniform(200, 4000, (3, 4, 40, 56)).astype("float32"))
    with torch.no_grad():
        expected = features(dn)
        features.use_onnxruntime(1)
        got = features(dn)
        features.use_onnxruntime(None)
        again = features(dn)
    assert [g.shape for g in got] == [e.shape for e in expected] == [(3, 48, 20, 28), (3, 32, 10, 14), (3, 56, 5, 7)]
    for g, e, a in zip(got, expected, again, strict=True):
        assert torch.equal(a, e)  # back on torch
        assert not torch.equal(g, e)  # really another runtime...
        assert (g - e).abs().max() < 1e-3 * e.abs().max()  # ...computing the same features


def test_training_leaves_the_network_on_torch_in_the_default_layout(data):
    """After training on ONNX Runtime and channels-last, the network is a plain torch module again."""
    pytest.importorskip("efficientnet_pytorch")
    pytest.importorskip("ukis_csmask")
    config = TrainConfig(band_set="rgbn", steps=4, batch=2, patch=32, widths=(8, 8, 8, 8), pretrained="csmask-b4")
    model = train(data, ["a"], config)
    assert model.net.context._session is None
    assert all(p.is_contiguous() for p in model.net.parameters())
