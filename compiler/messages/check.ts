/**
 * Name, type and shape messages (NN2xxx) and train-setting messages (NN3xxx), owned by
 * compiler/check/. Templates ending in `{hint}` take "; did you mean 'x'?" or "".
 */
export const checkMessages = {
  // Names and calls
  NN2001: "unknown name '{name}'{hint}",
  NN2002: "'{name}' is {what}, not a function",
  NN2003: "missing argument '{param}' in call to {callee}",
  NN2004: "{callee} has no parameter '{name}'{hint}",
  NN2005: "argument '{name}' is given twice",
  NN2006: "{callee} takes at most {max} positional arguments, given {count}",
  NN2007: "{what} expects {expected}, found {found}",
  // Shapes and dtypes
  NN2008: "{callee} expects {param}: {expected}, found {found}",
  NN2009: "{callee} expects {param} to be {expected}, found {found}",
  NN2010: "cannot {op} {left} and {right}: the shapes do not broadcast",
  NN2011: "cannot multiply {left} @ {right}: inner dimensions differ ({a} vs {b})",
  NN2012: "{op}: {detail}",
  NN2013: "{kind} {name} declares its output as {expected}, but its body produces {found}",
  NN2014: "unknown type '{name}'; expected int, float, bool, string or a tensor type{hint}",
  NN2015:
    "unknown dimension '{name}' in the shape of {what}: use a dimension of an input or an int argument",
  NN2016: "'{name}' is defined twice",
  NN2017:
    "cannot assign to '{name}': only state, optimizer state and scan carries can be assigned (use `let` for a new name)",
  NN2018:
    "an `if` condition must be known at compile time, found {found}; use where(cond, a, b) for tensors",
  NN2019: "cannot find the imported file '{path}'",
  NN2020: "import cycle: {cycle}",
  NN2021:
    "expected an initializer (zeros, glorot_uniform, normal(std: 0.1) or a number), found {found}",
  NN2022: "cannot {op} {left} and {right} tensors: the dtypes differ; convert with float(x)",
  NN2024: "{what} '{name}' starts as {before} but the body makes it {after}",
  NN2025: "{name} calls itself; recursion is not allowed (use scan for loops)",
  NN2026: "division by zero",
  NN2028: "axis {axis} is out of range for {shape}",
  NN2029: "the body of {name} has no result",
  NN2030: "model input '{name}' needs a tensor type, e.g. {name}: [28, 28, 1]",
  NN2031: "cannot reshape {from} ({n} elements) to {to} ({m} elements)",
  NN2032: "'...' is only allowed in the shapes of inputs and arguments",
  NN2033: "{what} is not allowed here: {why}",
  NN2037: "{name} must be at least {low} and below {below}, found {found}",
  NN2038:
    "calls nested too deeply: this call of {name} is inside {max} others; nnc inlines at most {max} calls inside one another",
  NN2039: "{name} must be at least {low}, found {found}",
  NN2040:
    "unknown element type '{name}'; a tensor type ends in int or float (float when omitted){hint}",
  NN2041:
    "state '{name}' holds one value for the whole batch, but this value is per sample ({shape} for each sample); reduce it over the batch first, e.g. batch_mean(...)",
  NN2036: "{what} would have a dimension of {value}; every dimension must be at least 1",
  NN2035:
    "cannot initialize a variable of shape {shape}: {dim} has no fixed size; parameters need fixed sizes (give the input a number for it)",
  NN2034:
    "{name} would be {shape} here but is {earlier} from an earlier call of the same layer; a model called twice must get inputs of the same shape",

  // Train settings
  NN3001: "unknown setting '{name}'{hint}",
  NN3002: "setting '{name}' is given twice",
  NN3003: "train {train} has no '{name}' setting: {why}",
  NN3004: "setting '{name}' expects {expected}, found {found}",
  NN3005: "train {train} needs a model: write `train {train}: ModelName` (models here: {models})",
  NN3006: "'{name}' is not a layer of {model}{hint}",
  NN3007: "unknown metric '{name}'{hint}",
  NN3008: "model {model} takes {input}: {expected}, but the data gives {found}",
  NN3009: "loss {loss} expects the model output as {expected}, but {model} produces {found}",
  NN3010: "a loss must give one number per sample, but {loss} gives {found}",
  NN3012: "setting '{name}' must be positive, found {found}",
  NN3013: "{name} needs the total number of steps, which is unknown for this data; pass `total:`",
  NN3014: "'{name}' is not a model{hint}",
  NN3015: "setting '{name}' is not allowed {where}",
  NN3016: "unknown field '{name}' in {setting}{hint}",
  NN3017: "model {model} outputs {found}, but the data's labels are {expected}",
  NN3018: "unknown train '{name}'{hint}",
  NN3019:
    "the size of dimension '{name}' is unknown; bind it to a number to build the graphs (e.g. --dim {name}=100)",
  NN3020:
    "augmentations transform images, but model {model} takes {input}: {shape}; an image input is [H, W, C] or [H, W]",
  NN3021: "train {train} inherits from itself: {cycle}",
  NN3022: "early_stop watches {metric}, which train {train} does not measure: {why}",
} as const;
