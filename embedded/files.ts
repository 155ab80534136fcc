// Launchers probe data directories, pid files and lock files that may or may
// not be there; a missing path is an answer, any other error a real fault.

/** The operation's result, or `missing` when it failed with ENOENT; every other error is rethrown. */
export async function unlessMissing<T, F>(operation: Promise<T>, missing: F): Promise<T | F> {
  return operation.catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return missing;
    throw error;
  });
}
