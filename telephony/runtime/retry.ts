/**
 * Retries a write that may meet a database restart (call events, CDRs): doubling pauses from
 * `firstDelayMs`, then the last error is thrown for the caller to log.
 */
export async function withRetries<T>(work: () => Promise<T>, options: { attempts: number; firstDelayMs: number }): Promise<T> {
  let delay = options.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= options.attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
