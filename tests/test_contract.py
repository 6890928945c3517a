"""Every parameterization of ibcore keeps the contract of ibcore.nets (tests/contract.py):
closed-form vjp against central differences, a batch axis equal to a loop, the shared
forward/pullback, homogeneity of degree L and Euler's identity, isometric training coordinates."""

import pytest
from contract import CHECKS

from ibcore.conv2d import Convolutional2D
from ibcore.groups import GroupConvolutional, cyclic_group, dihedral_group
from ibcore.homogeneous import TensorMap
from ibcore.local import MultiChannelConvolutional
from ibcore.nets import Convolutional, Diagonal, FullyConnected, SignedDiagonal

NETS = [
    FullyConnected(5, 1),
    FullyConnected(5, 2),
    FullyConnected(5, 3, widths=[4, 2]),
    FullyConnected(4, 4, widths=[3, 5, 2]),
    Diagonal(6, 1),
    Diagonal(6, 2),
    Diagonal(6, 4),
    SignedDiagonal(5, 1),
    SignedDiagonal(5, 2),
    SignedDiagonal(6, 3),
    SignedDiagonal(4, 5),
    Convolutional(6, 1),
    Convolutional(6, 2),
    Convolutional(7, 3),
    Convolutional(8, 4),
    # local filters (kernel_size < dim): K-tap filters, full-length readout
    Convolutional(6, 1, kernel_size=2),
    Convolutional(8, 2, kernel_size=1),
    Convolutional(8, 2, kernel_size=3),
    Convolutional(7, 3, kernel_size=2),
    Convolutional(8, 4, kernel_size=5),
    MultiChannelConvolutional(8, 3, 1),
    MultiChannelConvolutional(8, 3, 2, in_channels=3),
    MultiChannelConvolutional(6, 1, 2, in_channels=2),
    MultiChannelConvolutional(6, 6, 3, in_channels=2),
    Convolutional2D((3, 4), 1),
    Convolutional2D((3, 4), 2),
    Convolutional2D((4, 4), 3),
    Convolutional2D((2, 5), 4),
    GroupConvolutional(cyclic_group(6), 3),
    GroupConvolutional(dihedral_group(4), 2),
    GroupConvolutional(dihedral_group(5), 3),
    GroupConvolutional(dihedral_group(3), 4),
    TensorMap(5, 3, 1, seed=1),
    TensorMap(5, 4, 2, seed=2),
    TensorMap(8, 4, 3, seed=0),
    TensorMap(6, 6, 3, seed=3),
    TensorMap(3, 3, 4, seed=4),
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("net", NETS, ids=repr)
def test_contract(net, check):
    check(net)
