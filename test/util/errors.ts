/**
 * @file The NncError a call throws, for tests of the runtime's readers and writers: any other
 * exception passes through, and a call that throws nothing fails the test.
 */
import { NncError } from "../../runtime/errors.js";

export function fails(f: () => unknown): NncError {
  try {
    f();
  } catch (e) {
    if (e instanceof NncError) return e;
    throw e;
  }
  throw new Error("expected an NncError");
}
