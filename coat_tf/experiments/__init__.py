"""The paper's experiments as resumable commands: ``python -m coat_tf.experiments``.

:mod:`~coat_tf.experiments.plan` says what runs and with which settings,
:mod:`~coat_tf.experiments.execute` runs it (resumable), :mod:`~coat_tf.experiments.report`
writes the tables and the plot.
"""
