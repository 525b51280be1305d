/**
 * @file The message catalog: every diagnostic has a stable code and a template here.
 * Codes by phase: NN1xxx syntax (grammar/), NN2xxx names and checking (compiler/check/),
 * NN3xxx train settings, NN4xxx back end and device limits, NN5xxx data and checkpoints.
 * Templates use `{name}` placeholders filled from the args given to `diag`.
 */
import type { Diagnostic, Note } from "./diagnostics.js";
import { syntaxMessages } from "./messages/syntax.js";
import { checkMessages } from "./messages/check.js";
import { backendMessages } from "./messages/backend.js";
import type { Span } from "./source.js";

export const messages = { ...syntaxMessages, ...checkMessages, ...backendMessages } as const;
export type MessageCode = keyof typeof messages;

export function format(template: string, args: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in args ? String(args[k]) : m));
}

export function diag(
  code: MessageCode,
  span: Span,
  args: Readonly<Record<string, string | number>> = {},
  notes: readonly Note[] = [],
): Diagnostic {
  return { code, severity: "error", message: format(messages[code], args), span, notes };
}
