/**
 * @file What `nnc build`'s kernel validator process (validate-child.ts) answers its parent
 * (validator.ts): one stdout line, the marker and then a `ValidatorReply` as JSON. Shared by
 * both sides; imports nothing.
 */

/** Starts the reply line, so stray stdout output of native code cannot be mistaken for it. */
export const replyMarker = "nnc-validate: ";

export type ValidatorReply =
  /** Every kernel compiled: `errors[i]` is kernel i's error text, or null when it compiled. */
  | { readonly kind: "compiled"; readonly device: string; readonly errors: (string | null)[] }
  /** No device: the NncError as the CLI renders it (the command exits 1). */
  | { readonly kind: "failure"; readonly text: string }
  /** Anything else that went wrong getting the device (a bug in nnc: exit 70). */
  | { readonly kind: "internal"; readonly message: string };
