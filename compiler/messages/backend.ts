/** Back-end, device, data and checkpoint messages (NN4xxx, NN5xxx). */
export const backendMessages = {
  NN4001: "{op}: {detail}",
  NN4002:
    "{op}: this value needs a buffer of {size} bytes, more than the device allows ({limit} bytes); use a smaller batch or layer",
  NN4003: "{op}: a kernel needs {count} storage buffers, more than the device's limit of {limit}",
  NN4004: "{op}: the kernel {detail}; use a smaller batch or layer",
  NN4005:
    "{op}: cannot generate kernels for the symbolic shape {shape}; every dimension must be a number",
  NN4010: "{file} has no train section to compile; add `train ModelName { ... }`",
  NN4011:
    "train {name} has no loss to train on; give it `loss = ...` over its data's labels (or a `loss` in each `step`)",
  NN4013:
    "a size was given for dimension '{name}', but model {model} has no dimension of that name ({known})",
  NN4012:
    "train {name} has {trials} trial(s) (the combinations of its `search` options), numbered from 0; there is no trial {trial}",
} as const;
