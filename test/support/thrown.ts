// What a call threw, for tests that assert on an error's code, errno or text. A call that
// does not throw fails the test.
export function thrown(fn: () => unknown): Error & { code?: string; errno?: number; kernelMessage?: string; [k: string]: any } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a throw");
}
