"""Train a small network on three interleaved spirals with plain gradient descent.

Each step is the textbook loop: forward pass, loss, backward pass, and the
update w := w - lr * dL/dw on the whole data set (batch gradient descent).
Run: python examples/train_spirals.py [--steps 2000] [--lr 1.0] [--seed 0]
"""

import argparse

import numpy as np

import descent as dc


def make_spirals(points_per_class: int, classes: int, rng: np.random.Generator):
    """Points on `classes` spiral arms with a little noise (the CS231n toy problem)."""
    features, labels = [], []
    for label in range(classes):
        radius = np.linspace(0.0, 1.0, points_per_class)
        angle = np.linspace(label * 4.0, (label + 1) * 4.0, points_per_class)
        angle += rng.normal(scale=0.2, size=points_per_class)
        features.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(points_per_class, label))
    return np.concatenate(features), np.concatenate(labels)


def init_layer(fan_in: int, fan_out: int, rng: np.random.Generator):
    """He-initialised weights and zero biases, as tensors that collect gradients."""
    weight = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    return dc.tensor(weight, requires_grad=True), dc.zeros(fan_out, requires_grad=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    features, labels = make_spirals(100, 3, rng)
    x, y = dc.tensor(features), labels
    w1, b1 = init_layer(2, args.hidden, rng)
    w2, b2 = init_layer(args.hidden, 3, rng)
    parameters = [w1, b1, w2, b2]

    for step in range(args.steps + 1):
        logits = (x @ w1 + b1).relu() @ w2 + b2  # forward pass
        loss = -logits.log_softmax(axis=1)[np.arange(len(y)), y].mean()  # cross-entropy
        for p in parameters:
            p.grad = None
        loss.backward()  # backward pass: dL/dw for every weight
        with dc.no_grad():
            for p in parameters:
                p.data -= args.lr * p.grad  # w := w - lr * grad
        if step % (args.steps // 10 or 1) == 0:
            accuracy = (logits.data.argmax(axis=1) == y).mean()
            print(f"step {step:5d}   loss {loss.item():.4f}   accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
