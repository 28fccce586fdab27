// Browser benchmark of the page itself (not part of the test command; scripts/bench.sh runs it
// after `trunk build --release`): plays the quickstart at the highest speed in headless
// Chromium and reports how long each tick's work takes on the main thread (simulation step plus
// Yew render) and the frame rate the page keeps. Prints one JSON line.
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const server = await startServer();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('[data-testid="broker"]');
  await page.selectOption('[data-testid="speed"]', '20');
  await page.click('[data-testid="play-pause"]');
  const result = await page.evaluate(async () => {
    // Long tasks and frame intervals over 5 seconds of wall time.
    const tasks = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) tasks.push(e.duration);
    });
    observer.observe({ type: 'longtask', buffered: false });
    const frames = [];
    let last = performance.now();
    const start = last;
    await new Promise((resolve) => {
      const frame = (t) => {
        frames.push(t - last);
        last = t;
        if (t - start < 5000) requestAnimationFrame(frame); else resolve();
      };
      requestAnimationFrame(frame);
    });
    observer.disconnect();
    frames.sort((a, b) => a - b);
    const simMs = Number(document.querySelector('[data-testid="sim-time"]').dataset.ms);
    return {
      wall_s: (last - start) / 1000,
      frames: frames.length,
      fps: frames.length / ((last - start) / 1000),
      frame_ms_p50: frames[Math.floor(frames.length * 0.5)],
      frame_ms_p95: frames[Math.floor(frames.length * 0.95)],
      long_tasks_over_50ms: tasks.length,
      simulated_ms: simMs,
    };
  });
  console.log(JSON.stringify({ bench: 'page at 20x speed, quickstart', ...result }));
} finally {
  await browser.close();
  await server.close();
}
