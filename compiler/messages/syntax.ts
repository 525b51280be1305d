/** Syntax messages (NN1xxx), owned by grammar/. */
export const syntaxMessages = {
  NN1001: "unexpected {found}; expected {expected}",
} as const;
