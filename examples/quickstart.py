"""Train a small NumPy MLP on a synthetic two-spirals problem with fastopt.Adam.

The model's weights live in one flat buffer (fastopt.flatten); backprop writes straight
into params.grads[...], and one opt.step() updates every parameter in a single kernel call.
Run:  python examples/quickstart.py
"""
import time

import numpy as np

import fastopt


def spirals(n, rng):
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    angle = t + np.pi * label
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1) + 0.02 * rng.standard_normal((n, 2))
    return x.astype(np.float32), label


def main(steps=1000, hidden=64, seed=0):
    rng = np.random.default_rng(seed)
    x, y = spirals(1000, rng)
    params = fastopt.flatten({
        "w1": (rng.standard_normal((2, hidden)) * 1.0).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32),
        "b2": np.zeros(hidden, np.float32),
        "w3": (rng.standard_normal((hidden, 2)) / np.sqrt(hidden)).astype(np.float32),
        "b3": np.zeros(2, np.float32),
    })
    p, g = params, params.grads
    opt = fastopt.Adam(params, lr=1e-2)
    start = time.perf_counter()
    for step in range(steps):
        # forward
        h1 = np.tanh(x @ p["w1"] + p["b1"])
        h2 = np.tanh(h1 @ p["w2"] + p["b2"])
        logits = h2 @ p["w3"] + p["b3"]
        logits -= logits.max(1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(1, keepdims=True)
        loss = -np.log(prob[np.arange(len(y)), y] + 1e-12).mean()
        accuracy = (prob.argmax(1) == y).mean()
        # backward, written straight into the flat gradient buffer
        d = prob
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        np.dot(h2.T, d, out=g["w3"])
        g["b3"][...] = d.sum(0)
        d2 = (d @ p["w3"].T) * (1 - h2 ** 2)
        np.dot(h1.T, d2, out=g["w2"])
        g["b2"][...] = d2.sum(0)
        d1 = (d2 @ p["w2"].T) * (1 - h1 ** 2)
        np.dot(x.T, d1, out=g["w1"])
        g["b1"][...] = d1.sum(0)
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss:.4f}  accuracy {accuracy:.3f}")
    print(f"{steps} steps in {time.perf_counter() - start:.2f} s")
    return accuracy


if __name__ == "__main__":
    main()
