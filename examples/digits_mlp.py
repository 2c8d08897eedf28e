"""A multilayer perceptron trained on scikit-learn's handwritten digits, on the tape.

``sklearn.datasets.load_digits`` ships with scikit-learn (1,797 images of 8x8 pixels, no
download). A ``Sequential`` model, ``Dense(64, relu)`` then ``Dense(10)`` logits, is trained
with ``Adam`` on the sparse categorical cross-entropy of the logits, in shuffled
mini-batches; each epoch shows a progress bar with the running loss and accuracy, then
the accuracy on the held-out quarter of the data. It reaches about 97% test accuracy in
a few seconds on two cores.

Needs scikit-learn: ``pip install "chainrule[examples]"``.
Run ``python examples/digits_mlp.py [--epochs N] [--seed S]``.
"""

import argparse
import sys
import time

import numpy as np

import chainrule as cr


class ProgressBar:
    """A Keras-style progress bar: redrawn in place on a terminal, printed once per epoch
    (when complete) otherwise, so logs stay readable."""

    def __init__(self, total, width=30, stream=None):
        self.total, self.width = total, width
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, done, **values):
        if not self.live and done < self.total:
            return
        filled = self.width * done // self.total
        bar = "=" * filled + (">" if filled < self.width else "") + "." * (
            self.width - filled - 1)
        elapsed = time.perf_counter() - self.start
        stats = " - ".join(f"{k}: {v:.4f}" for k, v in values.items())
        line = f"{done}/{self.total} [{bar[:self.width]}] {elapsed:.1f}s - {stats}"
        end = "\n" if done == self.total else ""
        self.stream.write(("\r" if self.live else "") + line + end)
        self.stream.flush()


def load_data(seed):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        sys.exit('This example needs scikit-learn: pip install "chainrule[examples]"')
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 scaled to [0, 1]
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X_train, X_test, y_train, y_test = load_data(args.seed)
    print(f"digits: {len(X_train)} training and {len(X_test)} test images of "
          f"{X_train.shape[1]} pixels")

    cr.nn.initializers.set_seed(args.seed)  # reproducible weights
    model = cr.nn.Sequential([
        cr.nn.Dense(64, activation="relu"),
        cr.nn.Dense(10),
    ])
    loss_fn = cr.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = cr.optimizers.Adam(learning_rate=0.003)
    rng = np.random.default_rng(args.seed)

    start = time.perf_counter()
    steps = (len(X_train) + args.batch_size - 1) // args.batch_size
    for epoch in range(args.epochs):
        print(f"Epoch {epoch + 1}/{args.epochs}")
        bar = ProgressBar(steps)
        order = rng.permutation(len(X_train))
        seen = total_loss = correct = 0
        for step in range(steps):
            batch = order[step * args.batch_size:(step + 1) * args.batch_size]
            x, y = X_train[batch], y_train[batch]
            with cr.GradientTape() as tape:
                logits = model(x)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

            seen += len(batch)
            total_loss += float(loss) * len(batch)
            correct += int(np.sum(np.argmax(logits.numpy(), axis=-1) == y))
            bar.update(step + 1, loss=total_loss / seen, accuracy=correct / seen)
        test_accuracy = np.mean(np.argmax(model.predict(X_test), axis=-1) == y_test)
        print(f"test accuracy: {test_accuracy:.4f}")
    elapsed = time.perf_counter() - start

    print(f"final test accuracy: {test_accuracy:.4f} after {args.epochs} epochs "
          f"({model.count_params()} parameters, trained in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
