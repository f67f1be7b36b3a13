"""sweeper: hyperparameter sweeps for Keras CNNs on Ray Tune, Optuna and MLflow."""

__version__ = "0.1.0"
