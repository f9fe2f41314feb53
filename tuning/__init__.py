"""Hyperparameter search over the paper's grid with keras-tuner: ``python -m tuning.search``.

- :mod:`tuning.grid`: the grid (each model declares its own beside it, see
  :attr:`coat_tf.models.ModelSpec.grid`) as keras-tuner hyperparameters and run configurations;
- :mod:`tuning.oracle`: keras-tuner's grid search oracle, made resumable after a kill;
- :mod:`tuning.tuner`: one trial = one training run that never reads the test split, in a
  process of its own (:mod:`tuning.trial`, :mod:`tuning.process`);
- :mod:`tuning.results`: the results table, the best configuration and the HParams logs;
- :mod:`tuning.search`: the command.
"""
