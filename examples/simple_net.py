"""Train the two-layer ``SimpleNet`` of seed document 003 with Adam and mean squared error.

The tutorial's model is a Keras ``Model`` subclass with two dense layers (3 units, then
1), trained by a ``fit`` loop over mini-batches that records the loss on a GradientTape,
takes the gradients with respect to ``model.trainable_variables`` and applies them with
``Adam(learning_rate=0.01)``. Here the data is a small regression problem: 256 points in
2-D with targets ``3 x1 - 2 x2 + 1`` plus a little noise (the network has no activation,
so it is a linear model, and this is a problem it can fit). The loss is printed each
epoch, and falls by more than a factor 100.

Run ``python examples/simple_net.py [--epochs N]``.
"""

import argparse

import numpy as np

import chainrule as cr


class SimpleNet(cr.nn.Model):
    def __init__(self):
        super().__init__()

        self.fc1 = cr.nn.Dense(units=3)
        self.fc2 = cr.nn.Dense(units=1)

    def call(self, x):
        x = self.fc1(x)
        x = self.fc2(x)
        return x


def make_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    Y = X @ np.array([[3.0], [-2.0]]) + 1.0 + 0.01 * rng.standard_normal((n, 1))
    return X, Y


def mse_loss(y_true, y_pred):
    return cr.reduce_mean(cr.losses.mean_squared_error(y_true, y_pred))


def fit(model, optimizer, X, Y, num_epochs, batch_size=32, verbose=1):
    """The tutorial's training loop. It counted ``len(X) // batch_size + 1`` batches, one
    too many (and empty) when the batch size divides the data; this rounds up instead."""
    history = []
    for epoch in range(num_epochs):
        total_loss = 0
        num_batches = (len(X) + batch_size - 1) // batch_size

        for i in range(num_batches):
            start_idx = i * batch_size
            end_idx = (i + 1) * batch_size

            X_batch = X[start_idx:end_idx]
            Y_batch = Y[start_idx:end_idx]

            with cr.GradientTape() as tape:
                y_pred = model(X_batch)
                loss = mse_loss(y_true=Y_batch, y_pred=y_pred)

            grads = tape.gradient(target=loss, sources=model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

            total_loss += loss.numpy()

        history.append(total_loss / num_batches)
        if verbose > 0 and epoch % verbose == 0:
            print(f"Epoch {epoch + 1}/{num_epochs}: Loss={total_loss / num_batches}")

    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    cr.nn.initializers.set_seed(0)  # reproducible weights
    X, Y = make_data()
    model = SimpleNet()
    optimizer = cr.optimizers.Adam(learning_rate=0.01)
    history = fit(model, optimizer, X, Y, num_epochs=args.epochs)
    print(f"loss fell from {history[0]:.6f} to {history[-1]:.6f} "
          f"({history[0] / history[-1]:.0f}x)")
    print(f"trainable variables: {[v.name for v in model.trainable_variables]}")


if __name__ == "__main__":
    main()
