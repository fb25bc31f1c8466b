"""Train a small network on three interleaved spirals with plain gradient descent.

Each step is the textbook loop: forward pass, loss, backward pass, and the
update w := w - lr * dL/dw on the whole training set (batch gradient descent).
Run: python examples/train_spirals.py [--steps 2000] [--lr 1.0] [--seed 0]
"""

import argparse

import numpy as np

import descent as dc


def init_layer(fan_in: int, fan_out: int, rng: np.random.Generator):
    """He-initialised weights and zero biases, as tensors that collect gradients."""
    weight = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    return dc.tensor(weight, dc.float32, requires_grad=True), dc.zeros(fan_out, requires_grad=True)


def forward(x, parameters):
    w1, b1, w2, b2 = parameters
    return (x @ w1 + b1).relu() @ w2 + b2


def accuracy(logits, labels) -> float:
    return float((logits.detach().numpy().argmax(axis=1) == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()

    train, test = dc.data.load_dataset("spirals", seed=args.seed, num_classes=3)
    x, y = dc.tensor(train.features), train.targets
    rng = np.random.default_rng(args.seed)
    parameters = [*init_layer(2, args.hidden, rng), *init_layer(args.hidden, 3, rng)]
    rows = np.arange(len(y))

    for step in range(args.steps + 1):
        logits = forward(x, parameters)  # forward pass
        loss = -logits.log_softmax(axis=1)[rows, y].mean()  # cross-entropy
        for p in parameters:
            p.grad = None
        loss.backward()  # backward pass: dL/dw for every weight
        with dc.no_grad():
            for p in parameters:
                p.data -= args.lr * p.grad  # w := w - lr * grad
        if step % (args.steps // 10 or 1) == 0:
            print(f"step {step:5d}   loss {loss.item():.4f}   accuracy {accuracy(logits, y):.1%}")

    with dc.no_grad():
        test_logits = forward(dc.tensor(test.features), parameters)
    print(f"test accuracy {accuracy(test_logits, test.targets):.1%}")


if __name__ == "__main__":
    main()
