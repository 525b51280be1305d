/** Name, type and shape messages (NN2xxx) and train-setting messages (NN3xxx), owned by compiler/check/. */
export const checkMessages = {
  NN2001: "unknown name '{name}'",
} as const;
