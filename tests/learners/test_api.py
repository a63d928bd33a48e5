"""The package's public names are deliberate; this pins them."""

import backend.learners as learners


def test_public_api_is_pinned() -> None:
    assert sorted(learners.__all__) == sorted(
        [
            "ESTIMATORS",
            "STRATEGIES",
            "LearnerError",
            "PoolLearner",
            "StreamLearner",
            "check_classes",
            "check_labels",
            "check_pool",
            "check_samples",
            "export_model",
            "make_estimator",
            "strategy",
        ]
    )
    for name in learners.__all__:
        assert getattr(learners, name) is not None


def test_learner_error_is_a_value_error() -> None:
    assert issubclass(learners.LearnerError, ValueError)
