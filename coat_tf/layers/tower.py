"""The prediction tower: a halving MLP and a sigmoid output."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.checks import check_positive_int, fresh_initializer


@tf.keras.utils.register_keras_serializable(package="coat_tf")
class TowerMLP(tf.keras.layers.Layer):
    """A tower of ReLU layers, each half the width of the one before, then the output.

    With widths ``w, w/2, w/4`` (three layers, the paper's tower)::

        h_1 = ReLU(W_1^T x + b_1)          [B, w]
        h_k = ReLU(W_k^T h_{k-1} + b_k)    [B, w / 2^(k-1)]
        y   = sigmoid(w_o^T h_K + b_o)     [B]

    Args:
        first_width: ``w``, the width of the first layer.
        num_layers: ``K``; each layer has half the units of the one before (at least one).
        dropout: dropout rate applied after each hidden layer (training only).
        output: ``"sigmoid"`` (a probability), ``"logit"`` (the same without the sigmoid), or
            ``"hidden"`` (no output unit: ``h_K`` itself, for models that add their own head).
        kernel_initializer: initialiser of every kernel.

    Input: ``[B, n]`` float. Output: ``[B]`` (or ``[B, w / 2^(K-1)]`` for ``"hidden"``).
    """

    OUTPUTS = ("sigmoid", "logit", "hidden")

    def __init__(
        self,
        first_width: int,
        num_layers: int = 3,
        dropout: float = 0.0,
        output: str = "sigmoid",
        kernel_initializer: str | tf.keras.initializers.Initializer = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int("first_width", first_width)
        check_positive_int("num_layers", num_layers)
        if first_width >> (num_layers - 1) < 1:
            raise ValueError(
                f"first_width {first_width} is too small to halve {num_layers - 1} times"
            )
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if output not in self.OUTPUTS:
            raise ValueError(f"output must be one of {self.OUTPUTS}, got {output!r}")
        self.first_width = first_width
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.output_mode = output
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)
        self.widths = [first_width >> i for i in range(num_layers)]
        self.hidden_layers = [
            tf.keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer=fresh_initializer(self.kernel_initializer),
                name=f"hidden_{i}",
            )
            for i, width in enumerate(self.widths)
        ]
        self.dropout_layer = tf.keras.layers.Dropout(self.dropout) if self.dropout else None
        self.output_layer = (
            None
            if output == "hidden"
            else tf.keras.layers.Dense(
                1, kernel_initializer=fresh_initializer(self.kernel_initializer), name="output"
            )
        )

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras passes shapes
        shape = tf.TensorShape(input_shape)
        # Each sub-layer is built under its own name scope so that its weights get distinct
        # names ("tower/hidden_0/kernel", ...), which weight files key on.
        for layer in self.hidden_layers:
            with tf.name_scope(layer.name):
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if self.output_layer is not None:
            with tf.name_scope(self.output_layer.name):
                self.output_layer.build(shape)
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x = self.hidden_layers[0](inputs)
        return self._after_first(x, training)

    def first_kernel(self) -> tf.Variable:
        """``W_1``, the first layer's kernel: ``[n, w]``."""
        return self.hidden_layers[0].kernel

    def call_with_first_kernel(self, inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """The tower (inference) with ``kernel`` ``[m, w]`` in place of ``W_1`` (same bias).

        For callers that fold a linear map into the first layer: when the tower's input is
        ``x = z A``, ``tower(x) = call_with_first_kernel(z, A W_1)``, and ``z`` may be narrower
        than ``x`` or cheaper to form. Input ``[B, m]``; output as :meth:`call`.
        """
        first = self.hidden_layers[0]
        x = first.activation(tf.nn.bias_add(tf.matmul(inputs, kernel), first.bias))
        return self._after_first(x, training=False)

    def _after_first(self, x: tf.Tensor, training: bool | None) -> tf.Tensor:
        for i, layer in enumerate(self.hidden_layers):
            if i:
                x = layer(x)
            if self.dropout_layer is not None:
                x = self.dropout_layer(x, training=training)
        if self.output_layer is None:
            return x
        logit = tf.squeeze(self.output_layer(x), axis=-1)
        return tf.sigmoid(logit) if self.output_mode == "sigmoid" else logit

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "first_width": self.first_width,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "output": self.output_mode,
            "kernel_initializer": tf.keras.initializers.serialize(self.kernel_initializer),
        }
