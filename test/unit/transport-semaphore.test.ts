// The channel/handshake limiter: never more than `limit` holders, waiters served in order.
import { Semaphore } from "../../provider/transport/semaphore";

test("at most limit holders at once, FIFO hand-over, double release is harmless", async () => {
  const s = new Semaphore(2);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      s.run(async () => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        await new Promise((r) => setTimeout(r, 5));
        active--;
      }),
    ),
  );
  expect(peak).toBe(2);
  expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const release = await s.acquire();
  release();
  release();
  expect(s.inUse).toBe(0);
  expect(() => new Semaphore(0)).toThrow(RangeError);
});

test("a failing holder releases its slot", async () => {
  const s = new Semaphore(1);
  await expect(s.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  expect(s.inUse).toBe(0);
  await expect(s.run(async () => 42)).resolves.toBe(42);
});
