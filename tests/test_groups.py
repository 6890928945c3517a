"""ibcore.groups: dihedral groups and irreps, the group-convolutional network (the cyclic case is
the paper's net), the weighted-nuclear-norm reference and its duality certificate."""

import numpy as np
import pytest

import ibcore
from ibcore import groups
from ibcore.errors import IbcoreTypeError, IbcoreValueError, ShapeError
from ibcore.groups import (
    GroupConvolutional,
    cyclic_group,
    dihedral_group,
    dihedral_irreps,
    group_fourier,
)
from ibcore.nets import Convolutional, Parameterization


@pytest.mark.parametrize("n", [3, 4, 5, 6, 9])
def test_dihedral_group_axioms_and_irreps(n):
    G = dihedral_group(n)
    t = G.table
    a, b, c = np.meshgrid(*(np.arange(2 * n),) * 3, indexing="ij")
    assert np.array_equal(t[t[a, b], c], t[a, t[b, c]])  # associativity
    assert np.all(np.sort(t, axis=1) == np.arange(2 * n))  # Latin square
    r, s = 1, n
    assert t[s, t[r, s]] == n - 1  # s r s = r^{-1}
    errs = groups.irrep_errors(G, dihedral_irreps(n))
    assert errs["homomorphism"] < 1e-12 and errs["orthogonality"] < 1e-12 and errs["completeness"] == 0


def test_symbolic_checks_small():
    assert all(groups.symbolic_checks(3).values())


def test_irrep_errors_detect_a_wrong_irrep():
    R = dihedral_irreps(5)
    bad = R[:-1] + [groups.Irrep("wrong", 2, R[-1].matrices.transpose(0, 2, 1))]  # transpose is an anti-homomorphism
    assert groups.irrep_errors(dihedral_group(5), bad)["homomorphism"] > 0.1


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_cyclic_group_is_the_paper_net(depth):
    net, ref = GroupConvolutional(cyclic_group(6), depth), Convolutional(6, depth)
    w, g = ref.init(1, batch=3), np.random.default_rng(2).standard_normal((3, 6))
    np.testing.assert_allclose(net.predictor(w), ref.predictor(w), atol=1e-14)
    np.testing.assert_allclose(net.vjp(w, g), ref.vjp(w, g), atol=1e-14)


@pytest.mark.parametrize("net", [GroupConvolutional(dihedral_group(4), 2), GroupConvolutional(dihedral_group(5), 3),
                                 GroupConvolutional(dihedral_group(3), 4)], ids=repr)
def test_layer_definition_and_fourier_blocks(net):
    rng = np.random.default_rng(0)
    assert isinstance(net, Parameterization)
    # vjp, batches, homogeneity and Euler: tests/test_contract.py
    w = net.init(3, scale=2.0)
    x = rng.standard_normal((4, net.dim))
    np.testing.assert_allclose(net.layerwise_output(w, x), x @ net.predictor(w), atol=1e-12)
    # Fourier blocks: beta^(rho) = d^{-(L-1)/2} w_L^ ... w_1^
    R = dihedral_irreps(net.group.order // 2)
    layers = net.unflatten(w)
    hats = [group_fourier(l, R) for l in layers]
    for i, r in enumerate(R):
        prod = np.eye(r.dim)
        for h in hats[::-1]:
            prod = prod @ h[i]
        np.testing.assert_allclose(group_fourier(net.predictor(w), R)[i], r.dim ** (-(net.depth - 1) / 2) * prod, atol=1e-13)


def test_equivariance():
    G = dihedral_group(5)
    net = GroupConvolutional(G, 3)
    w, x = net.init(0), np.random.default_rng(1).standard_normal(10)
    layers = net.unflatten(w)
    a = 7
    xa = x[G.table[a]]  # x'[g] = x[a g]
    h = lambda v: np.array([np.sum(layers[0] * v[G.table[g]]) for g in range(10)])
    np.testing.assert_allclose(h(xa), h(x)[G.table[a]], atol=1e-13)


def test_representation_cost_depth_two():
    # min ||w||^2 over factorizations = 2 * weighted nuclear norm: attained by SVD-balanced blocks
    R = dihedral_irreps(4)
    U = groups.fourier_matrix(R)
    beta = np.random.default_rng(0).standard_normal(8)
    blocks = group_fourier(beta, R)
    w1_blocks, w2_blocks = [], []
    for r, b in zip(R, blocks):
        u, s, vt = np.linalg.svd(np.sqrt(r.dim) * b)
        w2_blocks.append(u * np.sqrt(s)); w1_blocks.append(np.sqrt(s)[:, None] * vt)
    w1 = U.T @ np.concatenate([m.ravel() for m in w1_blocks])
    w2 = U.T @ np.concatenate([m.ravel() for m in w2_blocks])
    net = GroupConvolutional(dihedral_group(4), 2)
    w = net.flatten([w1, w2])
    np.testing.assert_allclose(net.predictor(w), beta, atol=1e-12)
    assert abs(w @ w - 2 * groups.weighted_nuclear_norm(beta, R)) < 1e-10
    # and random factorizations cost more
    for seed in range(5):
        w_rand = net.init(seed)
        assert w_rand @ w_rand >= 2 * groups.weighted_nuclear_norm(net.predictor(w_rand), R) - 1e-12


def test_reference_against_independent_formulation_and_certificate():
    X, y = ibcore.data.gaussian(5, 8, seed=0)
    R = dihedral_irreps(4)
    ref = groups.min_weighted_nuclear_margin(X, y, R)
    # independent: the dual norm via the full sup over unit-norm-ball extreme points is hard; instead check
    # the closed form of the nuclear norm of 2x2 blocks, sqrt(||B||_F^2 + 2|det B|), and strong duality
    blocks = group_fourier(ref.beta, R)
    val = sum(np.sqrt(r.dim) * (abs(b[0, 0]) if r.dim == 1 else np.sqrt(np.sum(b**2) + 2 * abs(np.linalg.det(b))))
              for r, b in zip(R, blocks))
    assert abs(val / ref.value - 1) < 1e-6
    cert = groups.duality_certificate(ref.beta, ref.alpha, X, y, R)
    assert 0 <= cert.gap + 1e-9 and cert.gap < 1e-6
    # a feasible but suboptimal point has a positive gap for any alpha
    worse = groups.duality_certificate(ref.beta + 0.5 * np.abs(ref.beta).max() * np.eye(8)[0], ref.alpha, X, y, R) \
        if np.min(y * (X @ (ref.beta + 0.5 * np.abs(ref.beta).max() * np.eye(8)[0]))) > 0 else None
    assert worse is None or worse.gap > 1e-4


def test_gd_polishes_to_the_reference():
    X, y = ibcore.data.gaussian(5, 8, seed=0)
    R = dihedral_irreps(4)
    ref = groups.min_weighted_nuclear_margin(X, y, R)
    net = GroupConvolutional(dihedral_group(4), 2)
    run = ibcore.train.gradient_descent(net, X, y, steps=8000, lr=0.1, schedule="angular", T=1000.0,
                                        init=net.init(1), progress=False)
    kkt, cert, moved = groups.polish_and_certify(net, run.w, X, y, R, active_tol=1e-2)
    assert moved < 1.0 and kkt.residual < 1e-8 and cert.certified()
    assert ibcore.angle(cert.beta, ref.beta) < 0.01


def test_bad_inputs():
    with pytest.raises(IbcoreValueError):
        dihedral_group(2)
    with pytest.raises(IbcoreTypeError):
        GroupConvolutional("D_4", 2)
    with pytest.raises(ShapeError):
        GroupConvolutional(dihedral_group(4), 2).predictor(np.zeros(15))
    X, y = ibcore.data.gaussian(4, 8, seed=0)
    with pytest.raises(ShapeError):
        groups.min_weighted_nuclear_margin(X, y, dihedral_irreps(5))
    with pytest.raises(IbcoreValueError):
        groups.min_weighted_nuclear_margin(X, y, dihedral_irreps(4), weights="bogus")
    with pytest.raises(IbcoreValueError):
        groups.duality_certificate(np.ones(8), -np.ones(4), X, y, dihedral_irreps(4))
    with pytest.raises(IbcoreTypeError):
        groups.polish_and_certify(GroupConvolutional(dihedral_group(4), 3), np.ones(24), X, y, dihedral_irreps(4))
