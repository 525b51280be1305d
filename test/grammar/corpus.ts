/**
 * @file A corpus of `.nn` sources for the grammar tests (formatter round trips, fuzzing): every
 * construct of docs/language.md at least once, with comments in awkward places, odd spacing and
 * semicolons. `nnFiles()` adds every `.nn` under examples/ and stdlib/, globbed at test time.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fromRoot } from "../util/golden.js";

export const corpus: Record<string, string> = {
  mnist: `# examples/mnist.nn
model Mnist(image: [28, 28, 1]) -> [10] {
  image
    |> conv2d(filters: 32, kernel: 3, activation: relu)   # trailing
    |> maxpool2d(2)
    |> flatten
    |> dense(10)
}

train Mnist {
  data      = mnist(split: "train")      # full MNIST, 60k images
  validate  = mnist(split: "test")
  loss      = softmax_cross_entropy
  optimizer = adam(lr: 0.001)
  batch     = 64; epochs = 10
  metrics   = [accuracy]
}
`,
  layers: `import "other.nn"
block dense(x: [..., n], units: int, activation = identity, bias = true) -> [..., units] {
  param w: [n, units] = glorot_uniform
  param b: [units]    = zeros          # omitted when bias is false
  state count: [1] int
  activation(x @ w + b)
}
loss mse(pred: [n], target: [n]) { mean((pred - target) ^ 2) }
block residual(x: [h, w, c]) {
  let y = x |> conv2d(c, 3, padding: same, activation: relu) |> conv2d(c, 3, padding: same)
  relu(x + y)
}
`,
  optimizers: `optimizer adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7) {
  state m = zeros, v = zeros
  state k = ones
  update(p, g, t) {
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    p - lr * (m / (1 - beta1 ^ t)) / (sqrt(v / (1 - beta2 ^ t)) + eps)
  }
}
optimizer sgd(lr = 0.01,) { update(p, g) { p - lr * g } }
`,
  gan: `model Generator(z: [64]) -> [28, 28, 1] {
  z |> dense(256, activation: leaky_relu) |> dense(784, activation: tanh) |> reshape([28, 28, 1])
}
model Discriminator(x: [28, 28, 1]) -> [1] { x |> flatten |> dense(1) }

# two steps
train Gan {
  data  = mnist(split: "train")
  noise z: [64] = normal
  step discriminator {
    loss      = bce_logits(Discriminator(image), 1) + bce_logits(Discriminator(Generator(z)), 0)
    optimizer = adam(lr: 2e-4, beta1: 0.5)
    updates   = Discriminator
  }
  step generator { loss = bce_logits(Discriminator(Generator(z)), 1); updates = Generator }
  early_stop = { metric: loss, patience: 5 }
}
`,
  finetune: `train FineTune: Mnist {
  init      = "checkpoints/mnist.safetensors"   # weights
  freeze    = [conv2d]
  optimizer = adamw(lr: cosine(from: 1e-3, to: 1e-5), weight_decay: 1e-4)
  regularize = l2(1e-4)
  augment   = [random_shift(2), random_rotate(10deg),]

  batch     = search [32, 64, 128]
  early_stop = { metric: val_accuracy, patience: 3, }
  seed = 2.5E+4
}
`,
  sequences: `model Sentiment(tokens: [T] int) -> [2] {
  tokens |> embedding(vocab: 10000, dim: 64) |> lstm(128) |> last |> dense(2)
}
block lstm(x: [T, n], units: int) -> [T, units] {
  param w: [n, 4 * units] = glorot_uniform
  # the recurrence
  scan xt in x carry h = zeros([units]), c = zeros([units]) {
    let z = xt @ w   # gates

    c = sigmoid(z) * c
    h = tanh(c)
    h
  }
}
block pick(x: [n], k: int = 2) {
  let a = if k > 1 { x } else if k == 1 { -x } else { not x }
  let b = if training {
    dropout(x, 0.5)
  } else {
    x
  }
  let c = -x ^ 2 + 2 ^ -1 - (x <= 3) + (x != 1) * (x >= 0) / (x < 1) * (x > 0)
  let d = a + b; -c
}
`,
  placement: `# comments around if/else, blocks and argument lists
block pick(
  # before the first parameter
  x: [n],   # after x
  k: int = 2,
  a_long_parameter_name_so_that_the_list_breaks: int = 3,
  another_long_parameter_name: int = 4,
) {
  let c = if true { # open
    x
  } # after if
  else { x }
  let d = if k > 1 { x }
  # before else if
  else if k == 1 { -x } # after else if
  else { x }
  let e = f(x, # first argument
    g(1, 2),
  )
  c
}
train T: M {
  batch = 32
  metrics

  # inside a setting, after a blank line
  = [accuracy]
}
`,
  comments: `# header comment

# about the block
block f(x: [n]) {   # after brace
  # leading
  let y = x   # trailing y
  # before result

  y
  # at the end
}
# between
model M(x: [4]) -> [4] { f(x) }   # after model
# last
`,
};

/** The corpus plus every .nn file under examples/ and stdlib/ (name -> text). */
export function nnFiles(): Record<string, string> {
  const all: Record<string, string> = { ...corpus };
  for (const dir of ["examples", "stdlib"]) {
    const abs = fromRoot(dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs, { recursive: true }) as string[]) {
      if (f.endsWith(".nn")) all[`${dir}/${f}`] = readFileSync(join(abs, f), "utf8");
    }
  }
  return all;
}

/** An AST as JSON without spans, for comparing parses of differently laid out text. */
export function withoutSpans(node: unknown): string {
  return JSON.stringify(node, (k, v: unknown) => (k === "span" || k === "opSpan" ? undefined : v));
}
