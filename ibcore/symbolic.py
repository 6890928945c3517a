r"""SymPy builders of the paper's objects, so that chapters can check identities exactly.

The numerical modules compute the same objects in float64; here they are exact
polynomials in real symbols, for small ``dim`` (:math:`D`) and ``depth`` (:math:`L`):
filters, the circulant layer, the fully connected, diagonal and convolutional
predictors, and the unitary DFT matrix.  The checks return plain booleans:

- :func:`is_homogeneous` and :func:`euler_identity_holds`: every parameterization is a
  homogeneous polynomial of degree :math:`L` (the hypothesis of Theorem 3);
- :func:`fourier_product_holds`: :math:`F\mathcal P_{\rm conv}(\mathbf w)=\hat{\mathbf w}_1\odot\cdots\odot\hat{\mathbf w}_L`
  (a conv net is a diagonal net in the Fourier basis);
- :func:`conv_fourier_gradient_holds`: the gradient of a conv net in the Fourier basis.

The closed form of the conv net is checked in one line, e.g. for ``ws = filters(3, 2)``::

    x = sympy.Matrix(sympy.symbols("x0:3", real=True))
    is_zero(conv_layerwise(ws, x) - (x.T * conv_predictor(ws))[0])   # True

**Exactness.**  Entries of :math:`F` are :math:`\omega^{kj}/\sqrt D` with
:math:`\omega=e^{-2\pi i/D}`.  SymPy cannot simplify expressions in :math:`e^{-2\pi i/3}`
reliably, so the checks build :math:`F` with a *symbol* :math:`\omega` and reduce
modulo the cyclotomic polynomial :math:`\Phi_D(\omega)`, the minimal polynomial of
:math:`e^{-2\pi i/D}` over the rationals (:func:`is_zero`).  Everything is then
polynomial arithmetic and exact: under a second per identity for :math:`D\le4,\ L\le3`,
a few seconds for :math:`D=8,\ L=3`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ._checks import check_positive_int
from .errors import IbcoreTypeError, IbcoreValueError, ShapeError

__all__ = [
    "filters",
    "fc_weights",
    "dft_matrix",
    "circulant_layer",
    "conv_layerwise",
    "circular_convolve",
    "conv_predictor",
    "fc_predictor",
    "diagonal_predictor",
    "is_zero",
    "is_homogeneous",
    "euler_identity_holds",
    "fourier_product_holds",
    "conv_fourier_gradient_holds",
    "fc_balancedness_step",
    "fourier_balancedness_step",
]


# ---------------------------------------------------------------- builders


def filters(dim: int, depth: int, name: str = "w") -> list[sp.Matrix]:
    """``depth`` column vectors of real symbols ``w{l}_{k}`` (l = 1..L, k = 0..D-1): the filters w_l."""
    dim = check_positive_int("dim", dim)
    depth = check_positive_int("depth", depth)
    return [sp.Matrix([sp.Symbol(f"{name}{l}_{k}", real=True) for k in range(dim)]) for l in range(1, depth + 1)]


def fc_weights(dim: int, depth: int, widths: Sequence[int] | None = None, name: str = "W") -> list[sp.Matrix]:
    r"""Matrices of real symbols :math:`W_l\in\mathbb R^{D_{l-1}\times D_l}`, :math:`D_0=D`, :math:`D_L=1`.

    ``widths`` are the hidden widths :math:`D_1,\dots,D_{L-1}` (length ``depth - 1``,
    default all ``dim``), as in ``ibcore.nets.FullyConnected``.  Entry :math:`(i, j)` of
    :math:`W_l` is the symbol ``W{l}_{i}_{j}``.
    """
    dim = check_positive_int("dim", dim)
    depth = check_positive_int("depth", depth)
    if widths is None:
        widths = [dim] * (depth - 1)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise IbcoreTypeError(f"widths must be a sequence of {depth - 1} ints, got {type(widths).__name__}")
    if len(widths) != depth - 1:
        raise IbcoreValueError(f"widths must have length depth - 1 = {depth - 1}, got {len(widths)}")
    sizes = [dim] + [check_positive_int(f"widths[{i}]", width) for i, width in enumerate(widths)] + [1]
    return [
        sp.Matrix(sizes[l - 1], sizes[l], lambda i, j, l=l: sp.Symbol(f"{name}{l}_{i}_{j}", real=True))
        for l in range(1, depth + 1)
    ]


def dft_matrix(dim: int, omega: sp.Symbol | None = None) -> sp.Matrix:
    r"""The unitary DFT :math:`F[k,j]=\omega^{kj}/\sqrt D`, :math:`\omega=e^{-2\pi i/D}` (``fft(x, norm="ortho")``).

    With ``omega=None`` the entries are the exact numbers ``exp(-2*pi*I*k*j/D)/sqrt(D)``
    (SymPy writes them as :math:`\pm1,\pm i` when :math:`D\le 2` or :math:`D=4`), good for
    display.  With a symbol ``omega`` they are powers :math:`\omega^{kj \bmod D}/\sqrt D`,
    which :func:`is_zero` reduces exactly; ``F.subs(omega, sympy.exp(-2*sympy.pi*sympy.I/D))``
    recovers the numbers.
    """
    dim = check_positive_int("dim", dim)
    if omega is None:
        return sp.Matrix(dim, dim, lambda k, j: sp.exp(-2 * sp.pi * sp.I * ((k * j) % dim) / dim) / sp.sqrt(dim))
    return sp.Matrix(dim, dim, lambda k, j: omega ** ((k * j) % dim) / sp.sqrt(dim))


def _column(name: str, v) -> sp.Matrix:
    """Return ``v`` (a list of expressions or a Matrix) as a column Matrix, or raise naming ``name``."""
    if isinstance(v, sp.MatrixBase):
        if 1 not in v.shape:
            raise ShapeError(f"{name} must be a vector (a column or row Matrix), got shape {v.shape}")
        return sp.Matrix(v).reshape(len(v), 1)
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise IbcoreTypeError(f"{name} must be a sympy Matrix or a sequence of expressions, got {type(v).__name__}")
    return sp.Matrix(list(v))


def _filters(ws) -> list[sp.Matrix]:
    """Validate a non-empty list of vectors of one common length D; return them as columns."""
    if isinstance(ws, sp.MatrixBase) or isinstance(ws, (str, bytes)) or not isinstance(ws, Sequence):
        raise IbcoreTypeError("ws must be a list of filters (sympy column Matrices), one per layer")
    if len(ws) == 0:
        raise IbcoreValueError("ws must contain at least one filter (depth >= 1)")
    cols = [_column(f"ws[{l}]", w) for l, w in enumerate(ws)]
    dim = cols[0].rows
    if dim == 0 or any(w.rows != dim for w in cols):
        raise ShapeError(f"every filter must have the same length D >= 1, got {[w.rows for w in cols]}")
    return cols


def circulant_layer(w, h) -> sp.Matrix:
    r"""The paper's layer :math:`\mathbf h_l[d]=\frac1{\sqrt D}\sum_k\mathbf w[k]\,\mathbf h[(d+k)\bmod D]`, written out."""
    w, h = _column("w", w), _column("h", h)
    dim = w.rows
    if h.rows != dim:
        raise ShapeError(f"w and h must have the same length, got {dim} and {h.rows}")
    return sp.Matrix([sum(w[k] * h[(d + k) % dim] for k in range(dim)) / sp.sqrt(dim) for d in range(dim)])


def conv_layerwise(ws, x) -> sp.Expr:
    r""":math:`f(\mathbf x)=\langle\mathbf h_{L-1},\mathbf w_L\rangle` computed layer by layer from :math:`\mathbf h_0=\mathbf x`.

    This is the definition; :func:`conv_predictor` is the closed form it must equal.
    """
    ws = _filters(ws)
    h = _column("x", x)
    if h.rows != ws[0].rows:
        raise ShapeError(f"x must have length D = {ws[0].rows}, got {h.rows}")
    for w in ws[:-1]:
        h = circulant_layer(w, h)
    return (h.T * ws[-1])[0, 0]


def circular_convolve(a, b) -> sp.Matrix:
    r"""Circular convolution :math:`(\mathbf a\circledast\mathbf b)[m]=\sum_k\mathbf a[k]\,\mathbf b[(m-k)\bmod D]`."""
    a, b = _column("a", a), _column("b", b)
    dim = a.rows
    if b.rows != dim:
        raise ShapeError(f"a and b must have the same length, got {dim} and {b.rows}")
    return sp.Matrix([sum(a[k] * b[(m - k) % dim] for k in range(dim)) for m in range(dim)])


def conv_predictor(ws) -> sp.Matrix:
    r"""Closed form :math:`\boldsymbol\beta=D^{-(L-1)/2}\,\mathbf w_1\circledast\cdots\circledast\mathbf w_L` of the conv net."""
    ws = _filters(ws)
    beta = ws[0]
    for w in ws[1:]:
        beta = circular_convolve(beta, w)
    return beta * sp.sqrt(ws[0].rows) ** (1 - len(ws))


def fc_predictor(weights) -> sp.Matrix:
    r""":math:`\boldsymbol\beta=W_1W_2\cdots W_L`, a ``D x 1`` Matrix (shapes must chain and end in one column)."""
    if (
        isinstance(weights, sp.MatrixBase)
        or not isinstance(weights, Sequence)
        or len(weights) == 0
        or not all(isinstance(W, sp.MatrixBase) for W in weights)
    ):
        raise IbcoreTypeError("weights must be a non-empty list of sympy Matrices W_1, ..., W_L")
    beta = sp.Matrix(weights[0])
    for l, W in enumerate(weights[1:], start=2):
        if beta.cols != W.rows:
            raise ShapeError(f"weights do not chain: W_{l} has {W.rows} rows, the product before it {beta.cols} columns")
        beta = beta * W
    if beta.cols != 1:
        raise ShapeError(f"the last weight W_L must have one column, got {beta.cols}")
    return beta


def diagonal_predictor(ws) -> sp.Matrix:
    r""":math:`\boldsymbol\beta=\mathbf w_1\odot\cdots\odot\mathbf w_L` (entrywise product)."""
    ws = _filters(ws)
    beta = ws[0]
    for w in ws[1:]:
        beta = beta.multiply_elementwise(w)
    return beta


# ---------------------------------------------------------------- exact checks


def is_zero(expr, omega: sp.Symbol | None = None, dim: int | None = None) -> bool:
    r"""Exactly decide whether a polynomial expression (or every entry of a Matrix) is zero.

    Without ``omega``: expand and compare with 0, which is exact for polynomials in the
    symbols whose coefficients involve at most one square root :math:`\sqrt D`.

    With ``omega`` (the symbol of :func:`dft_matrix`) and ``dim``: the expression is read as a
    polynomial in ``omega`` evaluated at :math:`e^{-2\pi i/D}`.  Exponents are first taken mod
    :math:`D` (:math:`\omega^D=1`), then the polynomial is divided by :math:`\Phi_D(\omega)`;
    a zero remainder proves the identity.  The converse holds whenever :math:`\sqrt D` appears
    only as overall normalizations, as in every identity of this module (an expression
    that uses a Gauss sum to write :math:`\sqrt D` through roots of unity would not be
    recognized as zero).
    """
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    if omega is None:
        return all(sp.expand(e) == 0 for e in entries)
    dim = check_positive_int("dim", dim)
    phi = [int(c) for c in sp.Poly(sp.cyclotomic_poly(dim, omega), omega).all_coeffs()]  # leading first
    n = len(phi) - 1
    for e in entries:
        coeffs = [sp.S.Zero] * dim
        for monomial, coeff in sp.collect(sp.expand(e), omega, evaluate=False).items():
            coeffs[sp.degree(monomial, omega) % dim] += coeff
        for top in range(dim - 1, n - 1, -1):  # long division by the monic Phi_D
            lead = coeffs[top]
            for i, p in enumerate(phi):
                coeffs[top - i] -= lead * p
        if not all(sp.expand(c) == 0 for c in coeffs[:n]):
            return False
    return True


def _flat_symbols(symbols) -> list[sp.Symbol]:
    """Flatten a symbol, a list of symbols or a list of Matrices of symbols into one list."""
    if isinstance(symbols, sp.Symbol):
        return [symbols]
    flat: list[sp.Symbol] = []
    for s in symbols:
        flat.extend(_flat_symbols(s) if not isinstance(s, sp.MatrixBase) else list(s))
    if not all(isinstance(s, sp.Symbol) for s in flat) or not flat:
        raise IbcoreTypeError("symbols must be a non-empty collection of sympy Symbols (or Matrices of them)")
    return flat


def _as_vector(P) -> sp.Matrix:
    """A predictor as a column Matrix (a scalar expression is a vector of length 1)."""
    return _column("P", P) if isinstance(P, (sp.MatrixBase, Sequence)) else sp.Matrix([P])


def is_homogeneous(expr_vector, symbols, degree: int) -> bool:
    r"""Whether :math:`\mathcal P(a\mathbf w)=a^L\mathcal P(\mathbf w)` identically, with ``degree`` = :math:`L`.

    Homogeneity is the hypothesis of Theorem 3: it makes the scale of :math:`\mathbf w`
    and its direction separate, so that only the direction has a limit to find.
    ``symbols`` are all the parameters :math:`\mathbf w` (a list of symbols or of the
    Matrices from :func:`filters` / :func:`fc_weights`); all are scaled at once.
    """
    degree = check_positive_int("degree", degree, minimum=0)
    P = _as_vector(expr_vector)
    a = sp.Dummy("a")
    scaled = P.xreplace({s: a * s for s in _flat_symbols(symbols)})
    return is_zero(scaled - a**degree * P)


def euler_identity_holds(P, symbols, degree: int, z=None) -> bool:
    r"""Whether :math:`\langle\mathbf w,\nabla_{\mathbf w}\langle\mathcal P(\mathbf w),\mathbf z\rangle\rangle=L\langle\mathcal P(\mathbf w),\mathbf z\rangle`.

    Euler's identity for homogeneous functions is what turns the gradient of the loss
    into the KKT condition of Theorem 3 (:math:`\mathbf w\propto\sum_n\alpha_n y_n\nabla_{\mathbf w}\langle\mathbf x_n,\mathcal P(\mathbf w)\rangle`).
    ``z`` defaults to fresh real symbols, which checks the identity for every direction.
    """
    degree = check_positive_int("degree", degree, minimum=0)
    P = _as_vector(P)
    z = sp.Matrix([sp.Dummy(f"z{d}", real=True) for d in range(P.rows)]) if z is None else _column("z", z)
    if z.rows != P.rows:
        raise ShapeError(f"z must have the length of P, {P.rows}, got {z.rows}")
    value = (P.T * z)[0, 0]
    w = _flat_symbols(symbols)
    return is_zero(sum(s * sp.diff(value, s) for s in w) - degree * value)


def _conjugate(expr, omega: sp.Symbol, dim: int):
    r"""Complex conjugate of a polynomial in ``omega`` with real coefficients: :math:`\bar\omega=\omega^{D-1}`."""
    return expr.xreplace({omega: omega ** (dim - 1)})


def fourier_product_holds(ws) -> bool:
    r"""Whether :math:`F\,\mathcal P_{\rm conv}(\mathbf w)=\hat{\mathbf w}_1\odot\cdots\odot\hat{\mathbf w}_L` exactly.

    This identity is why a full-width conv net is a diagonal net in the Fourier basis,
    hence why its bias is an :math:`\ell_{2/L}` quasi-norm of :math:`\hat{\boldsymbol\beta}`
    (Theorems 2 and 2a).  It holds with this layer and the unitary DFT, no conjugates.
    """
    ws = _filters(ws)
    dim = ws[0].rows
    omega = sp.Dummy("omega")
    F = dft_matrix(dim, omega)
    product = sp.ones(dim, 1)
    for w in ws:
        product = product.multiply_elementwise(F * w)
    return is_zero(F * conv_predictor(ws) - product, omega, dim)


def conv_fourier_gradient_holds(ws, layer: int, g=None) -> bool:
    r"""Whether :math:`F\nabla_{\mathbf w_l}\langle\mathcal P_{\rm conv}(\mathbf w),\mathbf g\rangle=\hat{\mathbf g}\odot\overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}`.

    ``layer`` is :math:`l` (1-based, as in the paper); ``g`` defaults to fresh real symbols.
    The formula is the conv net's gradient in the Fourier basis, the form in which its
    KKT conditions (and balancedness) are read off frequency by frequency.  The filters
    and ``g`` must be real, which is what makes :math:`\bar\omega=\omega^{-1}` the whole
    conjugation.
    """
    ws = _filters(ws)
    dim, depth = ws[0].rows, len(ws)
    layer = check_positive_int("layer", layer)
    if layer > depth:
        raise IbcoreValueError(f"layer must be between 1 and depth = {depth}, got {layer}")
    g = sp.Matrix([sp.Dummy(f"g{d}", real=True) for d in range(dim)]) if g is None else _column("g", g)
    if g.rows != dim:
        raise ShapeError(f"g must have length D = {dim}, got {g.rows}")
    value = (conv_predictor(ws).T * g)[0, 0]
    gradient = sp.Matrix([sp.diff(value, s) for s in ws[layer - 1]])
    omega = sp.Dummy("omega")
    F = dft_matrix(dim, omega)
    others = sp.ones(dim, 1)
    for l, w in enumerate(ws, start=1):
        if l != layer:
            others = others.multiply_elementwise(F * w)
    rhs = (F * g).multiply_elementwise(others.applyfunc(lambda e: _conjugate(e, omega, dim)))
    return is_zero(F * gradient - rhs, omega, dim)


# ---------------------------------------------------------------- balancedness: one step, exactly


def fc_balancedness_step(dim: int, depth: int, widths=None):
    r"""The exact change of :math:`Q_l=W_l^\top W_l-W_{l+1}W_{l+1}^\top` in one gradient step, as polynomials in :math:`\eta`.

    Returns ``(changes, eta)``: ``changes[l]`` is :math:`Q_l(\mathbf w-\eta\mathbf G)-Q_l(\mathbf w)`
    (a SymPy matrix), where :math:`\mathbf G=\nabla_{\mathbf w}\langle\mathbf g,\mathcal P(\mathbf w)\rangle`
    is obtained by differentiating, in symbolic weights (:func:`fc_weights`)
    and a symbolic :math:`\mathbf g`.  By the chain rule the gradient of *any* loss of
    :math:`\boldsymbol\beta` is this vjp with :math:`\mathbf g=\nabla\mathcal L(\boldsymbol\beta)`, so a
    free :math:`\mathbf g` covers every loss.  The coefficient of :math:`\eta` is the rate of
    change along the gradient flow, :math:`-\tfrac{d}{dt}Q_l` (it vanishes); the coefficient of
    :math:`\eta^2` is :math:`G_l^\top G_l-G_{l+1}G_{l+1}^\top`, the drift of gradient descent.
    """
    Ws = fc_weights(dim, depth, widths)
    g = sp.Matrix(sp.symbols(f"g0:{dim}", real=True))
    eta = sp.Symbol("eta", real=True)
    value = (fc_predictor(Ws).T * g)[0, 0]
    stepped = [W - eta * W.applyfunc(lambda e: sp.diff(value, e)) for W in Ws]

    def Q(layers, l):
        return layers[l].T * layers[l] - layers[l + 1] * layers[l + 1].T

    return [(Q(stepped, l) - Q(Ws, l)).applyfunc(sp.expand) for l in range(depth - 1)], eta


def fourier_balancedness_step(depth: int):
    r"""One gradient step at one frequency of a conv net: the exact change of :math:`|\hat w_l[k]|^2-|\hat w_{l+1}[k]|^2`.

    In the Fourier basis the conv net's gradient is
    :math:`F\nabla_{\mathbf w_l}\langle\mathbf g,\mathcal P_{\rm conv}(\mathbf w)\rangle
    =\hat{\mathbf g}\odot\overline{\prod_{l'\ne l}\hat{\mathbf w}_{l'}}` (checked exactly by
    :func:`conv_fourier_gradient_holds`), so each frequency is a diagonal network with complex weights.  With complex symbols
    :math:`a_l=\hat{\mathbf w}_l[k]` and :math:`\hat g=\hat{\mathbf g}[k]`, each written as real
    and imaginary parts, and the step :math:`a_l\mapsto a_l-\eta\,\hat g\,\overline{\prod_{l'\ne l}a_{l'}}`
    (a step's Fourier image, by linearity of :math:`F`), returns ``(changes, eta)``:
    ``changes[l]`` is the change of :math:`|a_l|^2-|a_{l+1}|^2`, a real polynomial in
    :math:`\eta` whose :math:`\eta` coefficient (minus the rate along the flow) vanishes and whose
    :math:`\eta^2` coefficient is :math:`|\hat g|^2(\prod_{l'\ne l}|a_{l'}|^2-\prod_{l'\ne l+1}|a_{l'}|^2)`.
    With real symbols instead this is the diagonal network, coordinate by coordinate.
    """
    depth = check_positive_int("depth", depth, minimum=2)
    re = sp.symbols(f"a_re1:{depth + 1}", real=True)
    im = sp.symbols(f"a_im1:{depth + 1}", real=True)
    g_re, g_im = sp.symbols("g_re g_im", real=True)
    eta = sp.Symbol("eta", real=True)
    a = [x + sp.I * z for x, z in zip(re, im)]
    g = g_re + sp.I * g_im

    def sq(z):
        return sp.expand(z * sp.conjugate(z))

    others = [sp.prod([a[m] for m in range(depth) if m != l]) for l in range(depth)]
    stepped = [a[l] - eta * g * sp.conjugate(others[l]) for l in range(depth)]
    changes = [sp.expand((sq(stepped[l]) - sq(stepped[l + 1])) - (sq(a[l]) - sq(a[l + 1]))) for l in range(depth - 1)]
    return changes, eta
