"""Ordered logit from one rating: hand-computed probabilities, recovery of simulated parameters, the fit being the
maximum of the likelihood, invariance to the rating's units, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from matchday.evaluation.metrics import AWAY, DRAW, HOME
from matchday.models.rating_logit import OrderedLogit, _negative_log_likelihood

TRUE = OrderedLogit(slope=0.8, cut_away_draw=-0.5, cut_draw_home=0.7)


def sigma(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def simulate(model: OrderedLogit, x: np.ndarray, seed: int) -> np.ndarray:
    """Result codes drawn from the model's own probabilities."""
    u = np.random.default_rng(seed).random(len(x))
    p_away = 1.0 / (1.0 + np.exp(-(model.cut_away_draw - model.slope * x)))
    p_not_home = 1.0 / (1.0 + np.exp(-(model.cut_draw_home - model.slope * x)))
    return np.where(u < p_away, AWAY, np.where(u < p_not_home, DRAW, HOME)).astype(np.int64)


def mean_log_likelihood(model: OrderedLogit, x: np.ndarray, codes: np.ndarray) -> float:
    return float(np.mean(np.log(model.predict(x)[np.arange(len(x)), codes])))


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(7).normal(0.0, 1.0, 20_000)
    return x, simulate(TRUE, x, seed=8)


def test_predict_by_hand() -> None:
    model = OrderedLogit(slope=0.5, cut_away_draw=-1.0, cut_draw_home=1.0)
    home, draw, away = model.predict([2.0])[0]
    # x = 2: slope * x = 1, so P(away) = sigma(-2), P(away or draw) = sigma(0) = 1/2
    assert away == pytest.approx(sigma(-2.0), rel=1e-12)
    assert home == pytest.approx(0.5, rel=1e-12)
    assert draw == pytest.approx(0.5 - sigma(-2.0), rel=1e-12)


def test_recovers_simulated_parameters(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    fitted = OrderedLogit.fit(*simulated)
    # Over 200 seeds at n = 20,000 the estimates' standard deviations were 0.015 (slope), 0.015 and 0.016
    # (cutpoints), so 0.06 is four of them; a sign or cutpoint mix-up misses by 0.5 or more.
    assert fitted.slope == pytest.approx(TRUE.slope, abs=0.06)
    assert fitted.cut_away_draw == pytest.approx(TRUE.cut_away_draw, abs=0.06)
    assert fitted.cut_draw_home == pytest.approx(TRUE.cut_draw_home, abs=0.06)


def test_fit_is_the_maximum_of_the_likelihood(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    # The score is zero at the maximum: central differences of the likelihood computed through `predict`, a path
    # independent of the fit's analytic gradient.
    x, codes = simulated
    fitted = OrderedLogit.fit(x, codes)
    step = 1e-4
    for name in ("slope", "cut_away_draw", "cut_draw_home"):
        value = getattr(fitted, name)
        up = OrderedLogit(**{**_params(fitted), name: value + step})
        down = OrderedLogit(**{**_params(fitted), name: value - step})
        score = (mean_log_likelihood(up, x, codes) - mean_log_likelihood(down, x, codes)) / (2 * step)
        assert abs(score) < 1e-6, name


@pytest.mark.parametrize("theta", [(0.1, -0.2, 0.3), (-1.0, 0.5, 1.2), (0.4, -3.0, -0.7)])
def test_likelihood_gradient_matches_finite_differences(
    simulated: tuple[np.ndarray, np.ndarray], theta: tuple[float, float, float]
) -> None:
    # A wrong gradient can still land on the right optimum (same zeros), so it is checked on its own.
    x, codes = simulated[0][:2000], simulated[1][:2000]
    point = np.asarray(theta)
    _, gradient = _negative_log_likelihood(point, x, codes)
    numeric = approx_fprime(point, lambda t: _negative_log_likelihood(t, x, codes)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def _params(model: OrderedLogit) -> dict[str, float]:
    return {"slope": model.slope, "cut_away_draw": model.cut_away_draw, "cut_draw_home": model.cut_draw_home}


def test_fit_follows_the_ratings_units(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    # x' = 400 x + 60 (Elo-like units) is the same model with slope / 400 and cutpoints + 60 * slope / 400.
    x, codes = simulated
    plain, scaled = OrderedLogit.fit(x, codes), OrderedLogit.fit(400.0 * x + 60.0, codes)
    assert scaled.slope == pytest.approx(plain.slope / 400.0, rel=1e-6)
    assert scaled.cut_away_draw == pytest.approx(plain.cut_away_draw + 60.0 * plain.slope / 400.0, abs=1e-6)
    assert scaled.cut_draw_home == pytest.approx(plain.cut_draw_home + 60.0 * plain.slope / 400.0, abs=1e-6)


def test_uninformative_rating_fits_the_base_rate() -> None:
    # x independent of the result: a slope near 0 and P(away), P(away or draw) near the frequencies.
    x = np.random.default_rng(1).normal(size=30_000)
    codes = simulate(OrderedLogit(slope=0.0, cut_away_draw=math.log(0.3 / 0.7), cut_draw_home=0.0), x, seed=2)
    fitted = OrderedLogit.fit(x, codes)
    assert abs(fitted.slope) < 0.05  # standard error ~0.011 at this n
    probs = fitted.predict([0.0])[0]
    frequencies = np.bincount(codes, minlength=3) / len(codes)
    np.testing.assert_allclose(probs, frequencies, atol=0.01)


ratings = st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50)
models = st.builds(
    lambda slope, c1, gap: OrderedLogit(slope=slope, cut_away_draw=c1, cut_draw_home=c1 + gap),
    st.floats(0.0, 5.0),
    st.floats(-5.0, 5.0),
    st.floats(1e-3, 10.0),
)


@given(models, ratings)
def test_probabilities_sum_to_one_and_move_with_the_rating(model: OrderedLogit, xs: list[float]) -> None:
    x = np.sort(np.asarray(xs))
    probs = model.predict(x)
    assert probs.shape == (len(x), 3)
    assert (probs >= 0.0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    # A higher home-minus-away rating with a non-negative slope never lowers P(home) nor raises P(away).
    assert (np.diff(probs[:, HOME]) >= -1e-15).all()
    assert (np.diff(probs[:, AWAY]) <= 1e-15).all()


def test_positive_slope_is_strictly_monotone() -> None:
    probs = TRUE.predict([-1.0, 0.0, 1.0])
    assert probs[0, HOME] < probs[1, HOME] < probs[2, HOME]
    assert probs[0, AWAY] > probs[1, AWAY] > probs[2, AWAY]


def test_fit_raises_on_nan_naming_it() -> None:
    with pytest.raises(ValueError, match=r"x holds 1 NaN or infinite value\(s\), the first at index 2: nan"):
        OrderedLogit.fit([0.1, 0.2, math.nan, 0.3], [HOME, DRAW, AWAY, HOME])


def test_predict_raises_on_nan_naming_it() -> None:
    with pytest.raises(ValueError, match=r"x holds 2 NaN or infinite value\(s\), the first at index 1: nan"):
        TRUE.predict([0.0, math.nan, math.inf])


@pytest.mark.parametrize(
    ("x", "codes", "message"),
    [
        ([[0.0, 1.0]], [HOME], r"x must be a 1-D array"),
        ([0.0, 1.0, 2.0], [HOME, DRAW], r"outcomes must be 3 integer codes"),
        ([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], r"outcomes must be 3 integer codes.*float64"),
        ([0.0, 1.0, 2.0], [HOME, DRAW, 3], r"outcomes row 2 is 3"),
        ([0.0, 1.0, 2.0], [HOME, AWAY, HOME], r"counts \(home, draw, away\) = \[2 0 1\]"),
        ([1.0, 1.0, 1.0], [HOME, DRAW, AWAY], r"x is constant"),
    ],
)
def test_fit_rejects_bad_input(x: list[float], codes: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrderedLogit.fit(x, codes)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"slope": 1.0, "cut_away_draw": 0.5, "cut_draw_home": 0.5}, r"cut_away_draw \(0\.5\) must be below"),
        ({"slope": 1.0, "cut_away_draw": 1.0, "cut_draw_home": -1.0}, r"cut_away_draw \(1\.0\) must be below"),
        ({"slope": math.nan, "cut_away_draw": 0.0, "cut_draw_home": 1.0}, r"must be finite"),
    ],
)
def test_model_rejects_bad_parameters(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrderedLogit(**params)
